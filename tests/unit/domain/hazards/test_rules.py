from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from domain.core.errors import Conflict, Forbidden, InvalidInput, TooManyRequests
from domain.hazards.categories import (
    CATEGORIES,
    LANGUAGES,
    SDM_TRAFFIC_SUB_CATEGORIES,
    Language,
    category_info,
    sdm_severity,
)
from domain.hazards.rules import (
    ACTIVE_STATUSES,
    DAILY_REPORT_CAP,
    MAX_DESCRIPTION_LENGTH,
    MAX_PUBLIC_NOTE_LENGTH,
    HazardCategory,
    HazardClosed,
    HazardStatus,
    InvalidHazardInput,
    InvalidTransition,
    Open311Status,
    OwnReportConfirmation,
    ReportCapReached,
    category_for_service_code,
    ensure_accepts_confirmations,
    ensure_can_confirm,
    ensure_report_quota,
    hazard_severity,
    is_active,
    observed_minute,
    open311_status,
    parse_category,
    parse_status,
    sanitize_description,
    sanitize_public_note,
    statuses_for_open311,
    validate_severity,
    validate_transition,
)

S = HazardStatus

# Written out independently of the module's table so that a change there has to be a deliberate one here.
EXPECTED_ALLOWED: set[tuple[HazardStatus, HazardStatus]] = {
    (S.OPEN, S.ACKNOWLEDGED),
    (S.OPEN, S.PLANNED),
    (S.OPEN, S.RESOLVED),
    (S.OPEN, S.REJECTED),
    (S.ACKNOWLEDGED, S.PLANNED),
    (S.ACKNOWLEDGED, S.RESOLVED),
    (S.ACKNOWLEDGED, S.REJECTED),
    (S.PLANNED, S.RESOLVED),
    (S.PLANNED, S.REJECTED),
}
ALL_PAIRS = list(itertools.product(HazardStatus, HazardStatus))
FORBIDDEN = [p for p in ALL_PAIRS if p not in EXPECTED_ALLOWED]


# --- catalogue ----------------------------------------------------------------------------------------


def test_catalogue_has_exactly_one_entry_per_category_in_enum_order() -> None:
    assert list(CATEGORIES) == list(HazardCategory)
    assert all(category_info(c).code is c for c in HazardCategory)


def test_catalogue_covers_every_category_the_issue_asks_for() -> None:
    assert {c.value for c in HazardCategory} >= {
        "dangerous_crossing",
        "close_pass",
        "speeding",
        "missing_bike_lane",
        "blocked_bike_lane",
        "road_surface",
        "poor_visibility",
        "school_gate",
        "construction",
        "other",
    }


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_category_has_a_label_and_description_in_each_language(language: Language) -> None:
    for info in CATEGORIES.values():
        assert info.label.in_language(language).strip()
        assert info.description.in_language(language).strip()


@pytest.mark.parametrize("language", LANGUAGES)
def test_labels_are_distinct_within_a_language(language: Language) -> None:
    labels = [info.label.in_language(language) for info in CATEGORIES.values()]
    assert len(set(labels)) == len(labels)


def test_dutch_and_french_labels_are_translations_not_copies_of_english() -> None:
    for info in CATEGORIES.values():
        assert info.label.nl != info.label.en
        assert info.label.fr != info.label.en
        assert info.description.nl != info.description.en
        assert info.description.fr != info.description.en


def test_every_category_maps_to_a_real_sdm_traffic_alert_sub_category() -> None:
    for info in CATEGORIES.values():
        assert info.sdm_category == "traffic"
        assert info.sdm_sub_category in SDM_TRAFFIC_SUB_CATEGORIES


def test_only_potholes_and_road_works_claim_an_exact_sdm_match() -> None:
    exact = {info.code: info.sdm_sub_category for info in CATEGORIES.values() if info.sdm_exact}
    assert exact == {HazardCategory.ROAD_SURFACE: "pothole", HazardCategory.CONSTRUCTION: "roadWorks"}


def test_open311_service_codes_are_unique_and_equal_the_category_code() -> None:
    codes = [info.open311_service_code for info in CATEGORIES.values()]
    assert codes == [c.value for c in HazardCategory]
    assert len(set(codes)) == len(codes)


def test_open311_service_name_follows_the_requested_language_and_defaults_to_english() -> None:
    info = category_info(HazardCategory.ROAD_SURFACE)
    assert info.open311_service_name() == info.label.en
    assert info.open311_service_name("nl") == info.label.nl
    assert info.open311_service_name("fr") == info.label.fr


def test_open311_groups_and_keywords_fit_the_georeport_fields() -> None:
    for info in CATEGORIES.values():
        assert info.open311_group
        assert info.keywords
        # GeoReport v2 `keywords` is one comma-separated string.
        assert all("," not in k and k.strip() == k and k for k in info.keywords)


def test_service_code_round_trips_to_the_category() -> None:
    for category in HazardCategory:
        assert category_for_service_code(category_info(category).open311_service_code) is category


def test_unknown_service_code_is_invalid_input_on_the_service_code_field() -> None:
    with pytest.raises(InvalidHazardInput) as caught:
        category_for_service_code("graffiti")
    assert caught.value.field == "service_code"


