"""Self-service access, portability and erasure (GDPR articles 15, 17, 20).

`export_json` walks the inventory and streams every row held about a user as
one JSON document, table by table, from server-side cursors, so a user with
thousands of rides does not load the server's memory. `export_gpx` streams
their rides as GPX tracks through the cell centres. `erase` removes the
account and everything tied to it in the caller's transaction.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import AsyncIterator, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import h3
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from domain.accounts.tables import User
from domain.core.errors import NotFound
from domain.hazards import service as hazard_service
from geo.gpx import GPX_FOOTER, GPX_HEADER, gpx_track
from geo.snapping import CellVisit
from privacy.selfservice.inventory import INVENTORY, PersonalTable

EXPORT_FORMAT = "saferoutes-export/1"
CELL_COLUMNS = frozenset({"cell", "from_cell", "to_cell"})
_FETCH = 1000


def plain(column: str, value: Any) -> Any:
    """A JSON-ready value; H3 cells stored as integers come out as their usual hex index."""
    if value is None or isinstance(value, bool | str | float):
        return value
    if isinstance(value, int):
        return h3.int_to_str(value) if column in CELL_COLUMNS else value
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return value


def exported_row(entry: PersonalTable, row: Mapping[Any, Any]) -> dict[str, Any]:
    return {str(key): plain(str(key), value) for key, value in row.items() if str(key) not in entry.redact}


def _select(entry: PersonalTable) -> sa.TextClause:
    order = f" ORDER BY {entry.order_by}" if entry.order_by else ""
    return sa.text(f"SELECT * FROM {entry.name} WHERE {entry.where}{order}")  # noqa: S608 - inventory constants


async def _rows(
    session: AsyncSession, entry: PersonalTable, user_id: uuid.UUID
) -> AsyncIterator[dict[str, Any]]:
    result = await session.stream(_select(entry).execution_options(yield_per=_FETCH), {"uid": user_id})
    async for row in result.mappings():
        yield exported_row(entry, row)


async def export_json(session: AsyncSession, user_id: uuid.UUID, *, now: datetime) -> AsyncIterator[bytes]:
    """Every row held about the user, as one JSON document streamed in chunks."""
    if await session.get(User, user_id) is None:
        raise NotFound("No such account.")
    head = {"format": EXPORT_FORMAT, "exportedAt": now.isoformat(), "userId": str(user_id)}
    yield json.dumps(head)[:-1].encode() + b', "tables": {'
    for index, entry in enumerate(INVENTORY):
        prefix = ", " if index else ""
        yield f'{prefix}"{entry.name}": {{"about": {json.dumps(entry.why)}, "rows": ['.encode()
        first = True
        async for row in _rows(session, entry, user_id):
            yield (b"" if first else b", ") + json.dumps(row).encode()
            first = False
        yield b"]}"
    yield b"}}\n"


async def export_gpx(session: AsyncSession, user_id: uuid.UUID) -> AsyncIterator[str]:
    """The user's rides as one GPX document, one track per ride through its cell centres."""
    rides = await session.stream(
        sa.text("SELECT id, started_at, mode FROM ride WHERE user_id = :uid ORDER BY started_at, id"),
        {"uid": user_id},
    )
    yield GPX_HEADER
    async for ride in rides:
        cells = await session.execute(
            sa.text(
                "SELECT segment, cell, offset_s, speed_mps, filled FROM ride_cell"
                " WHERE ride_id = :rid AND started_at = :started ORDER BY seq"
            ),
            {"rid": ride.id, "started": ride.started_at},
        )
        segments: dict[int, list[CellVisit]] = {}
        for seg, cell, offset, speed, filled in cells:
            segments.setdefault(seg, []).append(CellVisit(h3.int_to_str(cell), offset, speed, filled))
        name = f"{ride.mode} ride {ride.started_at:%Y-%m-%d %H:%M} UTC"
        yield gpx_track(name, ride.started_at, list(segments.values()))
    yield GPX_FOOTER


async def erase(session: AsyncSession, user_id: uuid.UUID, *, now: datetime) -> None:
    """Erase the account and every row tied to it. Does NOT commit: the caller's one transaction does.

    Hazard counts are fixed first (the cascade alone would leave them stale);
    hazards that others reported or confirmed stay, with no link to the eraser.
    Everything else follows the foreign keys: CASCADE for what the user owns,
    SET NULL for shared facts (see `privacy.selfservice.inventory`). Access tokens die with
    the account row, because every request re-reads it.
    """
    user = await session.get(User, user_id, with_for_update=True)
    if user is None:
        raise NotFound("No such account.")
    await hazard_service.erase_contributions(session, user_id, now=now)
    await session.execute(sa.delete(User).where(User.id == user_id))  # type: ignore[arg-type]
