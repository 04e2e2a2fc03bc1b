"""Throughput of geo.process_trace against the floor set by h3 itself.

Run: ``.venv/bin/python bench/pipeline.py [--rides N] [--repeat R] [--mode bike]``.
Simulated 30-minute, 1 800-point rides go through the whole pipeline; in the
same run, a bare ``h3.latlng_to_cell`` loop over the same points gives the
reference. The target is a ratio >= 0.5 (the pipeline costs at most twice a
bare snap). Prints figures only; timings are best-of-R to damp noise.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import h3

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from domain.rides.rules import process_trace
from geo.points import TracePoint
from geo.simulator import simulate_ride, street_grid

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def best_of(repeat: int, *works: Callable[[], object]) -> list[float]:
    """The best time of each work over `repeat` rounds, the works taking turns within every round.

    Turns, not one work's rounds after the other's: this shared machine's
    speed changes by up to 2x from one second to the next, and a ratio is
    only fair when both sides ran under the same conditions.
    """
    best = [float("inf")] * len(works)
    for _ in range(repeat):
        for i, work in enumerate(works):
            start = time.perf_counter()
            work()
            best[i] = min(best[i], time.perf_counter() - start)
    return best


def bare_loop(rides: list[tuple[TracePoint, ...]]) -> None:
    to_cell = h3.latlng_to_cell
    for points in rides:
        for p in points:
            to_cell(p.lat, p.lon, 10)


def pipeline(rides: list[tuple[TracePoint, ...]]) -> None:
    for points in rides:
        process_trace(points, now=NOW, trim_radius_m=200.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rides", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--mode", choices=["walk", "bike", "car"], default="bike")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    grid = street_grid()
    rng = random.Random(args.seed)
    rides = [
        simulate_ride(rng, mode=args.mode, duration_s=1800, streets=grid).points for _ in range(args.rides)
    ]
    n_points = sum(len(r) for r in rides)
    pipeline(rides[:2])  # warm caches and imports

    bare, full = best_of(args.repeat, lambda: bare_loop(rides), lambda: pipeline(rides))
    print(f"rides: {len(rides)} x 1800 points ({args.mode}), best of {args.repeat}")
    print(f"bare h3.latlng_to_cell loop: {n_points / bare:12,.0f} points/s")
    per_ride_ms = full / len(rides) * 1e3
    print(f"process_trace:               {n_points / full:12,.0f} points/s  ({per_ride_ms:.2f} ms/ride)")
    print(f"ratio (pipeline / bare):     {bare / full:12.2f}   (target >= 0.5)")


if __name__ == "__main__":
    main()
