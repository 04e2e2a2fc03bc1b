"""`saferoutes streets import`: the Helsinki extract becomes the network, a re-import swaps it whole."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from api.cli.main import main
from domain.demo.service import DEMO_EXTRACT
from domain.streets import service as streets
from domain.streets import store
from domain.streets.rules import UnreadableExtract
from tests.clock import session_clock

HELSINKI = DEMO_EXTRACT


def _ignore(stage: str, count: int) -> None:
    return None


async def _networks(engine: AsyncEngine) -> list[tuple[int, int]]:
    async with engine.connect() as conn:
        query = sa.text(
            "SELECT n.id, (SELECT count(*) FROM street_segment s WHERE s.network_id = n.id) "
            "FROM street_network n ORDER BY n.id"
        )
        return [(int(a), int(b)) for a, b in await conn.execute(query)]


async def test_the_extract_is_split_into_segments_at_junctions(clean_db: AsyncEngine) -> None:
    report = await streets.import_extract(clean_db, HELSINKI, now=session_clock(), progress=_ignore)
    assert report.counts.segments > report.counts.ways_kept > 2000
    async with clean_db.connect() as conn:
        ends = sa.text(
            "SELECT count(*) FROM street_segment a JOIN street_segment b "
            "ON a.to_node = b.from_node AND a.network_id = b.network_id"
        )
        assert int((await conn.execute(ends)).scalar_one()) > report.counts.segments // 2
        inner = sa.text(
            "SELECT count(*) FROM street_segment WHERE lons[1] = lons[cardinality(lons)] "
            "AND lats[1] = lats[cardinality(lats)] AND from_node <> to_node"
        )
        assert int((await conn.execute(inner)).scalar_one()) == 0
        names = sa.text(
            "SELECT count(*) FILTER (WHERE name IS NULL), count(*) FILTER (WHERE name = '') "
            "FROM street_segment"
        )
        unnamed, empty = (await conn.execute(names)).one()
        assert unnamed > 0 and empty == 0, (
            "an unnamed way is stored as NULL (COPY's CSV reads an empty field so)"
        )
        network = await store.active_network(conn)
    assert network is not None and network.segment_count == report.counts.segments


async def test_a_reimport_replaces_the_network_whole(clean_db: AsyncEngine) -> None:
    first = await streets.import_extract(clean_db, HELSINKI, now=session_clock(), progress=_ignore)
    second = await streets.import_extract(clean_db, HELSINKI, now=session_clock(), progress=_ignore)
    assert second.replaced == 1
    assert await _networks(clean_db) == [(second.network_id, first.counts.segments)]


async def test_a_failing_import_leaves_the_old_network(
    clean_db: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = await streets.import_extract(clean_db, HELSINKI, now=session_clock(), progress=_ignore)
    real_swap = store.swap_network

    async def swap_then_fail(*args: Any, **kwargs: Any) -> int:
        await real_swap(*args, **kwargs)  # the new rows are written, the old deleted: then the crash
        raise RuntimeError("disk full")

    monkeypatch.setattr(streets, "swap_network", swap_then_fail)
    with pytest.raises(RuntimeError, match="disk full"):
        await streets.import_extract(clean_db, HELSINKI, now=session_clock(), progress=_ignore)
    assert await _networks(clean_db) == [(first.network_id, first.counts.segments)]
    with pytest.raises(UnreadableExtract):
        await streets.import_extract(clean_db, Path(__file__), now=session_clock(), progress=_ignore)
    assert await _networks(clean_db) == [(first.network_id, first.counts.segments)]


def test_the_cli_imports_and_summarises(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url.replace("+asyncpg", ""))
    assert main(["streets", "import", str(HELSINKI)]) == 0
    captured = capsys.readouterr()
    assert "Database:" in captured.err and "segments" in captured.err
    assert "imported from helsinki.osm.pbf" in captured.out and "peak memory" in captured.out


def test_the_cli_refuses_a_file_that_is_no_extract(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: Any, tmp_path: Path
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url.replace("+asyncpg", ""))
    bad = tmp_path / "city.osm.pbf"
    bad.write_bytes(b"\x00\x00\x00\x0dnot a pbf at all")
    assert main(["streets", "import", str(bad)]) == 1
    assert main(["streets", "import", str(tmp_path / "missing.osm.pbf")]) == 1
    err = capsys.readouterr().err
    assert "error:" in err and "missing.osm.pbf: no such file" in err and "unchanged" in err
