"""Gamification as stored: the points ledger, earned badges and challenges (docs/gamification.md).

The ledger is append-only and keyed by ``(user, reason, source)``: every award
is an ``INSERT ... ON CONFLICT DO NOTHING`` against that unique key, so a
retried transaction, a replayed upload or two workers racing can never award
twice. Entries and badges belong to the user and cascade with the account; a
challenge outlives its author (``created_by`` is set to NULL) but goes with
the class or school it is about.

``day`` is the local (Europe/Brussels) calendar day an entry counts for: the
ride's start day for ride points, the day of the event otherwise. Daily caps
and the week/month leaderboards read it, so both agree with the city's calendar.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from domain.core.columns import id_field, timestamp, user_fk
from domain.rides.tables import Ride
from gamification.leaderboards.rules import ChallengeMetric
from gamification.points.rules import AwardReason
from privacy.tables import ConsentRecord

SOURCE_MAX = 64
CHALLENGE_NAME_MAX = 80
SCOPES = ("class", "school", "city")


def _in(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


class PointsEntry(SQLModel, table=True):
    """One award. Never updated; deleted only with its cause (a ride) or its owner."""

    __tablename__ = "points_entry"
    __table_args__ = (
        sa.UniqueConstraint("user_id", "reason", "source", name="uq_points_entry_award"),
        sa.CheckConstraint(
            f"reason IN ({_in(tuple(r.value for r in AwardReason))})", name="ck_points_reason"
        ),
        sa.CheckConstraint("amount > 0", name="ck_points_amount"),
        # period leaderboards: an index-only range scan over the period's entries
        sa.Index("ix_points_entry_day_user", "day", "user_id", postgresql_include=["amount"]),
    )

    id: uuid.UUID = id_field()
    user_id: uuid.UUID = user_fk(index=False)
    amount: int
    reason: str = Field(max_length=24)
    source: str = Field(max_length=SOURCE_MAX)
    day: date
    created_at: datetime = timestamp()


class BadgeAward(SQLModel, table=True):
    """A badge a user holds; the primary key makes it impossible to earn twice."""

    __tablename__ = "badge_award"

    user_id: uuid.UUID = Field(
        sa_column=sa.Column(sa.Uuid(), sa.ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True)
    )
    code: str = Field(max_length=32, primary_key=True)
    awarded_at: datetime = timestamp()


class ExplorerArea(SQLModel, table=True):
    """An area (the H3 cell at an explorer badge's resolution) that a user's qualifying rides
    passed through, and how many of them did.

    Counting distinct areas over every stored cell of a rider's history cost
    an upload 11.7 ms after 300 rides, 40.9 ms after 1,000. This set is kept
    by the upload and the ride deletion instead, and only while an explorer
    badge at that resolution is still to earn: its rows go when it is earned.
    """

    __tablename__ = "explorer_area"
    __table_args__ = (sa.CheckConstraint("rides > 0", name="ck_explorer_area_rides"),)

    user_id: uuid.UUID = Field(
        sa_column=sa.Column(sa.Uuid(), sa.ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True)
    )
    resolution: int = Field(primary_key=True, sa_type=sa.SmallInteger)
    area: int = Field(primary_key=True, sa_type=sa.BigInteger)
    rides: int


def _nullable_fk(table: str) -> sa.Column[uuid.UUID]:
    return sa.Column(sa.Uuid(), sa.ForeignKey(f"{table}.id", ondelete="CASCADE"), nullable=True, index=True)


class Challenge(SQLModel, table=True):
    """A challenge for a class, a school or the whole city, over ``[starts_at, ends_at)``.

    A class challenge also carries the class's school, so "the challenges of my
    school" is one indexed lookup and a teacher's rights are checked once.
    """

    __tablename__ = "challenge"
    __table_args__ = (
        sa.CheckConstraint(f"scope IN ({_in(SCOPES)})", name="ck_challenge_scope"),
        sa.CheckConstraint(
            f"metric IN ({_in(tuple(m.value for m in ChallengeMetric))})", name="ck_challenge_metric"
        ),
        sa.CheckConstraint(
            "(scope = 'city' AND school_id IS NULL AND class_id IS NULL)"
            " OR (scope = 'school' AND school_id IS NOT NULL AND class_id IS NULL)"
            " OR (scope = 'class' AND school_id IS NOT NULL AND class_id IS NOT NULL)",
            name="ck_challenge_scope_ids",
        ),
        sa.CheckConstraint("ends_at > starts_at", name="ck_challenge_window"),
        sa.CheckConstraint("target IS NULL OR target > 0", name="ck_challenge_target"),
        sa.Index("ix_challenge_created_id", "created_at", "id"),
    )

    id: uuid.UUID = id_field()
    name: str = Field(default="", max_length=CHALLENGE_NAME_MAX)
    scope: str = Field(max_length=8)
    school_id: uuid.UUID | None = Field(default=None, sa_column=_nullable_fk("school"))
    class_id: uuid.UUID | None = Field(default=None, sa_column=_nullable_fk("school_class"))
    metric: str = Field(max_length=16)
    starts_at: datetime = timestamp(default_now=False)
    ends_at: datetime = timestamp(default_now=False)
    target: float | None = None
    created_by: uuid.UUID | None = Field(
        default=None,
        sa_column=sa.Column(sa.Uuid(), sa.ForeignKey("app_user.id", ondelete="SET NULL"), nullable=True),
    )
    created_at: datetime = timestamp()

    @property
    def scope_id(self) -> uuid.UUID | None:
        return self.class_id if self.scope == "class" else self.school_id


_RIDE = Ride.__table__.c  # type: ignore[attr-defined]
_CONSENT = ConsentRecord.__table__.c  # type: ignore[attr-defined]

ix_ride_qualifying_started = sa.Index(
    "ix_ride_qualifying_started",
    _RIDE.started_at,
    postgresql_include=["user_id", "distance_m"],
    postgresql_where=sa.text("NOT flagged AND mode IN ('walk', 'bike')"),
)
"""Challenge standings: the window's walked or cycled, unflagged rides without touching the table."""

ix_consent_record_purpose_user = sa.Index(
    "ix_consent_record_purpose_user",
    _CONSENT.purpose,
    _CONSENT.user_id,
    _CONSENT.recorded_at.desc(),
    _CONSENT.id.desc(),
    postgresql_include=["granted", "given_by"],
)
"""Leaderboards: the latest leaderboard record of every user in index order (DISTINCT ON), at read time."""


class PointsPeriodTotal(SQLModel, table=True):
    """A user's points of one local week (Monday first) or month: the ledger summed, kept by a trigger.

    The database maintains it in the transaction of every ledger INSERT or
    DELETE (cascades included), so it always equals the GROUP BY it replaces;
    a row whose amount falls to zero is deleted. ``class_id`` and ``citizen``
    place the user in the rosters (kept by a trigger on class_membership), so
    team standings group these rows instead of joining every member.
    Migration 0008 holds the triggers; never write these rows from Python.
    """

    __tablename__ = "points_period_total"
    __table_args__ = (
        sa.CheckConstraint("period IN ('week', 'month')", name="ck_points_period_total_period"),
        sa.CheckConstraint("amount > 0", name="ck_points_period_total_amount"),
    )

    user_id: uuid.UUID = Field(
        sa_column=sa.Column(sa.Uuid(), sa.ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True)
    )
    period: str = Field(max_length=5, primary_key=True)
    starts_on: date = Field(primary_key=True)
    class_id: uuid.UUID | None = None
    citizen: bool
    amount: int


class ChallengeTotal(SQLModel, table=True):
    """One participant's figures in one challenge: qualifying rides in its window, kept by triggers.

    Qualifying as ``gamification.badges.store.qualifying_sql`` with the default
    ``min_trip_m`` (300 m). ``value`` is the figure of the challenge's metric
    (km, trips, or active local days). Only members of the challenge's scope
    have rows. Migration 0009 holds the triggers: a ride's INSERT, DELETE or
    UPDATE (flag, mode, distance, start) recomputes its owner's rows of the
    challenges whose window holds it, a class move all of the user's rows, a
    new challenge is filled from the rides already in its window. Never write
    these rows from Python.
    """

    __tablename__ = "challenge_total"
    __table_args__ = (sa.CheckConstraint("trips > 0 AND active_days > 0", name="ck_challenge_total_counts"),)

    challenge_id: uuid.UUID = Field(
        sa_column=sa.Column(sa.Uuid(), sa.ForeignKey("challenge.id", ondelete="CASCADE"), primary_key=True)
    )
    user_id: uuid.UUID = Field(
        sa_column=sa.Column(sa.Uuid(), sa.ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True)
    )
    class_id: uuid.UUID | None = None
    citizen: bool
    distance_m: float
    trips: int
    active_days: int
    value: float
    paid: bool = False
    """Has the challenge's completion points (set when a reached challenge's standings are read)."""


_POINTS_TOTAL = PointsPeriodTotal.__table__.c  # type: ignore[attr-defined]
_CHALLENGE_TOTAL = ChallengeTotal.__table__.c  # type: ignore[attr-defined]

ix_points_period_total_rank = sa.Index(
    "ix_points_period_total_rank",
    _POINTS_TOTAL.period,
    _POINTS_TOTAL.starts_on,
    _POINTS_TOTAL.amount.desc(),
    postgresql_include=["user_id", "class_id", "citizen"],
)
"""City leaderboards: the period's users best first, walked until enough of them consent."""

ix_points_period_total_class = sa.Index(
    "ix_points_period_total_class",
    _POINTS_TOTAL.period,
    _POINTS_TOTAL.starts_on,
    _POINTS_TOTAL.class_id,
    postgresql_include=["user_id", "citizen", "amount"],
)
"""Team figures (grouped by class) and the rows of one class or school."""

ix_challenge_total_rank = sa.Index(
    "ix_challenge_total_rank",
    _CHALLENGE_TOTAL.challenge_id,
    _CHALLENGE_TOTAL.value.desc(),
    postgresql_include=["user_id", "class_id", "citizen"],
)
"""A challenge's standings: its participants best first, team figures grouped by class."""

ix_challenge_total_user = sa.Index("ix_challenge_total_user", _CHALLENGE_TOTAL.user_id)
"""Recomputing one user's rows, and the cascade when an account is erased."""

ix_challenge_total_unpaid = sa.Index(
    "ix_challenge_total_unpaid", _CHALLENGE_TOTAL.challenge_id, postgresql_where=sa.text("NOT paid")
)
"""A reached challenge's participants still without its completion points: usually none."""
