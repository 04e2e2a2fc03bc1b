"""The rules of a challenge: its window, its target and its scope, checked before it is stored."""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from domain.core.errors import InvalidInput
from gamification.leaderboards.rules import ChallengeMetric, Scope

MAX_WINDOW: Final = timedelta(days=366)


@dataclass(frozen=True, slots=True)
class ChallengeDraft:
    scope: Scope
    metric: ChallengeMetric
    starts_at: datetime
    ends_at: datetime
    scope_id: uuid.UUID | None = None
    target: float | None = None
    name: str = ""


def check_draft(draft: ChallengeDraft) -> None:
    if draft.ends_at <= draft.starts_at:
        raise InvalidInput("endsAt", "A challenge must end after it starts.", code="invalid-window")
    if draft.ends_at - draft.starts_at > MAX_WINDOW:
        raise InvalidInput("endsAt", "A challenge lasts at most a year.", code="invalid-window")
    if draft.target is not None and not 0 < draft.target < math.inf:
        raise InvalidInput("target", "A target is a positive number.")
    if draft.metric is ChallengeMetric.PARTICIPATION and draft.target is not None and draft.target > 100:
        raise InvalidInput("target", "A participation target is a percentage (at most 100).")
    if (draft.scope == "city") != (draft.scope_id is None):
        detail = (
            "A city challenge has no scopeId."
            if draft.scope == "city"
            else "Give the scopeId of the class or school."
        )
        raise InvalidInput("scopeId", detail)
