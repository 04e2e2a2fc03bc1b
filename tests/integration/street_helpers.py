"""Street networks for tests: the Helsinki extract the demo city rides."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from domain.demo.service import DEMO_EXTRACT
from domain.streets import service as streets
from tests.clock import session_clock

HELSINKI = DEMO_EXTRACT


def _quiet(stage: str, count: int) -> None:
    return None


async def import_streets(engine: AsyncEngine, path: Path = HELSINKI) -> streets.ImportReport:
    return await streets.import_extract(engine, path, now=session_clock(), progress=_quiet)
