"""The release mechanism against PostgreSQL: the SQL bounding is the rule's, consent at release time,
one release per window served again, the ledger and the monthly budget, the n-1 attack."""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import UTC, date, datetime
from typing import Any

import h3
import pytest
import sqlalchemy as sa
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.pool import NullPool

from api.database import make_sessionmaker, to_async_url
from domain.core.enums import Role
from privacy.release import store
from privacy.release.mechanism import Totals
from privacy.release.rules import (
    BudgetSpent,
    Contribution,
    ReleasePolicy,
    Window,
    aggregate,
    bound_contributions,
)
from privacy.release.service import obtain
from privacy.release.tables import Dataset
from tests.integration.planner_helpers import CELL, CROWD, MARCH, MONTH, Seed, sibling_cells
from tests.integration.school_helpers import Client, staff

NOW = datetime(2026, 6, 10, 12, tzinfo=UTC)
POLICY = ReleasePolicy(epsilon=10, max_cells=4, max_passes=4, resolution=10, budget_epsilon=1_000_000)
MARCH_WINDOW = Window(date(2026, 3, 1), date(2026, 3, 31))
SECRET = b"0123456789abcdef0123456789abcdef"


async def _bounded(engine: AsyncEngine, window: Window = MARCH_WINDOW, **changes: Any) -> dict[int, Totals]:
    async with AsyncSession(engine) as session:
        return await store.bounded_cells(
            session,
            window,
            resolution=changes.get("resolution", 10),
            secret=SECRET,
            max_cells=4,
            max_passes=4,
            today=NOW.date(),
        )


async def test_the_sql_bounding_is_exactly_the_rule(clean_db: AsyncEngine) -> None:
    rng = random.Random(7)
    seed = Seed(clean_db)
    cells = sibling_cells(9)
    rows: list[Contribution[int]] = []
    for _ in range(25):
        person = await seed.user()
        mine = rng.sample(cells, rng.randint(1, 7))
        for cell in mine:
            for day in rng.sample(range(1, 29), rng.randint(1, 3)):
                rides = rng.randint(1, 6)
                await seed.exposure(person, [cell], rides=rides, day=date(2026, 3, day))
                rows.append(Contribution(str(person), h3.str_to_int(cell), rides))
    params = POLICY.params()
    assert await _bounded(clean_db) == aggregate(bound_contributions(rows, params, SECRET))


async def test_the_sql_parent_cell_is_h3_cell_to_parent(clean_db: AsyncEngine) -> None:
    seed = Seed(clean_db)
    person = await seed.user()
    cells = sorted(h3.grid_disk(CELL, 3))[:4]
    await seed.exposure(person, cells, day=MARCH)
    for res in (7, 8, 9):
        parents = {h3.str_to_int(h3.cell_to_parent(c, res)) for c in cells}
        assert set(await _bounded(clean_db, resolution=res)) == parents


async def test_only_research_consent_in_force_at_release_time_counts(clean_db: AsyncEngine) -> None:
    seed = Seed(clean_db)
    counted = await seed.user()
    withdrawn = await seed.user()
    await seed.consent(withdrawn, granted=False)
    never = await seed.user(research=None)
    child_alone = await seed.user(research="self", birth_year=2016)
    child_with_guardian = await seed.user(research="guardian", birth_year=2016)
    for person in (counted, withdrawn, never, child_alone, child_with_guardian):
        await seed.exposure(person, [CELL], day=MARCH)
    assert await _bounded(clean_db) == {h3.str_to_int(CELL): Totals(2, 2)}


async def test_a_window_is_released_once_and_charged_once_per_month(clean_db: AsyncEngine) -> None:
    seed = Seed(clean_db)
    for _ in range(CROWD):
        await seed.exposure(await seed.user(), [CELL], day=MARCH)
    sessions = make_sessionmaker(clean_db)
    spanning = Window(date(2026, 2, 20), date(2026, 3, 10))
    async with sessions() as session:
        first = await obtain(session, Dataset.CELLS, MARCH_WINDOW, POLICY, now=NOW)
        again = await obtain(session, Dataset.CELLS, MARCH_WINDOW, POLICY, now=NOW)
        both = await obtain(session, Dataset.CELLS, spanning, POLICY, now=NOW)
        spent = await store.spent(session, [date(2026, 2, 1), date(2026, 3, 1)])
    assert first.new and not again.new and again.release.id == first.release.id
    assert again.values == first.values, "the same noise, so asking twice cannot average it away"
    assert spent == {
        date(2026, 2, 1): pytest.approx(both.release.epsilon),
        date(2026, 3, 1): pytest.approx(first.release.epsilon + both.release.epsilon),
    }
    assert 0 < first.release.epsilon <= POLICY.epsilon


