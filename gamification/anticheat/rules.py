"""Anti-cheat: rides that cannot be true earn nothing and are flagged for review.

Points make cheating worth a try, and children compare scores. The checks run
on what the pipeline keeps (the cell path with per-cell timing and speed, see
:class:`domain.rides.rules.ProcessedRide`), so they can be re-run on any stored ride,
and on the uploaded fixes when they are still at hand:

- too fast for the mode: the 95th percentile or the maximum of the per-cell
  speeds, or the average over the whole ride, above what the mode allows;
- teleport: two consecutive observed positions further apart than the mode
  could travel in the time between them (a train ride in the middle of a
  "cycled" trace, a spliced file);
- exact duplicate: the same trace uploaded again, under another idempotency key;
- near duplicate: the same recording edited (moved fixes, shifted clock), or
  recorded twice at once (two phones on one trip).

A flag never deletes anything: the ride still feeds the danger map if the
privacy rules allow, it only earns no points, counts in no challenge, and is
listed for a planner or admin to clear. Messages name no coordinates, since
they end up in logs.
"""

from __future__ import annotations

import hashlib
import itertools
import statistics
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from types import MappingProxyType
from typing import Final

import h3

from domain.rides.rules import ProcessedRide
from geo.classify import TravelMode
from geo.points import haversine_m
from geo.snapping import CellVisit, cell_centre


class CheatFlag(StrEnum):
    """Why a ride earns nothing; stored with the ride, so never rename a value."""

    TOO_FAST = "too_fast"
    TELEPORT = "teleport"
    DUPLICATE = "duplicate"
    NEAR_DUPLICATE = "near_duplicate"


FLAG_SENTENCES: Final[dict[CheatFlag, str]] = {
    CheatFlag.TOO_FAST: "its speeds are too high for walking or cycling",
    CheatFlag.TELEPORT: "it jumps between two positions faster than its travel mode can go",
    CheatFlag.DUPLICATE: "the same recording was already uploaded",
    CheatFlag.NEAR_DUPLICATE: "it copies or overlaps another recent ride of yours",
}
"""What each flag means, said to the rider: the one wording of the upload answer and the ride reads."""


def flag_explanation(flags: Iterable[str]) -> str | None:
    """One sentence saying why a flagged ride earns nothing (None for a plausible ride); flag names
    as stored on the ride, unknown ones (a flag retired later) said plainly rather than dropped."""
    names = sorted(set(flags))
    if not names:
        return None
    known = {str(flag): sentence for flag, sentence in FLAG_SENTENCES.items()}
    why = "; ".join(known.get(name, f"it was flagged '{name}'") for name in names)
    return (
        f"This ride earns no points and counts for no badge, streak or challenge: {why}. "
        "It is kept, still feeds the danger map, and may be reviewed."
    )


@dataclass(frozen=True, slots=True)
class SpeedLimits:
    """Highest plausible speeds (m/s) for one mode; see docs/gamification.md for the figures."""

    p95_mps: float
    max_mps: float
    average_mps: float


def _default_limits() -> Mapping[TravelMode, SpeedLimits]:
    return MappingProxyType(
        {
            TravelMode.WALK: SpeedLimits(p95_mps=4.5, max_mps=7.0, average_mps=3.5),
            TravelMode.BIKE: SpeedLimits(p95_mps=12.5, max_mps=16.7, average_mps=9.0),
        }
    )


@dataclass(frozen=True, slots=True)
class AntiCheatRules:
    """Thresholds of every check. A mode without limits (motorised) is not speed-checked: it earns nothing."""

    limits: Mapping[TravelMode, SpeedLimits] = field(default_factory=_default_limits)
    min_speed_samples: int = 5
    teleport_min_jump_m: float = 250.0
    quantisation_edges: float = 2.0
    near_duplicate_jaccard: float = 0.8
    near_duplicate_min_shared_cells: int = 10
    same_recording_max_spread_s: float = 0.5
    recent_window: timedelta = timedelta(days=14)


