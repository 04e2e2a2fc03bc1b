"""``saferoutes open-data``: four files, released cells, public hazards, hour-truncated times."""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import h3
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from api.cli import opendata as open_data_cli
from api.settings import Settings
from tests.integration.planner_helpers import CELL, CROWD, MARCH, NOISE, Seed


async def test_the_dump_writes_hazards_and_released_cells_as_csv_and_geojson(
    clean_db: AsyncEngine,
    settings: Settings,
    database_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    seed = Seed(clean_db)
    for _ in range(CROWD):
        await seed.exposure(await seed.user(), [CELL], rides=3, day=MARCH)
    lonely = h3.latlng_to_cell(51.04, 4.50, 10)
    await seed.exposure(await seed.user(), [lonely], day=MARCH)
    await seed.hazard(CELL)
    await seed.hazard(lonely, status="rejected")

    args = argparse.Namespace(out=tmp_path / "dump", month="2026-03", quiet=True)
    assert await open_data_cli._dump(settings, database_url, args) == 0

    out = tmp_path / "dump"
    assert sorted(p.name for p in out.iterdir()) == [
        "cells.csv",
        "cells.geojson",
        "hazards.csv",
        "hazards.geojson",
    ]
    [hazard] = list(csv.DictReader((out / "hazards.csv").open()))
    assert hazard["category"] == "dangerous_crossing" and hazard["sdmSubCategory"] == "hazardOnRoad"
    assert hazard["createdAt"].endswith(":00:00Z")
    points = json.loads((out / "hazards.geojson").read_text())
    assert points["features"][0]["geometry"]["coordinates"][0] == pytest.approx(float(hazard["lon"]))

    [cell] = list(csv.DictReader((out / "cells.csv").open()))
    assert cell["h3"] == h3.cell_to_parent(CELL, 9)
    assert abs(int(cell["contributors"]) - CROWD) <= NOISE and "k" not in cell
    assert (cell["fromDay"], cell["toDay"]) == ("2026-03-01", "2026-03-31") and float(cell["epsilon"]) > 0
    hexagons = json.loads((out / "cells.geojson").read_text())
    assert [f["properties"]["h3"] for f in hexagons["features"]] == [cell["h3"]]
    assert hexagons["month"] == "2026-03" and "k" not in hexagons
    text = "".join(p.read_text() for p in out.iterdir())
    assert "seed" not in text and "user" not in text.lower()
    assert "Wrote 1 hazards and 1 cells" in capsys.readouterr().err
