"""Imports every table module so that `metadata` knows the whole schema.

Alembic, the schema-agreement test and the privacy completeness checks read
`metadata` from here; a new table module must be added to this list.
"""

from __future__ import annotations

from sqlmodel import SQLModel

import domain.accounts.tables
import domain.core.idempotency
import domain.core.ratelimit
import domain.hazards.tables
import domain.planner.tables
import domain.rides.tables
import domain.routing.tables
import domain.schools.tables
import domain.streets.tables
import gamification.tables
import privacy.release.tables
import privacy.tables

metadata = SQLModel.metadata

__all__ = ["domain", "gamification", "metadata", "privacy"]