DEFAULT_ANTICHEAT = AntiCheatRules()


@dataclass(frozen=True, slots=True)
class Position:
    """A position at a time (epoch seconds): a GPS fix, or the centre of a visited cell."""

    lat: float
    lon: float
    t: float


@dataclass(frozen=True, slots=True)
class Jump:
    """A step between consecutive positions that the mode cannot make."""

    index: int
    distance_m: float
    seconds: float
    speed_mps: float


# --- speed ----------------------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (``q`` in 0..100) of a non-empty sequence."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def speed_problems(
    speeds_mps: Sequence[float],
    mode: TravelMode,
    *,
    distance_m: float,
    duration_s: float,
    rules: AntiCheatRules = DEFAULT_ANTICHEAT,
) -> list[str]:
    """Reasons a ride is too fast for its mode (empty when plausible).

    The percentile and maximum need ``min_speed_samples`` speeds, so a very
    short ride is judged on its average alone rather than on one noisy cell.
    """
    limits = rules.limits.get(mode)
    if limits is None:
        return []
    problems = []
    if len(speeds_mps) >= rules.min_speed_samples:
        p95 = percentile(speeds_mps, 95)
        top = max(speeds_mps)
        if p95 > limits.p95_mps:
            problems.append(f"95th-percentile speed {p95:.1f} m/s exceeds {limits.p95_mps:g} m/s for {mode}")
        if top > limits.max_mps:
            problems.append(f"maximum speed {top:.1f} m/s exceeds {limits.max_mps:g} m/s for {mode}")
    if duration_s > 0 and distance_m / duration_s > limits.average_mps:
        average = distance_m / duration_s
        problems.append(f"average speed {average:.1f} m/s exceeds {limits.average_mps:g} m/s for {mode}")
    return problems


# --- teleports ------------------------------------------------------------------------------------------


def find_teleports(
    positions: Sequence[Position],
    mode: TravelMode,
    *,
    slack_m: float = 0.0,
    rules: AntiCheatRules = DEFAULT_ANTICHEAT,
) -> list[Jump]:
    """Steps longer than ``teleport_min_jump_m`` made faster than the mode's maximum speed.

    ``slack_m`` is subtracted from every step first: cell centres are up to a
    cell apart from where the rider really was, so two cells entered one
    second apart are not a 130 m/s sprint. The minimum jump keeps GPS
    multipath hops (50-100 m) from ever counting.
    """
    limits = rules.limits.get(mode)
    if limits is None:
        return []
    jumps = []
    for i, (a, b) in enumerate(itertools.pairwise(positions), start=1):
        distance = haversine_m(a.lat, a.lon, b.lat, b.lon) - slack_m
        if distance < rules.teleport_min_jump_m:
            continue
        seconds = max(b.t - a.t, 1.0)
        if distance / seconds > limits.max_mps:
            jumps.append(Jump(index=i, distance_m=distance, seconds=b.t - a.t, speed_mps=distance / seconds))
    return jumps


def observed_positions(segments: Sequence[Sequence[CellVisit]], started_at: datetime) -> list[Position]:
    """Centres of the cells a fix really fell in, in ride order over all segments.

    Filled cells are skipped: their times are interpolated between the
    observed cells around them, so the jump shows between those two.
    """
    t0 = started_at.timestamp()
    out = []
    for visit in itertools.chain.from_iterable(segments):
        if not visit.filled:
            lat, lon = cell_centre(visit.cell)
            out.append(Position(lat, lon, t0 + visit.offset_s))
    return out


def cell_slack_m(resolution: int, rules: AntiCheatRules = DEFAULT_ANTICHEAT) -> float:
    """How far apart two cell centres can be with no real movement to speak of."""
    return rules.quantisation_edges * float(h3.average_hexagon_edge_length(resolution, unit="m"))


# --- duplicates -----------------------------------------------------------------------------------------


