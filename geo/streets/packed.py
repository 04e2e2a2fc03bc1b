"""Per-segment columns packed flat: a country's millions of segments as a few arrays, not millions of objects.

A numpy array costs about 100 bytes of header before its data and a Python string about
50 before its text, so a network kept as one small array per segment and one string per
segment name spends more on headers than on coordinates (docs/streets.md, "Memory").
:class:`Ragged` keeps every segment's values in one array with offsets, :class:`Runs`
every segment's cells and metres so; :class:`Names` keeps each distinct name once. They read
like the lists they replace: ``rows[s]`` is segment ``s``'s array (a view), cells (a dict made
on reading) or name.
"""

from __future__ import annotations

import itertools
from array import array
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import overload

import numpy as np
import numpy.typing as npt

from geo.points import FloatArray

IntArray = npt.NDArray[np.int64]
Int32Array = npt.NDArray[np.int32]


class Ragged(Sequence[FloatArray]):
    """Rows of different lengths in one float64 array: row ``i`` is ``values[offsets[i]:offsets[i + 1]]``."""

    __slots__ = ("offsets", "values")

    def __init__(self, values: FloatArray, offsets: IntArray) -> None:
        if offsets.ndim != 1 or offsets.size == 0 or offsets[0] != 0 or offsets[-1] != values.size:
            raise ValueError("offsets must start at 0 and end at the number of values")
        self.values: FloatArray = np.asarray(values, dtype=np.float64)
        self.offsets: IntArray = np.asarray(offsets, dtype=np.int64)

    @classmethod
    def of(cls, rows: Sequence[FloatArray] | Sequence[Sequence[float]]) -> Ragged:
        """From per-row arrays or lists; a :class:`Ragged` is returned as it is."""
        if isinstance(rows, Ragged):
            return rows
        lengths = np.fromiter((len(r) for r in rows), np.int64, len(rows))
        offsets = np.zeros(lengths.size + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        values = np.fromiter(itertools.chain.from_iterable(rows), np.float64, int(offsets[-1]))
        return cls(values, offsets)

    @property
    def firsts(self) -> FloatArray:
        """Every row's first value (rows are never empty here)."""
        out: FloatArray = self.values[self.offsets[:-1]]
        return out

    @property
    def lasts(self) -> FloatArray:
        out: FloatArray = self.values[self.offsets[1:] - 1]
        return out

    def __len__(self) -> int:
        return int(self.offsets.size) - 1

    @overload
    def __getitem__(self, i: int) -> FloatArray: ...
    @overload
    def __getitem__(self, i: slice) -> list[FloatArray]: ...
    def __getitem__(self, i: int | slice) -> FloatArray | list[FloatArray]:
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        n = len(self)
        k = int(i) + n if i < 0 else int(i)
        if not 0 <= k < n:
            raise IndexError(f"row {i} of {n}")
        return self.values[self.offsets[k] : self.offsets[k + 1]]

    def __iter__(self) -> Iterator[FloatArray]:
        values, offsets = self.values, self.offsets.tolist()
        return (values[a:b] for a, b in itertools.pairwise(offsets))


class Names(Sequence[str | None]):
    """One optional string per segment, each distinct one stored once (``table[codes[s]]``)."""

    __slots__ = ("codes", "table")

    def __init__(self, names: Iterable[str | None]) -> None:
        index: dict[str | None, int] = {}
        codes = [index.setdefault(name, len(index)) for name in names]
        self.table: tuple[str | None, ...] = tuple(index)
        self.codes: Int32Array = np.asarray(codes, dtype=np.int32)

    def __len__(self) -> int:
        return int(self.codes.size)

    @overload
    def __getitem__(self, i: int) -> str | None: ...
    @overload
    def __getitem__(self, i: slice) -> list[str | None]: ...
    def __getitem__(self, i: int | slice) -> str | list[str | None] | None:
        if isinstance(i, slice):
            return [self.table[c] for c in self.codes[i].tolist()]
        return self.table[int(self.codes[i])]

    def __iter__(self) -> Iterator[str | None]:
        table = self.table
        return (table[c] for c in self.codes.tolist())


class Runs(Sequence[dict[int, float]]):
    """Per row an ordered mapping of int keys to floats (a segment's H3 cells and its metres in each),
    packed: row ``i`` is ``keys``/``values`` from ``offsets[i]`` to ``offsets[i + 1]``. ``rows[i]``
    builds the row's dict again, in the order it was packed (sums over it come out the same)."""

    __slots__ = ("keys", "offsets", "values")

    def __init__(self, rows: Iterable[Mapping[int, float]]) -> None:
        keys, values, offsets = array("q"), array("d"), array("q", [0])
        for row in rows:
            keys.extend(row.keys())
            values.extend(row.values())
            offsets.append(len(keys))
        self.keys: IntArray = np.array(keys, dtype=np.int64)
        self.values: FloatArray = np.array(values, dtype=np.float64)
        self.offsets: IntArray = np.array(offsets, dtype=np.int64)

    def __len__(self) -> int:
        return int(self.offsets.size) - 1

    @overload
    def __getitem__(self, i: int) -> dict[int, float]: ...
    @overload
    def __getitem__(self, i: slice) -> list[dict[int, float]]: ...
    def __getitem__(self, i: int | slice) -> dict[int, float] | list[dict[int, float]]:
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        n = len(self)
        k = int(i) + n if i < 0 else int(i)
        if not 0 <= k < n:
            raise IndexError(f"row {i} of {n}")
        a, b = int(self.offsets[k]), int(self.offsets[k + 1])
        return dict(zip(self.keys[a:b].tolist(), self.values[a:b].tolist(), strict=True))

    def __iter__(self) -> Iterator[dict[int, float]]:
        keys, values = self.keys.tolist(), self.values.tolist()
        return (
            dict(zip(keys[a:b], values[a:b], strict=True))
            for a, b in itertools.pairwise(self.offsets.tolist())
        )
