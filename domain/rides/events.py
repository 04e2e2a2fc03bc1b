"""What the ride capability asks and announces; the handlers are wired in `domain.bootstrap`.

Rides sit below gamification in the import order, so the upload asks its
two questions through the bus instead of calling gamification: is this ride
plausible (before it is written, so the verdict is stored with it), and what
did it earn (after it is written, in the same transaction, so the award
exists exactly when the ride does).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from domain.core.bus import Request
from domain.rides.rules import ProcessedRide
from domain.rides.tables import Ride


class Verdict(Protocol):
    """Whether a ride is plausible, as stored on the ride row."""

    @property
    def ok(self) -> bool: ...
    @property
    def flag_names(self) -> list[str]: ...
    @property
    def fingerprint(self) -> str: ...


class Judged(Protocol):
    """A ride's judgement: its verdict, and whatever the rewarding side needs to pay it later."""

    @property
    def verdict(self) -> Verdict: ...


class Reward(Protocol):
    """What a stored ride earned, for the upload's answer."""

    @property
    def points(self) -> int: ...
    @property
    def badges(self) -> Sequence[object]: ...


@dataclass(frozen=True, slots=True)
class JudgeRide(Request[Judged]):
    """Asked under the rider's ride lock, before the ride is written; `now` is the upload's moment."""

    user_id: uuid.UUID
    ride_id: uuid.UUID
    processed: ProcessedRide
    now: datetime


@dataclass(frozen=True, slots=True)
class RewardRide(Request[Reward]):
    """Asked right after the ride (with `judged`'s verdict) is written, in the same transaction."""

    ride: Ride
    processed: ProcessedRide
    judged: Judged
    now: datetime


@dataclass(frozen=True, slots=True)
class RideDeleted:
    """Published before a ride and its incident reports are deleted, in the deletion's transaction."""

    user_id: uuid.UUID
    ride_id: uuid.UUID
    now: datetime
