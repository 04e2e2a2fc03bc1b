"""Near-duplicate detection in SQL against a long history of similar rides (anticheat.service._JUDGE)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from tests.clock import session_clock
from tests.integration.conftest import Account, Register
from tests.integration.game_helpers import Client, seed_ride
from tests.integration.ride_helpers import recent_start, ride_json, rows, simulated, upload
from tests.integration.school_helpers import execute

RIDING = ("ride_tracking",)
HOUR = 3600.0


async def _cells_of(client: Client, ride_id: str) -> list[int]:
    found = await rows(
        client.app.state.engine,
        "SELECT cell FROM ride_cell WHERE ride_id = :id ORDER BY seq",
        id=uuid.UUID(ride_id),
    )
    return [cell for (cell,) in found]


async def _history(client: Client, user_id: str, cells: list[int], *, rides: int, share: float) -> None:
    """`rides` stored rides of the last days, each visiting the first `share` of `cells` with its own
    timing (a commuter's route ridden again) and as many cells nobody else visits."""
    kept = cells[: round(len(cells) * share)]
    own = len(cells) - len(kept)
    await execute(
        client,
        """
        WITH made AS (
          INSERT INTO ride (id, user_id, mode, distance_m, duration_s, started_at, resolution,
                            cell_count, segment_count, trimmed_m, point_count, kept_point_count,
                            incidents_filed, created_at)
          SELECT gen_random_uuid(), :user_id, 'bike', 3000, 600,
                 CAST(:now AS timestamptz) - i * interval '5 hours', 10, :n, 1, 300, 600, 600, 0, :now
          FROM generate_series(1, :rides) i
          RETURNING id, started_at
        ),
        path AS (
          SELECT seq - 1 AS seq, cell FROM unnest(CAST(:kept AS bigint[])) WITH ORDINALITY AS k(cell, seq)
          UNION ALL
          SELECT :n_kept + s, 1000000 + s FROM generate_series(0, :own - 1) s
        )
        INSERT INTO ride_cell (ride_id, seq, cell, segment, offset_s, speed_mps, filled, started_at)
        SELECT made.id, path.seq, CASE WHEN path.seq < :n_kept THEN path.cell
                                       ELSE path.cell + (abs(hashtext(made.id::text)::bigint) << 20) END,
               0, path.seq * 5 + (path.seq * path.seq) % 17, 4.0, false, made.started_at
        FROM made, path
        """,
        user_id=uuid.UUID(user_id),
        now=session_clock(),
        rides=rides,
        n=len(cells),
        kept=kept,
        n_kept=len(kept),
        own=own,
    )


def _shifted(body: dict[str, Any], seconds: float) -> dict[str, Any]:
    return {"points": [{**p, "t": p["t"] + seconds} for p in body["points"]]}


async def _flags(client: Client, ride_id: str) -> list[tuple[Any, ...]]:
    return await rows(
        client.app.state.engine, "SELECT flagged, flags FROM ride WHERE id = :id", id=uuid.UUID(ride_id)
    )


async def _rider_with_history(client: Client, register: Register) -> tuple[Account, dict[str, Any], str]:
    """A rider, their upload (body, ride id) and a history of 85 rides around its route:
    80 sharing half its cells, 5 sharing nearly all with their own timing (near-duplicate candidates)."""
    account = await register(consents=RIDING)
    body = ride_json(simulated(5).points)
    original = (await upload(client, account.auth, body)).json()
    assert original["pointsAwarded"] > 0
    cells = await _cells_of(client, original["id"])
    await _history(client, account.id, cells, rides=80, share=0.5)
    await _history(client, account.id, cells, rides=5, share=0.95)
    return account, body, original["id"]


async def test_a_shifted_copy_is_flagged_among_a_long_history_of_the_same_route(
    client: Client, register: Register
) -> None:
    account, body, _ = await _rider_with_history(client, register)

    copy = await upload(client, account.auth, _shifted(body, -7 * HOUR))
    assert copy.status_code == 201 and copy.json()["pointsAwarded"] == 0
    assert await _flags(client, copy.json()["id"]) == [(True, ["near_duplicate"])]


async def test_the_same_route_ridden_again_or_another_ride_is_not_flagged_however_long_the_history(
    client: Client, register: Register
) -> None:
    account, body, original_id = await _rider_with_history(client, register)
    assert (await client.delete(f"/rides/{original_id}", headers=account.auth)).status_code == 204

    again = await upload(client, account.auth, body)
    other = await upload(client, account.auth, ride_json(simulated(6, start_t=recent_start(4)).points))
    for answer in (again, other):
        assert answer.status_code == 201 and answer.json()["pointsAwarded"] > 0
        assert await _flags(client, answer.json()["id"]) == [(False, [])]


async def test_rides_without_cells_are_compared_with_nothing(client: Client, register: Register) -> None:
    account = await register(consents=RIDING)
    for back in range(3):
        await seed_ride(client, account.id, started_at=session_clock() - timedelta(hours=10 + back))
    answer = await upload(client, account.auth, ride_json(simulated(7, mode="walk", duration_s=40).points))
    assert answer.status_code == 201 and answer.json()["cellCount"] == 0
    assert await _flags(client, answer.json()["id"]) == [(False, [])]
