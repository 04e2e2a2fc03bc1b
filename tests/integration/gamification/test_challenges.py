"""Challenges: who may create them, fair team standings, flagged rides, the target award, scope guards."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from domain.core.enums import Role
from tests.clock import session_clock
from tests.integration.conftest import Account, Register
from tests.integration.game_helpers import Client, ledger, seed_ride
from tests.integration.school_helpers import (
    ADULT_YEAR,
    join,
    scalar,
    school,
    school_class,
    setup_class,
    staff,
)

NOW = session_clock()
WINDOW = {"startsAt": (NOW - timedelta(days=7)).isoformat(), "endsAt": (NOW + timedelta(days=7)).isoformat()}


async def _members(client: Client, register: Register, code: str, n: int) -> list[Account]:
    out = []
    for _ in range(n):
        member = await register(birthYear=ADULT_YEAR, consents=("leaderboard",))
        assert (await join(client, member, code)).status_code == 201
        out.append(member)
    return out


async def _challenge(client: Client, author: Account, **fields: Any) -> dict[str, Any]:
    response = await client.post("/challenges", json={**WINDOW, **fields}, headers=author.auth)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def _board(client: Client, viewer: Account, challenge_id: str) -> dict[str, Any]:
    response = await client.get(f"/challenges/{challenge_id}/leaderboard", headers=viewer.auth)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_teachers_create_challenges_for_their_own_school_only(
    client: Client, register: Register
) -> None:
    admin, teacher, school_id, klass = await setup_class(client)
    other_school = await school(client, admin, "Elders")
    other_class = await school_class(client, await staff(client, Role.TEACHER, other_school), other_school)
    mine = await _challenge(client, teacher, scope="class", scopeId=klass["id"], metric="distance", target=50)
    assert mine["scopeId"] == klass["id"] and mine["schoolId"] == school_id and mine["target"] == 50
    await _challenge(client, teacher, scope="school", scopeId=school_id, metric="participation")

    def create(author: Account, **fields: Any) -> Any:
        return client.post("/challenges", json={**WINDOW, "metric": "trips", **fields}, headers=author.auth)

    assert (await create(teacher, scope="school", scopeId=other_school)).status_code == 403
    assert (await create(teacher, scope="class", scopeId=other_class["id"])).status_code == 404
    assert (await create(teacher, scope="city")).status_code == 403
    assert (await create(await register(), scope="city")).status_code == 403
    assert (await create(admin, scope="city")).status_code == 201
    assert (await create(admin, scope="city", startsAt=WINDOW["endsAt"])).status_code == 422
    listed = (await client.get("/challenges")).json()["items"]
    assert len(listed) == 3
    assert (await client.get(f"/challenges/{mine['id']}")).json()["metric"] == "distance"


async def test_a_small_class_riding_more_per_member_beats_a_big_class(
    client: Client, register: Register
) -> None:
    _, teacher, school_id, small = await setup_class(client)
    big = await school_class(client, teacher, school_id, "6A")
    small_members = await _members(client, register, small["joinCode"], 2)
    big_members = await _members(client, register, big["joinCode"], 6)
    day = NOW - timedelta(days=1)
    for m in small_members:
        await seed_ride(client, m.id, started_at=day, distance_m=10_000)
    for m in big_members[:3]:
        await seed_ride(client, m.id, started_at=day, distance_m=10_000)
    await seed_ride(
        client, big_members[3].id, started_at=day, distance_m=90_000, flagged=True
    )  # counts nowhere
    await seed_ride(client, big_members[4].id, started_at=day, distance_m=90_000, mode="motorised")
    await seed_ride(client, big_members[5].id, started_at=NOW - timedelta(days=30), distance_m=90_000)

    distance = await _challenge(client, teacher, scope="school", scopeId=school_id, metric="distance")
    board = await _board(client, teacher, distance["id"])
    teams = [(t["name"], t["rank"], t["members"], t["total"], t["perMember"]) for t in board["teams"]]
    assert teams == [("5B", 1, 2, 20.0, 10.0), ("6A", 2, 6, 30.0, 5.0)]
    assert board["achieved"] == 50.0

    participation = await _challenge(
        client, teacher, scope="school", scopeId=school_id, metric="participation"
    )
    board = await _board(client, small_members[0], participation["id"])
    assert [(t["name"], t["participationPct"]) for t in board["teams"]] == [("5B", 100.0), ("6A", 50.0)]
    assert board["achieved"] == 62.5  # 5 of 8 members


async def unpaid(client: Client, challenge_id: str) -> int:
    """Participants the stored totals have not yet marked as paid for the challenge's target."""
    sql = "SELECT count(*) FROM challenge_total WHERE challenge_id = CAST(:c AS uuid) AND NOT paid"
    return int(await scalar(client, sql, c=challenge_id))


async def test_reaching_the_target_pays_each_contributor_once(client: Client, register: Register) -> None:
    _, teacher, _, klass = await setup_class(client)
    riders = await _members(client, register, klass["joinCode"], 3)
    await seed_ride(client, riders[0].id, started_at=NOW - timedelta(days=1), distance_m=4_000)
    challenge = await _challenge(
        client, teacher, scope="class", scopeId=klass["id"], metric="distance", target=5
    )
    board = await _board(client, riders[0], challenge["id"])
    assert board["progress"] == {"target": 5.0, "achieved": 4.0, "fraction": 0.8, "reached": False}
    assert await ledger(client, riders[0].id) == []

    await seed_ride(client, riders[1].id, started_at=NOW - timedelta(days=2), distance_m=1_000)
    for viewer in (riders[0], riders[1], teacher):
        assert (await _board(client, viewer, challenge["id"]))["progress"]["reached"] is True
    assert await ledger(client, riders[0].id) == [("challenge", 50, challenge["id"])]
    assert await ledger(client, riders[1].id) == [("challenge", 50, challenge["id"])]
    assert await ledger(client, riders[2].id) == []  # no trip, no share
    assert await unpaid(client, challenge["id"]) == 0

    # a rider who was paid rides again (their stored figures are recomputed): still paid, once
    await seed_ride(client, riders[0].id, started_at=NOW - timedelta(days=3), distance_m=700)
    assert await unpaid(client, challenge["id"]) == 0
    # a newcomer contributing after the target was reached is paid at the next read, and only they
    await seed_ride(client, riders[2].id, started_at=NOW - timedelta(hours=5), distance_m=900)
    assert await unpaid(client, challenge["id"]) == 1
    await _board(client, teacher, challenge["id"])
    assert await unpaid(client, challenge["id"]) == 0
    for rider in riders:
        assert await ledger(client, rider.id) == [("challenge", 50, challenge["id"])]


async def test_only_participants_and_their_teachers_see_a_challenge_board(
    client: Client, register: Register
) -> None:
    admin, teacher, _, klass = await setup_class(client)
    member = (await _members(client, register, klass["joinCode"], 1))[0]
    other_school = await school(client, admin, "Elders")
    other_teacher = await staff(client, Role.TEACHER, other_school)
    outsider = (
        await _members(
            client, register, (await school_class(client, other_teacher, other_school))["joinCode"], 1
        )
    )[0]
    challenge = await _challenge(client, teacher, scope="class", scopeId=klass["id"], metric="trips")
    for viewer in (member, teacher, admin):
        await _board(client, viewer, challenge["id"])
    for viewer in (outsider, other_teacher, await register()):
        answer = await client.get(f"/challenges/{challenge['id']}/leaderboard", headers=viewer.auth)
        assert answer.status_code == 403, answer.text
    assert (await client.get(f"/challenges/{challenge['id']}/leaderboard")).status_code == 401
