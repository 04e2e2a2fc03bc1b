"""The authorisation matrix: every route of the app by every kind of caller, against an explicit table.

Callers: anonymous, a citizen, a child whose guardian has not consented, a
teacher of another school, a planner and an admin; none of them owns the
objects in the paths (another user's ride, zone; school A's class). A cell is
`ok` (authorised: anything but 401/403, never a 5xx), `401`, `403` or `404`
(another user's object is hidden, not forbidden). Routes are read from the
app, so a new route without a row here fails the test: add it to the matrix.
"""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from domain.core.enums import Role
from tests.integration.authz_helpers import operations
from tests.integration.conftest import Account, Register
from tests.integration.ride_helpers import ride_json, simulated, upload
from tests.integration.school_helpers import CHILD_YEAR, school, school_class, staff

CALLERS = ("anonymous", "citizen", "child", "other_teacher", "planner", "admin")
ALL_CONSENTS = ("ride_tracking", "hazard_reporting", "leaderboard", "research_sharing")


def public() -> dict[str, str]:
    return dict.fromkeys(CALLERS, "ok")


def user() -> dict[str, str]:
    return {**public(), "anonymous": "401"}


def consent() -> dict[str, str]:
    """Users who consented to the purpose (the citizen); a child's own grant counts for nothing without
    a guardian's, and staff accounts never consented."""
    return {**roles("citizen"), "child": "403"}


def owned() -> dict[str, str]:
    """Another user's object: hidden from everyone but its owner."""
    return {**dict.fromkeys(CALLERS, "404"), "anonymous": "401"}


def school_staff() -> dict[str, str]:
    """School A's teachers and admins; a teacher of another school does not even see the class."""
    return {**roles("admin"), "other_teacher": "404"}


def roles(*allowed: str) -> dict[str, str]:
    cells = {c: ("ok" if c in allowed else "403") for c in CALLERS}
    cells["anonymous"] = "401"
    return cells


MATRIX: dict[tuple[str, str], dict[str, str]] = {
    ("GET", "/health"): public(),
    ("GET", "/ready"): public(),
    ("GET", "/metrics"): public(),
    ("POST", "/auth/register"): public(),
    ("POST", "/auth/login"): public(),
    ("POST", "/auth/refresh"): public(),
    ("POST", "/auth/logout"): user(),
    ("GET", "/me"): user(),
    ("PATCH", "/me"): user(),
    ("DELETE", "/me"): user(),
    ("GET", "/me/consents"): user(),
    ("PUT", "/me/consents/{purpose}"): user(),
    ("GET", "/me/export"): user(),
    ("POST", "/me/guardian-code"): user(),
    ("GET", "/me/points"): user(),
    ("GET", "/me/badges"): user(),
    ("GET", "/me/privacy-zones"): user(),
    ("POST", "/me/privacy-zones"): user(),
    ("DELETE", "/me/privacy-zones/{zone_id}"): owned(),
    ("POST", "/guardian-consents"): public(),
    ("POST", "/guardian-erasures"): public(),
    ("GET", "/rides"): user(),
    ("POST", "/rides"): consent(),
    ("GET", "/rides/{ride_id}"): owned(),
    ("DELETE", "/rides/{ride_id}"): owned(),
    ("GET", "/hazard-categories"): public(),
    ("GET", "/hazards"): public(),
    ("POST", "/hazards"): consent(),
    ("GET", "/hazards/{hazard_id}"): public(),
    ("PATCH", "/hazards/{hazard_id}"): roles("planner", "admin"),
    ("GET", "/hazards/{hazard_id}/reports"): roles("planner", "admin"),
    ("POST", "/hazards/{hazard_id}/confirmations"): consent(),
    ("GET", "/open311/v2/services.json"): public(),
    ("GET", "/open311/v2/requests.json"): public(),
    ("GET", "/open311/v2/requests/{request_file}"): public(),
    ("POST", "/open311/v2/requests.json"): consent(),
    ("POST", "/schools"): roles("admin"),
    ("GET", "/schools"): roles("planner", "admin"),
    ("POST", "/schools/{school_id}/classes"): roles("admin"),  # schools are public; another's: 403
    ("POST", "/classes/join"): user(),
    ("GET", "/classes/{class_id}"): school_staff(),
    ("POST", "/classes/{class_id}/join-code"): school_staff(),
    ("DELETE", "/classes/{class_id}/join-code"): school_staff(),
    ("GET", "/badges"): public(),
    ("GET", "/challenges"): public(),
    ("POST", "/challenges"): roles("other_teacher", "admin"),
    ("GET", "/challenges/{challenge_id}"): public(),
    ("GET", "/challenges/{challenge_id}/leaderboard"): user(),
    ("GET", "/leaderboards"): user(),
    ("GET", "/routes/safe"): public(),
    ("GET", "/routes/safe.gpx"): public(),
    # public OpenStreetMap geometry, no person in it (api/streets/http.py)
    ("GET", "/streets"): public(),
    ("GET", "/streets/network"): public(),
    ("GET", "/planner/heatmap"): roles("planner"),
    ("GET", "/planner/flows"): roles("planner"),
    ("GET", "/planner/graphhopper-model"): roles("planner"),
    ("GET", "/planner/exports"): roles("planner", "admin"),
    ("GET", "/planner/privacy-ledger"): roles("planner", "admin"),
    ("GET", "/planner/schools/{school_id}/route-report"): roles("planner", "admin"),
    # the map page and its assets are a static shell; its data comes from the guarded routes
    ("GET", "/planner/map"): public(),
    ("GET", "/static/{file_path}"): public(),
    ("GET", "/ngsi-ld/v1/entities"): public(),
    ("GET", "/ngsi-ld/v1/entities/{entity_id}"): public(),
    ("GET", "/ngsi-ld/contexts/saferoutes.jsonld"): public(),
}
FRAMEWORK = ("/schema",)
# Valid bodies where a route checks the body before the object's owner; elsewhere `{}` does
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/schools/{school_id}/classes"): {"name": "7C"},
    ("POST", "/schools"): {"name": "School C", "lat": 51.02, "lon": 4.47},
}


