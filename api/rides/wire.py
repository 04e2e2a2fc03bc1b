"""Rides on the wire: the two upload formats, the answers, and the OpenAPI description of the upload.

POST /rides reads its body raw because it takes JSON *or* GPX; the JSON is
decoded here by the same strict decoder as every other body (`api.strict`),
so a type error names its field path (`points[3].lat`) the same way.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar.exceptions import HTTPException
from litestar.openapi.spec import OpenAPIFormat, OpenAPIMediaType, OpenAPIType, Operation, RequestBody, Schema
from litestar.status_codes import HTTP_415_UNSUPPORTED_MEDIA_TYPE

from api.gamification.wire import BadgeOut, badge_out
from api.strict import check_keys_and_text, decode
from api.wire import Out, Strict
from domain.hazards.rules import MAX_DESCRIPTION_LENGTH, HazardCategory
from domain.rides.rules import Incident
from domain.rides.service import Ingested, Upload
from domain.rides.tables import Ride
from gamification.anticheat.rules import flag_explanation
from gamification.badges.rules import Badge
from geo.gpx import parse_gpx
from geo.points import TracePoint
from geo.snapping import cell_path_geometry

MAX_RIDE_BYTES = 5_000_000
"""20 000 points (the point limit) are ~1.6 MB of JSON and ~3 MB of GPX."""
JSON_TYPES = frozenset({"application/json"})
GPX_TYPES = frozenset({"application/gpx+xml", "application/xml", "text/xml"})

Time = Annotated[
    float | Annotated[datetime, msgspec.Meta(tz=True)],
    msgspec.Meta(description="epoch seconds (UTC), or an RFC 3339 time with its offset"),
]


class PointIn(Strict, gc=False):
    lat: float
    lon: float
    t: Time
    accuracy: Annotated[float, msgspec.Meta(description="horizontal accuracy radius, metres")] | None = None


class IncidentIn(Strict):
    t: Time
    lat: float
    lon: float
    category: Annotated[str, msgspec.Meta(max_length=64, description="a code of GET /hazard-categories")]
    severity: Annotated[int, msgspec.Meta(description="1 uncomfortable, 2 dangerous, 3 very dangerous")]
    description: Annotated[str, msgspec.Meta(max_length=MAX_DESCRIPTION_LENGTH)] | None = None


class RideUpload(Strict):
    points: list[PointIn]
    incidents: list[IncidentIn] = []


class DroppedIncident(Out):
    index: int
    reason: str


class RideSummary(Out):
    id: uuid.UUID
    mode: str
    distance_m: float
    duration_s: int
    started_at: datetime
    cell_count: int
    segment_count: int
    trimmed_m: float
    point_count: int
    kept_point_count: int
    resolution: int
    incidents_filed: int
    created_at: datetime
    flags: Annotated[
        list[str],
        msgspec.Meta(
            description="anti-cheat flags (too_fast, teleport, duplicate, near_duplicate); [] if plausible"
        ),
    ]
    flag_reason: Annotated[
        str | None,
        msgspec.Meta(description="why a flagged ride earns nothing, in one sentence; null when not flagged"),
    ]


class RideCreated(RideSummary):
    incidents_dropped: list[DroppedIncident]
    # gamification: what this ride earned (0 and [] when flagged, motorised or too short)
    points_awarded: int = 0
    badges_earned: list[BadgeOut] = []


class RidePath(Out):
    """A GeoJSON Feature: the cell centres as a (Multi)LineString in [lon, lat]; null when all was trimmed."""

    type: str
    geometry: dict[str, Any] | None
    properties: dict[str, Any]


class RideDetail(RideSummary):
    path: RidePath


class _EpochPoint(TracePoint, forbid_unknown_fields=True, frozen=True, gc=False):
    """A `PointIn` whose time is epoch seconds, decoded straight into the pipeline's type."""


class _EpochUpload(Strict):
    points: list[_EpochPoint]
    incidents: list[IncidentIn] = []


_epoch_decoder = msgspec.json.Decoder(_EpochUpload)
"""The apps send epoch seconds: decoding those straight into `TracePoint`s skips building
1,800 intermediate structs per ride. Anything else (RFC 3339 times, a type error) is decoded
again by `api.strict.decode`, which accepts the times and words the errors."""


def _epoch(t: float | datetime) -> float:
    return t.timestamp() if isinstance(t, datetime) else t


def _plainly_unique(body: bytes, upload: _EpochUpload) -> bool:
    """Whether no key of `body` repeats, told without parsing it again (the common upload).

    With no escape, no text value and no null in the body, every quoted string
    is a key of the decoded upload, so the body holds exactly twice as many
    quotes as the upload has keys when none repeats. Anything else goes to the
    exact check (`api.strict.check_keys_and_text`), which costs a second parse.
    """
    if upload.incidents or b"\\" in body or b"null" in body:
        return False
    keys = 1 + int(b'"incidents"' in body) + sum(3 if p.accuracy is None else 4 for p in upload.points)
    return body.count(b'"') == 2 * keys


def _from_json(body: bytes) -> Upload:
    try:
        fast = _epoch_decoder.decode(body)
    except (msgspec.ValidationError, msgspec.DecodeError):
        pass
    else:
        if not _plainly_unique(body, fast):
            check_keys_and_text(body)
        return Upload(fast.points, [_incident(i) for i in fast.incidents])
    data = decode(body, RideUpload)
    points = [TracePoint(p.lat, p.lon, _epoch(p.t), p.accuracy) for p in data.points]
    return Upload(points, [_incident(i) for i in data.incidents])


