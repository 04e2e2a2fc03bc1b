"""The user's privacy zones in the database: list, add (at most `MAX_PRIVACY_ZONES`), delete.

A zone applies to rides uploaded after it is set: earlier rides were already
reduced to cells, and the user can delete those rides if they wish.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from domain.core.errors import Conflict, NotFound
from domain.core.locks import lock_user_rides
from privacy.tables import MAX_PRIVACY_ZONES, PrivacyZoneRecord
from privacy.zones.rules import make_zone


async def list_zones(session: AsyncSession, user_id: uuid.UUID) -> list[PrivacyZoneRecord]:
    rows = await session.execute(
        sa.select(PrivacyZoneRecord)
        .where(col(PrivacyZoneRecord.user_id) == user_id)
        .order_by(col(PrivacyZoneRecord.created_at), col(PrivacyZoneRecord.id))
    )
    return list(rows.scalars())


async def add_zone(
    session: AsyncSession, user_id: uuid.UUID, *, lat: float, lon: float, radius_m: float, now: datetime
) -> PrivacyZoneRecord:
    """Validate (`ZoneError`, 422) and store a zone; the cap holds under concurrency; commits."""
    zone = make_zone(lat, lon, radius_m)
    # one zone change per user at a time, so that the cap holds under concurrency
    await lock_user_rides(session, user_id)
    count = await session.scalar(sa.select(sa.func.count()).where(col(PrivacyZoneRecord.user_id) == user_id))
    if (count or 0) >= MAX_PRIVACY_ZONES:
        raise Conflict(
            f"You already have {MAX_PRIVACY_ZONES} privacy zones; delete one first.",
            code="privacy-zone-limit",
            limit=MAX_PRIVACY_ZONES,
        )
    record = PrivacyZoneRecord(
        user_id=user_id, lat=zone.lat, lon=zone.lon, radius_m=zone.radius_m, created_at=now
    )
    session.add(record)
    await session.commit()
    return record


async def delete_zone(session: AsyncSession, user_id: uuid.UUID, zone_id: uuid.UUID) -> None:
    """Delete an own zone; someone else's is reported missing, like an unknown id; commits."""
    await lock_user_rides(session, user_id)
    deleted = await session.execute(
        sa.delete(PrivacyZoneRecord)
        .where(col(PrivacyZoneRecord.id) == zone_id, col(PrivacyZoneRecord.user_id) == user_id)
        .returning(col(PrivacyZoneRecord.id))
    )
    if deleted.scalar_one_or_none() is None:
        raise NotFound("You have no privacy zone with this id.", code="privacy-zone-not-found")
    await session.commit()
