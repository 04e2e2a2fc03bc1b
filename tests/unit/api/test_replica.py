"""Which database a read that tolerates lag goes to: the replica while its lag is within the bound."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from api.database import make_sessionmaker
from api.replica import ReadRouter
from domain.bootstrap import build_bus
from domain.core.replica import primary_of


class Measured(ReadRouter):
    """The router with the replica's answers and the clock given by the test (no server)."""

    def __init__(self, lags: list[float | None], max_lag_s: float = 30) -> None:
        self.now = 0.0
        self.lags = lags
        self.measured = 0
        engine = create_async_engine("postgresql+asyncpg://ro@standby.invalid/saferoutes")
        self.primary = make_sessionmaker(create_async_engine("postgresql+asyncpg://app@primary.invalid/sr"))
        clock = lambda: self.now  # noqa: E731
        super().__init__(self.primary, engine, bus=build_bus(), max_lag_s=max_lag_s, monotonic=clock)

    async def lag_s(self) -> float | None:
        self.measured += 1
        return self.lags.pop(0)


def _on_replica(sessions: async_sessionmaker[AsyncSession]) -> bool:
    return primary_of(sessions()) is not None


async def test_without_a_replica_every_read_is_on_the_primary() -> None:
    primary = make_sessionmaker(create_async_engine("postgresql+asyncpg://app@primary.invalid/sr"))
    router = ReadRouter(primary, None, bus=build_bus(), max_lag_s=30)
    assert await router.sessionmaker() is primary
    assert not router.configured


async def test_reads_follow_the_measured_lag_and_it_is_measured_at_most_every_quarter_bound() -> None:
    router = Measured([0.0, 45.0, None, 29.9], max_lag_s=20)
    assert router.check_interval == 5.0
    chosen = await router.sessionmaker()
    assert _on_replica(chosen), "within the bound: the replica"
    assert primary_of(chosen()) is router.primary, "its sessions know the primary, for a missing release"
    router.now = 4.9
    assert _on_replica(await router.sessionmaker()) and router.measured == 1, "cached between checks"
    router.now = 5.0
    assert await router.sessionmaker() is router.primary, "45 s behind a 20 s bound: the primary"
    router.now = 10.0
    assert await router.sessionmaker() is router.primary, "unreachable: the primary"
    router.now = 15.0
    assert await router.sessionmaker() is router.primary, "29.9 s is still above 20 s"
    assert router.measured == 4
    await router.aclose()


async def test_a_short_bound_is_checked_more_often() -> None:
    router = Measured([0.0, 0.0], max_lag_s=2)
    assert router.check_interval == 0.5
    await router.sessionmaker()
    router.now = 0.5
    await router.sessionmaker()
    assert router.measured == 2
    await router.aclose()
