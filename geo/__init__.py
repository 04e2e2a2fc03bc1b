"""Pure geo functions over trace points and H3 cells (no HTTP, no database).

Positions are named ``lat``/``lon`` at every boundary; GeoJSON output is
``[lon, lat]``. The facade below is what the API layer needs; the modules
hold the details.
"""

from geo.classify import ClassifyThresholds, TravelMode
from geo.cleaning import CleaningParams
from geo.errors import FieldError, TraceError
from geo.gpx import cells_to_gpx, parse_gpx
from geo.pipeline import DEFAULT_RESOLUTION, PipelineParams, ProcessedRide, process_trace
from geo.points import TracePoint, haversine_m
from geo.snapping import CellVisit, cell_path_geometry, cell_path_linestring, transitions
from geo.validation import TraceLimits, validate_trace

__all__ = [
    "DEFAULT_RESOLUTION",
    "CellVisit",
    "ClassifyThresholds",
    "CleaningParams",
    "FieldError",
    "PipelineParams",
    "ProcessedRide",
    "TraceError",
    "TraceLimits",
    "TracePoint",
    "TravelMode",
    "cell_path_geometry",
    "cell_path_linestring",
    "cells_to_gpx",
    "haversine_m",
    "parse_gpx",
    "process_trace",
    "transitions",
    "validate_trace",
]
