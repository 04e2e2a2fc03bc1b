"""The rules of a ride: the pipeline from an upload to storable cells, and which near misses are kept.

The pipeline is one pure function; its order matters and is deliberate:
validate -> clean -> (distance, duration, speeds, mode on the *whole* cleaned
trace, so trimming does not shorten the user's credited ride) -> trim ends ->
cut privacy zones -> snap the surviving runs to cells -> connect each run.
The result holds no coordinates, only cells, so the caller can drop the raw
points as soon as this returns.

Near misses recorded during a ride (incidents) become hazard reports tied to
the ride, or are dropped *visibly*. An incident is refused (422, naming
`incidents[i].<field>`, nothing stored) when it is malformed or outside the
ride's time span. A valid incident is dropped, with the reason in the upload's
answer, when:
- the user has no effective `hazard_reporting` consent (the ride itself is
  still kept: it was consented to);
- it lies inside one of the user's privacy zones (a zone means nothing is kept
  there, and a hazard's point is public);
- it is older than hazard reports may be (a late upload of an old ride);
- the user's daily report cap is reached (all of the ride's incidents go,
  rather than an arbitrary subset; the ride is still kept).
Incidents in the trimmed start and end are kept: they are explicit
observations, and the most valuable ones (a school gate) sit exactly there.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from domain.hazards.rules import (
    MAX_DESCRIPTION_LENGTH,
    MAX_OBSERVED_AGE,
    UPLOAD_WINDOW,
    InvalidHazardInput,
    ReportDraft,
    parse_category,
    sanitize_text,
    validate_severity,
)
from geo.classify import ClassifyThresholds, TravelMode, classify_mode, window_speeds_mps
from geo.cleaning import CleaningParams, clean, cumulative_distance_m
from geo.errors import TraceError
from geo.points import TracePoint, haversine_m, true_runs
from geo.snapping import CellVisit, cell_centre, connect, drop_cells, snap_segment, transitions
from geo.validation import TraceLimits, validate_trace
from privacy.trimming.rules import trim_ends
from privacy.zones.rules import PrivacyZone, in_any_zone, outside_zones

DEFAULT_RESOLUTION = 10


@dataclass(frozen=True, slots=True)
class PipelineParams:
    """Every tunable of :func:`process_trace`, with the documented defaults of each stage."""

    limits: TraceLimits = field(default_factory=lambda: TraceLimits(max_age_s=UPLOAD_WINDOW.total_seconds()))
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


# --- incidents --------------------------------------------------------------------------------------

MAX_INCIDENTS = 50
TIME_TOLERANCE_S = 60.0
"""An incident may be noted up to a minute before the first or after the last fix."""


class DropReason(StrEnum):
    NO_CONSENT = "hazard_reporting_consent_missing"
    PRIVACY_ZONE = "inside_privacy_zone"
    TOO_OLD = "too_old_for_hazard_reports"
    REPORT_CAP = "daily_report_cap_reached"


@dataclass(frozen=True, slots=True)
class Incident:
    """A near miss as uploaded: epoch-second time, WGS84 position, hazard category and severity."""

    t: float
    lat: float
    lon: float
    category: str
    severity: int
    description: str | None = None


@dataclass(frozen=True, slots=True)
class Dropped:
    index: int
    reason: DropReason


@dataclass(frozen=True, slots=True)
class Checked:
    """Valid incidents split into those to file (with their upload index) and those dropped."""

    to_file: tuple[tuple[int, ReportDraft], ...]
    dropped: tuple[Dropped, ...]


def check_incidents(
    incidents: Sequence[Incident],
    *,
    span: tuple[float, float],
    ride_id: uuid.UUID,
    ride_start: datetime,
    zones: Sequence[PrivacyZone],
    consented: bool,
    now: datetime,
    ends: Sequence[tuple[float, float]] = (),
    trim_radius_m: float = 0.0,
) -> Checked:
    """Validate every incident (raising for the first bad one) and decide which are filed.

    An incident within ``trim_radius_m`` of one of the ride's ``ends`` (lat, lon) is filed to be
    published at its cell, never at its point: the trimmed ends are what the ride keeps private.
    """
    if len(incidents) > MAX_INCIDENTS:
        raise InvalidHazardInput("incidents", f"A ride may carry at most {MAX_INCIDENTS} incidents.")
    first, last = span
    to_file: list[tuple[int, ReportDraft]] = []
    dropped: list[Dropped] = []
    for i, inc in enumerate(incidents):
        at = f"incidents[{i}]"
        for name, value, low, high in (("lat", inc.lat, -90.0, 90.0), ("lon", inc.lon, -180.0, 180.0)):
            if not (math.isfinite(value) and low <= value <= high):
                raise InvalidHazardInput(f"{at}.{name}", f"Must be between {low:g} and {high:g}.")
        if not (math.isfinite(inc.t) and first - TIME_TOLERANCE_S <= inc.t <= last + TIME_TOLERANCE_S):
            raise InvalidHazardInput(f"{at}.t", "An incident must happen during the ride.")
        category = parse_category(inc.category, field=f"{at}.category")
        validate_severity(inc.severity, field=f"{at}.severity")
        description = sanitize_text(
            inc.description, field=f"{at}.description", max_length=MAX_DESCRIPTION_LENGTH
        )
        observed = datetime.fromtimestamp(inc.t, tz=UTC)
        if not consented:
            dropped.append(Dropped(i, DropReason.NO_CONSENT))
        elif zones and in_any_zone(inc.lat, inc.lon, zones):
            dropped.append(Dropped(i, DropReason.PRIVACY_ZONE))
        elif observed < now - MAX_OBSERVED_AGE:
            dropped.append(Dropped(i, DropReason.TOO_OLD))
        else:
            offset = max(0, round(inc.t - ride_start.timestamp()))
            near_end = any(haversine_m(inc.lat, inc.lon, lat, lon) <= trim_radius_m for lat, lon in ends)
            draft = ReportDraft(
                inc.lat,
                inc.lon,
                category.value,
                inc.severity,
                description,
                observed,
                ride_id,
                offset,
                near_end,
            )
            to_file.append((i, draft))
    return Checked(tuple(to_file), tuple(dropped))
