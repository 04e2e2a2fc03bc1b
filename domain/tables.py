"""Imports every table module so that `metadata` knows the whole schema.

Alembic, the schema-agreement test and the privacy completeness checks read
`metadata` from here; a new table module must be added to this list.
"""

from __future__ import annotations

from sqlmodel import SQLModel

import domain.accounts
import domain.exports
import domain.gamification
import domain.hazards
import domain.idempotency
import domain.ratelimit
import domain.rides
import domain.routing
import domain.schools

metadata = SQLModel.metadata

__all__ = ["domain", "metadata"]