def test_unknown_category_is_invalid_input_that_lists_the_valid_codes() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_category("pothole")
    assert caught.value.field == "category"
    assert "road_surface" in caught.value.detail


def test_parse_category_accepts_every_code() -> None:
    assert [parse_category(c.value) for c in HazardCategory] == list(HazardCategory)


# --- severity -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [1, 2, 3])
def test_severity_one_to_three_is_accepted(value: int) -> None:
    assert validate_severity(value) == value


@pytest.mark.parametrize("value", [0, 4, -1, 100, True])
def test_severity_outside_one_to_three_or_boolean_is_refused(value: int) -> None:
    with pytest.raises(InvalidHazardInput) as caught:
        validate_severity(value)
    assert caught.value.field == "severity"


@pytest.mark.parametrize(
    ("severities", "expected"),
    [([2], 2), ([1, 3], 3), ([1, 1, 3], 1), ([3, 3, 1], 3), ([1, 2, 2, 3], 2), ([1, 1, 1, 3], 1)],
)
def test_hazard_severity_is_the_upper_median_of_its_reports(severities: list[int], expected: int) -> None:
    assert hazard_severity(severities) == expected


def test_hazard_severity_needs_at_least_one_report() -> None:
    with pytest.raises(ValueError, match="at least one report"):
        hazard_severity([])


def test_severity_maps_onto_the_sdm_alert_severity_enum() -> None:
    assert [sdm_severity(s) for s in (1, 2, 3)] == ["low", "medium", "high"]


# --- status workflow ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("current", "target"), sorted(EXPECTED_ALLOWED))
def test_allowed_transition_passes(current: HazardStatus, target: HazardStatus) -> None:
    validate_transition(current, target)


@pytest.mark.parametrize(("current", "target"), FORBIDDEN)
def test_forbidden_transition_raises_a_conflict(current: HazardStatus, target: HazardStatus) -> None:
    with pytest.raises(InvalidTransition) as caught:
        validate_transition(current, target)
    assert isinstance(caught.value, Conflict)
    assert (caught.value.current, caught.value.target) == (current, target)
    assert caught.value.extra["requestedStatus"] == target.value


def test_forbidden_transitions_cover_every_pair_not_allowed() -> None:
    assert len(EXPECTED_ALLOWED) + len(FORBIDDEN) == len(HazardStatus) ** 2 == 25


def test_staying_in_the_same_status_is_not_a_transition() -> None:
    for status in HazardStatus:
        with pytest.raises(InvalidTransition):
            validate_transition(status, status)


def test_transition_error_names_the_allowed_next_statuses() -> None:
    with pytest.raises(InvalidTransition) as caught:
        validate_transition(S.PLANNED, S.ACKNOWLEDGED)
    assert caught.value.extra["allowed"] == ["rejected", "resolved"]
    assert "cannot become 'acknowledged'" in caught.value.detail


def test_final_status_error_says_it_is_final() -> None:
    with pytest.raises(InvalidTransition) as caught:
        validate_transition(S.RESOLVED, S.OPEN)
    assert caught.value.extra["allowed"] == []
    assert "final" in caught.value.detail


def test_active_statuses_are_the_ones_before_resolution() -> None:
    assert {s for s in HazardStatus if is_active(s)} == ACTIVE_STATUSES == {S.OPEN, S.ACKNOWLEDGED, S.PLANNED}


def test_unknown_status_is_invalid_input_on_the_status_field() -> None:
    with pytest.raises(InvalidHazardInput) as caught:
        parse_status("closed")
    assert caught.value.field == "status"
    assert parse_status("planned") is S.PLANNED


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (S.OPEN, Open311Status.OPEN),
        (S.ACKNOWLEDGED, Open311Status.OPEN),
        (S.PLANNED, Open311Status.OPEN),
        (S.RESOLVED, Open311Status.CLOSED),
        (S.REJECTED, Open311Status.CLOSED),
    ],
)
def test_status_maps_to_open311_open_or_closed(status: HazardStatus, expected: Open311Status) -> None:
    assert open311_status(status) is expected


def test_open311_status_filter_is_the_inverse_of_the_mapping() -> None:
    assert statuses_for_open311(Open311Status.OPEN) == ACTIVE_STATUSES
    assert statuses_for_open311(Open311Status.CLOSED) == {S.RESOLVED, S.REJECTED}


# --- sanitising ---------------------------------------------------------------------------------------


def test_absent_or_blank_description_becomes_none() -> None:
    assert sanitize_description(None) is None
    assert sanitize_description("") is None
    assert sanitize_description(" \n\t \r\n ") is None


def test_control_characters_are_stripped_but_newlines_kept() -> None:
    assert sanitize_description("car\x00 park\x07ed\x1b[31m\nhere") == "car parked[31m\nhere"


def test_windows_and_unicode_line_breaks_become_newlines() -> None:
    assert sanitize_description("a\r\nb\rc\u2028d") == "a\nb\nc\nd"


