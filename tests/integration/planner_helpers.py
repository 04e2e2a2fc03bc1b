"""Seed the tables planner exports read (users, consents, daily aggregates, hazards) without uploads.

Uploading rides through the API would take seconds per scenario; these tests
pin down what the export does with given aggregates, so they write them directly.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

import h3
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from domain.accounts.tables import User
from domain.hazards.tables import Hazard, HazardReport
from domain.rides.tables import CellExposure, CellTransition, Ride, RideCell
from domain.schools.tables import ClassMembership, School, SchoolClass
from privacy.release.rules import last_closed_month
from privacy.tables import ConsentRecord
from tests.clock import session_clock

MECHELEN = (51.0259, 4.4776)
CELL = h3.latlng_to_cell(*MECHELEN, 10)
TODAY = session_clock().date()
NOW = session_clock()
MARCH = date(2026, 3, 15)
"""A day of a month that is over (releases cover closed windows only): where most seeds ride."""
APRIL = date(2026, 4, 15)
LAST_MONTH = last_closed_month(TODAY).first + timedelta(days=14)
"""A day of the last whole month: what public statistics (NGSI-LD, the router) release."""
MONTH = {"from": "2026-03-01T00:00:00Z", "to": "2026-03-31T00:00:00Z"}
"""The query parameters of March 2026, a whole month: its release is the public one."""
APRIL_MONTH = {"from": "2026-04-01T00:00:00Z", "to": "2026-04-30T00:00:00Z"}
CROWD = 20
"""People a test cell needs to be shown: the test policy's threshold is 9, its noise sigma 1.4."""
NOISE = 8
"""How far a released count of people may stray in a test (over 5 sigma: never in practice)."""


def neighbours(cell: str = CELL) -> list[str]:
    """The ring-1 cells of ``cell``, in a stable order."""
    return sorted(set(h3.grid_ring(cell, 1)))


def sibling_cells(parent_res: int = 8, cell: str = CELL) -> list[str]:
    """All resolution-10 children of the res-``parent_res`` parent of ``cell``, in a stable order."""
    return sorted(h3.cell_to_children(h3.cell_to_parent(cell, parent_res), 10))


class Seed:
    """A thin writer over one engine; every call commits, like separate requests would."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._n = 0

    async def _add(self, *rows: object) -> None:
        async with AsyncSession(self.engine, expire_on_commit=False) as session:
            session.add_all(rows)
            await session.commit()

    async def user(
        self,
        *,
        research: str | None = "self",
        birth_year: int | None = None,
        role: str = "citizen",
        at: datetime | None = None,
    ) -> uuid.UUID:
        """A user; ``research`` is who granted research_sharing (``self``, ``guardian``) or None."""
        self._n += 1
        user = User(
            handle=f"seed{self._n}",
            handle_key=f"seed{self._n}-{uuid.uuid4().hex[:8]}",
            password_hash="x",
            role=role,
            birth_year=birth_year,
            nickname=f"seed{self._n}",
        )
        await self._add(user)
        if research is not None:
            await self.consent(user.id, granted=True, given_by=research, at=at)
        return user.id

    async def consent(
        self, user_id: uuid.UUID, *, granted: bool, given_by: str = "self", at: datetime | None = None
    ) -> None:
        record = ConsentRecord(
            user_id=user_id,
            purpose="research_sharing",
            granted=granted,
            policy_version="2026-01",
            given_by=given_by,
            recorded_at=at or session_clock(),
        )
        await self._add(record)

    async def exposure(
        self, user_id: uuid.UUID, cells: Sequence[str], *, rides: int = 1, day: date = TODAY
    ) -> None:
        await self._add(
            *(
                CellExposure(cell=h3.str_to_int(c), day=day, mode="bike", user_id=user_id, rides=rides)
                for c in cells
            )
        )

    async def transition(
        self, user_id: uuid.UUID, src: str, dst: str, *, traversals: int = 1, day: date = TODAY
    ) -> None:
        row = CellTransition(
            from_cell=h3.str_to_int(src),
            to_cell=h3.str_to_int(dst),
            day=day,
            mode="bike",
            user_id=user_id,
            traversals=traversals,
        )
        await self._add(row)

    async def ride(self, user_id: uuid.UUID, *, started_at: datetime = NOW, mode: str = "bike") -> uuid.UUID:
        ride = Ride(
            user_id=user_id,
            mode=mode,
            distance_m=1000.0,
            duration_s=300,
            started_at=started_at,
            resolution=10,
            cell_count=1,
            segment_count=1,
            trimmed_m=0.0,
            point_count=10,
            kept_point_count=10,
        )
        await self._add(ride)
        return ride.id

    async def hazard(
        self,
        cell: str = CELL,
        *,
        severity: int = 3,
        reports: int = 3,
        status: str = "open",
        created: date = MARCH,
    ) -> uuid.UUID:
        """An active hazard created on ``created`` (by default in the month most tests release)."""
        lat, lon = h3.cell_to_latlng(cell)
        hazard = Hazard(
            category="dangerous_crossing",
            cell=cell,
            lat=round(lat, 5),
            lon=round(lon, 5),
            status=status,
            severity=severity,
            report_count=reports,
            confirmation_count=2,
            last_confirmed_at=session_clock() - timedelta(days=1),
            created_at=datetime.combine(created, datetime.min.time(), UTC),
        )
        await self._add(hazard)
        return hazard.id

    async def near_miss(self, user_id: uuid.UUID, hazard_id: uuid.UUID, *, day: date = TODAY) -> None:
        ride_id = await self.ride(user_id)
        observed = datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=8)
        report = HazardReport(
            hazard_id=hazard_id,
            user_id=user_id,
            category="dangerous_crossing",
            severity=3,
            observed_at=observed,
            ride_id=ride_id,
            ride_offset_s=30,
        )
        await self._add(report)

    async def school_with_class(self, cell: str = CELL) -> tuple[uuid.UUID, uuid.UUID]:
        """(school id, class id) of a school at the centre of ``cell``."""
        lat, lon = h3.cell_to_latlng(cell)
        school = School(name="Sint-Jan", lat=lat, lon=lon)
        await self._add(school)
        klass = SchoolClass(school_id=school.id, name="5B")
        await self._add(klass)
        return school.id, klass.id

    async def member(self, class_id: uuid.UUID, user_id: uuid.UUID) -> None:
        await self._add(ClassMembership(class_id=class_id, user_id=user_id))

    async def ride_path(self, user_id: uuid.UUID, cells: Sequence[str], *, mode: str = "bike") -> uuid.UUID:
        """A stored ride through ``cells`` in order (its last cell is where it ended)."""
        ride_id = await self.ride(user_id, mode=mode)
        await self._add(
            *(
                RideCell(
                    ride_id=ride_id, seq=i, cell=h3.str_to_int(c), segment=0, offset_s=20 * i, speed_mps=4.0
                )
                for i, c in enumerate(cells)
            )
        )
        return ride_id
