"""Wire types of the schools API and how domain results are shaped into them.

A teacher's view of a class carries nicknames and counts only: no handle, no
birth year and no id of any child (docs/schools.md, "What teachers see").
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import msgspec

from api.wire import NOT_BLANK, Out, Strict
from domain.schools import service as school_service
from domain.schools.tables import CLASS_NAME_MAX, SCHOOL_NAME_MAX, School

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=SCHOOL_NAME_MAX, pattern=NOT_BLANK)]
ClassName = Annotated[str, msgspec.Meta(min_length=1, max_length=CLASS_NAME_MAX, pattern=NOT_BLANK)]
Code = Annotated[
    str, msgspec.Meta(min_length=4, max_length=32, description="as typed; case and dashes ignored")
]


class SchoolCreate(Strict):
    name: Name
    lat: Annotated[float, msgspec.Meta(ge=-90, le=90)]
    lon: Annotated[float, msgspec.Meta(ge=-180, le=180)]


class SchoolOut(Out):
    id: uuid.UUID
    name: str
    lat: float
    lon: float
    created_at: datetime


class ClassCreate(Strict):
    name: ClassName


class ClassCreated(Out):
    id: uuid.UUID
    school_id: uuid.UUID
    name: str
    join_code: str
    join_code_expires_at: datetime


class JoinCodeOut(Out):
    join_code: str
    expires_at: datetime


class JoinRequest(Strict):
    join_code: Code


class Joined(Out):
    class_id: uuid.UUID
    class_name: str
    school_name: str
    guardian_code: str | None = None
    guardian_code_expires_at: datetime | None = None


class Member(Out):
    nickname: str


class ClassOut(Out):
    id: uuid.UUID
    school_id: uuid.UUID
    name: str
    created_at: datetime
    member_count: int
    members: list[Member]
    guardian_consent_needed: int
    guardian_consent_given: int
    join_code_active: bool
    join_code_expires_at: datetime | None


def school_out(school: School) -> SchoolOut:
    return SchoolOut(
        id=school.id, name=school.name, lat=school.lat, lon=school.lon, created_at=school.created_at
    )


def joined_out(joined: school_service.Joined) -> Joined:
    code = joined.guardian_code
    return Joined(
        class_id=joined.school_class.id,
        class_name=joined.school_class.name,
        school_name=joined.school.name,
        guardian_code=code.code if code else None,
        guardian_code_expires_at=code.expires_at if code else None,
    )


def class_out(view: school_service.ClassView) -> ClassOut:
    school_class = view.school_class
    return ClassOut(
        id=school_class.id,
        school_id=school_class.school_id,
        name=school_class.name,
        created_at=school_class.created_at,
        member_count=len(view.nicknames),
        members=[Member(nickname=n) for n in view.nicknames],
        guardian_consent_needed=view.guardian_consent_needed,
        guardian_consent_given=view.guardian_consent_given,
        join_code_active=view.join_code_expires_at is not None,
        join_code_expires_at=view.join_code_expires_at,
    )
