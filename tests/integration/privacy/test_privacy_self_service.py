"""GET /me/export and DELETE /me end to end: every table appears, then nothing refers to the user."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import h3
import sqlalchemy as sa
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from domain.core.enums import Role
from geo.gpx import parse_gpx
from privacy.release import store as release_store
from privacy.release.mechanism import Totals
from privacy.release.rules import Window
from privacy.selfservice.inventory import INVENTORY
from tests.clock import session_clock
from tests.integration.conftest import Account, register_account
from tests.integration.hazard_helpers import body as hazard_body
from tests.integration.hazard_helpers import filed
from tests.integration.ride_helpers import ride_json, simulated, upload
from tests.integration.school_helpers import join, joined_child, school, school_class
from tests.integration.school_helpers import staff as school_staff

Client = AsyncTestClient[Litestar]
ALL = ("ride_tracking", "hazard_reporting", "leaderboard", "research_sharing")


async def _account(client: Client, handle: str, consents: tuple[str, ...]) -> Account:
    return await register_account(
        client, handle, consents=consents, birthYear=1990, nickname=handle.capitalize()
    )


async def _bounded(engine: AsyncEngine) -> dict[int, Totals]:
    """What the next release of today's rides would be made from: the bounded per-cell totals."""
    today = session_clock().date()
    async with AsyncSession(engine) as session:
        return await release_store.bounded_cells(
            session,
            Window(today, today),
            resolution=10,
            secret=b"a fixed secret: the same selection twice",
            max_cells=4,
            max_passes=4,
            today=today + timedelta(days=1),
        )


async def _leaderboard(client: Client, viewer: Account) -> dict[str, Any]:
    """City leaderboard of the week: points per nickname, and the total of the one school's team."""
    response = await client.get(
        "/leaderboards", params={"scope": "city", "period": "week"}, headers=viewer.auth
    )
    assert response.status_code == 200, response.text
    board = response.json()
    return {
        "people": {p["nickname"]: p["value"] for p in board["individuals"]},
        "school": sum(t["total"] for t in board["teams"]),
    }


async def _referencing(engine: AsyncEngine, user_id: str) -> dict[str, int]:
    found = {}
    async with engine.connect() as conn:
        tables = (
            await conn.execute(sa.text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))
        ).scalars()
        for table in list(tables):
            hits = (
                await conn.execute(
                    sa.text(f'SELECT count(*) FROM "{table}" t WHERE t::text LIKE :needle'),
                    {"needle": f"%{user_id}%"},
                )
            ).scalar_one()
            if hits:
                found[table] = hits
    return found


async def test_export_then_erase_removes_the_user_and_exactly_their_contributions(
    clean_db: AsyncEngine, make_app: Callable[..., Litestar]
) -> None:
    async with AsyncTestClient(app=make_app()) as client:
        admin = await school_staff(client)
        school_id = await school(client, admin)
        teacher = await school_staff(client, Role.TEACHER, school_id)
        klass = await school_class(client, teacher, school_id)

        eraser = await _account(client, "eraser", ALL)
        others = [await _account(client, f"other{i}", ALL) for i in range(2)]
        for account in (eraser, eraser, *others):
            seed = 8 if account is eraser and await _has_ride(client, eraser) else 7
            created = await upload(client, account.auth, ride_json(simulated(seed).points))
            assert created.status_code == 201, created.text
        theirs = await filed(client, others[0], hazard_body(51.0301, 4.4712))
        confirmed = await client.post(
            f"/hazards/{theirs['hazardId']}/confirmations", json={"stillThere": True}, headers=eraser.auth
        )
        assert confirmed.status_code == 201, confirmed.text
        await filed(client, eraser, hazard_body(51.0201, 4.4912, category="speeding"))
        assert (await join(client, eraser, klass["joinCode"])).status_code == 201
        zone = await client.post(
            "/me/privacy-zones", json={"lat": 51.0, "lon": 4.4, "radiusM": 200}, headers=eraser.auth
        )
        assert zone.status_code == 201, zone.text

        release_before = await _bounded(clean_db)
        board_before = await _leaderboard(client, others[1])
        assert "Eraser" in board_before["people"]

        exported = await client.get("/me/export", headers=eraser.auth)
        assert exported.status_code == 200
        assert exported.headers["content-type"].startswith("application/json")
        document = json.loads(exported.content)
        tables = document["tables"]
        assert set(tables) == {entry.name for entry in INVENTORY}
        for name in (
            "app_user",
            "consent_record",
            "refresh_token",
            "idempotency_record",
            "privacy_zone",
            "ride",
            "ride_cell",
            "cell_exposure",
            "cell_transition",
            "hazard_report",
            "hazard_confirmation",
            "class_membership",
            "points_entry",
            "badge_award",
        ):
            assert tables[name]["rows"], name
        assert len(tables["ride"]["rows"]) == 2
        account_row = tables["app_user"]["rows"][0]
        assert account_row["handle"] == "eraser"
        assert "password_hash" not in account_row and "privacy_seed" not in account_row
        assert all("token_hash" not in row for row in tables["refresh_token"]["rows"])

        gpx = await client.get("/me/export", params={"format": "gpx"}, headers=eraser.auth)
        assert gpx.status_code == 200
        assert gpx.headers["content-type"].startswith("application/gpx+xml")
        assert gpx.text.count("<trk>") == 2
        assert parse_gpx(gpx.content, max_bytes=10_000_000)

        my_cells = {h3.str_to_int(row["cell"]) for row in tables["cell_exposure"]["rows"]}

        erased = await client.delete("/me", headers=eraser.auth)
        assert erased.status_code == 204
        assert (await client.get("/me", headers=eraser.auth)).status_code == 401
        refreshed = await client.post("/auth/refresh", json={"refreshToken": eraser.refresh_token})
        assert refreshed.status_code == 401
        assert await _referencing(clean_db, eraser.id) == {}

        # the next release counts the others as before and the eraser nowhere
        release_after = await _bounded(clean_db)
        lost = {
            c: release_before[c].contributors - release_after.get(c, Totals(0, 0)).contributors
            for c in release_before
        }
        assert set(lost.values()) <= {0, 1} and 1 <= sum(lost.values()) <= 4
        assert {c for c, n in lost.items() if n} <= my_cells

        my_points = sum(row["amount"] for row in tables["points_entry"]["rows"])
        board_after = await _leaderboard(client, others[1])
        assert "Eraser" not in board_after["people"]
        assert board_after["people"] == {n: v for n, v in board_before["people"].items() if n != "Eraser"}
        assert board_after["school"] == board_before["school"] - my_points

        hazard = (await client.get(f"/hazards/{theirs['hazardId']}")).json()
        assert (hazard["reportCount"], hazard["confirmationCount"]) == (1, 0)


