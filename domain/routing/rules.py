"""Routing vocabulary: what counts as a ridden edge and an open confirmed hazard, and the stamp.

The rules, in one place (docs/routing.md explains them):
- A ridden edge is a pair of neighbouring cells inside the area the city's
  latest monthly release (`privacy.release`) shows people riding; everything
  else is the fallback grid of the service area. The router reads no ride,
  only the release (consented contributions, noisy, thresholded), so a route
  reveals nothing about one person beyond what that release already does.
- An open confirmed hazard is one still on the street (open, acknowledged or
  planned) that at least two people stand behind (reports plus stillThere
  confirmations) and more people support than dispute: one report alone
  weighs in the danger score but does not steer routes by itself.
- The stamp is read from the data (the hazards, the imported street network) and
  the calendar (the month released), so no writer has to remember to bump a counter.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime
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
    """What the graph was built from, as cheap figures: the hazards' fingerprint and the month released.

    Every worker reading the same rows computes the same :attr:`version`.
    """

    hazards: int
    hazards_changed: datetime | None
    released_month: date
    streets: int | None = None
    """The imported street network's id (``street_network``), None without one."""

    @property
    def version(self) -> str:
        text = f"{self.hazards}|{self.hazards_changed}|{self.released_month}|{self.streets}"
        return hashlib.sha256(text.encode()).hexdigest()[:12]
