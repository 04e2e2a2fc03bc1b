"""The whole ride pipeline as one pure function: upload in, storable summary out.

Order matters and is deliberate:
validate -> clean -> (distance, duration, speeds, mode on the *whole* cleaned
trace, so trimming does not shorten the user's credited ride) -> trim ends ->
cut privacy zones -> snap the surviving runs to cells -> connect each run.
The result holds no coordinates, only cells, so the caller can drop the raw
points as soon as this returns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from geo.classify import ClassifyThresholds, TravelMode, classify_mode, window_speeds_mps
from geo.cleaning import CleaningParams, clean, cumulative_distance_m
from geo.errors import TraceError
from geo.points import TracePoint, true_runs
from geo.snapping import CellVisit, cell_centre, connect, drop_cells, snap_segment, transitions
from geo.validation import TraceLimits, validate_trace
from privacy.trimming.rules import trim_ends
from privacy.zones.rules import PrivacyZone, in_any_zone, outside_zones

DEFAULT_RESOLUTION = 10


@dataclass(frozen=True, slots=True)
class PipelineParams:
    """Every tunable of :func:`process_trace`, with the documented defaults of each stage."""

    limits: TraceLimits = field(default_factory=TraceLimits)
    cleaning: CleaningParams = field(default_factory=CleaningParams)
    thresholds: ClassifyThresholds = field(default_factory=ClassifyThresholds)
    resolution: int = DEFAULT_RESOLUTION
    max_fill_cells: int = 10


@dataclass(frozen=True, slots=True)
class ProcessedRide:
    """What is stored of a ride. No raw coordinate survives into this object.

    ``started_at`` is the first kept fix's time floored to the minute (UTC);
    cell offsets are seconds after ``started_at``. ``segments`` are connected
    cell paths (consecutive cells are H3 neighbours); there are several when a
    privacy zone or a long GPS gap cut the ride. ``transitions`` are the
    consecutive cell pairs of all segments, in ride order.
    """

    mode: TravelMode
    distance_m: float
    duration_s: float
    trimmed_m: float
    started_at: datetime
    resolution: int
    segments: tuple[tuple[CellVisit, ...], ...]
    transitions: tuple[tuple[str, str], ...]
    point_count: int
    kept_point_count: int
    dropped_accuracy: int
    dropped_outliers: int

    @property
    def cell_count(self) -> int:
        """Number of cell visits over all segments (``cellCount`` on the wire)."""
        return sum(len(s) for s in self.segments)

    @property
    def cells(self) -> tuple[tuple[str, ...], ...]:
        """The segments as bare cell ids, e.g. for :func:`geo.snapping.cell_path_geometry`."""
        return tuple(tuple(v.cell for v in s) for s in self.segments)


def process_trace(
    points: Sequence[TracePoint],
    *,
    now: datetime,
    trim_radius_m: float,
    zones: Sequence[PrivacyZone] = (),
    params: PipelineParams | None = None,
) -> ProcessedRide:
    """Validate, clean, classify, trim, cut zones and snap one uploaded ride.

    ``trim_radius_m`` comes from :func:`privacy.trimming.ride_trim_radius_m`.
    Raises :class:`geo.errors.TraceError` for an unacceptable upload (including one
    left with fewer than two trustworthy fixes after cleaning); a ride
    whose every fix is trimmed or zoned away is valid and has no segments.
    """
    p = params or PipelineParams()
    received = validate_trace(points, now=now, limits=p.limits)
    cleaned = clean(received, p.cleaning)
    cols = cleaned.points
    n = len(cols)
    if n < 2:
        raise TraceError(
            "points",
            f"fewer than 2 fixes with accuracy <= {p.cleaning.max_accuracy_m:g} m remain after cleaning",
        )
    start_t = float(cols.t[0])
    started_at = datetime.fromtimestamp(start_t - start_t % 60, tz=UTC)
    t_ref = started_at.timestamp()

    cumulative = cumulative_distance_m(cols, p.cleaning.distance_step_m)
    distance = float(cumulative[-1])
    duration = float(cols.t[-1] - cols.t[0])
    speeds = window_speeds_mps(cols, p.thresholds.window_s)
    mode = classify_mode(speeds, cols.t, p.thresholds)

    trim = trim_ends(cols, trim_radius_m, cumulative_m=cumulative)
    keep = trim.keep & outside_zones(cols, zones) if zones else trim.keep

    segments: list[list[CellVisit]] = []
    for a, b in true_runs(keep):
        visits = snap_segment(
            cols.lat[a:b], cols.lon[a:b], cols.t[a:b], speeds[a:b], resolution=p.resolution, t_ref=t_ref
        )
        segments.extend(connect(visits, max_fill_cells=p.max_fill_cells))
    if zones:
        doomed = {v.cell for s in segments for v in s if in_any_zone(*cell_centre(v.cell), zones)}
        if doomed:
            segments = drop_cells(segments, doomed)

    return ProcessedRide(
        mode=mode,
        distance_m=distance,
        duration_s=duration,
        trimmed_m=trim.trimmed_m,
        started_at=started_at,
        resolution=p.resolution,
        segments=tuple(tuple(s) for s in segments),
        transitions=tuple(pair for s in segments for pair in transitions(s)),
        point_count=len(received),
        kept_point_count=n,
        dropped_accuracy=cleaned.dropped_accuracy,
        dropped_outliers=cleaned.dropped_outliers,
    )
