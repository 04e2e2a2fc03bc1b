"""The `saferoutes` command: serve, migrate, create-user, export, streets import, …"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import threading
import uuid
from collections.abc import Sequence
from datetime import timedelta
from types import FrameType

import sqlalchemy as sa

from api.cli import demo as demo_cli
from api.cli import export as export_cli
from api.cli import opendata as open_data_cli
from api.cli import retention as retention_cli
from api.cli import streets as streets_cli
from api.database import (
    describe,
    embedded_server,
    make_engine,
    make_sessionmaker,
    migrate_sync,
    release_embedded,
    resolve_url,
)
from api.embedded import Supervisor
from api.observability import configure_logging
from api.settings import Settings, SettingsError, load_settings
from domain.accounts import service as auth
from domain.accounts.rules import Passwords, TokenIssuer
from domain.accounts.service import AuthConfig
from domain.core.enums import Role
from domain.core.errors import DomainError
from domain.schools import service as school_service


class Stopped(BaseException):
    """SIGTERM arrived (what systemd and docker send): unwind, so the embedded PostgreSQL is let go."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _raise_stopped(signum: int, _: FrameType | None) -> None:
    raise Stopped(signum)


class UnsafeDatabase(RuntimeError):
    """The database would lose acknowledged writes on a crash; the service will not run on it."""


async def _fsync_setting(url: str) -> str:
    engine = make_engine(url, null_pool=True)
    try:
        async with engine.connect() as conn:
            return str((await conn.execute(sa.text("SHOW fsync"))).scalar_one())
    finally:
        await engine.dispose()


def require_durable(url: str) -> None:
    """With fsync off, a crash loses rides the app was told are stored (a 201): refuse to serve."""
    if asyncio.run(_fsync_setting(url)).lower() != "on":
        raise UnsafeDatabase(
            "PostgreSQL runs with fsync=off, so a crash would lose uploads that were acknowledged; "
            "turn fsync on before serving"
        )


def _prepare_database(settings: Settings) -> str:
    """Say which database this is, resolve (maybe start) it and bring its schema to the latest migration."""
    print(f"Database: {describe(settings)}", file=sys.stderr, flush=True)
    url = resolve_url(settings)
    print("Applying migrations…", file=sys.stderr, flush=True)
    migrate_sync(url)
    return url


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    """Serve until SIGTERM or SIGINT; an embedded PostgreSQL is supervised meanwhile and let go after."""
    import uvicorn

    configure_logging(settings.log_level)
    url = _prepare_database(settings)
    try:
        require_durable(url)
    except UnsafeDatabase as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 2
    embedded = embedded_server()
    supervisor = Supervisor(embedded).start() if embedded is not None else None
    # workers are separate processes: hand them the resolved server, never start a second embedded one
    os.environ["DATABASE_URL"] = url
    print(
        f"SafeRoutes on http://{args.host}:{args.port} (database: {describe(settings)}); API docs at /schema",
        file=sys.stderr,
        flush=True,
    )
    try:
        uvicorn.run(
            "api.app:create_app",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            log_config=None,
            access_log=False,
            proxy_headers=settings.trust_forwarded_for,
        )
    except (Stopped, KeyboardInterrupt):
        pass  # uvicorn shut down gracefully, then passed the signal on
    finally:
        if supervisor is not None:
            supervisor.stop()
        release_embedded()
    return 0


def cmd_migrate(settings: Settings, _: argparse.Namespace) -> int:
    _prepare_database(settings)
    print("Database is at the latest migration.", file=sys.stderr)
    return 0


async def _create_user(settings: Settings, url: str, args: argparse.Namespace) -> None:
    engine = make_engine(url, null_pool=True)
    config = AuthConfig(
        passwords=Passwords(time_cost=settings.argon2_time_cost, memory_kib=settings.argon2_memory_kib),
        tokens=TokenIssuer(
            settings.secret_key,
            settings.jwt_issuer,
            settings.jwt_audience,
            ttl=timedelta(seconds=settings.access_token_ttl_s),
        ),
        refresh_ttl=timedelta(seconds=settings.refresh_token_ttl_s),
    )
    try:
        async with make_sessionmaker(engine)() as session:
            user = await auth.create_user(
                session, config, handle=args.handle, password=args.password, role=Role(args.role)
            )
            if args.school is not None:
                await school_service.add_teacher(session, args.school, user)
            await session.commit()
            where = f" at school {args.school}" if args.school is not None else ""
            print(f"Created {args.role} '{user.handle}' with id {user.id}{where}")
    finally:
        await engine.dispose()


def cmd_create_user(settings: Settings, args: argparse.Namespace) -> int:
    if len(args.password) < 8:
        print("error: --password must have at least 8 characters", file=sys.stderr)
        return 2
    if (args.role == Role.TEACHER.value) != (args.school is not None):
        print("error: a teacher needs --school ID, and only a teacher takes one", file=sys.stderr)
        return 2
    url = _prepare_database(settings)
    try:
        asyncio.run(_create_user(settings, url, args))
    except DomainError as exc:
        print(f"error: {exc.detail}", file=sys.stderr)
        return 1
    return 0


def cmd_export(settings: Settings, args: argparse.Namespace) -> int:
    return export_cli.cmd_export(settings, _prepare_database(settings), args)


def cmd_retention(settings: Settings, args: argparse.Namespace) -> int:
    return retention_cli.cmd_retention(settings, _prepare_database(settings), args)


def cmd_open_data(settings: Settings, args: argparse.Namespace) -> int:
    return open_data_cli.cmd_open_data(settings, _prepare_database(settings), args)


def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    return demo_cli.cmd_demo(settings, _prepare_database(settings), args)


def cmd_streets(settings: Settings, args: argparse.Namespace) -> int:
    return streets_cli.cmd_streets(settings, _prepare_database(settings), args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="saferoutes", description="SafeRoutes backend")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="migrate if needed, then serve the API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.set_defaults(func=cmd_serve)

    mig = sub.add_parser("migrate", help="apply database migrations and exit")
    mig.set_defaults(func=cmd_migrate)

    cu = sub.add_parser("create-user", help="create an account that cannot register itself")
    cu.add_argument("--handle", required=True)
    cu.add_argument("--password", required=True)
    cu.add_argument("--role", choices=[r.value for r in Role], default=Role.CITIZEN.value)
    cu.add_argument("--school", type=uuid.UUID, metavar="ID", help="the school a teacher works at (required)")
    cu.set_defaults(func=cmd_create_user)

    export_cli.add_parser(sub).set_defaults(func=cmd_export)
    open_data_cli.add_parsers(sub)
    demo_cli.add_parser(sub).set_defaults(func=cmd_demo)
    for name in ("open-data", "ngsi-push"):
        sub.choices[name].set_defaults(func=cmd_open_data)
    retention_cli.add_parser(sub).set_defaults(func=cmd_retention)
    streets_cli.add_parser(sub).set_defaults(func=cmd_streets)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    # Python ends on SIGTERM without unwinding; raising lets every command let go of the embedded
    # database (KeyboardInterrupt already does so for SIGINT).
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _raise_stopped) if in_main_thread else None
    try:
        code: int = args.func(settings, args)
    except Stopped as stop:
        code = 128 + stop.signum
    except KeyboardInterrupt:
        code = 128 + signal.SIGINT
    finally:
        release_embedded()
        if in_main_thread:  # a caller in the same process (a test) gets its own handling back
            signal.signal(signal.SIGTERM, previous)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
