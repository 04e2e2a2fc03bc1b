"""`domain.core.sql.sql`: named parameters become asyncpg's numbered ones, casts stay as they are."""

import pytest

from domain.core.sql import sql


def test_each_name_gets_one_number_in_first_use_order() -> None:
    statement = sql("SELECT * FROM ride WHERE user_id = :user_id AND day = :day OR owner = :user_id")
    assert statement.text == "SELECT * FROM ride WHERE user_id = $1 AND day = $2 OR owner = $1"
    assert statement.names == ("user_id", "day")
    assert statement.args({"day": "d", "user_id": "u", "unused": 1}) == ["u", "d"]


def test_casts_and_timestamps_are_not_parameters() -> None:
    statement = sql("SELECT count(*)::int, CAST(:cells AS bigint[]), '12:30'::time, :n")
    assert statement.text == "SELECT count(*)::int, CAST($1 AS bigint[]), '12:30'::time, $2"
    assert statement.names == ("cells", "n")


def test_a_missing_parameter_is_named() -> None:
    statement = sql("UPDATE t SET a = :a WHERE id = :id")
    with pytest.raises(KeyError, match="missing SQL parameters: id"):
        statement.args({"a": 1})
