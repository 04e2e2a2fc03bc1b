"""``saferoutes demo [--seed N] [--users N] [--rides N] [--streets FILE] [--if-empty]``: the demo city."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from rich.progress import TaskID
from sqlalchemy import event

from api.cli.opendata import progress_bar
from api.database import make_engine, make_sessionmaker
from api.settings import Settings
from domain.accounts.rules import Passwords, TokenIssuer
from domain.accounts.service import AuthConfig
from domain.core.codes import CodeHasher
from domain.core.columns import utcnow
from domain.demo.service import DEMO_EXTRACT, DEMO_PASSWORD, DemoReport, DemoSize, is_empty, seed_city
from domain.streets.rules import UnreadableExtract

DEMO_ARGON2 = Passwords(time_cost=1, memory_kib=8 * 1024)
"""Sample accounts with one published password: the full Argon2 cost would only slow the seeding."""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    demo = sub.add_parser("demo", help="fill an empty database with the simulated demo city")
    demo.add_argument("--seed", type=int, default=0, help="same seed, same city")
    demo.add_argument("--users", type=int, default=300)
    demo.add_argument("--rides", type=int, default=3000)
    demo.add_argument("--hotspots", type=int, default=30, help="junctions with hazard reports")
    demo.add_argument(
        "--streets",
        type=Path,
        default=DEMO_EXTRACT,
        metavar="FILE",
        help="the OpenStreetMap extract (.osm.pbf) the city rides, imported as the street network "
        "(default: Helsinki's centre, shipped with the package)",
    )
    demo.add_argument("--if-empty", action="store_true", help="do nothing (and succeed) when users exist")
    demo.add_argument("--quiet", action="store_true", help="no progress bar")
    return demo


def _no_commit_wait(connection: Any, _: Any) -> None:
    """Thousands of small commits: not waiting for each WAL flush makes seeding many times faster
    (a crash mid-demo loses the last few rows of sample data, nothing else)."""
    cursor = connection.cursor()
    cursor.execute("SET synchronous_commit TO off")
    cursor.close()


def _auth(settings: Settings) -> AuthConfig:
    tokens = TokenIssuer(
        settings.secret_key,
        settings.jwt_issuer,
        settings.jwt_audience,
        ttl=timedelta(seconds=settings.access_token_ttl_s),
    )
    return AuthConfig(DEMO_ARGON2, tokens, timedelta(seconds=settings.refresh_token_ttl_s))


async def run_demo(settings: Settings, url: str, args: argparse.Namespace) -> DemoReport | None:
    """Seed and return what was made; None when ``--if-empty`` found users already."""
    engine = make_engine(url)
    event.listen(engine.sync_engine, "connect", _no_commit_wait)
    sessionmaker = make_sessionmaker(engine)
    try:
        async with sessionmaker() as session:
            if args.if_empty and not await is_empty(session):
                return None
        size = DemoSize(seed=args.seed, users=args.users, rides=args.rides, hotspots=args.hotspots)
        tasks: dict[str, TaskID] = {}
        with progress_bar(args.quiet) as bar:

            def advance(step: str, done: int, total: int) -> None:
                if step not in tasks:
                    tasks[step] = bar.add_task(step, total=total)
                bar.update(tasks[step], completed=done)

            return await seed_city(
                engine,
                sessionmaker,
                _auth(settings),
                CodeHasher(settings.secret_key),
                size,
                policy_version=settings.privacy_policy_version,
                now=utcnow(),
                progress=advance,
                extract=args.streets,
            )
    finally:
        await engine.dispose()


def cmd_demo(settings: Settings, url: str, args: argparse.Namespace) -> int:
    if min(args.users, args.rides, args.hotspots) < 1 or args.users < 8:
        print("error: --users must be at least 8, --rides and --hotspots at least 1", file=sys.stderr)
        return 2
    if not args.streets.is_file():
        print(f"error: --streets: {args.streets}: no such file (an .osm.pbf extract)", file=sys.stderr)
        return 2
    started = time.monotonic()
    try:
        report = asyncio.run(run_demo(settings, url, args))
    except UnreadableExtract as exc:
        print(f"error: --streets: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"error: {exc} (use --if-empty to skip a filled one)", file=sys.stderr)
        return 1
    if report is None:
        print("The database already holds users: no demo data added.", file=sys.stderr)
        return 0
    made = ", ".join(f"{n} {what}" for what, n in report.counts.items())
    print(f"Demo city ready in {time.monotonic() - started:.0f} s: {made}.")
    print(f"Log in with password '{DEMO_PASSWORD}' as:")
    for role in ("citizen", "teacher", "planner", "admin"):
        print(f"  {role:<8} {report.logins[role]}")
    print("The planner's map: http://127.0.0.1:8000/planner/map")
    return 0