def trace_fingerprint(*, started_at: datetime, duration_s: float, distance_m: float) -> str:
    """A stable identity of one recording, for a unique lookup among stored rides.

    Built from what the pipeline measures *before* trimming (start minute,
    duration, distance), not from the stored cells: the trimming radius is
    drawn per ride key, so re-uploading the same file under another
    idempotency key stores different first and last cells, and a hash of the
    cell path would miss exactly the re-upload it is for. Edited copies are
    left to :func:`near_duplicate_of`.
    """
    if started_at.tzinfo is None:
        raise ValueError("started_at must be timezone-aware")
    key = f"v1|{int(started_at.timestamp()) // 60}|{round(duration_s)}|{round(distance_m)}"
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class TraceSummary:
    """What the near-duplicate check needs of a ride: its time span and first entry time per cell.

    ``first_offsets`` maps each cell to the seconds after ``started_at`` of its
    first visit; the service rebuilds it from the stored cell sequence.
    """

    started_at: datetime
    duration_s: float
    first_offsets: Mapping[str, float]
    fingerprint: str = ""
    ride_id: uuid.UUID | None = None

    @property
    def ends_at(self) -> datetime:
        return self.started_at + timedelta(seconds=self.duration_s)


def trace_summary(
    *,
    started_at: datetime,
    duration_s: float,
    visits: Iterable[tuple[str | int, float]],
    fingerprint: str = "",
    ride_id: uuid.UUID | None = None,
) -> TraceSummary:
    """Summarise ``(cell, offset_s)`` pairs in ride order, keeping each cell's first visit.

    Cells may be H3 strings or the 64-bit integers the ``ride_cell`` table
    stores; offsets are rounded to whole seconds as stored, so a fresh ride and
    its stored rows give the same summary.
    """
    first: dict[str, float] = {}
    for cell, offset in visits:
        key = str(h3.int_to_str(cell)) if isinstance(cell, int) else cell
        first.setdefault(key, float(round(offset)))
    return TraceSummary(started_at, duration_s, MappingProxyType(first), fingerprint, ride_id)


def jaccard(a: Iterable[str], b: Iterable[str]) -> float:
    """Shared cells over all cells of two cell sets (0 for two empty sets: nothing to compare)."""
    sa, sb = set(a), set(b)
    union = len(sa | sb)
    return len(sa & sb) / union if union else 0.0


def _timing_spread_s(a: TraceSummary, b: TraceSummary, shared: set[str]) -> float:
    """Median absolute deviation of the per-cell entry-time differences.

    The same recording shifted in time has the same difference at every cell
    (spread ~0); the same route ridden on another day drifts with every
    traffic light and gust of wind. Offsets are whole seconds, so a shifted
    copy differs by one of two neighbouring integers: a spread of at most 0.5 s.
    """
    diffs = [a.first_offsets[c] - b.first_offsets[c] for c in shared]
    centre = statistics.median(diffs)
    return statistics.median(abs(d - centre) for d in diffs)


def near_duplicate_of(
    candidate: TraceSummary, recent: Iterable[TraceSummary], rules: AntiCheatRules = DEFAULT_ANTICHEAT
) -> TraceSummary | None:
    """The first recent ride the candidate copies, or None.

    Covering the same cells is not enough (commuters ride the same route every
    day): the two must also overlap in time (one person cannot make two trips
    at once) or share the exact per-cell timing of one recording.
    """
    cells = set(candidate.first_offsets)
    for other in recent:
        if candidate.ride_id is not None and other.ride_id == candidate.ride_id:
            continue
        other_cells = set(other.first_offsets)
        if jaccard(cells, other_cells) < rules.near_duplicate_jaccard:
            continue
        if candidate.started_at < other.ends_at and other.started_at < candidate.ends_at:
            return other
        shared = cells & other_cells
        if len(shared) >= rules.near_duplicate_min_shared_cells and (
            _timing_spread_s(candidate, other, shared) <= rules.same_recording_max_spread_s
        ):
            return other
    return None