async def _has_ride(client: Client, account: Account) -> bool:
    listed = await client.get("/rides", headers=account.auth)
    return bool(listed.json()["items"])


async def test_export_and_erase_need_a_token(client: Client) -> None:
    assert (await client.get("/me/export")).status_code == 401
    assert (await client.delete("/me")).status_code == 401


async def test_export_format_is_validated(client: Client, register: Any) -> None:
    account = await register()
    response = await client.get("/me/export", params={"format": "xlsx"}, headers=account.auth)
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "format"


async def test_a_guardian_erases_the_childs_account_with_the_code_they_consented_with(
    client: Client, register: Any, clean_db: AsyncEngine
) -> None:
    admin = await school_staff(client)
    school_id = await school(client, admin)
    teacher = await school_staff(client, Role.TEACHER, school_id)
    klass = await school_class(client, teacher, school_id)
    child, code = await joined_child(client, register, klass["joinCode"])
    consent = {"code": code, "relationship": "parent", "purposes": ["ride_tracking"]}
    assert (await client.post("/guardian-consents", json=consent)).status_code == 201
    assert (await upload(client, child.auth, ride_json(simulated(3).points))).status_code == 201

    wrong = await client.post("/guardian-erasures", json={"code": "WRONGCODE123"})
    assert wrong.status_code == 422
    erased = await client.post("/guardian-erasures", json={"code": code})
    assert erased.status_code == 204
    assert (await client.get("/me", headers=child.auth)).status_code == 401
    assert await _referencing(clean_db, child.id) == {}


async def test_an_unused_guardian_code_cannot_erase_an_account(client: Client, register: Any) -> None:
    admin = await school_staff(client)
    school_id = await school(client, admin)
    teacher = await school_staff(client, Role.TEACHER, school_id)
    klass = await school_class(client, teacher, school_id)
    child, code = await joined_child(client, register, klass["joinCode"])
    response = await client.post("/guardian-erasures", json={"code": code})
    assert response.status_code == 422
    assert (await client.get("/me", headers=child.auth)).status_code == 200


async def test_withdrawing_ride_tracking_stops_new_uploads_at_once(client: Client, register: Any) -> None:
    account = await register(consents=("ride_tracking",))
    assert (await upload(client, account.auth, ride_json(simulated(11).points))).status_code == 201
    withdrawal = {"granted": False, "policyVersion": "2026-01"}
    withdrawn = await client.put("/me/consents/ride_tracking", json=withdrawal, headers=account.auth)
    assert withdrawn.status_code == 200
    refused = await upload(client, account.auth, ride_json(simulated(12).points))
    assert refused.status_code == 403
    assert refused.json()["purpose"] == "ride_tracking"
    assert len((await client.get("/rides", headers=account.auth)).json()["items"]) == 1
