"""Typed validation errors raised where the geo and privacy rules live.

The API maps :class:`FieldError` (and so every subclass) to one RFC 9457
problem document, using ``field`` as the offending JSON-pointer-like path.
Messages never contain coordinates: raw positions are personal data and
error messages end up in logs.
"""

from __future__ import annotations


class FieldError(ValueError):
    """A value in a request failed a rule; ``field`` says which one.

    ``field`` is a path such as ``points[17].t`` or ``gpx.trk[0].trkseg[1].trkpt[3].time``
    so that a client can point at the exact input it must fix.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class TraceError(FieldError):
    """An uploaded trace (JSON points or GPX) cannot be accepted."""


class OutsideUploadWindow(TraceError):
    """An uploaded trace ended longer ago than uploads are accepted (the upload window)."""