# --- the verdict ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Verdict:
    """The anti-cheat outcome of one ride: flags (empty = plausible), reasons, and what it copies."""

    flags: frozenset[CheatFlag]
    reasons: tuple[str, ...]
    fingerprint: str
    duplicate_of: uuid.UUID | None = None

    @property
    def ok(self) -> bool:
        return not self.flags

    @property
    def flag_names(self) -> list[str]:
        """The flags as stored on the ride, sorted."""
        return [str(flag) for flag in sorted(self.flags)]


def summary_of(ride: ProcessedRide, *, ride_id: uuid.UUID | None = None) -> TraceSummary:
    """The near-duplicate summary of a freshly processed ride."""
    return trace_summary(
        started_at=ride.started_at,
        duration_s=ride.duration_s,
        visits=((v.cell, v.offset_s) for s in ride.segments for v in s),
        fingerprint=fingerprint_of(ride),
        ride_id=ride_id,
    )


def fingerprint_of(ride: ProcessedRide) -> str:
    return trace_fingerprint(
        started_at=ride.started_at, duration_s=ride.duration_s, distance_m=ride.distance_m
    )


def assess_ride(
    ride: ProcessedRide,
    *,
    ride_id: uuid.UUID | None = None,
    recent: Sequence[TraceSummary] = (),
    same_fingerprint: uuid.UUID | None = None,
    fixes: Sequence[Position] = (),
    rules: AntiCheatRules = DEFAULT_ANTICHEAT,
) -> Verdict:
    """Run every check on one processed ride.

    ``ride_id``: this ride's own id when re-assessing a stored ride, so that it
    is not taken for a copy of itself; ``recent``: the user's rides of the last
    ``rules.recent_window`` (and any ride overlapping this one in time);
    ``same_fingerprint``: the id of a stored ride with this ride's fingerprint,
    if the unique lookup found one;
    ``fixes``: the cleaned GPS fixes, when the caller still has them, for a
    finer teleport check than cell centres allow.
    """
    flags: set[CheatFlag] = set()
    reasons: list[str] = []
    speeds = [v.speed_mps for s in ride.segments for v in s if not v.filled]
    too_fast = speed_problems(
        speeds, ride.mode, distance_m=ride.distance_m, duration_s=ride.duration_s, rules=rules
    )
    if too_fast:
        flags.add(CheatFlag.TOO_FAST)
        reasons.extend(too_fast)

    jumps = find_teleports(
        observed_positions(ride.segments, ride.started_at),
        ride.mode,
        slack_m=cell_slack_m(ride.resolution, rules),
        rules=rules,
    ) + find_teleports(fixes, ride.mode, rules=rules)
    if jumps:
        flags.add(CheatFlag.TELEPORT)
        worst = max(jumps, key=lambda j: j.speed_mps)
        reasons.append(
            f"{len(jumps)} jump(s); worst {worst.distance_m:.0f} m in {worst.seconds:.0f} s "
            f"({worst.speed_mps:.1f} m/s) for {ride.mode}"
        )

    summary = summary_of(ride, ride_id=ride_id)
    if same_fingerprint is not None and same_fingerprint == ride_id:
        same_fingerprint = None
    earlier = [
        r
        for r in recent
        if r.fingerprint == summary.fingerprint and (ride_id is None or r.ride_id != ride_id)
    ]
    duplicate_of = same_fingerprint or next((r.ride_id for r in earlier), None)
    if same_fingerprint is not None or earlier:
        flags.add(CheatFlag.DUPLICATE)
        reasons.append("the same recording was already uploaded")
    else:
        copied = near_duplicate_of(summary, recent, rules)
        if copied is not None:
            flags.add(CheatFlag.NEAR_DUPLICATE)
            reasons.append("the trace copies or overlaps a recent ride of the same user")
            duplicate_of = copied.ride_id
    return Verdict(frozenset(flags), tuple(reasons), summary.fingerprint, duplicate_of)
