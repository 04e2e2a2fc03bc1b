"""The closed vocabularies of SafeRoutes."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    CITIZEN = "citizen"
    TEACHER = "teacher"
    PLANNER = "planner"
    ADMIN = "admin"


class ConsentPurpose(StrEnum):
    RIDE_TRACKING = "ride_tracking"
    HAZARD_REPORTING = "hazard_reporting"
    LEADERBOARD = "leaderboard"
    RESEARCH_SHARING = "research_sharing"


class ConsentGiver(StrEnum):
    """Who gave a consent record: the user, or a guardian for a child under 13."""

    SELF = "self"
    GUARDIAN = "guardian"
