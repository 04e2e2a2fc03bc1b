"""Ride use cases: ingest an upload, list, read and delete rides. No HTTP here.

Ingest: read the uploader, their consents and privacy zones, and give the
connection back -> run the pure pipeline (`domain.rides.rules`) in a worker thread,
so one upload does not stall the event loop -> then, in one transaction
committed once: lock the user's ride writes and claim the Idempotency-Key in
one round trip (a concurrent duplicate waits, then replays this answer) -> judge
the ride against the user's stored rides (`JudgeRide`, anti-cheat) -> store the summary with
its verdict, the cell sequence and the aggregates in one statement -> file the
incidents -> ask what it earned (`RewardRide`, answered by gamification) -> store the
answer under the key -> commit.
The raw points never leave this function's memory: only cells are written,
and errors name fields, never positions.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import anyio
import anyio.to_thread
import h3
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from domain.accounts.tables import User
from domain.core import idempotency
from domain.core import sql as pg
from domain.core.bus import ask, publish
from domain.core.enums import ConsentPurpose
from domain.core.errors import ConsentRequired, NotFound
from domain.core.locks import lock_user_rides, rides_key
from domain.hazards import service as hazard_service
from domain.hazards.rules import ReportCapReached
from domain.rides import store as ride_store
from domain.rides.events import JudgeRide, RewardRide, RideDeleted, Verdict
from domain.rides.rules import (
    Checked,
    Dropped,
    DropReason,
    Incident,
    PipelineParams,
    ProcessedRide,
    check_incidents,
    process_trace,
)
from domain.rides.tables import EXPOSURE_MODES, Ride, RideCell
from geo.errors import TraceError
from geo.points import TracePoint
from privacy.consent.rules import is_child, purpose_states
from privacy.trimming.rules import DEFAULT_MAX_RADIUS_M, DEFAULT_MIN_RADIUS_M, ride_trim_radius_m
from privacy.zones.rules import PrivacyZone

IDEMPOTENCY_SCOPE = "ride"
PIPELINE_THREADS = 1
"""The pipeline holds the GIL for most of its work: more threads only add switching, not throughput."""
_EXPOSURE_VALUES = frozenset(m.value for m in EXPOSURE_MODES)


@dataclass(frozen=True, slots=True)
class RideParams:
    """The pipeline's tunables and the trimming radius range."""

    pipeline: PipelineParams = field(default_factory=PipelineParams)
    trim_min_m: float = DEFAULT_MIN_RADIUS_M
    trim_max_m: float = DEFAULT_MAX_RADIUS_M


@dataclass(frozen=True, slots=True)
class Upload:
    points: Sequence[TracePoint]
    incidents: Sequence[Incident] = ()


@dataclass(frozen=True, slots=True)
class Ingested:
    """What the upload's answer is rendered from."""

    ride: Ride
    dropped_incidents: tuple[Dropped, ...]
    points_awarded: int = 0
    badges_earned: tuple[object, ...] = ()
    """Gamification's badges (rides do not know their type: see `domain.rides.events.Reward`)."""


@functools.cache
def _pipeline_limiter() -> anyio.CapacityLimiter:
    return anyio.CapacityLimiter(PIPELINE_THREADS)


def ride_key(points: Sequence[TracePoint]) -> str:
    """Keys the trimming radius: the same recording, in any format or under any
    Idempotency-Key, is trimmed identically, so re-uploading it cannot average the radius out."""
    if not points:
        raise TraceError("points", "a ride needs at least 2 points, got 0")
    return f"start:{points[0].t:.3f}"


@dataclass(frozen=True, slots=True)
class Uploader:
    """The uploading user as the pipeline needs them (the row is detached from the session)."""

    user: User
    may_report_hazards: bool
    zones: tuple[PrivacyZone, ...]


_UPLOADER = pg.sql(
    """
    SELECT c.id, c.purpose, c.granted, c.given_by, c.policy_version, c.recorded_at,
           NULL::float8 AS lat, NULL::float8 AS lon, NULL::float8 AS radius_m
    FROM consent_record c WHERE c.user_id = :user_id
    UNION ALL
    SELECT NULL, NULL, NULL, NULL, NULL, NULL, z.lat, z.lon, z.radius_m
    FROM privacy_zone z WHERE z.user_id = :user_id
    """
)
"""The uploader's consent records (rows with an id) and privacy zones (rows without), at once."""