async def test_concurrent_askers_of_one_window_share_one_release(clean_db: AsyncEngine) -> None:
    sessions = make_sessionmaker(clean_db)

    async def ask() -> uuid.UUID:
        async with sessions() as session:
            return (await obtain(session, Dataset.FLOWS, MARCH_WINDOW, POLICY, now=NOW)).release.id

    ids = await asyncio.gather(*(ask() for _ in range(5)))
    assert len(set(ids)) == 1
    async with clean_db.connect() as conn:
        count = (await conn.execute(sa.text("SELECT count(*) FROM privacy_ledger"))).scalar_one()
    assert count == 1


async def test_the_monthly_budget_refuses_a_release_past_it(clean_db: AsyncEngine) -> None:
    tight = ReleasePolicy(epsilon=1, max_cells=4, max_passes=4, resolution=10, budget_epsilon=2)
    sessions = make_sessionmaker(clean_db)
    async with sessions() as session:
        await obtain(session, Dataset.CELLS, MARCH_WINDOW, tight, now=NOW)
        await obtain(session, Dataset.FLOWS, MARCH_WINDOW, tight, now=NOW)
        await obtain(session, Dataset.CELLS, MARCH_WINDOW, tight, now=NOW)  # served again: free
        with pytest.raises(BudgetSpent) as refused:
            await obtain(session, Dataset.CELLS, Window(date(2026, 3, 2), date(2026, 3, 9)), tight, now=NOW)
        await obtain(session, Dataset.CELLS, Window(date(2026, 4, 1), date(2026, 4, 30)), tight, now=NOW)
    assert refused.value.extra["months"] == ["2026-03"]


async def test_a_planner_past_the_budget_gets_a_403_and_the_ledger_says_why(
    clean_db: AsyncEngine, make_app: Any
) -> None:
    async with AsyncTestClient(app=make_app(privacy_epsilon=1.0, privacy_budget=1.5)) as client:
        planner = await staff(client, Role.PLANNER)
        first = await client.get("/planner/heatmap", params=MONTH, headers=planner.auth)
        assert first.status_code == 200
        assert (await client.get("/planner/heatmap", params=MONTH, headers=planner.auth)).status_code == 200
        other = {"from": "2026-03-02T00:00:00Z", "to": "2026-03-30T00:00:00Z"}
        refused = await client.get("/planner/heatmap", params=other, headers=planner.auth)
        assert refused.status_code == 403, refused.text
        problem = refused.json()
        assert problem["type"].endswith("privacy-budget-spent") and problem["months"] == ["2026-03"]
        ledger = await client.get("/planner/privacy-ledger", headers=planner.auth)
        assert ledger.status_code == 200
        body = ledger.json()
        assert body["budgetEpsilon"] == 1.5 and set(body["spent"]) == {"2026-03"}
        [entry] = body["items"]
        assert (entry["month"], entry["dataset"], entry["window"], entry["actorRole"]) == (
            "2026-03",
            "cells",
            "2026-03",
            "planner",
        )


async def test_fake_accounts_cannot_single_out_the_one_real_rider(
    client: Client, clean_db: AsyncEngine
) -> None:
    """The n-1 attack: four fake accounts ride a square, then one real person rides through it.
    Under a k=5 rule the victim's cells appeared with contributors 5; a release shows nothing."""
    seed = Seed(clean_db)
    square = sorted(h3.grid_disk(CELL, 1))[:4]
    for _ in range(4):
        await seed.exposure(await seed.user(), square, day=MARCH)
    victim = await seed.user()
    await seed.exposure(victim, square, day=MARCH)
    planner = await staff(client, Role.PLANNER)
    answer = await client.get(
        "/planner/heatmap", params={**MONTH, "metric": "exposure"}, headers=planner.auth
    )
    assert answer.json()["features"] == []


async def test_a_release_read_on_a_replica_is_made_on_the_primary_once_and_then_read_there(
    clean_db: AsyncEngine, database_url: str
) -> None:
    """A replica's session (here: the same database, every transaction read-only, as on a standby)
    serves a stored release and sends a missing one to the primary, where it is made and charged."""
    seed = Seed(clean_db)
    for _ in range(CROWD):
        await seed.exposure(await seed.user(), [CELL], day=MARCH)
    primary = make_sessionmaker(clean_db)
    standby = create_async_engine(
        to_async_url(database_url),
        poolclass=NullPool,
        connect_args={"server_settings": {"default_transaction_read_only": "on"}},
    )
    replica = make_sessionmaker(standby, primary=primary)
    try:
        async with replica() as session:
            made = await obtain(session, Dataset.CELLS, MARCH_WINDOW, POLICY, now=NOW)
            again = await obtain(session, Dataset.CELLS, MARCH_WINDOW, POLICY, now=NOW)
            with pytest.raises(sa.exc.DBAPIError, match="read-only"):
                await session.execute(sa.text("DELETE FROM privacy_ledger"))
    finally:
        await standby.dispose()
    assert made.new and not again.new and again.release.id == made.release.id
    async with primary() as session:
        spent = await store.spent(session, [date(2026, 3, 1)])
    assert spent == {date(2026, 3, 1): pytest.approx(made.release.epsilon)}, "charged once, on the primary"