def _incident(i: IncidentIn) -> Incident:
    return Incident(_epoch(i.t), i.lat, i.lon, i.category, i.severity, i.description)


def parse_upload(body: bytes, media_type: str) -> Upload:
    """JSON points (and incidents) or a GPX 1.1 document (tracks and segments, no incidents)."""
    media = media_type.lower()
    if media in JSON_TYPES:
        return _from_json(body)
    if media in GPX_TYPES:
        return Upload(parse_gpx(body, max_bytes=MAX_RIDE_BYTES))
    raise HTTPException(
        status_code=HTTP_415_UNSUPPORTED_MEDIA_TYPE,
        detail="Send the ride as application/json or as GPX 1.1 (application/gpx+xml).",
    )


def summary_fields(ride: Ride) -> dict[str, Any]:
    return {
        "id": ride.id,
        "mode": ride.mode,
        "distance_m": ride.distance_m,
        "duration_s": ride.duration_s,
        "started_at": ride.started_at,
        "cell_count": ride.cell_count,
        "segment_count": ride.segment_count,
        "trimmed_m": ride.trimmed_m,
        "point_count": ride.point_count,
        "kept_point_count": ride.kept_point_count,
        "resolution": ride.resolution,
        "incidents_filed": ride.incidents_filed,
        "created_at": ride.created_at,
        "flags": list(ride.flags),
        "flag_reason": flag_explanation(ride.flags),
    }


def ride_summary(ride: Ride) -> RideSummary:
    return RideSummary(**summary_fields(ride))


def created_body(result: Ingested) -> dict[str, Any]:
    """The upload's answer as stored under the Idempotency-Key (JSON-ready, camelCase)."""
    dropped = [DroppedIncident(index=d.index, reason=d.reason.value) for d in result.dropped_incidents]
    created = RideCreated(
        **summary_fields(result.ride),
        incidents_dropped=dropped,
        points_awarded=result.points_awarded,
        badges_earned=[badge_out(b) for b in result.badges_earned if isinstance(b, Badge)],
    )
    body: dict[str, Any] = msgspec.to_builtins(created)
    return body


def ride_detail(ride: Ride, segments: list[list[str]]) -> RideDetail:
    path = RidePath(
        type="Feature",
        geometry=cell_path_geometry(segments),
        properties={"rideId": str(ride.id), "resolution": ride.resolution, "cells": segments},
    )
    return RideDetail(**summary_fields(ride), path=path)


def _number(description: str) -> Schema:
    return Schema(type=OpenAPIType.NUMBER, description=description)


_TIME = Schema(
    one_of=[
        Schema(type=OpenAPIType.NUMBER, description="epoch seconds, UTC"),
        Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.DATE_TIME, description="RFC 3339, with offset"),
    ]
)
_POINT = Schema(
    type=OpenAPIType.OBJECT,
    additional_properties=False,
    required=["lat", "lon", "t"],
    properties={
        "lat": _number("WGS84 latitude, -90..90"),
        "lon": _number("WGS84 longitude, -180..180"),
        "t": _TIME,
        "accuracy": Schema(
            one_of=[
                _number("horizontal accuracy radius in metres; fixes above 50 m are discarded"),
                Schema(type=OpenAPIType.NULL),
            ]
        ),
    },
)
_INCIDENT = Schema(
    type=OpenAPIType.OBJECT,
    additional_properties=False,
    required=["t", "lat", "lon", "category", "severity"],
    properties={
        "t": _TIME,
        "lat": _number("WGS84 latitude"),
        "lon": _number("WGS84 longitude"),
        "category": Schema(
            type=OpenAPIType.STRING,
            enum=[c.value for c in HazardCategory],
            description="a code of GET /hazard-categories",
        ),
        "severity": Schema(type=OpenAPIType.INTEGER, minimum=1, maximum=3),
        "description": Schema(
            one_of=[
                Schema(type=OpenAPIType.STRING, max_length=MAX_DESCRIPTION_LENGTH),
                Schema(type=OpenAPIType.NULL),
            ]
        ),
    },
)
_UPLOAD = Schema(
    type=OpenAPIType.OBJECT,
    additional_properties=False,
    required=["points"],
    properties={
        "points": Schema(type=OpenAPIType.ARRAY, items=_POINT, min_items=2, max_items=20_000),
        "incidents": Schema(type=OpenAPIType.ARRAY, items=_INCIDENT, max_items=50),
    },
)


@dataclass
class RideUploadOperation(Operation):
    """Litestar cannot infer a body it does not parse itself, so the two formats are declared here."""

    def __post_init__(self) -> None:
        self.request_body = RequestBody(
            required=True,
            description=(
                "A ride as JSON points (with optional incidents) or as a GPX 1.1 document "
                "(every track point of every track and segment; `<hdop>` times 5 m becomes the accuracy). "
                f"At most {MAX_RIDE_BYTES // 1_000_000} MB."
            ),
            content={
                "application/json": OpenAPIMediaType(schema=_UPLOAD),
                "application/gpx+xml": OpenAPIMediaType(
                    schema=Schema(type=OpenAPIType.STRING, description="GPX 1.1 (no DTD, no entities)")
                ),
            },
        )
