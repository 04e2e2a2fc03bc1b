"""The app's clock is the one it was made with, in every layer: what makes the tests independent of
when they run (tests/clock.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import jwt
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from api.app import create_app
from tests.integration.conftest import register_account
from tests.integration.ride_helpers import rows

FAR = datetime(2041, 2, 3, 4, 5, 6, tzinfo=UTC)
"""Years from the wall clock: a token issued then is long expired for PyJWT's own clock."""


async def test_an_app_made_with_a_clock_lives_on_it(
    clean_db: AsyncEngine, make_app: Callable[..., Litestar]
) -> None:
    app = make_app()  # on the tests' clock
    far_app = create_app(app.state.settings, null_pool=True, log_config=False, clock=lambda: FAR)
    async with AsyncTestClient(app=far_app) as client:
        account = await register_account(client, "timetraveller")
        claims = jwt.decode(account.access_token, options={"verify_signature": False})
        assert claims["iat"] == int(FAR.timestamp())
        # checked against the app's clock: valid there, though long expired by the wall clock
        assert (await client.get("/me", headers=account.auth)).status_code == 200
        [(created,)] = await rows(clean_db, "SELECT created_at FROM app_user")
        assert created == FAR
    async with AsyncTestClient(app=app) as client:
        # the same token, to an app on another clock: expired there
        assert (await client.get("/me", headers=account.auth)).status_code == 401
