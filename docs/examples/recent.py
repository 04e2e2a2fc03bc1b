"""Print a sample ride with its times moved so that it ended a minute ago.

The service accepts a ride only within 7 days of its end (the upload window),
so the samples next to this script (ride.json, morning.gpx) are dated in the
past and must be moved before they are uploaded:

    python3 docs/examples/recent.py docs/examples/ride.json > ride.json
    python3 docs/examples/recent.py docs/examples/morning.gpx > morning.gpx

Every time moves by the same amount, so the ride's shape, speed and its
incidents stay as they are. Only the standard library: the README's examples
need nothing but Python.
"""

from __future__ import annotations

import json
import re
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

GPX_TIME = re.compile(r"<time>([^<]+)</time>")


def _moment(value: Any) -> float:
    """Epoch seconds of a ride time: a number, or an RFC 3339 text."""
    if isinstance(value, int | float):
        return float(value)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


def _moved(value: Any, shift: float) -> Any:
    if isinstance(value, int | float):
        return int(value + shift)
    return _rfc3339(_moment(value) + shift)


def _rfc3339(seconds: float) -> str:
    return datetime.fromtimestamp(int(seconds), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def recent_json(text: str, end: float) -> str:
    ride = json.loads(text)
    shift = end - _moment(ride["points"][-1]["t"])
    for item in [*ride["points"], *ride.get("incidents", [])]:
        item["t"] = _moved(item["t"], shift)
    return json.dumps(ride)


def recent_gpx(text: str, end: float) -> str:
    times = GPX_TIME.findall(text)
    shift = end - _moment(times[-1])
    return GPX_TIME.sub(lambda m: f"<time>{_rfc3339(_moment(m.group(1)) + shift)}</time>", text)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(f"usage: python3 {argv[0]} ride.json|ride.gpx > moved-copy", file=sys.stderr)
        return 2
    path = Path(argv[1])
    text = path.read_text(encoding="utf-8")
    end = time.time() - 60
    sys.stdout.write(recent_gpx(text, end) if path.suffix == ".gpx" else recent_json(text, end) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
