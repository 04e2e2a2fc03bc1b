"""`saferoutes streets export-graphhopper -o FILE`: the street danger as a GraphHopper custom model.

The same model as ``GET /planner/graphhopper-model`` (domain.routing.graphhopper): built from
the last month's differentially private release, audit-logged with the command as its actor.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from api.database import make_engine, make_sessionmaker
from api.settings import Settings
from domain.core.columns import utcnow
from domain.planner.rules import CLI_ACTOR, ExportKind
from domain.planner.service import record
from domain.routing.graphhopper import Exported, export_model
from domain.streets.rules import PROFILES


def add_parser(actions: Any) -> None:
    export = actions.add_parser(
        "export-graphhopper",
        help="write the street danger as a GraphHopper custom model (JSON) from the last release",
    )
    export.add_argument("-o", "--output", type=Path, required=True, metavar="FILE", help="the JSON file")
    export.add_argument("--profile", choices=PROFILES, default="safest", help="the profile it weighs for")


async def _export(settings: Settings, url: str, profile: str) -> Exported:
    engine = make_engine(url, null_pool=True)
    try:
        sessionmaker = make_sessionmaker(engine)
        async with sessionmaker() as session:
            exported = await export_model(
                session,
                profile,
                now=utcnow(),
                resolution=settings.h3_resolution,
                policy=settings.release_policy(),
            )
        await record(
            sessionmaker,
            actor_id=None,
            actor_role=CLI_ACTOR,
            kind=ExportKind.GRAPHHOPPER_MODEL,
            parameters={"profile": profile, "releaseMonth": exported.release_month, "areas": exported.areas},
            cells=exported.areas,
        )
        return exported
    finally:
        await engine.dispose()


def cmd_export(settings: Settings, url: str, args: argparse.Namespace) -> int:
    exported = asyncio.run(_export(settings, url, args.profile))
    args.output.write_text(json.dumps(exported.model, indent=1) + "\n", encoding="utf-8")
    rules = len(exported.model["priority"])
    print(
        f"GraphHopper custom model ({exported.profile}) written to {args.output}: {rules} priority rules, "
        f"{exported.areas} danger areas, from the release of {exported.release_month}.",
        file=sys.stderr,
    )
    return 0
