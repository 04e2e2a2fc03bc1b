"""The consent policy as a pure function of the records."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from domain.core.enums import ConsentGiver, ConsentPurpose
from privacy.consent.rules import is_child, purpose_states
from privacy.tables import ConsentRecord

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _record(
    purpose: ConsentPurpose, granted: bool, minutes: int, giver: ConsentGiver = ConsentGiver.SELF
) -> ConsentRecord:
    return ConsentRecord(
        id=uuid.uuid4(),
        user_id=uuid.uuid4(),
        purpose=purpose.value,
        granted=granted,
        policy_version="2026-01",
        recorded_at=T0 + timedelta(minutes=minutes),
        given_by=giver.value,
    )


def test_no_records_means_no_effective_consent() -> None:
    states = purpose_states([], child=False)
    assert not any(s.effective for s in states.values())
    assert set(states) == set(ConsentPurpose)


def test_the_latest_record_decides_whatever_the_input_order() -> None:
    records = [
        _record(ConsentPurpose.LEADERBOARD, False, 10),
        _record(ConsentPurpose.LEADERBOARD, True, 5),
    ]
    assert purpose_states(records, child=False)[ConsentPurpose.LEADERBOARD].effective is False
    assert purpose_states(reversed(records), child=False)[ConsentPurpose.LEADERBOARD].effective is False


def test_a_childs_own_grant_has_no_effect() -> None:
    state = purpose_states([_record(ConsentPurpose.RIDE_TRACKING, True, 1)], child=True)[
        ConsentPurpose.RIDE_TRACKING
    ]
    assert state.granted is True
    assert state.effective is False
    assert state.guardian_needed is True


def test_a_guardian_grant_makes_a_childs_purpose_effective() -> None:
    records = [_record(ConsentPurpose.RIDE_TRACKING, True, 1, ConsentGiver.GUARDIAN)]
    assert purpose_states(records, child=True)[ConsentPurpose.RIDE_TRACKING].effective is True


def test_a_childs_withdrawal_overrides_the_guardian_grant() -> None:
    records = [
        _record(ConsentPurpose.RIDE_TRACKING, True, 1, ConsentGiver.GUARDIAN),
        _record(ConsentPurpose.RIDE_TRACKING, False, 2),
    ]
    state = purpose_states(records, child=True)[ConsentPurpose.RIDE_TRACKING]
    assert state.effective is False
    assert state.guardian_needed is False


def test_under_13_is_judged_conservatively_from_the_birth_year() -> None:
    today = date(2026, 11, 25)
    assert is_child(2016, today)
    assert is_child(2013, today)  # may still be 12 until their birthday
    assert not is_child(2012, today)
    assert not is_child(None, today)
