"""Consent per purpose: the policy, as pure functions.

Rules, in plain words:
- Each grant or withdrawal is appended; nothing is updated or deleted, so the
  history demonstrates who consented to which policy text and when.
- The latest record for a purpose decides. A withdrawal always takes effect.
- For a child under 13 only a guardian's grant makes a purpose effective; the
  child's own grant is recorded but has no effect (GDPR art. 8, Belgium: 13).
- We hold a birth year, not a birth date, so we are conservative: a person is
  treated as a child until the calendar year in which they surely are 13.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from domain.core.enums import ConsentGiver, ConsentPurpose

DIGITAL_CONSENT_AGE = 13


def is_child(birth_year: int | None, today: date) -> bool:
    """True while the user may still be under 13 (only the birth year is known)."""
    if birth_year is None:
        return False
    return today.year - birth_year - 1 < DIGITAL_CONSENT_AGE


@dataclass(frozen=True)
class PurposeState:
    purpose: ConsentPurpose
    effective: bool
    granted: bool | None
    given_by: ConsentGiver | None
    policy_version: str | None
    recorded_at: datetime | None
    guardian_needed: bool


class ConsentEntry(Protocol):
    """What `purpose_states` reads of a record: a `ConsentRecord`, or a plain row of one."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def purpose(self) -> str: ...
    @property
    def granted(self) -> bool: ...
    @property
    def given_by(self) -> str: ...
    @property
    def policy_version(self) -> str: ...
    @property
    def recorded_at(self) -> datetime: ...


def purpose_states(records: Iterable[ConsentEntry], *, child: bool) -> dict[ConsentPurpose, PurposeState]:
    """The state of every purpose from a user's records (any order)."""
    latest: dict[str, ConsentEntry] = {}
    for record in records:
        current = latest.get(record.purpose)
        if current is None or (record.recorded_at, str(record.id)) > (current.recorded_at, str(current.id)):
            latest[record.purpose] = record
    states: dict[ConsentPurpose, PurposeState] = {}
    for purpose in ConsentPurpose:
        rec = latest.get(purpose.value)
        granted = rec.granted if rec else None
        giver = ConsentGiver(rec.given_by) if rec else None
        effective = bool(granted) and (not child or giver is ConsentGiver.GUARDIAN)
        states[purpose] = PurposeState(
            purpose=purpose,
            effective=effective,
            granted=granted,
            given_by=giver,
            policy_version=rec.policy_version if rec else None,
            recorded_at=rec.recorded_at if rec else None,
            guardian_needed=child and not effective and granted is not False,
        )
    return states
