"""Privacy rules as pure functions: trimming of ride ends and privacy zones."""

from privacy.trimming import TrimResult, ride_trim_radius_m, trim_ends
from privacy.zones import (
    MAX_ZONE_RADIUS_M,
    MIN_ZONE_RADIUS_M,
    PrivacyZone,
    ZoneError,
    in_any_zone,
    make_zone,
    outside_zones,
)

__all__ = [
    "MAX_ZONE_RADIUS_M",
    "MIN_ZONE_RADIUS_M",
    "PrivacyZone",
    "TrimResult",
    "ZoneError",
    "in_any_zone",
    "make_zone",
    "outside_zones",
    "ride_trim_radius_m",
    "trim_ends",
]
