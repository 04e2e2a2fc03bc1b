"""The one app factory: settings in, a ready Litestar application out."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, timedelta

from litestar import Litestar
from litestar.config.cors import CORSConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.plugins.prometheus import PrometheusConfig, PrometheusController
from litestar.types import ASGIApp, ControllerRouterHandler, Receive, Scope, Send
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from api.accounts.http import AuthController, MeController
from api.database import (
    autocommit,
    embedded_server,
    head_revision,
    make_engine,
    make_sessionmaker,
    resolve_url,
)
from api.deps import provide_caller, provide_current_user, provide_db_session, provide_settings
from api.docs import docs_assets, swagger_page
from api.embedded import Supervisor
from api.gamification.http import ChallengesController, PointsController, badge_catalogue, leaderboard
from api.hazards.http import HazardController, hazard_categories
from api.hazards.open311 import Open311Controller
from api.headers import allowed_methods, security_headers
from api.observability import configure_logging, request_id_middleware
from api.openapi import install as complete_openapi
from api.opendata.http import NgsiController, ngsi_context
from api.ops import OpsController
from api.planner.http import PlannerController
from api.planner.map import planner_map, static_files
from api.privacy.http import (
    ConsentsController,
    GuardianController,
    GuardianErasureController,
    MyDataController,
    PrivacyZonesController,
)
from api.problems import EXCEPTION_HANDLERS
from api.replica import ReadRouter, provide_export_session, provide_read_session
from api.rides.http import RidesController
from api.routing.http import RoutesController
from api.schools.http import ClassesController, SchoolsController
from api.security import BearerAuthentication
from api.settings import Settings, load_settings
from api.streets.http import StreetsController
from api.strict import StrictRequest
from domain.accounts.rules import Passwords, TokenIssuer
from domain.accounts.service import AuthConfig
from domain.bootstrap import build_bus
from domain.core import partition_store
from domain.core.columns import CLOCK, Clock, system_clock
from domain.core.ratelimit import RateLimiter
from domain.opendata.broker import BrokerPusher
from domain.routing.service import GraphCache
from domain.streets.basemap import BasemapIndex

log = logging.getLogger("saferoutes")


async def _make_partitions(engine: AsyncEngine, clock: Clock) -> None:
    """Make the history tables' partitions of this month and the next ones (docs/operations.md).

    Never stops the start: without them rows land in the default partitions, and the
    retention job (or the next start) makes them."""
    try:
        made = await partition_store.maintain(engine, today=clock().astimezone(UTC).date())
    except (OSError, SQLAlchemyError) as error:
        log.warning("history partitions not made at start: %s", error)
        return
    if made.created:
        log.info("history partitions made: %s", ", ".join(made.created))


ROUTE_HANDLERS: Sequence[ControllerRouterHandler] = [
    OpsController,
    AuthController,
    MeController,
    ConsentsController,
    PrivacyZonesController,
    MyDataController,
    GuardianController,
    GuardianErasureController,
    HazardController,
    hazard_categories,
    Open311Controller,
    RidesController,
    SchoolsController,
    ClassesController,
    PointsController,
    badge_catalogue,
    ChallengesController,
    leaderboard,
    RoutesController,
    StreetsController,
    PlannerController,
    NgsiController,
    ngsi_context,
    planner_map,
    static_files,
    docs_assets,
]


def create_app(
    settings: Settings | None = None,
    *,
    null_pool: bool = False,
    log_config: bool = True,
    clock: Clock = system_clock,
) -> Litestar:
    """``clock`` is the app's time: every request it serves reads it through ``utcnow()``, in every
    layer (tests pass one that starts at a fixed moment, so nothing depends on when they run)."""
    settings = settings or load_settings()
    if log_config:
        configure_logging(settings.log_level)
    url = resolve_url(settings)
    engine = make_engine(url, null_pool=null_pool, pool_size=settings.db_pool_size)
    tokens = TokenIssuer(
        secret=settings.secret_key,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        ttl=timedelta(seconds=settings.access_token_ttl_s),
    )
    passwords = Passwords(
        time_cost=settings.argon2_time_cost,
        memory_kib=settings.argon2_memory_kib,
        workers=settings.password_workers,
    )
    auth_config = AuthConfig(
        passwords=passwords,
        tokens=tokens,
        refresh_ttl=timedelta(seconds=settings.refresh_token_ttl_s),
    )

    route_graphs = GraphCache(
        make_sessionmaker(engine),
        resolution=settings.h3_resolution,
        policy=settings.release_policy(),
        max_age_s=settings.routing_max_age_s,
        check_s=settings.routing_check_s,
    )

    pusher = None
    if settings.ngsi_broker_url:
        pusher = BrokerPusher(
            settings.ngsi_broker_url, make_sessionmaker(engine), source=settings.ngsi_alert_source
        )
    bus = build_bus(pusher=pusher)
    sessionmaker = make_sessionmaker(engine, bus)
    reads = ReadRouter.from_settings(settings, sessionmaker, bus)

    # run by an ASGI server of its own without DATABASE_URL, the app started the embedded database
    # itself (`saferoutes serve` supervises it otherwise): bring it back when it dies
    embedded = embedded_server() if not settings.database_url else None

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncGenerator[None, None]:
        supervisor = Supervisor(embedded).start() if embedded is not None else None
        await _make_partitions(engine, clock)
        try:
            yield
        finally:
            if supervisor is not None:
                await asyncio.to_thread(supervisor.stop)
            if pusher is not None:
                await pusher.aclose()
            await route_graphs.aclose()
            passwords.close()
            await reads.aclose()
            await engine.dispose()

    prometheus = PrometheusConfig(
        app_name="saferoutes", prefix="saferoutes", group_path=True, exclude=["/metrics"]
    )
    app = Litestar(
        route_handlers=[*ROUTE_HANDLERS, PrometheusController],
        state=State(
            {
                "settings": settings,
                "engine": engine,
                "sessionmaker": sessionmaker,
                "reads": reads,
                "read_sessionmaker": make_sessionmaker(autocommit(engine), bus),
                "tokens": tokens,
                "auth": auth_config,
                "rate_limiter": RateLimiter(engine, settings.secret_key),
                "head_revision": head_revision(),
                "route_graphs": route_graphs,
                "basemap": BasemapIndex(),
                "ngsi_pusher": pusher,
            }
        ),
        dependencies={
            "db_session": Provide(provide_db_session),
            "read_session": Provide(provide_read_session),
            "export_session": Provide(provide_export_session),
            "settings": Provide(provide_settings, sync_to_thread=False),
            "caller": Provide(provide_caller, sync_to_thread=False),
            "current_user": Provide(provide_current_user),
        },
        middleware=[
            prometheus.middleware,
            DefineMiddleware(BearerAuthentication),
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        request_class=StrictRequest,
        lifespan=[lifespan],
        request_max_body_size=settings.max_body_bytes,
        cors_config=CORSConfig(
            allow_origins=[], allow_headers=["Authorization", "Content-Type", "Idempotency-Key"]
        ),
        openapi_config=OpenAPIConfig(
            title="SafeRoutes API",
            version="0.1.0",
            description="Backend of a gamified citizen app that maps where cycling and walking is dangerous.",
            path="/schema",
            render_plugins=[swagger_page()],
        ),
        debug=settings.debug,
        logging_config=None,
    )
    complete_openapi(app)
    # Outermost, so that unrouted requests and errors answered by Litestar's own
    # exception layer also get a request id, an access-log line and the security headers.
    app.asgi_handler = request_id_middleware(security_headers(app.asgi_handler, allowed_methods(app)))
    if clock is not system_clock:
        app.asgi_handler = with_clock(clock, app.asgi_handler)
    return app


def with_clock(clock: Clock, handler: ASGIApp) -> ASGIApp:
    """Serve every request on ``clock`` (see ``domain.core.columns.CLOCK``), background work it
    starts included: tasks copy the context they are created in."""

    async def timed(scope: Scope, receive: Receive, send: Send) -> None:
        token = CLOCK.set(clock)
        try:
            await handler(scope, receive, send)
        finally:
            CLOCK.reset(token)

    return timed
