// SafeRoutes planner map: plain SVG, no external fonts or libraries (works offline). The basemap is the
// service's own imported street network (GET /streets), or the raster tiles of SAFEROUTES_BASEMAP_TILES.
// The access token lives in this closure only (never in storage); every data call sends it as a bearer token.
"use strict";

(() => {
  const SVG = "http://www.w3.org/2000/svg";
  const M_PER_DEG = 111320;
  const DANGER_BINS = [
    [0, "#fee5d9", "0–10"],
    [10, "#fcae91", "10–25"],
    [25, "#fb6a4a", "25–50"],
    [50, "#de2d26", "50–75"],
    [75, "#a50f15", "75–100"],
  ];
  const STATUS_COLOURS = {
    open: "#e31a1c",
    acknowledged: "#ff7f00",
    planned: "#1f78b4",
    resolved: "#33a02c",
    rejected: "#999999",
  };
  const $ = (id) => document.getElementById(id);
  const map = $("map");
  const state = { token: null, origin: null, picks: [], view: null, tiles: map.dataset.tiles || null, basemapTimer: null };
  const STREETS_MAX_KM2 = 55; // the server refuses boxes above 60 km² (GET /streets); stay below
  const STREETS_PAGES = 4; // at most 4 x 5000 segments in one view
  const LABELS_BELOW_M_PER_PX = 2.5; // street names once a pixel is this few metres
  const EARTH_M = 40075016.686;

  function status(text, isError = false) {
    $("status").textContent = text;
    $("status").classList.toggle("error", isError);
  }

  async function api(path, options = {}) {
    const headers = Object.assign({}, options.headers || {});
    if (state.token) headers.Authorization = `Bearer ${state.token}`;
    const response = await fetch(path, Object.assign({}, options, { headers }));
    if (!response.ok) {
      let detail = `${response.status}`;
      try {
        const problem = await response.json();
        detail = problem.detail || problem.title || detail;
      } catch (_) { /* not a problem document */ }
      throw new Error(detail);
    }
    return response;
  }

  // --- projection: local metres around the data's centre, y up on the map -------------------------
  function project([lon, lat]) {
    const [lon0, lat0] = state.origin;
    return [(lon - lon0) * M_PER_DEG * Math.cos((lat0 * Math.PI) / 180), -(lat - lat0) * M_PER_DEG];
  }

  function unproject([x, y]) {
    const [lon0, lat0] = state.origin;
    return [lon0 + x / (M_PER_DEG * Math.cos((lat0 * Math.PI) / 180)), lat0 - y / M_PER_DEG];
  }

  function el(name, attrs, parent) {
    const node = document.createElementNS(SVG, name);
    for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
    if (parent) parent.appendChild(node);
    return node;
  }

  function points(coords) {
    return coords.map((c) => project(c).map((v) => v.toFixed(1)).join(",")).join(" ");
  }

  /** Metres per screen pixel at the fitted view: markers keep a readable size whatever the city's extent. */
  function pixel() {
    return state.view[2] / Math.max(1, map.clientWidth);
  }

  function dangerColour(value) {
    let colour = DANGER_BINS[0][1];
    for (const [from, c] of DANGER_BINS) if (value >= from) colour = c;
    return colour;
  }

  function fit(allCoords) {
    const xy = allCoords.map(project);
    const xs = xy.map((p) => p[0]);
    const ys = xy.map((p) => p[1]);
    const pad = 150;
    const minX = Math.min(...xs) - pad;
    const minY = Math.min(...ys) - pad;
    state.view = [minX, minY, Math.max(...xs) + pad - minX, Math.max(...ys) + pad - minY];
    map.setAttribute("viewBox", state.view.join(" "));
  }

  // --- layers --------------------------------------------------------------------------------------
  function drawHexagons(collection) {
    const layer = $("layer-hexagons");
    layer.replaceChildren();
    for (const f of collection.features) {
      const danger = f.properties.danger ?? 0;
      const ridden = (f.properties.contributors ?? 0) > 0 ? "yes" : "no";
      const path = el("path", { class: "hex", d: `M${points(f.geometry.coordinates[0])}Z`, fill: dangerColour(danger), "data-ridden": ridden, "data-cell": f.properties.h3 }, layer);
      el("title", {}, path).textContent =
        `cell ${f.properties.h3}: danger ${danger}, ${f.properties.rides ?? 0} rides, ` +
        `${f.properties.hazards ?? 0} hazards, ${f.properties.contributors} people`;
    }
    map.dataset.hexagons = String(collection.features.length);
  }

  function drawFlows(collection) {
    const layer = $("layer-flows");
    layer.replaceChildren();
    const max = Math.max(1, ...collection.features.map((f) => f.properties.count));
    for (const f of collection.features) {
      const width = 1 + 5 * Math.sqrt(f.properties.count / max);
      el("polyline", { class: "flow", points: points(f.geometry.coordinates), "stroke-width": width.toFixed(1) }, layer);
    }
    map.dataset.flows = String(collection.features.length);
  }

  function drawHazards(hazards) {
    const layer = $("layer-hazards");
    layer.replaceChildren();
    for (const h of hazards) {
      const [x, y] = project([h.lon, h.lat]);
      const r = (3 + 2 * h.severity) * pixel();
      const dot = el("circle", { class: `hazard status-${h.status}`, cx: x.toFixed(1), cy: y.toFixed(1), r: r.toFixed(1), fill: STATUS_COLOURS[h.status] || "#000" }, layer);
      el("title", {}, dot).textContent =
        `${h.categoryLabel.en} (${h.status}), severity ${h.severity}: ${h.reportCount} reports, ` +
        `${h.confirmationCount} confirmations, ${h.disputeCount} disputes`;
    }
    map.dataset.hazards = String(hazards.length);
  }

  function legend() {
    $("legend-danger").replaceChildren(...DANGER_BINS.map(([, colour, label]) => item(colour, label, "")));
    $("legend-status").replaceChildren(...Object.entries(STATUS_COLOURS).map(([s, c]) => item(c, s, "dot")));
  }

  function item(colour, label, kind) {
    const li = document.createElement("li");
    const swatch = document.createElement("span");
    swatch.className = `swatch ${kind}`;
    swatch.style.background = colour;
    li.append(swatch, label);
    return li;
  }

  // --- basemap: the imported streets, or a city's raster tiles ------------------------------------
  function viewBox() {
    const [x, y, w, h] = state.view;
    const [west, north] = unproject([x, y]);
    const [east, south] = unproject([x + w, y + h]);
    return { west, south, east, north, km2: (w * h) / 1e6 };
  }

  function note(text) {
    $("basemap-note").textContent = text;
  }

  function scheduleBasemap() {
    clearTimeout(state.basemapTimer);
    state.basemapTimer = setTimeout(() => refreshBasemap().catch((e) => note(`Basemap: ${e.message}`)), 250);
  }

  async function refreshBasemap() {
    if (!state.origin || !state.view) return;
    if (state.tiles) drawTiles();
    else await drawStreets();
  }

  function drawTiles() {
    const layer = $("layer-streets");
    const box = viewBox();
    const lat0 = state.origin[1];
    const z = Math.max(0, Math.min(19, Math.round(Math.log2((EARTH_M * Math.cos((lat0 * Math.PI) / 180)) / 256 / pixel()))));
    const n = 2 ** z;
    const tileX = (lon) => Math.floor(((lon + 180) / 360) * n);
    const tileY = (lat) => {
      const r = (lat * Math.PI) / 180;
      return Math.floor(((1 - Math.log(Math.tan(r) + 1 / Math.cos(r)) / Math.PI) / 2) * n);
    };
    const lonOf = (x) => (x / n) * 360 - 180;
    const latOf = (y) => (Math.atan(Math.sinh(Math.PI * (1 - (2 * y) / n))) * 180) / Math.PI;
    const [x0, x1, y0, y1] = [tileX(box.west), tileX(box.east), tileY(box.north), tileY(box.south)];
    if ((x1 - x0 + 1) * (y1 - y0 + 1) > 144) { note("Zoom in to load the basemap tiles."); return; }
    layer.replaceChildren();
    for (let x = x0; x <= x1; x += 1) {
      for (let y = y0; y <= y1; y += 1) {
        const [ax, ay] = project([lonOf(x), latOf(y)]);
        const [bx, by] = project([lonOf(x + 1), latOf(y + 1)]);
        const href = state.tiles.replace("{z}", z).replace("{x}", x).replace("{y}", y);
        el("image", { class: "tile", href, x: ax.toFixed(1), y: ay.toFixed(1), width: (bx - ax).toFixed(1), height: (by - ay).toFixed(1), preserveAspectRatio: "none" }, layer);
      }
    }
    map.dataset.tiles = state.tiles;
    note(`Basemap: tiles at zoom ${z} from ${new URL(state.tiles.replace(/[{}]/g, "")).host}.`);
  }

  async function drawStreets() {
    const layer = $("layer-streets");
    const box = viewBox();
    if (box.km2 > STREETS_MAX_KM2) {
      layer.replaceChildren();
      map.dataset.streets = "0";
      note("Zoom in to see the streets.");
      return;
    }
    const bbox = [box.west, box.south, box.east, box.north].map((v) => v.toFixed(6)).join(",");
    const features = [];
    let cursor = null;
    let network = null;
    for (let page = 0; page < STREETS_PAGES; page += 1) {
      const query = new URLSearchParams({ bbox, limit: "5000" });
      if (cursor !== null) query.set("cursor", String(cursor));
      const answer = await (await api(`/streets?${query}`)).json();
      features.push(...answer.features);
      network = answer.network;
      cursor = answer.nextCursor;
      if (cursor === null) break;
    }
    layer.replaceChildren();
    for (const f of features) {
      const p = f.properties;
      const line = el("polyline", { class: `street hw-${p.highway} infra-${p.infrastructure}`, points: points(f.geometry.coordinates) }, layer);
      el("title", {}, line).textContent = `${p.name || p.highway}: ${p.infrastructure}, ${p.maxspeedKmh ?? "–"} km/h`;
    }
    if (pixel() < LABELS_BELOW_M_PER_PX) streetNames(features, layer);
    map.dataset.streets = String(features.length);
    if (!network) note("No street network imported (saferoutes streets import FILE).");
    else note(`Streets: ${network.source}, ${features.length} segments in view${cursor !== null ? " (more: zoom in)" : ""}.`);
  }

  /** One name per street in view, on its longest segment's middle, turned along it and kept upright. */
  function streetNames(features, layer) {
    const longest = new Map();
    for (const f of features) {
      const name = f.properties.name;
      if (!name) continue;
      const best = longest.get(name);
      if (!best || best.properties.lengthM < f.properties.lengthM) longest.set(name, f);
    }
    const size = 11 * pixel();
    for (const [name, f] of [...longest].slice(0, 400)) {
      const coords = f.geometry.coordinates;
      const mid = Math.max(1, Math.floor(coords.length / 2));
      const [ax, ay] = project(coords[mid - 1]);
      const [bx, by] = project(coords[mid]);
      let angle = (Math.atan2(by - ay, bx - ax) * 180) / Math.PI;
      if (angle > 90) angle -= 180;
      if (angle < -90) angle += 180;
      const [cx, cy] = [(ax + bx) / 2, (ay + by) / 2];
      const label = el("text", { class: "street-name", x: cx.toFixed(1), y: cy.toFixed(1), "font-size": size.toFixed(2), transform: `rotate(${angle.toFixed(1)} ${cx.toFixed(1)} ${cy.toFixed(1)})` }, layer);
      label.textContent = name;
    }
  }

  async function allHazards() {
    const found = [];
    let cursor = null;
    do {
      const query = new URLSearchParams({ limit: "200" });
      if (cursor) query.set("cursor", cursor);
      const page = await (await api(`/hazards?${query}`)).json();
      found.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor && found.length < 2000);
    return found;
  }

  async function load() {
    status("Loading the danger map…");
    const [heat, flows, hazards, network] = await Promise.all([
      api("/planner/heatmap?metric=danger&format=geojson").then((r) => r.json()),
      api("/planner/flows?format=geojson").then((r) => r.json()),
      allHazards(),
      api("/streets/network").then((r) => r.json(), () => null),
    ]);
    const coords = heat.features.flatMap((f) => f.geometry.coordinates[0]).concat(hazards.map((h) => [h.lon, h.lat]));
    if (coords.length === 0 && network && network.bbox) {
      const [w, s, e, n] = network.bbox;
      coords.push([w, s], [e, n]);
    }
    if (coords.length === 0) coords.push([4.48, 51.028]);
    const lons = coords.map((c) => c[0]);
    const lats = coords.map((c) => c[1]);
    state.origin = [(Math.min(...lons) + Math.max(...lons)) / 2, (Math.min(...lats) + Math.max(...lats)) / 2];
    fit(coords);
    drawHexagons(heat);
    drawFlows(flows);
    drawHazards(hazards);
    await refreshBasemap().catch((e) => note(`Basemap: ${e.message}`));
    status(`${heat.features.length} cells (release ${heat.releaseWindow ?? "?"}, ε = ${heat.epsilon ?? "?"}), ${flows.features.length} flows, ${hazards.length} hazards. Click two points for a safe route.`);
  }

  // --- safe route ----------------------------------------------------------------------------------
  function svgPoint(event) {
    const p = map.createSVGPoint();
    p.x = event.clientX;
    p.y = event.clientY;
    const local = p.matrixTransform(map.getScreenCTM().inverse());
    return [local.x, local.y];
  }

  function figureRows(safest, shortest) {
    const rows = [
      ["length (m)", (p) => Math.round(p.lengthM)],
      ["danger exposure", (p) => p.dangerExposure.toFixed(0)],
      ["mean danger", (p) => p.meanDanger.toFixed(1)],
      ["hazards on route", (p) => p.hazardsOnRoute],
    ];
    $("route-figures").tBodies[0].replaceChildren(...rows.map(([label, get]) => {
      const tr = document.createElement("tr");
      for (const text of [label, get(safest), get(shortest)]) {
        const td = document.createElement("td");
        td.textContent = String(text);
        tr.appendChild(td);
      }
      return tr;
    }));
    $("route-figures").hidden = false;
    $("clear-route").hidden = false;
  }

  async function route(from, to) {
    const latlon = ([lon, lat]) => `${lat.toFixed(6)},${lon.toFixed(6)}`;
    const query = (profile) => `/routes/safe?from=${latlon(from)}&to=${latlon(to)}&profile=${profile}`;
    status("Searching the safest and the shortest route…");
    const [safest, shortest] = await Promise.all([api(query("safest")), api(query("shortest"))].map((p) => p.then((r) => r.json())));
    const layer = $("layer-routes");
    layer.replaceChildren();
    el("polyline", { class: "route shortest", points: points(shortest.geometry.coordinates) }, layer);
    el("polyline", { class: "route safest", points: points(safest.geometry.coordinates) }, layer);
    map.dataset.routes = "2";
    figureRows(safest.properties, safest.properties.shortest);
    const p = safest.properties;
    status(`Safest: ${Math.round(p.lengthM)} m, mean danger ${p.meanDanger.toFixed(1)}; shortest: ${Math.round(p.shortest.lengthM)} m, mean danger ${p.shortest.meanDanger.toFixed(1)}.`);
  }

  function clearRoute() {
    state.picks = [];
    $("layer-routes").replaceChildren();
    $("layer-picks").replaceChildren();
    $("route-figures").hidden = true;
    $("clear-route").hidden = true;
    map.dataset.routes = "0";
  }

  let drag = null;
  map.addEventListener("pointerdown", (event) => {
    drag = { x: event.clientX, y: event.clientY, moved: false, view: state.view.slice() };
  });
  map.addEventListener("pointermove", (event) => {
    if (!drag) return;
    const dx = event.clientX - drag.x;
    const dy = event.clientY - drag.y;
    if (Math.abs(dx) + Math.abs(dy) > 4) drag.moved = true;
    if (!drag.moved) return;
    const scale = drag.view[2] / map.clientWidth;
    state.view = [drag.view[0] - dx * scale, drag.view[1] - dy * scale, drag.view[2], drag.view[3]];
    map.setAttribute("viewBox", state.view.join(" "));
  });
  map.addEventListener("pointerup", (event) => {
    const wasDrag = drag && drag.moved;
    drag = null;
    if (wasDrag) scheduleBasemap();
    if (wasDrag || !state.origin) return;
    if (state.picks.length === 2) clearRoute();
    const xy = svgPoint(event);
    state.picks.push(unproject(xy));
    el("circle", { class: "pick", cx: xy[0], cy: xy[1], r: 6 * pixel() }, $("layer-picks"));
    if (state.picks.length === 2) route(state.picks[0], state.picks[1]).catch((e) => status(`No route: ${e.message}`, true));
    else status("Now click the end point.");
  });
  map.addEventListener("wheel", (event) => {
    event.preventDefault();
    const [x, y] = svgPoint(event);
    const f = event.deltaY > 0 ? 1.2 : 1 / 1.2;
    const [vx, vy, vw, vh] = state.view;
    state.view = [x - (x - vx) * f, y - (y - vy) * f, vw * f, vh * f];
    map.setAttribute("viewBox", state.view.join(" "));
    scheduleBasemap();
  }, { passive: false });

  // --- session -------------------------------------------------------------------------------------
  $("login").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    try {
      const response = await api("/auth/login", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ handle: form.get("handle"), password: form.get("password") }),
      });
      state.token = (await response.json()).accessToken;
      const me = await (await api("/me")).json();
      if (!(me.roles || []).includes("planner")) throw new Error(`this map is for planners; ${me.handle} is not one`);
      $("who").textContent = me.handle;
      $("login").hidden = true;
      $("session").hidden = false;
      $("workspace").hidden = false;
      await load();
    } catch (error) {
      state.token = null;
      status(`Login failed: ${error.message}`, true);
    }
  });

  $("logout").addEventListener("click", () => window.location.reload());
  $("clear-route").addEventListener("click", clearRoute);
  for (const box of document.querySelectorAll("[data-layer]")) {
    box.addEventListener("change", () => { $(`layer-${box.dataset.layer}`).style.display = box.checked ? "" : "none"; });
  }
  $("export").addEventListener("click", async () => {
    try {
      const response = await api("/planner/heatmap?metric=danger&format=csv");
      const name = (response.headers.get("Content-Disposition") || "").match(/filename="([^"]+)"/);
      const link = document.createElement("a");
      link.href = URL.createObjectURL(await response.blob());
      link.download = name ? name[1] : "saferoutes-heatmap.csv";
      link.click();
      URL.revokeObjectURL(link.href);
      status("Exported (a differentially private release, audit-logged).");
    } catch (error) {
      status(`Export failed: ${error.message}`, true);
    }
  });
  legend();
})();
