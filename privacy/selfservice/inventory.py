"""The inventory of personal data: every table that holds rows about a person.

GDPR articles 15, 17 and 20 (access, erasure, portability) are only as good
as this list. Each entry says how to find one user's rows (for the export)
and what erasure does to them:

- ``CASCADE``: the rows belong to the user and disappear with the account
  (the foreign key to ``app_user``, directly or through an owned parent,
  is ON DELETE CASCADE).
- ``UNLINK``: the rows are shared facts (an audit line, a class a teacher
  created) that must outlive the person; erasure nulls the link
  (ON DELETE SET NULL), so nothing references the person afterwards.

`uncovered(metadata)` reads the schema's foreign keys and names every table
that has a path to ``app_user`` but no entry here, or whose erase mode does
not match the schema: the completeness test fails on it, so a future table
cannot be forgotten.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

import sqlalchemy as sa

USER_TABLE = "app_user"


class Erase(StrEnum):
    CASCADE = "cascade"
    UNLINK = "unlink"


@dataclass(frozen=True)
class PersonalTable:
    """How one table's rows about user ``:uid`` are found and what erasure does to them.

    ``where`` is a SQL condition on the table (alias-free, parameter ``:uid``).
    ``redact`` names columns never exported: secrets that protect the user
    (password and token hashes, the trimming seed), not data about them.
    """

    name: str
    where: str
    erase: Erase
    order_by: str = ""
    redact: frozenset[str] = field(default_factory=frozenset)
    why: str = ""


INVENTORY: tuple[PersonalTable, ...] = (
    PersonalTable(
        "app_user",
        "id = :uid",
        Erase.CASCADE,
        redact=frozenset({"password_hash", "privacy_seed"}),
        why="the account: handle, nickname, role, birth year",
    ),
    PersonalTable("consent_record", "user_id = :uid", Erase.CASCADE, "recorded_at", why="consent history"),
    PersonalTable(
        "refresh_token",
        "user_id = :uid",
        Erase.CASCADE,
        "created_at",
        redact=frozenset({"token_hash"}),
        why="login sessions (metadata only)",
    ),
    PersonalTable(
        "idempotency_record", "user_id = :uid", Erase.CASCADE, "created_at", why="answers kept for retries"
    ),
    PersonalTable("privacy_zone", "user_id = :uid", Erase.CASCADE, "created_at", why="privacy zones"),
    PersonalTable("ride", "user_id = :uid", Erase.CASCADE, "started_at", why="ride summaries"),
    PersonalTable(
        "ride_cell",
        "ride_id IN (SELECT id FROM ride WHERE user_id = :uid)",
        Erase.CASCADE,
        "ride_id, seq",
        why="the cell path of each ride",
    ),
    PersonalTable(
        "cell_exposure", "user_id = :uid", Erase.CASCADE, "day, cell", why="per-day exposure contributions"
    ),
    PersonalTable(
        "cell_transition",
        "user_id = :uid",
        Erase.CASCADE,
        "day, from_cell, to_cell",
        why="per-day flow contributions",
    ),
    PersonalTable("hazard_report", "user_id = :uid", Erase.CASCADE, "created_at", why="hazard reports"),
    PersonalTable(
        "hazard_confirmation", "user_id = :uid", Erase.CASCADE, "created_at", why="confirmations and disputes"
    ),
    PersonalTable(
        "hazard_status_change",
        "changed_by = :uid",
        Erase.UNLINK,
        "changed_at",
        why="triage done as a planner",
    ),
    PersonalTable("school_staff", "user_id = :uid", Erase.CASCADE, why="schools the user teaches at"),
    PersonalTable("class_membership", "user_id = :uid", Erase.CASCADE, why="class membership"),
    PersonalTable(
        "school_class", "created_by = :uid", Erase.UNLINK, "created_at", why="classes created as a teacher"
    ),
    PersonalTable(
        "guardian_code",
        "child_id = :uid",
        Erase.CASCADE,
        "created_at",
        redact=frozenset({"code_hash"}),
        why="guardian codes issued for the user",
    ),
    PersonalTable("points_entry", "user_id = :uid", Erase.CASCADE, "created_at", why="points ledger"),
    PersonalTable("badge_award", "user_id = :uid", Erase.CASCADE, "awarded_at", why="badges"),
    PersonalTable(
        "explorer_area",
        "user_id = :uid",
        Erase.CASCADE,
        "resolution, area",
        why="neighbourhoods (about 0.7 km²) one's rides passed through, until the explorer badge is earned",
    ),
    PersonalTable(
        "points_period_total",
        "user_id = :uid",
        Erase.CASCADE,
        "period, starts_on",
        why="points per week and month (the ledger summed, for leaderboards)",
    ),
    PersonalTable(
        "challenge_total",
        "user_id = :uid",
        Erase.CASCADE,
        "challenge_id",
        why="qualifying rides in each challenge's window (the rides summed, for its standings)",
    ),
    PersonalTable("challenge", "created_by = :uid", Erase.UNLINK, "created_at", why="challenges created"),
    PersonalTable(
        "export_audit", "actor_id = :uid", Erase.UNLINK, "started_at", why="exports made as a planner"
    ),
    PersonalTable(
        "privacy_release",
        "actor_id = :uid",
        Erase.UNLINK,
        "created_at",
        why="privacy releases asked for as a planner",
    ),
)

BY_NAME = {entry.name: entry for entry in INVENTORY}


def _user_links(table: sa.Table) -> list[sa.ForeignKey]:
    return [fk for fk in table.foreign_keys if fk.column.table.name == USER_TABLE]


def owned_tables(metadata: sa.MetaData) -> set[str]:
    """Tables whose rows die with a user: a CASCADE key to app_user, or to a table that is owned."""
    owned = {USER_TABLE}
    changed = True
    while changed:
        changed = False
        for table in metadata.tables.values():
            if table.name in owned:
                continue
            if any(
                fk.column.table.name in owned and (fk.ondelete or "").upper() == "CASCADE"
                for fk in table.foreign_keys
            ):
                owned.add(table.name)
                changed = True
    return owned


def linked_tables(metadata: sa.MetaData) -> set[str]:
    """Tables that point at a user without belonging to them (erasure nulls the link)."""
    return {
        table.name
        for table in metadata.tables.values()
        if any((fk.ondelete or "").upper() == "SET NULL" for fk in _user_links(table))
    }


def uncovered(metadata: sa.MetaData, inventory: Iterable[PersonalTable] = INVENTORY) -> list[str]:
    """Every way the schema and the inventory disagree, as sentences; empty when complete."""
    entries = {entry.name: entry for entry in inventory}
    owned, linked = owned_tables(metadata), linked_tables(metadata)
    problems: list[str] = []
    for table in metadata.tables.values():
        for fk in _user_links(table):
            if (fk.ondelete or "").upper() not in ("CASCADE", "SET NULL"):
                problems.append(
                    f"{table.name}.{fk.parent.name} references app_user without ON DELETE CASCADE or "
                    "SET NULL: erasing a user would fail or leave a reference"
                )
    for name in sorted(owned | linked):
        entry = entries.get(name)
        expected = Erase.CASCADE if name in owned else Erase.UNLINK
        if entry is None:
            problems.append(
                f"{name} holds personal data but is missing from privacy.selfservice.inventory.INVENTORY"
            )
        elif entry.erase is not expected:
            problems.append(f"{name}: inventory says erase={entry.erase}, the schema does {expected}")
    for name in sorted(set(entries) - owned - linked):
        if name not in metadata.tables:
            problems.append(f"{name} is in the inventory but not in the schema")
        else:
            problems.append(f"{name} is in the inventory but has no path to app_user")
    return problems
