"""The inventory of personal data agrees with the schema, and says so when a table is forgotten."""

from __future__ import annotations

import sqlalchemy as sa

from domain.schema import metadata
from privacy.selfservice.inventory import (
    INVENTORY,
    Erase,
    PersonalTable,
    linked_tables,
    owned_tables,
    uncovered,
)


def _schema_copy() -> sa.MetaData:
    copy = sa.MetaData()
    for table in metadata.sorted_tables:
        table.to_metadata(copy)
    return copy


def test_every_personal_table_is_covered_by_export_and_erase() -> None:
    assert uncovered(metadata) == []


def test_a_new_table_about_users_that_nobody_registered_is_caught() -> None:
    schema = _schema_copy()
    sa.Table(
        "pet_tracker",
        schema,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("user_id", sa.Uuid, sa.ForeignKey("app_user.id", ondelete="CASCADE")),
    )
    problems = uncovered(schema)
    assert problems == [
        "pet_tracker holds personal data but is missing from privacy.selfservice.inventory.INVENTORY"
    ]


def test_a_table_owned_through_another_owned_table_is_caught_too() -> None:
    schema = _schema_copy()
    sa.Table(
        "ride_photo",
        schema,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("ride_id", sa.Uuid, sa.ForeignKey("ride.id", ondelete="CASCADE")),
    )
    assert "ride_photo" in owned_tables(schema)
    assert any(p.startswith("ride_photo holds personal data") for p in uncovered(schema))


def test_a_reference_to_a_user_that_would_block_erasure_is_caught() -> None:
    schema = _schema_copy()
    sa.Table(
        "loose_note",
        schema,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("author", sa.Uuid, sa.ForeignKey("app_user.id")),
    )
    inventory = (*INVENTORY, PersonalTable("loose_note", "author = :uid", Erase.UNLINK))
    assert any("loose_note.author references app_user without" in p for p in uncovered(schema, inventory))


def test_the_inventory_must_say_what_erasure_really_does() -> None:
    wrong = tuple(PersonalTable(e.name, e.where, Erase.UNLINK) if e.name == "ride" else e for e in INVENTORY)
    assert uncovered(metadata, wrong) == ["ride: inventory says erase=unlink, the schema does cascade"]


def test_shared_facts_are_unlinked_not_owned() -> None:
    assert {"export_audit", "hazard_status_change", "school_class"} <= linked_tables(metadata)
    assert "class_join_code" not in owned_tables(metadata) | linked_tables(metadata)
