// How the app uses the generated types: the compiler checks these calls against the OpenAPI
// document, so a renamed field or a changed response in the service breaks this file in CI.
import type { paths } from "./schema";

type JsonBody<Op> = Op extends { requestBody?: { content: { "application/json": infer B } } } ? B : never;
type Ok<Op, Code extends number> = Op extends {
  responses: { [K in Code]: { content: { "application/json": infer R } } };
}
  ? R
  : never;

export type LoginBody = JsonBody<paths["/auth/login"]["post"]>;
export type RideUpload = JsonBody<paths["/rides"]["post"]>;
export type RideCreated = Ok<paths["/rides"]["post"], 201>;
export type HazardReport = JsonBody<paths["/hazards"]["post"]>;
export type SafeRouteQuery = NonNullable<paths["/routes/safe"]["get"]["parameters"]["query"]>;
export type SafeRoute = Ok<paths["/routes/safe"]["get"], 200>;
/** RFC 9457: every error of the service (application/problem+json). */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
}

async function call<T>(base: string, path: string, init: RequestInit): Promise<T> {
  const response = await fetch(base + path, init);
  if (!response.ok) {
    const problem = (await response.json()) as Problem;
    throw new Error(`${problem.title}: ${problem.detail}`);
  }
  return (await response.json()) as T;
}

export async function login(base: string, body: LoginBody): Promise<string> {
  const tokens = await call<Ok<paths["/auth/login"]["post"], 200>>(base, "/auth/login", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  return tokens.accessToken;
}

export async function uploadRide(base: string, token: string, key: string, ride: RideUpload): Promise<RideCreated> {
  return call<RideCreated>(base, "/rides", {
    method: "POST",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json", "Idempotency-Key": key },
    body: JSON.stringify(ride),
  });
}

export async function safeRoute(base: string, query: SafeRouteQuery): Promise<SafeRoute> {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (typeof value === "string") params.set(name, value);
  }
  return call<SafeRoute>(base, `/routes/safe?${params.toString()}`, { method: "GET" });
}

export async function example(base: string): Promise<string> {
  const token = await login(base, { handle: "anna", password: "correct horse battery" });
  const ride: RideUpload = {
    points: [
      { lat: 51.0259, lon: 4.4776, t: 1795593600, accuracy: 5 },
      { lat: 51.0261, lon: 4.4781, t: "2026-11-25T08:00:01Z" },
    ],
    incidents: [{ t: 1795593601, lat: 51.026, lon: 4.4778, category: "close_pass", severity: 2 }],
  };
  const created = await uploadRide(base, token, "ride-2026-11-25-0800", ride);
  const km: number = created.distanceM / 1000;
  const report: HazardReport = { lat: 51.0259, lon: 4.4776, category: "road_surface", severity: 2 };
  void report;
  const route = await safeRoute(base, { from: "51.0259,4.4776", to: "51.0300,4.4850", profile: "safest" });
  const [lon, lat] = route.geometry.coordinates[0] ?? [0, 0];
  const saved: number = route.properties.shortest.lengthM - route.properties.lengthM;
  return `${created.id} ${created.mode} ${km.toFixed(1)} km; route starts at ${lat},${lon}, ${saved} m longer than shortest`;
}
