"""Routing vocabulary: what counts as a ridden edge and an open confirmed hazard, and the stamp.

The rules, in one place (docs/routing.md explains them):
- A ridden edge is a pair of neighbouring cells that at least k distinct people
  rode (walk or bike, both directions together), so a route never reveals a
  path only one or two people take, such as a private driveway. Everything
  else is the fallback grid of the service area.
- An open confirmed hazard is one still on the street (open, acknowledged or
  planned) that at least two people stand behind (reports plus stillThere
  confirmations) and more people support than dispute: one report alone
  weighs in the danger score but does not steer routes by itself.
- The stamp of the aggregates is read from the data, so no writer has to
  remember to bump a counter and no hot row is updated per ride.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from domain.core.errors import DomainError

MIN_HAZARD_SUPPORT: Final = 2
"""Reports plus stillThere confirmations an active hazard needs before it surcharges routes."""


class RoutingUnavailable(DomainError):
    """No routing graph can be served: nobody has ridden enough yet for a k-anonymous network."""

    code = "routing-unavailable"
    title = "Routing unavailable"

    def __init__(self, detail: str, *, retry_after_s: int) -> None:
        super().__init__(detail)
        self.retry_after_s = retry_after_s


@dataclass(frozen=True, slots=True)
class Stamp:
    """What the graph was built from, as cheap figures: the hazards' fingerprint and the newest ride.

    Every worker reading the same rows computes the same :attr:`version`.
    """

    hazards: int
    hazards_changed: datetime | None
    latest_ride: datetime | None

    @property
    def version(self) -> str:
        text = f"{self.hazards}|{self.hazards_changed}|{self.latest_ride}"
        return hashlib.sha256(text.encode()).hexdigest()[:12]
