"""Leaderboards: nicknames only with effective consent (a guardian's for a child), teams count everyone."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from domain.core.enums import Role
from tests.integration.conftest import Account, Register
from tests.integration.game_helpers import Client, local_today, seed_points
from tests.integration.school_helpers import (
    ADULT_YEAR,
    join,
    joined_child,
    school,
    school_class,
    setup_class,
    staff,
)

CONSENT = {"granted": True, "policyVersion": "2026-01"}


async def _member(client: Client, register: Register, code: str, nickname: str, *, consent: bool) -> Account:
    member = await register(
        birthYear=ADULT_YEAR, nickname=nickname, consents=("leaderboard",) if consent else ()
    )
    assert (await join(client, member, code)).status_code == 201
    return member


async def _board(client: Client, viewer: Account, **query: str) -> dict[str, Any]:
    response = await client.get("/leaderboards", params=query, headers=viewer.auth)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _names(board: dict[str, Any]) -> list[tuple[str, float]]:
    return [(p["nickname"], p["value"]) for p in board["individuals"]]


async def test_only_consenting_members_appear_by_nickname_but_everyone_counts_for_the_team(
    client: Client, register: Register
) -> None:
    _, _, _, klass = await setup_class(client)
    shown = await _member(client, register, klass["joinCode"], "Fietsfan", consent=True)
    hidden = await _member(client, register, klass["joinCode"], "Stille Wout", consent=False)
    child, guardian_code = await joined_child(client, register, klass["joinCode"], nickname="Kleine Mia")
    own_grant = await client.put("/me/consents/leaderboard", json=CONSENT, headers=child.auth)
    assert own_grant.status_code == 200
    today = local_today()
    for who, amount in ((shown, 10), (hidden, 50), (child, 40)):
        await seed_points(client, who.id, amount, day=today)

    board = await _board(client, shown, scope="class", period="week")
    assert _names(board) == [("Fietsfan", 10.0)]  # a child's own grant is not enough
    [team] = board["teams"]
    assert (team["members"], team["total"], team["activeMembers"]) == (3, 100.0, 3)
    text = str(board)
    for account in (shown, hidden, child):
        assert account.id not in text and account.handle not in text

    given = await client.post(
        "/guardian-consents",
        json={"code": guardian_code, "relationship": "parent", "purposes": ["leaderboard"]},
    )
    assert given.status_code == 201, given.text
    assert _names(await _board(client, child, scope="class", period="week")) == [
        ("Kleine Mia", 40.0),
        ("Fietsfan", 10.0),
    ]
    mine = (await _board(client, child, scope="class", period="week"))["individuals"][0]
    assert mine["isYou"] is True

    withdrawn = await client.put(
        "/me/consents/leaderboard", json={**CONSENT, "granted": False}, headers=shown.auth
    )
    assert withdrawn.status_code == 200
    board = await _board(client, child, scope="class", period="week")
    assert _names(board) == [("Kleine Mia", 40.0)]
    assert board["teams"][0]["total"] == 100.0


async def test_the_period_is_the_local_week_or_month(client: Client, register: Register) -> None:
    _, _, _, klass = await setup_class(client)
    rider = await _member(client, register, klass["joinCode"], "Week", consent=True)
    today = local_today()
    await seed_points(client, rider.id, 7, day=today)
    await seed_points(client, rider.id, 100, day=today - timedelta(days=today.weekday() + 1))  # last week
    await seed_points(client, rider.id, 1000, day=today - timedelta(days=40))  # another month
    week = await _board(client, rider, scope="class", period="week")
    assert _names(week) == [("Week", 7.0)]
    month = await _board(client, rider, scope="class", period="month")
    assert _names(month)[0][1] == (107.0 if today.weekday() + 1 < today.day else 7.0)


async def test_city_board_ranks_schools_per_member_and_anyone_may_see_it(
    client: Client, register: Register
) -> None:
    admin, _, _, klass = await setup_class(client)
    other = await school(client, admin, "Elders")
    other_class = await school_class(client, await staff(client, Role.TEACHER, other), other)
    small = [
        await _member(client, register, other_class["joinCode"], f"Klein {i}", consent=False)
        for i in range(2)
    ]
    big = [await _member(client, register, klass["joinCode"], f"Groot {i}", consent=False) for i in range(4)]
    for who in small:
        await seed_points(client, who.id, 30, day=local_today())
    for who in big[:2]:
        await seed_points(client, who.id, 40, day=local_today())
    loner = await register(consents=("leaderboard",), nickname="Solo")
    await seed_points(client, loner.id, 5, day=local_today())

    board = await _board(client, loner, scope="city", period="month")
    assert [(t["name"], t["perMember"], t["total"]) for t in board["teams"]] == [
        ("Elders", 30.0, 60.0),
        ("Sint-Jan Mechelen", 20.0, 80.0),
    ]
    assert _names(board) == [("Solo", 5.0)]


async def test_class_and_school_boards_are_for_their_members_and_teachers(
    client: Client, register: Register
) -> None:
    admin, teacher, school_id, klass = await setup_class(client)
    member = await _member(client, register, klass["joinCode"], "Lid", consent=True)
    other = await school(client, admin, "Elders")
    other_teacher = await staff(client, Role.TEACHER, other)
    outsider = await _member(
        client, register, (await school_class(client, other_teacher, other))["joinCode"], "Ver", consent=True
    )

    assert (await _board(client, teacher, scope="class", period="week", scopeId=klass["id"]))[
        "scopeId"
    ] == klass["id"]
    assert (await _board(client, teacher, scope="school", period="week"))["scopeId"] == school_id
    assert (await _board(client, member, scope="school", period="week"))["scopeId"] == school_id
    for viewer, query in (
        (outsider, {"scope": "class", "scopeId": klass["id"]}),
        (other_teacher, {"scope": "class", "scopeId": klass["id"]}),
        (outsider, {"scope": "school", "scopeId": school_id}),
        (other_teacher, {"scope": "school", "scopeId": school_id}),
    ):
        answer = await client.get("/leaderboards", params={**query, "period": "week"}, headers=viewer.auth)
        assert answer.status_code == 403, (query, answer.text)
    loner = await register()
    assert (
        await client.get("/leaderboards", params={"scope": "class"}, headers=loner.auth)
    ).status_code == 404
    assert (
        await client.get("/leaderboards", params={"scope": "city"}, headers=loner.auth)
    ).status_code == 200
    assert (await client.get("/leaderboards")).status_code == 401
