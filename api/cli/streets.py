"""`saferoutes streets import FILE`: make an OpenStreetMap extract the network safe routes run on;
`saferoutes streets export-graphhopper -o FILE`: its danger as a GraphHopper custom model."""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import time
from pathlib import Path
from typing import Any

from api.cli import graphhopper
from api.database import make_engine
from api.settings import Settings
from domain.core.columns import utcnow
from domain.streets import service as streets
from domain.streets.rules import UnreadableExtract


def add_parser(sub: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(
        "streets", help="import a city's OpenStreetMap extract (.osm.pbf) as the street network"
    )
    actions = parser.add_subparsers(dest="streets_command", required=True)
    imp = actions.add_parser("import", help="read an .osm.pbf and replace the street network atomically")
    imp.add_argument("file", type=Path, metavar="FILE", help="an .osm.pbf extract (e.g. from Geofabrik)")
    graphhopper.add_parser(actions)
    return parser


def _progress(stage: str, count: int) -> None:
    unit = "segments" if stage == "writing" else "ways"
    print(f"\r  {stage:<10} {count:>12,} {unit}", end="", file=sys.stderr, flush=True)


async def _run(url: str, path: Path) -> streets.ImportReport:
    # the COPY of a country's millions of segments runs for minutes: no statement timeout here
    engine = make_engine(url, null_pool=True, command_timeout=None)
    stages: list[str] = []

    def progress(stage: str, count: int) -> None:
        if stages and stages[-1] != stage:
            print(file=sys.stderr)
        if not stages or stages[-1] != stage:
            stages.append(stage)
        _progress(stage, count)

    try:
        return await streets.import_extract(engine, path, now=utcnow(), progress=progress)
    finally:
        print(file=sys.stderr)
        await engine.dispose()


def cmd_streets(settings: Settings, url: str, args: argparse.Namespace) -> int:
    if args.streets_command == "export-graphhopper":
        return graphhopper.cmd_export(settings, url, args)
    started = time.perf_counter()
    print(f"Importing {args.file} …", file=sys.stderr, flush=True)
    try:
        report = asyncio.run(_run(url, args.file))
    except UnreadableExtract as exc:
        print(f"error: {exc.detail}; the street network is unchanged", file=sys.stderr)
        return 1
    seconds = time.perf_counter() - started
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    c = report.counts
    print(
        f"Street network {report.network_id} imported from {args.file.name}: {c.segments} segments "
        f"({c.length_m / 1000:.1f} km) from {c.ways_kept} of {c.ways_read} highway ways, "
        f"{c.missing_nodes} node references outside the extract skipped; replaced {report.replaced} "
        f"older network(s) in {seconds:.1f} s, peak memory {peak_mib:.0f} MiB."
    )
    return 0