@dataclass(frozen=True, slots=True)
class _Consent:
    id: uuid.UUID
    purpose: str
    granted: bool
    given_by: str
    policy_version: str
    recorded_at: datetime


async def uploader(session: AsyncSession, user: User, *, today: date) -> Uploader:
    """Refuse `user` (the row read when the request was authenticated) without `ride_tracking`
    consent (403), and read their privacy zones, in one statement.

    Then the session's connection goes back to the pool: the body is read and
    the pipeline runs without holding one, so slow clients and CPU work never
    starve the pool.
    """
    rows = await pg.fetch(session, _UPLOADER, user_id=user.id)
    await session.close()
    records = [
        _Consent(r["id"], r["purpose"], r["granted"], r["given_by"], r["policy_version"], r["recorded_at"])
        for r in rows
        if r["id"] is not None
    ]
    states = purpose_states(records, child=is_child(user.birth_year, today))
    if not states[ConsentPurpose.RIDE_TRACKING].effective:
        raise ConsentRequired(
            ConsentPurpose.RIDE_TRACKING.value, guardian_needed=is_child(user.birth_year, today)
        )
    zones = tuple(PrivacyZone(r["lat"], r["lon"], r["radius_m"]) for r in rows if r["id"] is None)
    return Uploader(user, states[ConsentPurpose.HAZARD_REPORTING].effective, zones)


def _ride_row(
    ride_id: uuid.UUID,
    user_id: uuid.UUID,
    processed: ProcessedRide,
    verdict: Verdict,
    incidents: int,
    now: datetime,
) -> Ride:
    return Ride(
        id=ride_id,
        user_id=user_id,
        mode=processed.mode.value,
        distance_m=round(processed.distance_m, 1),
        duration_s=round(processed.duration_s),
        started_at=processed.started_at,
        resolution=processed.resolution,
        cell_count=processed.cell_count,
        segment_count=len(processed.segments),
        trimmed_m=round(processed.trimmed_m, 1),
        point_count=processed.point_count,
        kept_point_count=processed.kept_point_count,
        incidents_filed=incidents,
        created_at=now,
        fingerprint=verdict.fingerprint,
        flagged=not verdict.ok,
        flags=verdict.flag_names,
    )


async def file_incidents(
    session: AsyncSession, user: User, checked: Checked, *, now: datetime, resolution: int
) -> tuple[int, tuple[Dropped, ...]]:
    """File the incidents to keep in the caller's transaction; returns (filed, all dropped)."""
    if not checked.to_file:
        return 0, checked.dropped
    drafts = [draft for _, draft in checked.to_file]
    try:
        await hazard_service.file_reports(session, user, drafts, now=now, resolution=resolution)
    except ReportCapReached:
        # raised before anything is written, so the transaction is intact
        capped = tuple(Dropped(i, DropReason.REPORT_CAP) for i, _ in checked.to_file)
        return 0, tuple(sorted(checked.dropped + capped, key=lambda d: d.index))
    return len(drafts), checked.dropped


