"""Schools and classes: creating them, join codes, joining, and what a teacher may see.

Who may act on a class is decided here, once: an admin, or a teacher on the
staff of the class's school. Anyone else is told the class does not exist
(404), so class ids cannot be probed. Schools are public, so a teacher of
another school is told 403 there. Each use case that changes something commits
once.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from domain.accounts import service as accounts
from domain.accounts.tables import User
from domain.core.codes import JOIN_CODE_LENGTH, CodeHasher, IssuedCode, new_code
from domain.core.enums import ConsentGiver, Role
from domain.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from domain.schools.tables import ClassJoinCode, ClassMembership, School, SchoolClass, SchoolStaff
from privacy.consent.rules import is_child, purpose_states
from privacy.guardians import service as guardian
from privacy.tables import ConsentRecord

JOIN_CODE_TTL = timedelta(days=30)
HASH_PURPOSE = "join"
_JOIN = ClassJoinCode.__table__.c  # type: ignore[attr-defined]
_MEMBER = ClassMembership.__table__.c  # type: ignore[attr-defined]
_STAFF = SchoolStaff.__table__.c  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Joined:
    school_class: SchoolClass
    school: School
    guardian_code: IssuedCode | None


@dataclass(frozen=True)
class ClassView:
    """What a teacher sees of a class: nicknames and counts, nothing that identifies a child further."""

    school_class: SchoolClass
    nicknames: list[str]
    guardian_consent_needed: int
    guardian_consent_given: int
    join_code_expires_at: datetime | None


async def create_school(session: AsyncSession, *, name: str, lat: float, lon: float) -> School:
    school = School(name=name.strip(), lat=lat, lon=lon)
    session.add(school)
    await session.commit()
    return school


async def list_schools(
    session: AsyncSession, *, limit: int, after: tuple[datetime, uuid.UUID] | None = None
) -> list[School]:
    """Oldest first, keyset-paginated on (created_at, id): a planner finds the id a route report needs."""
    stmt = sa.select(School).order_by(col(School.created_at), col(School.id))
    if after is not None:
        stmt = stmt.where(sa.tuple_(col(School.created_at), col(School.id)) > sa.tuple_(*after))
    return list((await session.execute(stmt.limit(limit))).scalars())


async def add_teacher(session: AsyncSession, school_id: uuid.UUID, user: User) -> None:
    """Put a teacher on a school's staff (the CLI's `--school`); flushes, does not commit."""
    if Role(user.role) is not Role.TEACHER:
        raise InvalidInput("school", "Only teachers belong to a school's staff.", code="not-a-teacher")
    if await session.get(School, school_id) is None:
        raise NotFound(f"There is no school {school_id}.", code="school-not-found")
    session.add(SchoolStaff(school_id=school_id, user_id=user.id))
    await session.flush()


async def _is_staff(session: AsyncSession, user: User, school_id: uuid.UUID) -> bool:
    if Role(user.role) is Role.ADMIN:
        return True
    if Role(user.role) is not Role.TEACHER:
        return False
    query = sa.select(sa.exists().where(_STAFF.school_id == school_id, _STAFF.user_id == user.id))
    return bool((await session.execute(query)).scalar_one())


async def class_for_staff(session: AsyncSession, user: User, class_id: uuid.UUID) -> SchoolClass:
    school_class = await session.get(SchoolClass, class_id)
    if school_class is None or not await _is_staff(session, user, school_class.school_id):
        raise NotFound("There is no such class among yours.", code="class-not-found")
    return school_class


async def _new_join_code(
    session: AsyncSession, codes: CodeHasher, class_id: uuid.UUID, *, now: datetime
) -> IssuedCode:
    """Revoke the class's live codes and make a new one (retrying the rare collision)."""
    await session.execute(
        sa.update(ClassJoinCode)
        .where(_JOIN.class_id == class_id, _JOIN.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    expires_at = now + JOIN_CODE_TTL
    for _ in range(5):
        code = new_code(JOIN_CODE_LENGTH)
        row = ClassJoinCode(
            class_id=class_id, code_hash=codes.hash(HASH_PURPOSE, code), created_at=now, expires_at=expires_at
        )
        try:
            async with session.begin_nested():
                session.add(row)
        except IntegrityError:
            continue
        return IssuedCode(code=code, expires_at=expires_at)
    raise RuntimeError("could not draw an unused join code")  # pragma: no cover - 31^8 codes


async def create_class(
    session: AsyncSession, codes: CodeHasher, user: User, school_id: uuid.UUID, *, name: str, now: datetime
) -> tuple[SchoolClass, IssuedCode]:
    if await session.get(School, school_id) is None:
        raise NotFound(f"There is no school {school_id}.", code="school-not-found")
    if not await _is_staff(session, user, school_id):
        raise Forbidden("Only teachers of this school can create its classes.", code="not-school-staff")
    school_class = SchoolClass(school_id=school_id, name=name.strip(), created_by=user.id, created_at=now)
    session.add(school_class)
    await session.flush()
    issued = await _new_join_code(session, codes, school_class.id, now=now)
    await session.commit()
    return school_class, issued


async def rotate_join_code(
    session: AsyncSession, codes: CodeHasher, user: User, class_id: uuid.UUID, *, now: datetime
) -> IssuedCode:
    await class_for_staff(session, user, class_id)
    issued = await _new_join_code(session, codes, class_id, now=now)
    await session.commit()
    return issued


async def revoke_join_code(session: AsyncSession, user: User, class_id: uuid.UUID, *, now: datetime) -> None:
    """Nobody can join until a new code is made; members stay members."""
    await class_for_staff(session, user, class_id)
    await session.execute(
        sa.update(ClassJoinCode)
        .where(_JOIN.class_id == class_id, _JOIN.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    await session.commit()


async def live_join_code(
    session: AsyncSession, codes: CodeHasher, code: str, *, now: datetime
) -> ClassJoinCode | None:
    """The join code as stored, if `code` is one that can be used now (not revoked, not expired)."""
    query = sa.select(ClassJoinCode).where(_JOIN.code_hash == codes.hash(HASH_PURPOSE, code))
    row = (await session.execute(query)).scalar_one_or_none()
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        return None
    return row


async def _join(session: AsyncSession, codes: CodeHasher, user: User, code: str, *, now: datetime) -> Joined:
    if Role(user.role) is not Role.CITIZEN:
        raise Forbidden("Only pupils and citizens join classes.", code="join-not-allowed")
    if user.birth_year is None:
        raise InvalidInput(
            "birthYear",
            "Declare your birth year (PATCH /me) before joining a class: under 13 a guardian must consent.",
            code="birth-year-required",
        )
    row = await live_join_code(session, codes, code, now=now)
    if row is None:
        raise InvalidInput(
            "joinCode",
            "This join code is unknown, expired or revoked; ask your teacher for the current one.",
            code="invalid-join-code",
        )
    school_class = await session.get(SchoolClass, row.class_id)
    school = await session.get(School, school_class.school_id) if school_class else None
    if school_class is None or school is None:  # pragma: no cover - codes go with their class
        raise InvalidInput("joinCode", "This join code is unknown.", code="invalid-join-code")
    current = await session.get(ClassMembership, (school_class.id, user.id))
    if current is None:
        await session.execute(sa.delete(ClassMembership).where(_MEMBER.user_id == user.id))
        session.add(ClassMembership(class_id=school_class.id, user_id=user.id, joined_at=now))
        try:
            await session.flush()
        except IntegrityError as exc:  # the same user joining twice at once
            await session.rollback()
            raise Conflict("Another join of yours is in progress; retry.", code="join-in-progress") from exc
    issued = await guardian.code_for_new_member(session, codes, user, now=now)
    return Joined(school_class=school_class, school=school, guardian_code=issued)


async def join_class(
    session: AsyncSession, codes: CodeHasher, user: User, code: str, *, now: datetime
) -> Joined:
    """Join (or move to) the class of a live code; a child under 13 gets a guardian code back."""
    joined = await _join(session, codes, user, code, now=now)
    await session.commit()
    return joined


async def register_pupil(
    session: AsyncSession,
    config: accounts.AuthConfig,
    codes: CodeHasher,
    *,
    handle: str,
    password: str,
    birth_year: int | None,
    nickname: str | None,
    code: str,
    now: datetime,
) -> tuple[User, accounts.TokenPair, Joined]:
    """Register and join the class of `code` at once: both happen, or neither (one commit).

    The birth year is required, as for any join: under 13 nothing is
    collected until a guardian consents, with the guardian code returned here.
    """
    if birth_year is None:
        raise InvalidInput(
            "birthYear",
            "Give your birth year to join a class: under 13 a guardian must consent.",
            code="birth-year-required",
        )
    user, pair = await accounts.open_account(
        session, config, handle=handle, password=password, birth_year=birth_year, nickname=nickname
    )
    joined = await _join(session, codes, user, code, now=now)
    await session.commit()
    return user, pair, joined


async def issue_guardian_code(
    session: AsyncSession, codes: CodeHasher, user: User, *, now: datetime
) -> IssuedCode:
    """A new guardian code on the child's request (lost, or never joined a class); the old one dies."""
    issued = await guardian.issue_code(session, codes, user, now=now)
    await session.commit()
    return issued


async def _guardian_counts(session: AsyncSession, members: list[User], today: date) -> tuple[int, int]:
    children = [m for m in members if is_child(m.birth_year, today)]
    if not children:
        return 0, 0
    records = (
        await session.execute(
            sa.select(ConsentRecord).where(ConsentRecord.user_id.in_([c.id for c in children]))  # type: ignore[attr-defined]
        )
    ).scalars()
    by_user: dict[uuid.UUID, list[ConsentRecord]] = defaultdict(list)
    for record in records:
        by_user[record.user_id].append(record)
    given = sum(
        any(
            s.effective and s.given_by is ConsentGiver.GUARDIAN
            for s in purpose_states(by_user[c.id], child=True).values()
        )
        for c in children
    )
    return len(children) - given, given


async def class_view(session: AsyncSession, user: User, class_id: uuid.UUID, *, now: datetime) -> ClassView:
    school_class = await class_for_staff(session, user, class_id)
    members = list(
        (
            await session.execute(
                sa.select(User)
                .join(ClassMembership, _MEMBER.user_id == User.id)
                .where(_MEMBER.class_id == class_id)
                .order_by(User.nickname, User.id)  # type: ignore[arg-type]
            )
        ).scalars()
    )
    needed, given = await _guardian_counts(session, members, now.date())
    expires_at = (
        await session.execute(
            sa.select(sa.func.max(_JOIN.expires_at)).where(
                _JOIN.class_id == class_id, _JOIN.revoked_at.is_(None), _JOIN.expires_at > now
            )
        )
    ).scalar_one_or_none()
    return ClassView(
        school_class=school_class,
        nicknames=[m.nickname for m in members],
        guardian_consent_needed=needed,
        guardian_consent_given=given,
        join_code_expires_at=expires_at,
    )
