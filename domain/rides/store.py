"""The set-based statements that write a ride's cells and move its aggregates.

Each statement ships whole arrays (`unnest`) in one round trip, whatever the
ride's length: a 30-minute ride is ~200 cells, and writing them row by row
would cost more than the rest of the upload together. An upload's whole write
is one statement of data-modifying CTEs.

Aggregate rows are per user, so two users never touch the same row; a user's
own concurrent uploads are serialised by `lock_user_rides` and the inserts
are sorted anyway, so they could not deadlock even without it.
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import datetime

import h3
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from domain.core import sql as pg
from domain.rides.rules import ProcessedRide
from domain.rides.tables import Ride

# One round trip for the whole write: the ride, its cells and both aggregates.
# The cells' foreign key is checked at the end of the statement, when the ride exists.
_WRITE_RIDE = pg.sql(
    """
    WITH ride AS (
      INSERT INTO ride (id, user_id, mode, distance_m, duration_s, started_at, resolution, cell_count,
                        segment_count, trimmed_m, point_count, kept_point_count, incidents_filed, created_at,
                        fingerprint, flagged, flags)
      VALUES (:ride_id, :user_id, :ride_mode, :distance_m, :duration_s, :started_at, :resolution, :cell_count,
              :segment_count, :trimmed_m, :point_count, :kept_point_count, :incidents_filed, :created_at,
              :fingerprint, :flagged, CAST(:flags AS varchar[]))
      RETURNING id, started_at
    ),
    cells AS (
      INSERT INTO ride_cell (ride_id, seq, cell, segment, offset_s, speed_mps, filled, started_at)
      SELECT ride.id, s.seq, s.cell, s.segment, s.offset_s, s.speed_mps, s.filled, ride.started_at
      FROM ride, unnest(CAST(:seqs AS int[]), CAST(:cells AS bigint[]), CAST(:segments AS smallint[]),
                        CAST(:offsets AS int[]), CAST(:speeds AS real[]), CAST(:filled AS boolean[]))
           AS s(seq, cell, segment, offset_s, speed_mps, filled)
    ),
    exposure AS (
      INSERT INTO cell_exposure (cell, day, mode, user_id, rides)
      SELECT c, CAST(:day AS date), CAST(:mode AS varchar), :user_id, 1
      FROM unnest(CAST(:exposed AS bigint[])) AS c
      ON CONFLICT (cell, day, mode, user_id) DO UPDATE SET rides = cell_exposure.rides + 1
    )
    INSERT INTO cell_transition (from_cell, to_cell, day, mode, user_id, traversals)
    SELECT s.f, s.t, CAST(:day AS date), CAST(:mode AS varchar), :user_id, s.n
    FROM unnest(CAST(:froms AS bigint[]), CAST(:tos AS bigint[]), CAST(:counts AS int[])) AS s(f, t, n)
    ON CONFLICT (from_cell, to_cell, day, mode, user_id)
    DO UPDATE SET traversals = cell_transition.traversals + EXCLUDED.traversals
    """
)

# Rows that would reach zero are deleted, the others decremented; both parts
# read the same snapshot, and their row sets are disjoint.
_REMOVE_EXPOSURE = sa.text(
    """
    WITH c AS (SELECT DISTINCT cell FROM ride_cell WHERE ride_id = :ride_id AND started_at = :started_at),
    gone AS (
      DELETE FROM cell_exposure e USING c
      WHERE e.cell = c.cell AND e.day = :day AND e.mode = :mode AND e.user_id = :user_id AND e.rides <= 1
    )
    UPDATE cell_exposure e SET rides = e.rides - 1 FROM c
    WHERE e.cell = c.cell AND e.day = :day AND e.mode = :mode AND e.user_id = :user_id AND e.rides > 1
    """
)

_REMOVE_TRANSITIONS = sa.text(
    """
    WITH p AS (
      SELECT a.cell AS f, b.cell AS t, count(*)::int AS n
      FROM ride_cell a
      JOIN ride_cell b ON b.ride_id = a.ride_id AND b.started_at = a.started_at AND b.seq = a.seq + 1
        AND b.segment = a.segment
      WHERE a.ride_id = :ride_id AND a.started_at = :started_at
      GROUP BY 1, 2
    ),
    gone AS (
      DELETE FROM cell_transition x USING p
      WHERE x.from_cell = p.f AND x.to_cell = p.t AND x.day = :day AND x.mode = :mode
        AND x.user_id = :user_id AND x.traversals <= p.n
    )
    UPDATE cell_transition x SET traversals = x.traversals - p.n FROM p
    WHERE x.from_cell = p.f AND x.to_cell = p.t AND x.day = :day AND x.mode = :mode
      AND x.user_id = :user_id AND x.traversals > p.n
    """
)


async def write_ride(session: AsyncSession, ride: Ride, processed: ProcessedRide, *, exposure: bool) -> None:
    """Insert the ride (with its anti-cheat verdict) and its cells; when `exposure`, count the
    ride once in every cell it visited and each of its neighbour-to-neighbour steps, in the
    owner's aggregate rows."""
    to_int = h3.str_to_int
    visits = [(k, v) for k, segment in enumerate(processed.segments) for v in segment]
    exposed: list[int] = []
    steps: list[tuple[tuple[int, int], int]] = []
    if exposure:
        exposed = sorted({to_int(v.cell) for _, v in visits})
        steps = sorted(Counter((to_int(a), to_int(b)) for a, b in processed.transitions).items())
    await pg.execute(
        session,
        _WRITE_RIDE,
        **{
            "ride_id": ride.id,
            "user_id": ride.user_id,
            "ride_mode": ride.mode,
            # a constant is cast at planning time even for no rows: no exposure, no mode
            "mode": ride.mode if exposure else None,
            "distance_m": ride.distance_m,
            "duration_s": ride.duration_s,
            "started_at": ride.started_at,
            "resolution": ride.resolution,
            "cell_count": ride.cell_count,
            "segment_count": ride.segment_count,
            "trimmed_m": ride.trimmed_m,
            "point_count": ride.point_count,
            "kept_point_count": ride.kept_point_count,
            "incidents_filed": ride.incidents_filed,
            "created_at": ride.created_at,
            "fingerprint": ride.fingerprint,
            "flagged": ride.flagged,
            "flags": ride.flags,
            "seqs": list(range(len(visits))),
            "cells": [to_int(v.cell) for _, v in visits],
            "segments": [k for k, _ in visits],
            "offsets": [round(v.offset_s) for _, v in visits],
            "speeds": [round(v.speed_mps, 2) for _, v in visits],
            "filled": [v.filled for _, v in visits],
            "day": ride.started_at.date(),
            "exposed": exposed,
            "froms": [f for (f, _), _ in steps],
            "tos": [t for (_, t), _ in steps],
            "counts": [n for _, n in steps],
        },
    )


async def remove_aggregates(
    session: AsyncSession, user_id: uuid.UUID, ride_id: uuid.UUID, *, started_at: datetime, mode: str
) -> None:
    """Undo `add_aggregates` for a stored ride, from its cell rows (call before deleting them).
    ``started_at`` is the ride's: the key of the one month partition its cells are in."""
    params = {
        "ride_id": ride_id,
        "started_at": started_at,
        "day": started_at.date(),
        "mode": mode,
        "user_id": user_id,
    }
    await session.execute(_REMOVE_EXPOSURE, params)
    await session.execute(_REMOVE_TRANSITIONS, params)
