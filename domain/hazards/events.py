"""What the hazard capability announces; the handlers are wired in `domain.bootstrap`.

Each is published inside the use case's transaction: a handler's writes
(points for reporters and confirmers) commit or roll back with the cause.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class HazardConfirmed:
    """Someone other than its reporters said a hazard is still there (or disputed it)."""

    hazard_id: uuid.UUID
    confirmation_id: uuid.UUID
    user_id: uuid.UUID
    still_there: bool
    now: datetime


@dataclass(frozen=True, slots=True)
class HazardTakenUp:
    """A planner moved a hazard into a taken-up status (acknowledged, planned, resolved)."""

    hazard_id: uuid.UUID
    now: datetime


@dataclass(frozen=True, slots=True)
class HazardsChanged:
    """Public hazards changed at ``at``: filed, joined, confirmed, triaged, or gone with their last report."""

    at: datetime
