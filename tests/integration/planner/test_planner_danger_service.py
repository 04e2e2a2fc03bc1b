"""The danger service reads the right rows: consent now, union of contributors, parents in SQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import h3
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from domain.accounts.tables import User
from domain.core.enums import ConsentPurpose
from domain.danger import store as danger_service
from geo.cells import parse_bbox
from privacy.consent.rules import is_child, purpose_states
from privacy.consent.store import effective_consent_subquery
from privacy.tables import ConsentRecord
from tests.integration.planner_helpers import CELL, NOW, TODAY, Seed, neighbours, sibling_cells

pytestmark = pytest.mark.asyncio


async def _inputs(engine: AsyncEngine, **kwargs: object) -> dict[str, danger_service.CellInputs]:
    async with AsyncSession(engine) as session:
        return await danger_service.cell_inputs(session, now=NOW, **kwargs)  # type: ignore[arg-type]


async def test_parent_cell_in_sql_is_h3_cell_to_parent(clean_db: AsyncEngine) -> None:
    cells = [CELL, *neighbours(), h3.latlng_to_cell(-33.9, 151.2, 10), h3.latlng_to_cell(64.1, -21.9, 10)]
    async with clean_db.connect() as conn:
        for cell in cells:
            for res in range(6, 11):
                expr = danger_service.parent_cell_sql(sa.literal(h3.str_to_int(cell)), res)
                got = (await conn.execute(sa.select(expr))).scalar_one()
                assert h3.int_to_str(got) == h3.cell_to_parent(cell, res)
            as_int = (
                await conn.execute(sa.select(danger_service.text_cell_sql(sa.literal(cell))))
            ).scalar_one()
            assert as_int == h3.str_to_int(cell)


async def test_only_research_consenting_users_count_unless_research_only_is_off(
    clean_db: AsyncEngine,
) -> None:
    seed = Seed(clean_db)
    yes, no = await seed.user(), await seed.user(research=None)
    await seed.exposure(yes, [CELL], rides=2)
    await seed.exposure(no, [CELL], rides=5)
    exported = (await _inputs(clean_db))[CELL]
    assert (exported.rides, exported.contributors) == (2, 1)
    everything = (await _inputs(clean_db, research_only=False))[CELL]
    assert (everything.rides, everything.contributors) == (7, 2)


async def test_hazards_count_regardless_of_consent_and_near_misses_need_it(clean_db: AsyncEngine) -> None:
    seed = Seed(clean_db)
    hazard = await seed.hazard()
    yes, no = await seed.user(), await seed.user(research=None)
    await seed.near_miss(yes, hazard)
    await seed.near_miss(no, hazard)
    inputs = (await _inputs(clean_db))[CELL]
    assert len(inputs.hazards) == 1
    assert (inputs.near_misses, inputs.contributors) == (1, 1)
    async with AsyncSession(clean_db) as session:
        scores = await danger_service.danger_scores(session, now=NOW)
    assert scores[CELL].near_misses == 2
    assert scores[CELL].score > 0


async def test_a_coarser_cell_unions_its_childrens_contributors(clean_db: AsyncEngine) -> None:
    seed = Seed(clean_db)
    children = sibling_cells(8)[:3]
    people = [await seed.user() for _ in range(3)]
    for person in people:
        await seed.exposure(person, children, rides=1)
    parent = h3.cell_to_parent(CELL, 8)
    inputs = await _inputs(clean_db, resolution=8)
    assert set(inputs) == {parent}
    assert (inputs[parent].rides, inputs[parent].contributors) == (9, 3)


async def test_window_and_bbox_filter_the_rows(clean_db: AsyncEngine) -> None:
    seed = Seed(clean_db)
    person = await seed.user()
    await seed.exposure(person, [CELL], rides=1, day=TODAY - timedelta(days=10))
    await seed.exposure(person, [CELL], rides=4, day=TODAY)
    recent = await _inputs(clean_db, since=NOW - timedelta(days=2), until=NOW)
    assert recent[CELL].rides == 4
    old = await _inputs(clean_db, until=NOW - timedelta(days=9))
    assert old[CELL].rides == 1
    lat, lon = h3.cell_to_latlng(CELL)
    around = parse_bbox(f"{lon - 0.01},{lat - 0.01},{lon + 0.01},{lat + 0.01}")
    elsewhere = parse_bbox(f"{lon + 0.1},{lat + 0.1},{lon + 0.12},{lat + 0.12}")
    assert CELL in await _inputs(clean_db, bbox=around)
    assert await _inputs(clean_db, bbox=elsewhere) == {}


@pytest.mark.parametrize(
    ("birth_year_offset", "records"),
    [
        (None, [(True, "self")]),
        (None, [(True, "self"), (False, "self")]),
        (None, [(False, "self"), (True, "self")]),
        (30, [(True, "self")]),
        (14, [(True, "self")]),
        (13, [(True, "self")]),
        (10, [(True, "self")]),
        (10, [(True, "guardian")]),
        (10, [(True, "guardian"), (False, "self")]),
        (10, [(True, "guardian"), (True, "self")]),
        (None, []),
    ],
)
async def test_effective_consent_subquery_agrees_with_the_python_policy(
    clean_db: AsyncEngine, birth_year_offset: int | None, records: list[tuple[bool, str]]
) -> None:
    seed = Seed(clean_db)
    birth_year = None if birth_year_offset is None else TODAY.year - birth_year_offset
    user_id = await seed.user(research=None, birth_year=birth_year)
    start = datetime.now(UTC) - timedelta(hours=len(records) + 1)
    for i, (granted, giver) in enumerate(records):
        await seed.consent(user_id, granted=granted, given_by=giver, at=start + timedelta(hours=i))
    async with AsyncSession(clean_db) as session:
        in_sql = user_id in set(
            (
                await session.execute(effective_consent_subquery(ConsentPurpose.RESEARCH_SHARING, TODAY))
            ).scalars()
        )
        user = await session.get(User, user_id)
        assert user is not None
        history = (
            await session.execute(sa.select(ConsentRecord).where(ConsentRecord.user_id == user_id))  # type: ignore[arg-type]
        ).scalars()
        states = purpose_states(history, child=is_child(user.birth_year, TODAY))
    assert in_sql == states[ConsentPurpose.RESEARCH_SHARING].effective
