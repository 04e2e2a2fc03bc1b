"""The app's routes as (method, path) operations with their handlers, and what their guards allow."""

from __future__ import annotations

import asyncio
import uuid

from litestar import Litestar
from litestar.handlers import HTTPRouteHandler
from litestar.routes import HTTPRoute
from schemathesis.python.asgi import get_client

from domain.accounts import service as auth
from domain.core.enums import Role
from domain.schools import service as school_service

STAFF_PASSWORD = "staff password 1"
# Served by Litestar's OpenAPI plugin or the Prometheus plugin, not by our controllers
FRAMEWORK_PATHS = ("/schema", "/metrics")


def operations(app: Litestar) -> dict[tuple[str, str], HTTPRouteHandler]:
    """Every (METHOD, path template) the app serves, except OPTIONS and HEAD, with its handler."""
    found: dict[tuple[str, str], HTTPRouteHandler] = {}
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            for method in handler.http_methods:
                if method in ("OPTIONS", "HEAD"):
                    continue
                found[(method, route.path_format)] = handler
    return found


_by_app: dict[int, dict[tuple[str, str], HTTPRouteHandler]] = {}


def handlers_by_operation(app: Litestar) -> dict[tuple[str, str], HTTPRouteHandler]:
    if id(app) not in _by_app:
        _by_app[id(app)] = operations(app)
    return _by_app[id(app)]


def allowed_roles(handler: HTTPRouteHandler) -> frozenset[Role] | None:
    """The roles a `requires_role` guard lets through, or None when no role guard applies."""
    allowed: frozenset[Role] | None = None
    for guard in handler.resolve_guards():
        if not getattr(guard, "__qualname__", "").startswith("requires_role"):
            continue
        for cell in getattr(guard, "__closure__", None) or ():
            value = cell.cell_contents
            if isinstance(value, frozenset) and all(isinstance(r, Role) for r in value):
                allowed = value if allowed is None else allowed & value
    return allowed


async def _create(app: Litestar, role: Role, handle: str, school_id: str | None) -> None:
    async with app.state.sessionmaker() as session:
        user = await auth.create_user(
            session, app.state.auth, handle=handle, password=STAFF_PASSWORD, role=role
        )
        if school_id is not None:
            await school_service.add_teacher(session, uuid.UUID(school_id), user)
        await session.commit()


def make_staff_sync(app: Litestar) -> dict[Role, str]:
    """A planner, an admin and a teacher (of a new school) made the CLI way; their access tokens."""
    tokens: dict[Role, str] = {}
    with get_client(app) as http:

        def login(role: Role, school_id: str | None = None) -> str:
            handle = f"{role.value}-{uuid.uuid4().hex[:8]}"
            asyncio.run(_create(app, role, handle, school_id))
            answer = http.post("/auth/login", json={"handle": handle, "password": STAFF_PASSWORD})
            assert answer.status_code == 200, answer.text
            token: str = answer.json()["accessToken"]
            return token

        tokens[Role.PLANNER] = login(Role.PLANNER)
        tokens[Role.ADMIN] = login(Role.ADMIN)
        created = http.post(
            "/schools",
            json={"name": "Fuzz school", "lat": 51.0259, "lon": 4.4776},
            headers={"Authorization": f"Bearer {tokens[Role.ADMIN]}"},
        )
        assert created.status_code == 201, created.text
        tokens[Role.TEACHER] = login(Role.TEACHER, created.json()["id"])
    return tokens


def offline_operations() -> list[tuple[str, str]]:
    """(METHOD, path) of every operation, from an app that never connects: for test parametrisation."""
    from api.app import create_app
    from api.settings import Settings

    app = create_app(Settings(database_url="postgresql://enumerate@127.0.0.1:9/none"), log_config=False)
    return sorted(operations(app))


def token_for(handler: HTTPRouteHandler, citizen: str, staff: dict[Role, str]) -> str:
    """The citizen's token, or a staff token whose role the route's guard lets through."""
    roles = allowed_roles(handler)
    if roles is None or Role.CITIZEN in roles:
        return citizen
    return next(staff[r] for r in (Role.PLANNER, Role.ADMIN, Role.TEACHER) if r in roles)
