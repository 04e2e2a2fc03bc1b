"""``saferoutes export heatmap|flows``: the planner exports, written to a file, for areas too large for HTTP.

Same query, same encoders, same audit as the API (actor ``cli``); only the
area limit is larger (a region rather than a city). The file is written to
``FILE.part`` and renamed at the end, so a half-written export never looks
finished. The progress bar goes to stderr: rows are counted first, then each
encoded cell moves the bar.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Final, TextIO

from api.database import make_engine, make_sessionmaker
from api.replica import ReadRouter
from api.settings import Settings
from domain.core.columns import utcnow
from domain.core.errors import DomainError, InvalidInput
from domain.planner.rules import CLI_ACTOR, ExportFormat, ExportKind, HeatmapMetric, build_query, parse_time
from domain.planner.service import Actor, open_export
from geo.errors import FieldError

CLI_MAX_AREA_KM2: Final = 20_000.0
"""Flanders (13 500 km²) in one file; streaming keeps memory flat, so only the run time grows."""


class ProgressBar:
    """``[#####-----]  52% 5200/10000 cells`` on one line, redrawn at most ten times a second."""

    def __init__(self, total: int, out: TextIO, width: int = 30) -> None:
        self.total, self.out, self.width = total, out, width
        self._last = 0.0

    def update(self, done: int) -> None:
        now = time.monotonic()
        if now - self._last >= 0.1 or done >= self.total:
            self._last = now
            self._draw(done)

    def _draw(self, done: int) -> None:
        share = 1.0 if self.total == 0 else min(1.0, done / self.total)
        filled = round(share * self.width)
        bar = "#" * filled + "-" * (self.width - filled)
        self.out.write(f"\r[{bar}] {share:4.0%} {done}/{self.total} cells")
        self.out.flush()

    def finish(self, done: int) -> None:
        self._draw(done)
        self.out.write("\n")
        self.out.flush()


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    export = sub.add_parser("export", help="write a planner export (heatmap or flows) to a file")
    export.add_argument("kind", choices=[ExportKind.HEATMAP.value, ExportKind.FLOWS.value])
    export.add_argument(
        "--metric", choices=[m.value for m in HeatmapMetric], default=HeatmapMetric.DANGER.value
    )
    export.add_argument(
        "--res", type=int, default=None, help="H3 resolution, 7 to 10 (default: the release's)"
    )
    export.add_argument("--bbox", help="minLon,minLat,maxLon,maxLat (WGS84)")
    export.add_argument(
        "--from", dest="since", help="RFC 3339, truncated to its UTC day (default: last month)"
    )
    export.add_argument("--to", dest="until", help="RFC 3339; its UTC day is included and must be over")
    export.add_argument(
        "--format", choices=[f.value for f in ExportFormat], default=ExportFormat.GEOJSON.value
    )
    export.add_argument("--max-area-km2", type=float, default=CLI_MAX_AREA_KM2)
    export.add_argument("-o", "--output", type=Path, required=True, metavar="FILE")
    export.add_argument("--quiet", action="store_true", help="no progress bar")
    return export


async def run_export(
    settings: Settings, url: str, args: argparse.Namespace, err: TextIO | None = None
) -> int:
    err = err or sys.stderr
    policy, now = settings.release_policy(), utcnow()
    query = build_query(
        ExportKind(args.kind),
        today=now.date(),
        metric=args.metric,
        resolution=policy.resolution if args.res is None else args.res,
        bbox=args.bbox,
        since=parse_time(args.since, "from"),
        until=parse_time(args.until, "to"),
        format=args.format,
        max_area_km2=args.max_area_km2,
    )
    engine = make_engine(url, null_pool=True)
    sessionmaker = make_sessionmaker(engine)
    router = ReadRouter.from_settings(settings, sessionmaker, null_pool=True)
    part = args.output.with_name(args.output.name + ".part")
    bar: ProgressBar | None = None
    try:
        sent = 0

        def progress(done: int) -> None:
            nonlocal sent
            sent = done
            if bar is not None:
                bar.update(done)

        reads = await router.sessionmaker()
        if router.configured:
            print(f"Reading from {router.state}", file=err)
        opened = await open_export(
            sessionmaker,
            query,
            actor=Actor(None, CLI_ACTOR),
            policy=policy,
            now=now,
            progress=progress,
            reads=reads,
        )
        bar = None if args.quiet else ProgressBar(opened.rows, err)
        with part.open("wb") as out:
            async for chunk in opened.chunks:
                out.write(chunk)
        part.replace(args.output)
        if bar is not None:
            bar.finish(sent)
        print(f"Wrote {sent} cells to {args.output}", file=err)
        return 0
    finally:
        part.unlink(missing_ok=True)
        await router.aclose()
        await engine.dispose()


def cmd_export(settings: Settings, url: str, args: argparse.Namespace) -> int:
    try:
        return asyncio.run(run_export(settings, url, args))
    except InvalidInput as exc:
        print(f"error: {exc.field}: {exc.detail}", file=sys.stderr)
    except FieldError as exc:
        print(f"error: {exc.field}: {exc.message}", file=sys.stderr)
    except DomainError as exc:
        print(f"error: {exc.detail}", file=sys.stderr)
    return 2
