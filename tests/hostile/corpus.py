"""Hostile inputs: what a broken or malicious client sends, as (name, operation, body, content type).

Generic cases apply to every write endpoint that reads a body (enumerated from
the app, so endpoints that land later are covered); targeted cases probe the
rules of the endpoints that take coordinates, times, traces and codes. Every
one must be refused with a 4xx problem document and change nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from tests.clock import session_clock

JSON = "application/json"
GPX = "application/gpx+xml"
NOW = int(session_clock().timestamp()) - int(session_clock().timestamp()) % 60

SQL_INJECTION = (
    "' OR '1'='1",
    "x'); DROP TABLE app_user; --",
    "1; SELECT pg_sleep(10)--",
    "$$; TRUNCATE ride;$$",
)
SCRIPT_INJECTION = ('<script>alert("x")</script>', "javascript:alert(1)", '"><img src=x onerror=alert(1)>')
CONTROL = "a\x00b\x07c\x1b[2Jd\u202e"


@dataclass(frozen=True)
class Case:
    name: str
    body: bytes
    content_type: str = JSON
    headers: tuple[tuple[str, str], ...] = ()


def _json(value: Any) -> bytes:
    return json.dumps(value, allow_nan=True).encode()


def generic(max_body_bytes: int) -> list[Case]:
    """Bodies no write endpoint may accept."""
    return [
        Case("empty body", b""),
        Case("malformed json", b'{"lat": 51.0, "lon": '),
        Case("trailing garbage", b'{"a": 1} {"b": 2}'),
        Case("not utf-8", b'{"x": "\xff\xfe\xfa"}'),
        Case("json array instead of object", b"[1, 2, 3]"),
        Case("json string instead of object", b'"hello"'),
        Case("json number instead of object", b"42"),
        Case("json null", b"null"),
        Case("NaN token", b'{"lat": NaN, "lon": NaN}'),
        Case("Infinity token", b'{"lat": Infinity, "lon": -Infinity}'),
        Case("deeply nested json", b'{"a":' * 5000 + b"1" + b"}" * 5000),
        Case("unknown fields only", _json({"isAdmin": True, "role": "admin", "__proto__": {"x": 1}})),
        Case("oversized body", b'{"pad": "' + b"x" * (max_body_bytes + 1024) + b'"}'),
        Case("wrong content type", b"lat=51&lon=4", "text/plain"),
        Case("control characters", _json({"name": CONTROL, "handle": CONTROL, "joinCode": CONTROL})),
    ]


def _points(
    n: int, *, t0: int = NOW - 3600, lat: float = 51.0259, lon: float = 4.4776
) -> list[dict[str, Any]]:
    return [{"lat": lat + i * 1e-4, "lon": lon + i * 1e-4, "t": t0 + i, "accuracy": 5} for i in range(n)]


def _ride(points: list[dict[str, Any]], **extra: Any) -> bytes:
    return _json({"points": points, **extra})


def _million_points() -> bytes:
    one = b'{"lat":51.0259,"lon":4.4776,"t":%d}'
    return b'{"points":[' + b",".join(one % (NOW - 7200 + i % 7000) for i in range(1_000_000)) + b"]}"


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>
<gpx version="1.1" xmlns="http://www.topografix.com/GPX/1/1"><trk><name>&lol4;</name><trkseg>
<trkpt lat="51.0" lon="4.4"><time>2026-01-01T08:00:00Z</time></trkpt>
<trkpt lat="51.001" lon="4.401"><time>2026-01-01T08:00:10Z</time></trkpt></trkseg></trk></gpx>"""
XXE = b"""<?xml version="1.0"?>
<!DOCTYPE gpx [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<gpx version="1.1" xmlns="http://www.topografix.com/GPX/1/1"><trk><name>&xxe;</name><trkseg>
<trkpt lat="51.0" lon="4.4"><time>2026-01-01T08:00:00Z</time></trkpt>
<trkpt lat="51.001" lon="4.401"><time>2026-01-01T08:00:10Z</time></trkpt></trkseg></trk></gpx>"""
EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE gpx SYSTEM "http://127.0.0.1:9/evil.dtd">
<gpx version="1.1" xmlns="http://www.topografix.com/GPX/1/1"><trk><trkseg>
<trkpt lat="51.0" lon="4.4"><time>2026-01-01T08:00:00Z</time></trkpt></trkseg></trk></gpx>"""
DEEP_GPX = (
    b'<?xml version="1.0"?><gpx version="1.1" xmlns="http://www.topografix.com/GPX/1/1">'
    + b"<extensions>" * 10_000
    + b"</extensions>" * 10_000
    + b"</gpx>"
)

NO_TIMES_GPX = (
    b'<gpx version="1.1" xmlns="http://www.topografix.com/GPX/1/1"><trk><trkseg>'
    b'<trkpt lat="51" lon="4.4"/><trkpt lat="51.001" lon="4.401"/></trkseg></trk></gpx>'
)


def rides() -> list[Case]:
    """POST /rides: traces that break the limits of README's Rides section."""
    ordered = _points(30)
    backwards = [*ordered[:10], *reversed(ordered[10:])]
    return [
        Case("no points", _ride([])),
        Case("one point", _ride(_points(1))),
        Case("1,000,000 points", _million_points()),
        Case("latitude out of range", _ride([{**p, "lat": 91.0} for p in _points(5)])),
        Case("longitude out of range", _ride([{**p, "lon": -180.5} for p in _points(5)])),
        Case("swapped coordinates", _ride(_points(5, lat=151.2093, lon=-33.8688))),
        Case("huge numbers", _ride([{**p, "lat": 1e308, "lon": -1e308} for p in _points(5)])),
        Case(
            "overflowing numbers",
            b'{"points": [{"lat": 1e400, "lon": 4.4, "t": 1}, {"lat": 1e400, "lon": 4.4, "t": 2}]}',
        ),
        Case("NaN coordinates", _ride([{**p, "lat": float("nan")} for p in _points(5)])),
        Case("wrong types", _ride([{"lat": "51.0", "lon": [4.4], "t": {"x": 1}} for _ in range(3)])),
        Case("negative accuracy", _ride([{**p, "accuracy": -5} for p in _points(5)])),
        Case("timestamps in the far future", _ride(_points(30, t0=NOW + 10 * 365 * 86400))),
        Case("timestamps out of order", _ride(backwards)),
        Case("timestamps spanning years", _ride([*_points(3, t0=0), *_points(3, t0=NOW - 100)])),
        Case("huge timestamps", _ride([{**p, "t": 1e300} for p in _points(5)])),
        Case("timestamp strings that are not times", _ride([{**p, "t": "yesterday"} for p in _points(5)])),
        Case(
            "too many incidents",
            _ride(
                _points(30),
                incidents=[
                    {"t": NOW - 3590, "lat": 51.0, "lon": 4.4, "category": "close_pass", "severity": 2}
                ]
                * 51,
            ),
        ),
        Case(
            "incident SQL in category",
            _ride(
                _points(30),
                incidents=[
                    {
                        "t": NOW - 3590,
                        "lat": 51.0259,
                        "lon": 4.4776,
                        "category": SQL_INJECTION[1],
                        "severity": 2,
                    }
                ],
            ),
        ),
        Case(
            "oversized ride body", b'{"points": [' + b'{"lat": 51.0, "lon": 4.4, "t": 1},' * 200_000 + b"]}"
        ),
        Case("GPX billion laughs", BILLION_LAUGHS, GPX),
        Case("GPX external entity", XXE, GPX),
        Case("GPX external DTD", EXTERNAL_DTD, GPX),
        Case("GPX deep nesting", DEEP_GPX, GPX),
        Case("GPX that is not XML", b"<gpx><trk>", GPX),
        Case("GPX without times", NO_TIMES_GPX, GPX),
        Case(
            "idempotency key with control characters",
            _ride(_points(30)),
            headers=(("Idempotency-Key", "key\x01\x02\x03abcdef"),),
        ),
        Case("idempotency key that is huge", _ride(_points(30)), headers=(("Idempotency-Key", "k" * 5000),)),
    ]


