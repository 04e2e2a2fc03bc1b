"""`saferoutes retention`: apply the storage-limitation rules once (schedule it daily)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from api.database import make_engine
from api.settings import Settings
from domain.core.columns import utcnow
from privacy.retention import service as retention


def add_parser(sub: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(
        "retention", help="remove per-ride detail and expired records past the retention period"
    )
    parser.add_argument(
        "--days", type=int, default=None, help="retention period in days (default: SAFEROUTES_RETENTION_DAYS)"
    )
    return parser


def _progress(kind: str, removed: int) -> None:
    print(f"\r  {kind:<20} {removed:>10} removed", end="", file=sys.stderr, flush=True)


async def _run(url: str, days: int) -> retention.RetentionReport:
    engine = make_engine(url, null_pool=True)
    try:
        seen: set[str] = set()

        def progress(kind: str, removed: int) -> None:
            if seen and kind not in seen:
                print(file=sys.stderr)
            seen.add(kind)
            _progress(kind, removed)

        report = await retention.apply(engine, now=utcnow(), retention_days=days, progress=progress)
        print(file=sys.stderr)
        return report
    finally:
        await engine.dispose()


def cmd_retention(settings: Settings, url: str, args: argparse.Namespace) -> int:
    days = args.days if args.days is not None else settings.retention_days
    if days < 1:
        print("error: --days must be at least 1", file=sys.stderr)
        return 2
    report = asyncio.run(_run(url, days))
    total = sum(report.removed.values())
    dropped = f", {len(report.dropped)} monthly partitions dropped whole" if report.dropped else ""
    print(f"Retention applied (cut-off {report.cutoff:%Y-%m-%d %H:%M} UTC): {total} rows removed{dropped}.")
    if report.created:
        print(f"Partitions made ahead: {', '.join(report.created)}.")
    return 0