def test_tabs_and_runs_of_spaces_collapse_and_lines_are_trimmed() -> None:
    assert sanitize_description("  big\t\t hole \u00a0 here  \n   next line  ") == "big hole here\nnext line"


def test_at_most_one_blank_line_is_kept() -> None:
    assert sanitize_description("first\n\n\n\n\nsecond") == "first\n\nsecond"


def test_bidirectional_overrides_are_removed() -> None:
    assert sanitize_description("safe \u202etxet\u202c street") == "safe txet street"


def test_lone_surrogates_are_removed() -> None:
    assert sanitize_description("ok\ud800 then") == "ok then"


def test_text_is_normalised_to_nfc() -> None:
    assert sanitize_description("e\u0301cole") == "\u00e9cole"


def test_markup_is_kept_verbatim_as_plain_text() -> None:
    text = "<b>speed</b> < 30 & cars > bikes"
    assert sanitize_description(text) == text


def test_emoji_and_accents_survive() -> None:
    assert sanitize_description("Gevaarlijk 🚲 kruispunt — très dangereux") == (
        "Gevaarlijk 🚲 kruispunt — très dangereux"
    )


def test_description_at_the_cap_is_accepted() -> None:
    text = "x" * MAX_DESCRIPTION_LENGTH
    assert sanitize_description(text) == text


def test_description_over_the_cap_is_refused_not_truncated() -> None:
    with pytest.raises(InvalidHazardInput) as caught:
        sanitize_description("x" * (MAX_DESCRIPTION_LENGTH + 1))
    assert caught.value.field == "description"
    assert caught.value.extra["maxLength"] == MAX_DESCRIPTION_LENGTH


def test_cap_is_measured_after_cleaning() -> None:
    text = "   " + "x" * MAX_DESCRIPTION_LENGTH + "\x00\x00   "
    assert sanitize_description(text) == "x" * MAX_DESCRIPTION_LENGTH


def test_public_note_has_its_own_field_and_cap() -> None:
    assert sanitize_public_note("y" * MAX_PUBLIC_NOTE_LENGTH) == "y" * MAX_PUBLIC_NOTE_LENGTH
    with pytest.raises(InvalidHazardInput) as caught:
        sanitize_public_note("y" * (MAX_PUBLIC_NOTE_LENGTH + 1))
    assert caught.value.field == "publicNote"


# --- anti-abuse ---------------------------------------------------------------------------------------

NOW = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)


def test_reports_under_the_daily_cap_pass() -> None:
    ensure_report_quota(DAILY_REPORT_CAP - 1, NOW - timedelta(hours=3), now=NOW)
    ensure_report_quota(0, None, now=NOW)


def test_report_at_the_daily_cap_is_refused_until_the_oldest_leaves_the_window() -> None:
    with pytest.raises(ReportCapReached) as caught:
        ensure_report_quota(DAILY_REPORT_CAP, NOW - timedelta(hours=23), now=NOW)
    assert isinstance(caught.value, TooManyRequests)
    assert caught.value.retry_after_s == 3600


def test_report_cap_retry_after_is_never_zero() -> None:
    with pytest.raises(ReportCapReached) as caught:
        ensure_report_quota(DAILY_REPORT_CAP, NOW - timedelta(hours=25), now=NOW)
    assert caught.value.retry_after_s >= 1


def test_report_cap_can_be_configured() -> None:
    with pytest.raises(ReportCapReached):
        ensure_report_quota(3, None, now=NOW, cap=3)


def test_user_cannot_confirm_a_hazard_they_reported() -> None:
    me, other = uuid.uuid4(), uuid.uuid4()
    with pytest.raises(OwnReportConfirmation) as caught:
        ensure_can_confirm(me, {other, me})
    assert isinstance(caught.value, Forbidden)


def test_user_can_confirm_a_hazard_reported_by_others() -> None:
    ensure_can_confirm(uuid.uuid4(), {uuid.uuid4(), uuid.uuid4()})


@pytest.mark.parametrize("status", sorted(ACTIVE_STATUSES))
def test_active_hazard_accepts_confirmations(status: HazardStatus) -> None:
    ensure_accepts_confirmations(status)


@pytest.mark.parametrize("status", [S.RESOLVED, S.REJECTED])
def test_closed_hazard_refuses_confirmations_with_a_conflict(status: HazardStatus) -> None:
    with pytest.raises(HazardClosed) as caught:
        ensure_accepts_confirmations(status)
    assert isinstance(caught.value, Conflict)


def test_a_report_may_be_observed_within_the_upload_window_only() -> None:
    now = datetime(2026, 3, 10, 9, 30, 42, tzinfo=UTC)
    assert observed_minute(now - timedelta(days=7), now) == datetime(2026, 3, 3, 9, 30, tzinfo=UTC)
    assert observed_minute(None, now) == datetime(2026, 3, 10, 9, 30, tzinfo=UTC)
    for moment in (now - timedelta(days=7, seconds=1), now - timedelta(days=30), now + timedelta(minutes=6)):
        with pytest.raises(InvalidHazardInput) as refused:
            observed_minute(moment, now)
        assert refused.value.field == "observedAt"
        assert "7 days" in refused.value.detail
