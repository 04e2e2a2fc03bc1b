"""Streaming GeoJSON heatmap export against the floor of h3 boundaries plus ``json.dumps``.

Run: ``.venv/bin/python bench/heatmap.py [--cells 100000] [--repeat 3]``.

Cells around Mechelen (res 10, a ``grid_disk``) get danger-like values and go
through ``geo.export.geojson_cells`` into a null sink. The baseline, in the
same run, is the naive export of the same rows: ``h3.cell_to_boundary`` per
cell, a list of feature dicts, one ``json.dumps`` of the whole collection.
Target: ratio (baseline time / export time) >= 0.5, and a peak memory that
stays flat from 10k to 100k cells (the baseline's grows with the export).

The rows are an iterator of ``(cell, properties)``: the database step will
feed the query's cursor in their place. Prints figures only; times are
best-of-R without tracemalloc, memory is measured in a separate pass.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import h3

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from geo.export import geojson_cells

Props = dict[str, float | int]
MECHELEN = (51.03, 4.48)


def synthesise(n: int) -> list[tuple[str, Props]]:
    centre = h3.latlng_to_cell(*MECHELEN, 10)
    k = 1
    while 3 * k * (k + 1) + 1 < n:
        k += 1
    cells = sorted(h3.grid_disk(centre, k))[:n]
    return [
        (c, {"danger": round((i * 37) % 1000 / 10, 1), "rides": i % 500, "contributors": 5 + i % 40})
        for i, c in enumerate(cells)
    ]


def export_streaming(rows: list[tuple[str, Props]]) -> int:
    size = 0
    for chunk in geojson_cells(iter(rows)):
        size += len(chunk)
    return size


def export_baseline(rows: list[tuple[str, Props]]) -> int:
    features = []
    for cell, props in rows:
        ring = [[lng, lat] for lat, lng in h3.cell_to_boundary(cell)]
        ring.append(ring[0])
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Polygon", "coordinates": [ring]},
                "properties": {"h3": cell, **props},
            }
        )
    return len(json.dumps({"type": "FeatureCollection", "features": features}).encode())


def best_of(repeat: int, work: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return best


def peak_mib(work: Callable[[], object]) -> float:
    tracemalloc.start()
    try:
        work()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 2**20


def report(name: str, n: int, seconds: float, mib: float) -> None:
    print(f"  {name:<24} {seconds * 1e3:8.0f} ms  {n / seconds:10,.0f} cells/s  peak {mib:7.2f} MiB")


def sizes(total: int) -> Iterator[int]:
    yield from sorted({min(10_000, total), total})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cells", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    all_rows = synthesise(args.cells)
    export_streaming(all_rows[:1000])  # warm imports and caches
    print(f"cells (res 10 around Mechelen): {len(all_rows):,}")
    for n in sizes(len(all_rows)):
        rows = all_rows[:n]
        stream_s = best_of(args.repeat, partial(export_streaming, rows))
        base_s = best_of(args.repeat, partial(export_baseline, rows))
        stream_mib = peak_mib(partial(export_streaming, rows))
        base_mib = peak_mib(partial(export_baseline, rows))
        out_mib = export_streaming(rows) / 2**20
        print(f"\n{n:,} cells, {out_mib:.1f} MiB of GeoJSON, best of {args.repeat}")
        report("streaming geojson_cells", n, stream_s, stream_mib)
        report("baseline json.dumps", n, base_s, base_mib)
        print(f"  ratio (baseline / streaming time): {base_s / stream_s:.2f}   (target >= 0.5)")


if __name__ == "__main__":
    main()
