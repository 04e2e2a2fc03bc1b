"""``saferoutes open-data`` (the daily dump) and ``saferoutes ngsi-push`` (resync the context broker)."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn

from api.database import make_engine, make_sessionmaker
from api.opendata.wire import window
from api.replica import ReadRouter
from api.settings import Settings
from domain.core.columns import utcnow
from domain.opendata.broker import BrokerPusher, full_sync
from domain.opendata.service import dump, parse_month


def progress_bar(quiet: bool) -> Progress:
    """One bar per stage on stderr; ``quiet`` (or no terminal) keeps stderr to the summary lines."""
    return Progress(
        TextColumn("{task.description:<10}"),
        BarColumn(),
        MofNCompleteColumn(),
        disable=quiet,
        console=Console(stderr=True),
    )


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    dump_parser = sub.add_parser(
        "open-data", help="write the open-data dump (hazards and cells, CSV and GeoJSON)"
    )
    dump_parser.add_argument(
        "--out", type=Path, required=True, metavar="DIR", help="folder for the four files"
    )
    dump_parser.add_argument("--month", help="the month, YYYY-MM, once it is over (default: the last one)")
    dump_parser.add_argument("--quiet", action="store_true", help="no progress bar")
    dump_parser.set_defaults(open_data_command="dump")
    push = sub.add_parser("ngsi-push", help="send every published hazard to SAFEROUTES_NGSI_BROKER_URL")
    push.set_defaults(open_data_command="push")


async def _dump(settings: Settings, url: str, args: argparse.Namespace) -> int:
    now = utcnow()
    span = dataclasses.replace(window(settings), month=parse_month(args.month, now.date()))
    args.out.mkdir(parents=True, exist_ok=True)
    engine = make_engine(url, null_pool=True)
    router = ReadRouter.from_settings(settings, make_sessionmaker(engine), null_pool=True)
    tasks: dict[str, TaskID] = {}
    try:
        reads = await router.sessionmaker()
        if router.configured:
            print(f"Reading from {router.state}", file=sys.stderr)
        with progress_bar(args.quiet) as bar:

            def advance(step: str, done: int, total: int) -> None:
                if step not in tasks:
                    tasks[step] = bar.add_task(step, total=total)
                bar.update(tasks[step], completed=done, total=total)

            async with reads() as session:
                result = await dump(session, args.out, span, now=now, progress=advance)
    finally:
        await router.aclose()
        await engine.dispose()
    names = ", ".join(p.name for p in result.files)
    print(
        f"Wrote {result.hazards} hazards and {result.cells} cells (month {span.month.label()}, "
        f"a differentially private release) to {args.out}: {names}",
        file=sys.stderr,
    )
    return 0


async def _push(settings: Settings, url: str) -> int:
    if not settings.ngsi_broker_url:
        print("error: set SAFEROUTES_NGSI_BROKER_URL first", file=sys.stderr)
        return 2
    engine = make_engine(url, null_pool=True)
    sessionmaker = make_sessionmaker(engine)
    pusher = BrokerPusher(settings.ngsi_broker_url, sessionmaker, source=settings.ngsi_alert_source)
    try:
        ok = await full_sync(pusher, sessionmaker)
    finally:
        await pusher.aclose()
        await engine.dispose()
    print(
        "Broker is up to date." if ok else "The broker refused some entities; see the log.", file=sys.stderr
    )
    return 0 if ok else 1


def cmd_open_data(settings: Settings, url: str, args: argparse.Namespace) -> int:
    if args.open_data_command == "push":
        return asyncio.run(_push(settings, url))
    try:
        parse_month(args.month, utcnow().date())
    except ValueError:
        print("error: --month must be YYYY-MM, of a month that is over", file=sys.stderr)
        return 2
    return asyncio.run(_dump(settings, url, args))
