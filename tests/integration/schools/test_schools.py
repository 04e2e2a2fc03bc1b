"""Schools, classes and join codes: who may do what, code expiry and rotation, what teachers see."""

from __future__ import annotations

import asyncio
import re
import uuid

import pytest

from api.cli.main import main
from domain.core.enums import Role
from tests.clock import session_clock
from tests.integration.conftest import Register
from tests.integration.school_helpers import (
    ADULT_YEAR,
    CHILD_YEAR,
    Client,
    execute,
    join,
    scalar,
    school,
    school_class,
    setup_class,
    staff,
)

CODE_SHAPE = re.compile(r"^[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{4}-[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{4}$")


async def test_admin_creates_a_school_and_its_teacher_a_class_with_a_join_code(client: Client) -> None:
    admin = await staff(client)
    created = await client.post(
        "/schools", json={"name": "Sint-Jan", "lat": 51.0259, "lon": 4.4776}, headers=admin.auth
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["name"] == "Sint-Jan" and body["lat"] == 51.0259 and body["lon"] == 4.4776
    teacher = await staff(client, Role.TEACHER, body["id"])
    klass = await school_class(client, teacher, body["id"], "5B")
    assert klass["schoolId"] == body["id"] and klass["name"] == "5B"
    assert CODE_SHAPE.match(klass["joinCode"]), klass["joinCode"]
    assert klass["joinCodeExpiresAt"]


async def test_codes_are_stored_hashed(client: Client) -> None:
    _, _, _, klass = await setup_class(client)
    stored = await scalar(client, "SELECT code_hash FROM class_join_code")
    assert klass["joinCode"].replace("-", "") not in stored and len(stored) == 64


async def test_citizens_cannot_create_schools_or_classes(client: Client, register: Register) -> None:
    _, _, school_id, _ = await setup_class(client)
    citizen = await register()
    body = {"name": "X", "lat": 51.0, "lon": 4.0}
    assert (await client.post("/schools", json=body, headers=citizen.auth)).status_code == 403
    refused = await client.post(f"/schools/{school_id}/classes", json={"name": "6A"}, headers=citizen.auth)
    assert refused.status_code == 403


async def test_anonymous_callers_are_asked_to_log_in(client: Client) -> None:
    _, _, school_id, klass = await setup_class(client)
    assert (await client.post("/schools", json={"name": "X", "lat": 51.0, "lon": 4.0})).status_code == 401
    assert (await client.post(f"/schools/{school_id}/classes", json={"name": "6A"})).status_code == 401
    assert (await client.post("/classes/join", json={"joinCode": klass["joinCode"]})).status_code == 401
    assert (await client.get(f"/classes/{klass['id']}")).status_code == 401


async def test_teachers_cannot_create_schools(client: Client) -> None:
    _, teacher, _, _ = await setup_class(client)
    response = await client.post(
        "/schools", json={"name": "X", "lat": 51.0, "lon": 4.0}, headers=teacher.auth
    )
    assert response.status_code == 403


async def test_a_teacher_of_another_school_gets_404_for_the_class(client: Client) -> None:
    admin, _, school_id, klass = await setup_class(client)
    other_school = await school(client, admin, "De Regenboog")
    outsider = await staff(client, Role.TEACHER, other_school)
    path = f"/classes/{klass['id']}"
    for response in (
        await client.get(path, headers=outsider.auth),
        await client.post(f"{path}/join-code", headers=outsider.auth),
        await client.delete(f"{path}/join-code", headers=outsider.auth),
    ):
        assert response.status_code == 404, response.text
    assert (await client.get(f"/classes/{uuid.uuid4()}", headers=outsider.auth)).status_code == 404
    creating = await client.post(f"/schools/{school_id}/classes", json={"name": "6A"}, headers=outsider.auth)
    assert creating.status_code == 403
    assert creating.json()["type"].endswith("not-school-staff")
    missing = await client.post(
        f"/schools/{uuid.uuid4()}/classes", json={"name": "6A"}, headers=outsider.auth
    )
    assert missing.status_code == 404
    assert (await client.get(path, headers=admin.auth)).status_code == 200


async def test_a_pupil_joins_with_the_code_typed_loosely(client: Client, register: Register) -> None:
    _, teacher, _, klass = await setup_class(client)
    pupil = await register(birthYear=ADULT_YEAR, nickname="Speedy Otter")
    typed = klass["joinCode"].lower().replace("-", " ")
    response = await join(client, pupil, typed)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["classId"] == klass["id"] and body["className"] == "5B"
    assert body["schoolName"] == "Sint-Jan Mechelen"
    assert body["guardianCode"] is None
    again = await join(client, pupil, klass["joinCode"])
    assert again.status_code == 201
    view = (await client.get(f"/classes/{klass['id']}", headers=teacher.auth)).json()
    assert view["memberCount"] == 1 and view["members"] == [{"nickname": "Speedy Otter"}]


async def test_an_expired_join_code_is_refused(client: Client, register: Register) -> None:
    _, _, _, klass = await setup_class(client)
    await execute(
        client,
        "UPDATE class_join_code SET expires_at = CAST(:now AS timestamptz) - interval '1 minute'",
        now=session_clock(),
    )
    response = await join(client, await register(birthYear=ADULT_YEAR), klass["joinCode"])
    assert response.status_code == 422
    assert response.json()["type"].endswith("invalid-join-code")
    assert response.json()["errors"][0]["field"] == "joinCode"


async def test_a_revoked_code_is_refused_and_a_rotated_one_works(client: Client, register: Register) -> None:
    _, teacher, _, klass = await setup_class(client)
    pupil = await register(birthYear=ADULT_YEAR)
    revoked = await client.delete(f"/classes/{klass['id']}/join-code", headers=teacher.auth)
    assert revoked.status_code == 204
    assert (await join(client, pupil, klass["joinCode"])).status_code == 422
    view = (await client.get(f"/classes/{klass['id']}", headers=teacher.auth)).json()
    assert view["joinCodeActive"] is False and view["joinCodeExpiresAt"] is None

    rotated = await client.post(f"/classes/{klass['id']}/join-code", headers=teacher.auth)
    assert rotated.status_code == 201
    fresh = rotated.json()["joinCode"]
    assert fresh != klass["joinCode"]
    assert (await join(client, pupil, fresh)).status_code == 201
    second = (await client.post(f"/classes/{klass['id']}/join-code", headers=teacher.auth)).json()
    assert (await join(client, await register(birthYear=ADULT_YEAR), fresh)).status_code == 422
    assert (await join(client, await register(birthYear=ADULT_YEAR), second["joinCode"])).status_code == 201


async def test_joining_another_class_moves_the_member(client: Client, register: Register) -> None:
    _, teacher, school_id, first = await setup_class(client)
    second = await school_class(client, teacher, school_id, "6A")
    pupil = await register(birthYear=ADULT_YEAR)
    assert (await join(client, pupil, first["joinCode"])).status_code == 201
    assert (await join(client, pupil, second["joinCode"])).status_code == 201
    counts = [
        (await client.get(f"/classes/{k['id']}", headers=teacher.auth)).json()["memberCount"]
        for k in (first, second)
    ]
    assert counts == [0, 1]


async def test_joining_needs_a_birth_year_and_a_pupil_account(client: Client, register: Register) -> None:
    _, teacher, _, klass = await setup_class(client)
    no_year = await join(client, await register(), klass["joinCode"])
    assert no_year.status_code == 422 and no_year.json()["errors"][0]["field"] == "birthYear"
    assert (await join(client, teacher, klass["joinCode"])).status_code == 403


async def test_guessing_join_codes_is_rate_limited(client: Client, register: Register) -> None:
    await setup_class(client)
    guesser = await register(birthYear=ADULT_YEAR)
    statuses = [(await join(client, guesser, f"AAAA-AA{n:02d}")).status_code for n in range(11)]
    assert statuses[:10] == [422] * 10
    assert statuses[10] == 429


async def test_teachers_see_nicknames_and_aggregates_only(client: Client, register: Register) -> None:
    _, teacher, _, klass = await setup_class(client)
    child = await register("kid-handle", birthYear=CHILD_YEAR, nickname="Little Heron")
    adult = await register("grown-up", birthYear=ADULT_YEAR, nickname="Big Badger")
    for member in (child, adult):
        assert (await join(client, member, klass["joinCode"])).status_code == 201
    response = await client.get(f"/classes/{klass['id']}", headers=teacher.auth)
    assert response.status_code == 200
    view = response.json()
    assert view["members"] == [{"nickname": "Big Badger"}, {"nickname": "Little Heron"}]
    assert view["memberCount"] == 2
    assert view["guardianConsentNeeded"] == 1 and view["guardianConsentGiven"] == 0
    text = response.text
    for secret in ("kid-handle", "grown-up", str(CHILD_YEAR), str(ADULT_YEAR), child.id, adult.id):
        assert secret not in text
    assert not {"handle", "birthYear", "userId", "rides", "traces"} & set(view)


def _run_cli(*argv: str) -> int:
    return main(list(argv))


async def test_cli_creates_a_teacher_at_a_school(
    client: Client, monkeypatch: pytest.MonkeyPatch, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    admin = await staff(client)
    school_id = await school(client, admin)
    monkeypatch.setenv("DATABASE_URL", database_url.replace("+asyncpg", ""))
    monkeypatch.setenv("SAFEROUTES_ARGON2_TIME_COST", "1")
    monkeypatch.setenv("SAFEROUTES_ARGON2_MEMORY_KIB", "1024")
    base = ("create-user", "--handle", "juf-an", "--password", "teacher password", "--role", "teacher")
    assert await asyncio.to_thread(_run_cli, *base) == 2
    assert await asyncio.to_thread(_run_cli, *base, "--school", str(uuid.uuid4())) == 1
    assert "no school" in capsys.readouterr().err
    assert await asyncio.to_thread(_run_cli, *base, "--school", school_id) == 0
    staffed = (
        "SELECT count(*) FROM school_staff s JOIN app_user u ON u.id = s.user_id WHERE u.handle = 'juf-an'"
    )
    assert await scalar(client, staffed) == 1
    citizen = ("create-user", "--handle", "cit", "--password", "citizen password", "--school", school_id)
    assert await asyncio.to_thread(_run_cli, *citizen) == 2


async def test_a_blank_school_or_class_name_is_refused_as_the_document_says(client: Client) -> None:
    """A control character alone is blank: Python's regex and the document's (ECMA) now agree."""
    admin = await staff(client)
    for name in ("\u001d", "   ", "\u00a0"):
        answer = await client.post(
            "/schools", json={"name": name, "lat": 51.02, "lon": 4.47}, headers=admin.auth
        )
        assert answer.status_code == 400, (name, answer.text)
        assert answer.json()["errors"][0]["field"] == "name"


async def test_planners_and_admins_list_the_schools_page_by_page(client: Client, register: Register) -> None:
    admin = await staff(client)
    made = [await school(client, admin, f"School {n}") for n in range(5)]
    planner = await staff(client, Role.PLANNER)
    seen: list[dict[str, object]] = []
    cursor: str | None = None
    for _ in range(5):
        params: dict[str, str | int] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = await client.get("/schools", params=params, headers=planner.auth)
        assert page.status_code == 200, page.text
        seen += page.json()["items"]
        cursor = page.json()["nextCursor"]
        if cursor is None:
            break
    assert [s["id"] for s in seen] == made  # oldest first, each once
    assert seen[0] == {
        "id": made[0],
        "name": "School 0",
        "lat": 51.0259,
        "lon": 4.4776,
        "createdAt": seen[0]["createdAt"],
    }
    # the route report takes the listed id
    report = await client.get(f"/planner/schools/{made[0]}/route-report", headers=planner.auth)
    assert report.status_code == 200, report.text
    whole = await client.get("/schools", headers=admin.auth)
    assert [s["id"] for s in whole.json()["items"]] == made and whole.json()["nextCursor"] is None

    teacher = await staff(client, Role.TEACHER, made[0])
    citizen = await register()
    for caller in (teacher, citizen):
        assert (await client.get("/schools", headers=caller.auth)).status_code == 403
    assert (await client.get("/schools")).status_code == 401

    bad = await client.get("/schools", params={"cursor": "nonsense"}, headers=planner.auth)
    assert bad.status_code == 400
    assert bad.headers["content-type"].startswith("application/problem+json")
    assert "cursor" in bad.text
    too_many = await client.get("/schools", params={"limit": 1000}, headers=planner.auth)
    assert too_many.status_code == 400 and "limit" in too_many.text
