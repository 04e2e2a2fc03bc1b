"""Each badge rule against the database: stats seeded with SQL, then one real event evaluates them."""

from __future__ import annotations

import uuid
from datetime import time, timedelta

import h3
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from gamification.badges.rules import CATALOGUE
from gamification.badges.store import parent_cell_sql, qualifying_sql
from gamification.points.rules import DEFAULT_RULES
from tests.integration.conftest import Register
from tests.integration.game_helpers import (
    Client,
    badge_codes,
    far_areas,
    local_noon,
    local_today,
    ride_local_day,
    school_cell,
    seed_ride,
)
from tests.integration.hazard_helpers import REPORTING, far, filed, make_hazard
from tests.integration.hazard_helpers import body as hazard_body
from tests.integration.ride_helpers import ride_json, rows, simulated, upload
from tests.integration.school_helpers import ADULT_YEAR, join, setup_class

RIDING = ("ride_tracking",)
LONG_AGO = local_today() - timedelta(days=200)


async def _ride(
    client: Client, auth: dict[str, str], seed: int = 1, mode: str = "bike", start_t: float | None = None
) -> dict[str, object]:
    ride = simulated(seed, mode=mode, start_t=start_t)  # type: ignore[arg-type]
    response = await upload(client, auth, ride_json(ride.points))
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


def _codes(created: dict[str, object]) -> list[str]:
    return [b["code"] for b in created["badgesEarned"]]  # type: ignore[attr-defined, index]


async def test_the_catalogue_lists_every_badge_with_its_rule(client: Client) -> None:
    response = await client.get("/badges")
    assert response.status_code == 200
    listed = response.json()
    assert [b["code"] for b in listed] == [b.code for b in CATALOGUE]
    early = next(b for b in listed if b["code"] == "early_bird")
    assert early["rule"] == {
        "type": "earlyBird",
        "notBefore": "05:00:00",
        "ridesBefore": "08:00:00",
        "atLeast": 5,
    }
    assert early["name"]["nl"] == "Vroege vogel"


async def test_first_ride_and_distance_thresholds(client: Client, register: Register) -> None:
    account = await register(consents=RIDING)
    await seed_ride(client, account.id, started_at=local_noon(LONG_AGO), distance_m=9_000)
    assert _codes(await _ride(client, account.auth)) == ["first_ride", "km_10"]
    await seed_ride(client, account.id, started_at=local_noon(LONG_AGO), distance_m=990_000)
    assert _codes(await _ride(client, account.auth, 2)) == ["km_100", "km_1000"]
    assert _codes(await _ride(client, account.auth, 3)) == []  # never twice
    assert await badge_codes(client, account.auth) == ["first_ride", "km_10", "km_100", "km_1000"]


async def test_walker_counts_walked_km_only(client: Client, register: Register) -> None:
    account = await register(consents=RIDING)
    await seed_ride(client, account.id, started_at=local_noon(LONG_AGO), distance_m=9_500, mode="walk")
    await seed_ride(
        client, account.id, started_at=local_noon(LONG_AGO), distance_m=50_000, mode="walk", flagged=True
    )
    assert "walker_10" not in _codes(await _ride(client, account.auth))  # a bike ride adds no walked km
    walked = await _ride(client, account.auth, 2, mode="walk")
    assert walked["mode"] == "walk" and "walker_10" in _codes(walked)


@pytest.mark.parametrize(("days", "code"), [(7, "streak_7"), (30, "streak_30")])
async def test_streak_badges(client: Client, register: Register, days: int, code: str) -> None:
    account = await register(consents=RIDING)
    day = ride_local_day(await _ride(client, account.auth))  # type: ignore[arg-type]
    for back in range(2, days):
        await seed_ride(client, account.id, started_at=local_noon(day - timedelta(days=back)))
    assert code not in _codes(await _ride(client, account.auth, 2))  # a gap yesterday
    await seed_ride(client, account.id, started_at=local_noon(day - timedelta(days=1)))
    assert code in _codes(await _ride(client, account.auth, 3))


async def test_hazard_spotter_after_three_reports_confirmed_by_others(
    client: Client, register: Register
) -> None:
    reporter = await register(consents=REPORTING)
    confirmer = await register(consents=REPORTING)
    for i in range(1, 4):
        assert "hazard_spotter" not in await badge_codes(client, reporter.auth)
        report = await filed(client, reporter, hazard_body(*far(i)))
        answer = await client.post(
            f"/hazards/{report['hazardId']}/confirmations", json={"stillThere": True}, headers=confirmer.auth
        )
        assert answer.status_code == 201
    assert await badge_codes(client, reporter.auth) == ["hazard_spotter"]


async def test_helping_hand_after_ten_confirmations(client: Client, register: Register) -> None:
    helper = await register(consents=REPORTING)
    for i in range(1, 11):
        assert "helping_hand" not in await badge_codes(client, helper.auth)
        hazard_id = await make_hazard(client, lat=far(i)[0], lon=far(i)[1])
        answer = await client.post(
            f"/hazards/{hazard_id}/confirmations", json={"stillThere": i % 2 == 0}, headers=helper.auth
        )
        assert answer.status_code == 201
    assert await badge_codes(client, helper.auth) == ["helping_hand"]