async def ingest(
    session: AsyncSession,
    who: Uploader,
    upload: Upload,
    *,
    key: str,
    fingerprint: str,
    now: datetime,
    params: RideParams,
    render: Callable[[Ingested], dict[str, Any]],
    status_code: int = 201,
) -> idempotency.StoredResponse:
    """Store one uploaded ride exactly once per Idempotency-Key; commits.

    `who` comes from `uploader`. Raises `geo.errors.TraceError` (422) or
    `InvalidHazardInput` (422) before anything is committed. The pipeline runs
    before the key is claimed: a concurrent duplicate costs CPU, never a row.
    """
    user = who.user
    radius = ride_trim_radius_m(
        user.privacy_seed, ride_key(upload.points), min_m=params.trim_min_m, max_m=params.trim_max_m
    )
    work = functools.partial(
        process_trace, upload.points, now=now, trim_radius_m=radius, zones=who.zones, params=params.pipeline
    )
    processed = await anyio.to_thread.run_sync(work, limiter=_pipeline_limiter())
    ride_id = uuid.uuid4()
    checked = check_incidents(
        upload.incidents,
        span=(upload.points[0].t, upload.points[-1].t),
        ride_id=ride_id,
        ride_start=processed.started_at,
        zones=who.zones,
        consented=who.may_report_hazards,
        now=now,
        ends=[(upload.points[0].lat, upload.points[0].lon), (upload.points[-1].lat, upload.points[-1].lon)],
        trim_radius_m=radius,
    )
    stored = await idempotency.claim(
        session,
        user_id=user.id,
        scope=IDEMPOTENCY_SCOPE,
        key=key,
        fingerprint=fingerprint,
        now=now,
        lock=rides_key(user.id),  # lock_user_rides, in the claim's round trip
    )
    if stored is not None:
        return stored
    judged = await ask(session, JudgeRide(user.id, ride_id, processed, now))
    ride = _ride_row(ride_id, user.id, processed, judged.verdict, len(checked.to_file), now)
    await ride_store.write_ride(session, ride, processed, exposure=ride.mode in _EXPOSURE_VALUES)
    resolution = params.pipeline.resolution
    filed, dropped = await file_incidents(session, user, checked, now=now, resolution=resolution)
    if filed != ride.incidents_filed:
        ride.incidents_filed = filed
        await session.execute(sa.update(Ride).where(col(Ride.id) == ride_id).values(incidents_filed=filed))
    # what it earned, in this same transaction, exactly once per ride (docs/gamification.md)
    reward = await ask(session, RewardRide(ride, processed, judged, now))
    body = render(Ingested(ride, dropped, reward.points, tuple(reward.badges)))
    await idempotency.complete(
        session, user_id=user.id, scope=IDEMPOTENCY_SCOPE, key=key, status_code=status_code, body=body
    )
    await session.commit()
    return idempotency.StoredResponse(status_code, body)


async def list_rides(
    session: AsyncSession, user_id: uuid.UUID, *, limit: int, after: tuple[datetime, uuid.UUID] | None = None
) -> list[Ride]:
    """The user's rides, newest start first, ties by id (keyset: `after` is the last item's key)."""
    query = sa.select(Ride).where(col(Ride.user_id) == user_id)
    if after is not None:
        query = query.where(sa.tuple_(col(Ride.started_at), col(Ride.id)) < sa.tuple_(*after))
    query = query.order_by(col(Ride.started_at).desc(), col(Ride.id).desc()).limit(limit)
    return list((await session.execute(query)).scalars())


async def get_ride(session: AsyncSession, user_id: uuid.UUID, ride_id: uuid.UUID) -> Ride:
    """The ride if `user_id` owns it; anyone else gets the same NotFound as for a missing id."""
    ride = await session.get(Ride, ride_id)
    if ride is None or ride.user_id != user_id:
        raise NotFound("You have no ride with this id.", code="ride-not-found")
    return ride


async def cell_path(session: AsyncSession, ride: Ride) -> list[list[str]]:
    """The ride's connected cell paths (H3 strings), in ride order."""
    rows = await session.execute(
        sa.select(col(RideCell.segment), col(RideCell.cell))
        .where(col(RideCell.ride_id) == ride.id, col(RideCell.started_at) == ride.started_at)
        .order_by(col(RideCell.seq))
    )
    segments: list[list[str]] = []
    current = -1
    for segment, cell in rows:
        if segment != current:
            segments.append([])
            current = segment
        segments[-1].append(h3.int_to_str(cell))
    return segments


async def delete_ride(
    session: AsyncSession, user_id: uuid.UUID, ride_id: uuid.UUID, *, now: datetime
) -> None:
    """Delete an own ride, its cells and incident reports; aggregates, hazards and points follow; commits."""
    await lock_user_rides(session, user_id)
    ride = await get_ride(session, user_id, ride_id)
    if ride.mode in _EXPOSURE_VALUES:
        await ride_store.remove_aggregates(
            session, user_id, ride.id, started_at=ride.started_at, mode=ride.mode
        )
    await publish(session, RideDeleted(user_id, ride.id, now))
    await hazard_service.forget_ride_reports(session, ride.id, now=now)
    await session.execute(sa.delete(Ride).where(col(Ride.id) == ride.id))
    await session.commit()
