"""Packed per-segment columns read back exactly as the lists they replace."""

from __future__ import annotations

import numpy as np
import pytest

from geo.streets.packed import Names, Ragged, Runs

ROWS = [[4.47, 4.48], [4.5, 4.51, 4.52, 4.53], [0.1 + 0.2, 1e-9]]


def test_ragged_rows_read_back_bit_for_bit_by_index_and_by_iteration() -> None:
    packed = Ragged.of([np.array(r) for r in ROWS])
    assert len(packed) == 3
    for k, row in enumerate(ROWS):
        assert packed[k].tolist() == row
        assert packed[k - 3].tolist() == row
    assert [r.tolist() for r in packed] == ROWS
    assert packed.firsts.tolist() == [r[0] for r in ROWS]
    assert packed.lasts.tolist() == [r[-1] for r in ROWS]
    assert Ragged.of(packed) is packed
    with pytest.raises(IndexError):
        packed[3]


def test_ragged_refuses_offsets_that_do_not_cover_the_values() -> None:
    with pytest.raises(ValueError, match="offsets"):
        Ragged(np.zeros(3), np.array([0, 2]))


def test_names_keep_each_distinct_name_once_and_read_back_in_order() -> None:
    names = ["Main Road", None, "Main Road", "Avenue", None]
    packed = Names(names)
    assert list(packed) == names
    assert [packed[k] for k in range(len(names))] == names
    assert packed.table == ("Main Road", None, "Avenue")


def test_runs_give_back_each_rows_mapping_in_its_order() -> None:
    rows = [{622: 4.5, 17: 0.1, 5: 0.2}, {}, {17: 3.0}]
    packed = Runs(rows)
    assert len(packed) == 3
    assert list(packed) == rows
    for k, row in enumerate(rows):
        assert list(packed[k].items()) == list(row.items())  # same order: the same float sums
    assert sum(packed[0].values()) == sum(rows[0].values())
    with pytest.raises(IndexError):
        packed[-4]