def hazards() -> list[Case]:
    """POST /hazards: positions, categories, severities and times that break its rules."""
    ok = {"lat": 51.0259, "lon": 4.4776, "category": "road_surface", "severity": 2}
    cases = [
        Case("latitude out of range", _json({**ok, "lat": -90.0001})),
        Case("longitude out of range", _json({**ok, "lon": 180.0001})),
        Case("swapped coordinates", _json({**ok, "lat": 151.2093, "lon": -33.8688})),
        Case("huge numbers", _json({**ok, "lat": 1e308, "severity": 10**30})),
        Case("NaN position", _json({**ok, "lat": float("nan")})),
        Case("infinite position", _json({**ok, "lon": float("inf")})),
        Case("severity out of range", _json({**ok, "severity": 4})),
        Case("severity of the wrong type", _json({**ok, "severity": {"value": 3}})),
        Case("observed in the far future", _json({**ok, "observedAt": "2999-01-01T00:00:00Z"})),
        Case("observed in the far past", _json({**ok, "observedAt": "1900-01-01T00:00:00Z"})),
        Case("observed at a non-time", _json({**ok, "observedAt": "'; DROP TABLE hazard; --"})),
        Case("oversized description", _json({**ok, "description": "x" * 100_000})),
    ]
    cases += [Case(f"SQL in category {i}", _json({**ok, "category": s})) for i, s in enumerate(SQL_INJECTION)]
    cases += [
        Case(f"script in category {i}", _json({**ok, "category": s})) for i, s in enumerate(SCRIPT_INJECTION)
    ]
    return cases


def accounts() -> list[Case]:
    """POST /auth/register: handles and numbers no account may get."""
    base = {"password": "correct horse battery"}
    cases = [Case(f"SQL in handle {i}", _json({**base, "handle": s})) for i, s in enumerate(SQL_INJECTION)]
    cases += [
        Case(f"script in handle {i}", _json({**base, "handle": s})) for i, s in enumerate(SCRIPT_INJECTION)
    ]
    cases += [
        Case("control characters in handle", _json({**base, "handle": CONTROL})),
        Case("huge birth year", _json({**base, "handle": "okhandle1", "birthYear": 10**30})),
        Case("birth year in the future", _json({**base, "handle": "okhandle2", "birthYear": 2999})),
        Case("script nickname", _json({**base, "handle": "okhandle3", "nickname": SCRIPT_INJECTION[0]})),
        Case("oversized password", _json({"handle": "okhandle4", "password": "p" * 100_000})),
    ]
    return cases


def targeted() -> dict[tuple[str, str], list[Case]]:
    return {
        ("POST", "/rides"): rides(),
        ("POST", "/hazards"): hazards(),
        ("POST", "/auth/register"): accounts(),
    }