async def test_early_bird_counts_local_starts_from_five_to_eight(client: Client, register: Register) -> None:
    account = await register(consents=RIDING)
    for back in range(1, 5):
        await seed_ride(
            client, account.id, started_at=local_noon(LONG_AGO + timedelta(days=back), time(6, 30))
        )
    await seed_ride(client, account.id, started_at=local_noon(LONG_AGO, time(1, 0)))  # a night ride home
    await seed_ride(client, account.id, started_at=local_noon(LONG_AGO, time(8, 0)))  # just too late
    # the probes start at noon yesterday: a probe at the wall clock's hour could itself be early
    noon = local_noon(local_today() - timedelta(days=1)).timestamp()
    assert "early_bird" not in _codes(await _ride(client, account.auth, start_t=noon))
    await seed_ride(client, account.id, started_at=local_noon(LONG_AGO, time(5, 0)))
    assert "early_bird" in _codes(await _ride(client, account.auth, 2, start_t=noon + 3600))


async def test_explorer_after_twenty_five_neighbourhoods(
    client: Client, register: Register, db_engine: AsyncEngine
) -> None:
    account = await register(consents=RIDING)
    cells = far_areas(25)
    await seed_ride(client, account.id, started_at=local_noon(LONG_AGO), cells=cells[:24], flagged=True)
    await seed_ride(client, account.id, started_at=local_noon(LONG_AGO), cells=cells[:20])
    assert "explorer" not in _codes(await _ride(client, account.auth))
    await seed_ride(client, account.id, started_at=local_noon(LONG_AGO), cells=cells[18:])
    assert await rows(db_engine, _EXPLORED, user_id=uuid.UUID(account.id)) != []
    assert "explorer" in _codes(await _ride(client, account.auth, 2))
    # earned: the areas are no longer needed, and later rides keep none
    assert await rows(db_engine, _EXPLORED, user_id=uuid.UUID(account.id)) == []
    await _ride(client, account.auth, 3)
    assert await rows(db_engine, _EXPLORED, user_id=uuid.UUID(account.id)) == []


_EXPLORED_FRESH = f"""
    SELECT 8, {parent_cell_sql("c.cell", 8)}, count(DISTINCT r.id)
    FROM ride r JOIN ride_cell c ON c.ride_id = r.id
    WHERE r.user_id = :user_id AND {qualifying_sql()}
    GROUP BY 2 ORDER BY 2
"""


_EXPLORED = "SELECT resolution, area, rides FROM explorer_area WHERE user_id = :user_id ORDER BY area"


async def test_explorer_areas_follow_the_qualifying_rides_through_uploads_and_deletions(
    client: Client, register: Register, db_engine: AsyncEngine
) -> None:
    account = await register(consents=RIDING)
    user_id = uuid.UUID(account.id)

    async def fresh() -> list[tuple[object, ...]]:
        return await rows(db_engine, _EXPLORED_FRESH, user_id=user_id, min_trip_m=DEFAULT_RULES.min_trip_m)

    first = await _ride(client, account.auth, 41)
    assert first["pointsAwarded"] > 0  # qualifying
    await _ride(client, account.auth, 42)
    await _ride(client, account.auth, 43, mode="car")  # motorised: no areas
    duplicate = await _ride(client, account.auth, 42)  # flagged as a re-upload: no areas
    assert duplicate["pointsAwarded"] == 0
    # a trip through part of the first one's areas, so some rows count two rides
    cells = await rows(
        db_engine, "SELECT cell FROM ride_cell WHERE ride_id = :id ORDER BY seq", id=first["id"]
    )
    path = [h3.int_to_str(c) for (c,) in cells]
    await seed_ride(client, account.id, started_at=local_noon(LONG_AGO), cells=path[: len(path) // 2])
    explored = await rows(db_engine, _EXPLORED, user_id=user_id)
    assert explored == await fresh()
    assert any(rides == 2 for *_, rides in explored)
    assert (await client.delete(f"/rides/{first['id']}", headers=account.auth)).status_code == 204
    assert await rows(db_engine, _EXPLORED, user_id=user_id) == await fresh() != explored


async def test_the_sql_parent_cell_is_h3s(client: Client) -> None:
    cells = [h3.latlng_to_cell(51.0259 + i * 0.01, 4.4776 - i * 0.02, 10) for i in range(20)]
    async with client.app.state.sessionmaker() as session:
        for cell in cells:
            for res in (7, 8, 9):
                query = sa.text(f"SELECT {parent_cell_sql(':cell', res)}")
                parent = (await session.execute(query, {"cell": h3.str_to_int(cell)})).scalar_one()
                assert h3.int_to_str(parent) == h3.cell_to_parent(cell, res)


async def test_school_hero_after_twenty_days_arriving_at_school(client: Client, register: Register) -> None:
    _, _, _, klass = await setup_class(client)
    pupil = await register(consents=RIDING, birthYear=ADULT_YEAR)
    assert (await join(client, pupil, klass["joinCode"])).status_code == 201
    arriving = [h3.grid_ring(school_cell(), 5)[0], h3.grid_ring(school_cell(), 2)[0]]
    passing = [h3.grid_ring(school_cell(), 2)[0], h3.grid_ring(school_cell(), 5)[0]]
    for back in range(19):
        await seed_ride(
            client, pupil.id, started_at=local_noon(LONG_AGO + timedelta(days=back)), cells=arriving
        )
    await seed_ride(client, pupil.id, started_at=local_noon(LONG_AGO, time(16)), cells=arriving)  # same day
    await seed_ride(client, pupil.id, started_at=local_noon(LONG_AGO - timedelta(days=1)), cells=passing)
    assert "school_hero" not in _codes(await _ride(client, pupil.auth))
    await seed_ride(client, pupil.id, started_at=local_noon(LONG_AGO - timedelta(days=2)), cells=arriving)
    assert "school_hero" in _codes(await _ride(client, pupil.auth, 2))