def _outcome(status: int) -> str:
    if status in (401, 403, 404):
        return str(status)
    assert status < 500, status
    return "ok"


def _expected_matches(expected: str, status: int) -> bool:
    outcome = _outcome(status)
    if expected == "ok":
        return outcome in ("ok", "404")  # authorised; the object may simply not exist for it
    return outcome == expected


async def _world(
    client: AsyncTestClient[Litestar], register: Register
) -> tuple[dict[str, Any], dict[str, str]]:
    """The callers' Authorization headers and the ids to put in paths (owned by someone else)."""
    owner = await register(consents=ALL_CONSENTS, birthYear=1990)
    ride = await upload(client, owner.auth, ride_json(simulated(3).points))
    assert ride.status_code == 201, ride.text
    zone = await client.post(
        "/me/privacy-zones", json={"lat": 51.03, "lon": 4.48, "radiusM": 100}, headers=owner.auth
    )
    assert zone.status_code == 201, zone.text
    hazard = await client.post(
        "/hazards",
        json={"lat": 51.0259, "lon": 4.4776, "category": "road_surface", "severity": 2},
        headers={**owner.auth, "Idempotency-Key": "matrix-hazard-1"},
    )
    assert hazard.status_code == 201, hazard.text
    admin = await staff(client)
    school_a = await school(client, admin, "School A")
    teacher_a = await staff(client, Role.TEACHER, school_a)
    class_a = await school_class(client, teacher_a, school_a)
    school_b = await school(client, admin, "School B")
    callers: dict[str, Account | None] = {
        "anonymous": None,
        "citizen": await register(consents=ALL_CONSENTS, birthYear=1990),
        "child": await register(consents=ALL_CONSENTS, birthYear=CHILD_YEAR),
        "other_teacher": await staff(client, Role.TEACHER, school_b),
        "planner": await staff(client, Role.PLANNER),
        "admin": admin,
    }
    headers = {name: (a.auth if a else {}) for name, a in callers.items()}
    hazard_id = hazard.json()["hazardId"]
    ids = {
        "ride_id": ride.json()["id"],
        "zone_id": zone.json()["id"],
        "hazard_id": hazard_id,
        "school_id": school_a,
        "class_id": class_a["id"],
        "challenge_id": str(uuid.uuid4()),
        "purpose": "ride_tracking",
        "request_file": f"{hazard_id}.json",
        "entity_id": f"urn:ngsi-ld:Alert:{hazard_id}",
        "file_path": "map.js",
        "owner_auth": owner.auth,
    }
    return ids, headers  # type: ignore[return-value]


async def test_every_route_has_a_row_in_the_matrix(client: AsyncTestClient[Litestar]) -> None:
    served = {op for op in operations(client.app) if not op[1].startswith(FRAMEWORK)}
    missing = sorted(served - set(MATRIX))
    assert not missing, f"add the new route(s) to the authorisation matrix: {missing}"
    assert not sorted(set(MATRIX) - served), "the matrix names routes the app no longer has"


async def test_only_the_allowed_cells_of_the_matrix_succeed(
    client: AsyncTestClient[Litestar], register: Register
) -> None:
    ids, headers = await _world(client, register)
    served = {op for op in operations(client.app) if op in MATRIX}
    # erasing an account and logging out end a caller: those go last
    last = {("POST", "/auth/logout"): 1, ("DELETE", "/me"): 2}
    order = sorted(served, key=lambda op: (last.get(op, 0), op))
    wrong: list[str] = []
    for method, template in order:
        path = template.format(**ids)
        for caller in CALLERS:
            body = BODIES.get((method, template), {}) if method in ("POST", "PUT", "PATCH") else None
            answer = await client.request(
                method,
                path,
                json=body,
                headers={**headers[caller], "Idempotency-Key": f"matrix-{uuid.uuid4().hex}"},
            )
            expected = MATRIX[(method, template)][caller]
            if not _expected_matches(expected, answer.status_code):
                wrong.append(f"{method} {template} as {caller}: {answer.status_code}, expected {expected}")
    assert not wrong, "\n".join(wrong)


async def test_the_owner_reads_what_is_hidden_from_everyone_else(
    client: AsyncTestClient[Litestar], register: Register
) -> None:
    ids, _ = await _world(client, register)
    owner: dict[str, str] = ids["owner_auth"]
    assert (await client.get(f"/rides/{ids['ride_id']}", headers=owner)).status_code == 200
    assert (await client.delete(f"/me/privacy-zones/{ids['zone_id']}", headers=owner)).status_code == 204
    assert (await client.delete(f"/rides/{ids['ride_id']}", headers=owner)).status_code == 204
