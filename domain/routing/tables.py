"""What routing adds to other capabilities' tables: an index on rides for the graph's stamp."""

from __future__ import annotations

import sqlalchemy as sa

from domain.rides.tables import Ride

ix_ride_created_at = sa.Index("ix_ride_created_at", Ride.__table__.c.created_at)  # type: ignore[attr-defined]
"""Lets a worker count the rides since its graph was built with an index range scan."""
