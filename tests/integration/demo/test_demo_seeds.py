"""Every seed gives a demo city: ``saferoutes demo --seed N`` must never stop half-way.

Seed 3 once failed in triage: two hotspots in one cell and category cluster
into one hazard, which was then confirmed and triaged twice (acknowledged →
acknowledged). Few people and rides keep this fast; the hotspots stay at the
command's default, since their collisions are what broke.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from api.cli.demo import _auth
from api.database import make_sessionmaker
from api.settings import Settings
from domain.core.codes import CodeHasher
from domain.demo.service import DemoSize, seed_city
from domain.hazards.tables import Hazard, HazardStatusChange
from tests.clock import TEST_NOW


@pytest.mark.parametrize("seed", range(10))
async def test_every_seed_gives_a_city(seed: int, clean_db: AsyncEngine, settings: Settings) -> None:
    size = DemoSize(seed=seed, users=8, rides=8, hotspots=DemoSize().hotspots)
    report = await seed_city(
        clean_db,
        make_sessionmaker(clean_db),
        _auth(settings),
        CodeHasher(settings.secret_key),
        size,
        policy_version=settings.privacy_policy_version,
        now=TEST_NOW,
        progress=lambda step, done, total: None,
    )
    assert report.counts["people"] == size.users
    assert report.counts["hazards"] >= 1  # a hotspot's reports may straddle cells: not one per hotspot
    assert report.counts["challenges"] == 2
    async with clean_db.connect() as conn:
        hazards = (await conn.execute(sa.select(sa.func.count()).select_from(Hazard))).scalar_one()
        # no hazard went through the same status twice: each is triaged once
        repeated = (
            await conn.execute(
                sa.select(HazardStatusChange.hazard_id, HazardStatusChange.to_status)  # type: ignore[call-overload]
                .group_by(HazardStatusChange.hazard_id, HazardStatusChange.to_status)
                .having(sa.func.count() > 1)
            )
        ).all()
    assert hazards >= report.counts["hazards"]  # ride incidents may file hazards of their own
    assert repeated == []
