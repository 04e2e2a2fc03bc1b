"""What differential privacy costs the danger map: exact figures against a DP release, no database.

Run: ``.venv/bin/python bench/privacy_utility.py [--seed 0] [--people 300] [--rides 3000]
[--epsilon 1] [--sweep]``.

A city like the demo's (``geo.simulator.street_grid`` around Mechelen, four
weeks): people live at a junction, a quarter are pupils riding to one of
three schools, most adults ride to work (nearer the centre), and most rides
are commutes along one of the person's two usual routes (the rest go
somewhere random); traces are drawn at 1 Hz with a drifting GPS error and go
through ``geo.pipeline.process_trace`` (cleaning, classification, trimming,
snapping to res-10 cells). Hazards cluster at hotspots as in the demo, and 4 %
of bike rides report a near miss, which also files a (public) hazard report.

Then the exact per-person, per-cell aggregates (what ``cell_exposure`` holds)
go through ``privacy.release.rules`` at the release (base) resolution: bound,
release, coarsen to res 9 by summing released children; when the base is
coarser than a resolution shown, a released cell's figures are shared evenly
among its street cells (public geometry, so still post-processing). The
danger score of every cell is computed from the exact and from the released
figures. Hazards are public facts and the same on both sides; exposure and
near misses come from the release (cells not shown have none). Released near
misses are clamped to the cell's public hazard reports (every near miss
files one), which is post-processing with public data.

Printed per resolution, as mean ± sd over ``--repeats`` releases (OpenDP's
noise cannot be seeded): top-20 danger-cell overlap, Spearman rank
correlation of the danger score over the cells shown, mean absolute error of
the danger score over all cells with evidence and of the rides over the
cells shown, and the share of ridden cells shown. Two baselines frame them:
"hazards only" (nothing released) and "exact k=5" (today's rule, not private).
The top-20 overlap mostly measures the public hazards (the "hazards only"
baseline already reaches 0.85 for the demo, 0.95 for 3,000 people); the mean
absolute error of the danger score shows what the released exposure adds.

Recommended at epsilon = 1 a month, delta = 1e-6 (measured, 10 releases each):

- the demo's size (300 people, 3,000 rides): release at res 8, N=8, C=32,
  split 2/1/0 (the defaults). Res 10 and 9 show nothing at this size (tau is
  ~90-180 people, the busiest res-9 cell has ~110). Res 10: top-20 0.89,
  Spearman 0.94, MAE danger 1.31 (hazards only 1.97); res 9: top-20 0.87,
  MAE danger 2.9 (hazards only 6.7).
- 3,000 people, 30,000 rides: ``--base 9 --max-cells 32 --max-passes 16``.
  Res 10: top-20 0.95, Spearman 0.98, MAE danger 1.69 (hazards only 7.4),
  73 % of ridden cells shown; res 9: top-20 1.00, MAE danger 2.1, 64 % shown.
"""

from __future__ import annotations

import argparse
import itertools
import math
import random
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import h3.api.basic_int as h3i
from scipy.stats import spearmanr

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from domain.danger.rules import CellInputs, HazardInput, danger_score
from domain.hazards.rules import HazardStatus
from domain.rides.rules import process_trace
from geo.classify import TravelMode
from geo.errors import TraceError
from geo.points import EARTH_RADIUS_M, TracePoint
from geo.simulator import MECHELEN, StreetGrid, street_grid
from privacy.release.mechanism import FigureSplit, Released, ReleaseParams, calibrate, release_cells
from privacy.release.rules import Contribution, aggregate, bound_contributions, coarsen_cells

NOW = datetime(2026, 2, 1, tzinfo=UTC)
DAYS = 28
RIDE_RESOLUTION = 10  # cells as stored (cell_exposure)
TOP = 20
K_RULE = 5
_M_PER_DEG = EARTH_RADIUS_M * math.pi / 180.0
SPEEDS = {"bike": (4.0, 6.0), "walk": (1.2, 1.6), "car": (9.0, 13.0)}
Node = tuple[int, int]


# --- the simulated city ---------------------------------------------------------------------


@dataclass
class Person:
    id: str
    home: Node
    destination: Node
    routes: list[list[Node]] = field(default_factory=list)


@dataclass
class City:
    """What the database would hold after four weeks: per-person cell aggregates and public hazards."""

    passes: dict[tuple[str, int], int] = field(default_factory=lambda: defaultdict(int))
    near_misses: dict[tuple[str, int], int] = field(default_factory=lambda: defaultdict(int))
    hazards: dict[int, list[HazardInput]] = field(default_factory=lambda: defaultdict(list))
    streets: set[int] = field(default_factory=set)
    rides: int = 0


def _staircase(rng: random.Random, start: Node, end: Node) -> list[Node]:
    """A random shortest street route between two junctions (as ``geo.simulator`` rides)."""
    path = [start]
    i, j = start
    while (i, j) != end:
        moves = []
        if i != end[0]:
            moves.append((i + (1 if end[0] > i else -1), j))
        if j != end[1]:
            moves.append((i, j + (1 if end[1] > j else -1)))
        i, j = rng.choice(moves)
        path.append((i, j))
    return path


def _node_near_centre(rng: random.Random, size: int) -> Node:
    def coordinate() -> int:
        return min(size - 1, max(0, round(rng.gauss(size / 2, size / 5))))

    return coordinate(), coordinate()


def _trace(
    rng: random.Random, grid: StreetGrid, path: list[Node], speed: float, start_t: float
) -> list[TracePoint]:
    """1 Hz fixes along ``path`` with a smooth few-metre drift, like a phone's."""
    kx = _M_PER_DEG * math.cos(math.radians(MECHELEN[0]))
    points: list[TracePoint] = []
    ex = ey = 0.0
    t = start_t
    for a, b in itertools.pairwise(path):
        (alat, alon), (blat, blon) = grid.node(*a), grid.node(*b)
        length = math.hypot((blat - alat) * _M_PER_DEG, (blon - alon) * kx)
        steps = max(1, round(length / speed))
        for k in range(steps):
            f = k / steps
            ex = 0.95 * ex + rng.gauss(0.0, 1.0)
            ey = 0.95 * ey + rng.gauss(0.0, 1.0)
            lat = alat + f * (blat - alat) + ey / _M_PER_DEG
            lon = alon + f * (blon - alon) + ex / kx
            points.append(TracePoint(lat, lon, t, round(rng.uniform(3.0, 10.0), 1)))
            t += 1.0
    return points


def street_cells(grid: StreetGrid) -> set[int]:
    """Res-10 cells along the streets: public geometry (in a real city, from OpenStreetMap)."""
    cells: set[int] = set()
    for i in range(grid.size):
        for j in range(grid.size):
            for ni, nj in ((i + 1, j), (i, j + 1)):
                if ni < grid.size and nj < grid.size:
                    (alat, alon), (blat, blon) = grid.node(i, j), grid.node(ni, nj)
                    for k in range(11):
                        f = k / 10
                        cells.add(h3i.latlng_to_cell(alat + f * (blat - alat), alon + f * (blon - alon), 10))
    return cells


def _hazard(
    rng: random.Random, *, reports: int, confirmations: int, severity: int, at: datetime
) -> HazardInput:
    statuses = (HazardStatus.OPEN,) * 4 + (HazardStatus.ACKNOWLEDGED, HazardStatus.PLANNED)
    status = rng.choice((*statuses, HazardStatus.RESOLVED, HazardStatus.REJECTED))
    disputes = rng.randint(0, 2) if rng.random() < 0.15 else 0
    return HazardInput(severity, confirmations, disputes, reports, status, at)


def simulate(seed: int, people: int, rides: int, *, size: int = 24, hotspots: int = 30) -> City:
    """The demo's city without a database: people, four weeks of rides through the pipeline, hazards."""
    rng = random.Random(seed)
    grid = street_grid(seed, size=size)
    schools = [(rng.randrange(4, size - 4), rng.randrange(4, size - 4)) for _ in range(3)]
    persons: list[Person] = []
    for n in range(people):
        home = (rng.randrange(size), rng.randrange(size))
        destination = schools[n % 3] if n % 4 == 3 else _node_near_centre(rng, size)
        person = Person(f"person-{n:05d}", home, destination)
        person.routes = [_staircase(rng, home, destination) for _ in range(2)]
        persons.append(person)
    city = City(streets=street_cells(grid))
    for _ in range(hotspots):
        cell = h3i.latlng_to_cell(*grid.node(*_node_near_centre(rng, size)), RIDE_RESOLUTION)
        at = NOW - timedelta(days=rng.uniform(1, DAYS))
        city.hazards[cell].append(
            _hazard(
                rng,
                reports=rng.randint(1, 6),
                confirmations=rng.randint(0, 8),
                severity=rng.choice((1, 2, 2, 3, 3)),
                at=at,
            )
        )

    weights = [rng.paretovariate(1.5) for _ in persons]
    for _ in range(rides):
        person = rng.choices(persons, weights)[0]
        mode = rng.choices(("bike", "walk", "car"), (75, 20, 5))[0]
        if rng.random() < 0.8 and len(person.routes[0]) > 1:
            path = list(rng.choice(person.routes))
            if rng.random() < 0.5:
                path.reverse()
        else:
            start = (rng.randrange(size), rng.randrange(size))
            path = _staircase(rng, start, (rng.randrange(size), rng.randrange(size)))
        if len(path) < 3:
            continue
        speed = rng.uniform(*SPEEDS[mode])
        day = NOW - timedelta(days=rng.randint(1, DAYS))
        hour = rng.choice((6, 7, 7, 11, 15, 16, 17))
        start_t = day.replace(hour=hour, minute=rng.randrange(60)).timestamp()
        points = _trace(rng, grid, path, speed, start_t)
        try:
            ride = process_trace(points, now=NOW, trim_radius_m=rng.uniform(150.0, 250.0))
        except TraceError:
            continue
        if ride.mode not in (TravelMode.WALK, TravelMode.BIKE) or not ride.segments:
            continue
        city.rides += 1
        for cell in {h3i.str_to_int(c) for segment in ride.cells for c in segment}:
            city.passes[(person.id, cell)] += 1
        if ride.mode is TravelMode.BIKE and rng.random() < 0.04 and len(points) > 120:
            p = points[rng.randrange(60, len(points) - 60)]
            cell = h3i.latlng_to_cell(p.lat, p.lon, RIDE_RESOLUTION)
            city.near_misses[(person.id, cell)] += 1
            at = datetime.fromtimestamp(p.t, UTC)
            city.hazards[cell].append(
                _hazard(rng, reports=1, confirmations=rng.randint(0, 2), severity=rng.randint(2, 3), at=at)
            )
    return city


# --- exact and released danger maps ---------------------------------------------------------


def _parent(cell: int, resolution: int) -> int:
    return cell if resolution == RIDE_RESOLUTION else int(h3i.cell_to_parent(cell, resolution))


def public_hazards(city: City, resolution: int) -> dict[int, list[HazardInput]]:
    out: dict[int, list[HazardInput]] = defaultdict(list)
    for cell, hazards in city.hazards.items():
        out[_parent(cell, resolution)].extend(hazards)
    return out


def exact_inputs(city: City, resolution: int) -> dict[int, CellInputs]:
    """What ``domain.danger_service.cell_inputs`` computes: sums of passes, distinct people."""
    rides: dict[int, int] = defaultdict(int)
    near: dict[int, int] = defaultdict(int)
    people: dict[int, set[str]] = defaultdict(set)
    for (person, cell), n in city.passes.items():
        rides[_parent(cell, resolution)] += n
        people[_parent(cell, resolution)].add(person)
    for (person, cell), n in city.near_misses.items():
        near[_parent(cell, resolution)] += n
        people[_parent(cell, resolution)].add(person)
    hazards = public_hazards(city, resolution)
    cells = set(rides) | set(near) | set(hazards)
    return {c: CellInputs(tuple(hazards.get(c, ())), near[c], rides[c], len(people[c])) for c in cells}


def spread(city: City, values: Mapping[int, Released], base: int, resolution: int) -> dict[int, Released]:
    """Finer cells than the release: a parent's figures shared evenly among its street cells.

    Post-processing with public geometry: it invents no information, it only
    lets a fine danger map use a coarse release's exposure.
    """
    children: dict[int, list[int]] = defaultdict(list)
    for cell in city.streets:
        children[int(h3i.cell_to_parent(cell, base))].append(_parent(cell, resolution))
    out: dict[int, Released] = {}
    for parent, figures in values.items():
        kids = sorted(set(children.get(parent, ())))
        for kid in kids:
            n = len(kids)
            out[kid] = Released(figures.contributors // n, figures.passes // n, 0)
    return out


def released_inputs(city: City, resolution: int, values: Mapping[int, Released]) -> dict[int, CellInputs]:
    hazards = public_hazards(city, resolution)
    out = {c: CellInputs(tuple(h)) for c, h in hazards.items()}
    for cell, figures in values.items():
        found = tuple(hazards.get(cell, ()))
        reports = sum(h.reports for h in found)
        rides = figures.passes or figures.contributors  # passes not released: each person passed once
        out[cell] = CellInputs(found, min(figures.near_misses, reports), rides, figures.contributors)
    return out


def k_rule_inputs(exact: Mapping[int, CellInputs], city: City, resolution: int) -> dict[int, CellInputs]:
    hazards = public_hazards(city, resolution)
    out = {c: CellInputs(tuple(h)) for c, h in hazards.items()}
    out.update({c: i for c, i in exact.items() if i.contributors >= K_RULE})
    return out


@dataclass(frozen=True)
class Scores:
    top20: float
    spearman: float
    mae_danger: float
    mae_rides: float
    shown: float


def score(
    exact: Mapping[int, CellInputs], released: Mapping[int, CellInputs], shown: Iterable[int]
) -> Scores:
    def dangers(inputs: Mapping[int, CellInputs]) -> dict[int, float]:
        return {c: danger_score(i, NOW).score for c, i in inputs.items()}

    d_exact, d_rel = dangers(exact), dangers(released)

    def top(d: Mapping[int, float]) -> set[int]:
        return {c for c, _ in sorted(d.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP]}

    shown = [c for c in shown if c in exact]
    cells = set(d_exact) | set(d_rel)
    rho = float("nan")
    xs, ys = [d_exact[c] for c in shown], [d_rel[c] for c in shown]
    if len(set(xs)) > 1 and len(set(ys)) > 1:
        rho = float(spearmanr(xs, ys).statistic)
    ridden = [c for c, i in exact.items() if i.rides > 0]
    return Scores(
        top20=len(top(d_exact) & top(d_rel)) / TOP,
        spearman=rho,
        mae_danger=statistics.fmean(abs(d_exact.get(c, 0.0) - d_rel.get(c, 0.0)) for c in cells),
        mae_rides=(
            statistics.fmean(abs(exact[c].rides - released[c].rides) for c in shown) if shown else math.nan
        ),
        shown=len(set(shown) & set(ridden)) / len(ridden),
    )


# --- one configuration ----------------------------------------------------------------------


@dataclass(frozen=True)
class Config:
    params: ReleaseParams
    base: int = RIDE_RESOLUTION

    def label(self) -> str:
        p, s = self.params, self.params.split
        return (
            f"base {self.base} N={p.max_cells} C={p.max_passes} M={p.max_near_misses} "
            f"split {s.contributors:g}/{s.passes:g}/{s.near_misses:g} delta={p.delta:.1e}"
        )


def contributions(city: City, base: int) -> list[Contribution[int]]:
    rows = [Contribution(person, _parent(cell, base), n) for (person, cell), n in city.passes.items()]
    near = city.near_misses.items()
    rows += [Contribution(person, _parent(cell, base), 0, n) for (person, cell), n in near]
    return rows


def evaluate(city: City, config: Config, repeats: int, secret: bytes) -> dict[int, list[Scores]]:
    """Scores per resolution (base and coarser) over ``repeats`` releases of the same bounded data."""
    totals = aggregate(bound_contributions(contributions(city, config.base), config.params, secret))
    exact = {r: exact_inputs(city, r) for r in (10, 9)}
    out: dict[int, list[Scores]] = defaultdict(list)
    for _ in range(repeats):
        release = release_cells(totals, config.params)
        for r, ex in exact.items():
            if r <= config.base:
                values = coarsen_cells(release.values, r)
            else:
                values = spread(city, release.values, config.base, r)
            out[r].append(score(ex, released_inputs(city, r, values), values))
    return out


def _mean(runs: list[Scores], get: Callable[[Scores], float]) -> tuple[float, float]:
    xs = [get(s) for s in runs if not math.isnan(get(s))]
    if not xs:
        return math.nan, math.nan
    return statistics.fmean(xs), statistics.stdev(xs) if len(xs) > 1 else 0.0


COLUMNS = (
    ("top20", lambda s: s.top20, ".2f"),
    ("spearman", lambda s: s.spearman, ".2f"),
    ("MAE danger", lambda s: s.mae_danger, ".2f"),
    ("MAE rides", lambda s: s.mae_rides, ".0f"),
    ("shown", lambda s: s.shown, ".2f"),
)


def summary(runs: list[Scores]) -> str:
    parts = []
    for name, get, fmt in COLUMNS:
        mean, sd = _mean(runs, get)
        parts.append(f"{name} " + ("n/a" if math.isnan(mean) else f"{mean:{fmt}}±{sd:{fmt}}"))
    return "  ".join(parts)


def baselines(city: City) -> None:
    for r in (10, 9):
        exact = exact_inputs(city, r)
        nothing = score(exact, released_inputs(city, r, {}), [])
        k_rule = k_rule_inputs(exact, city, r)
        shown = [c for c, i in exact.items() if i.contributors >= K_RULE]
        print(f"  res {r} hazards only       {summary([nothing])}")
        print(f"  res {r} exact k={K_RULE} (old)    {summary([score(exact, k_rule, shown)])}")


def describe(config: Config) -> str:
    cal = calibrate(config.params)
    return (
        f"{config.label()}: epsilon={cal.epsilon:.3f} rho={cal.rho:.4f} tau={cal.threshold} "
        f"sigma={cal.contributors_scale:.1f}/{cal.passes_scale or 0:.1f}/{cal.near_misses_scale or 0:.1f}"
    )


def report(city: City, config: Config, repeats: int, secret: bytes) -> None:
    print(describe(config))
    for r, runs in sorted(evaluate(city, config, repeats, secret).items(), reverse=True):
        print(f"  res {r}  {summary(runs)}")


def sweep(city: City, epsilon: float, delta: float, repeats: int, secret: bytes, bases: list[int]) -> None:
    """One line per configuration: each column is 'res 10 / res 9', means over the repeats."""
    print("configuration".ljust(58) + "  ".join(name.rjust(11) for name, _, _ in COLUMNS) + "  tau")
    for base in bases:
        for n in (4, 8, 16, 32, 64):
            for c in (1, 4, 8, 16, 32, 64):
                splits = (FigureSplit(1, 0, 0),) if c == 1 else (FigureSplit(1, 1, 0), FigureSplit(2, 1, 0))
                for split in splits:
                    params = ReleaseParams(epsilon, delta, n, c, 0, split=split)
                    config = Config(params, base)
                    scores = evaluate(city, config, repeats, secret)
                    cells = []
                    for _, get, fmt in COLUMNS:
                        pair = [_mean(scores[r], get)[0] for r in (10, 9)]
                        cells.append("/".join(f"{v:{fmt}}" for v in pair).rjust(11))
                    tau = calibrate(params).threshold
                    print(config.label().ljust(58) + "  ".join(cells) + f"  {tau}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--people", type=int, default=300)
    parser.add_argument("--rides", type=int, default=3000)
    parser.add_argument("--epsilon", type=float, default=1.0, help="per release (one month)")
    parser.add_argument("--delta", type=float, default=None, help="default: min(1e-6, 1/people^1.5)")
    parser.add_argument("--repeats", type=int, default=5)
    # the defaults are the recommendation for the demo's size (see the report in the commit log)
    parser.add_argument("--base", type=int, default=8, help="resolution of the release")
    parser.add_argument("--max-cells", type=int, default=8)
    parser.add_argument("--max-passes", type=int, default=32)
    parser.add_argument("--max-near-misses", type=int, default=0)
    parser.add_argument("--split", type=float, nargs=3, default=(2, 1, 0), metavar=("C", "P", "N"))
    parser.add_argument("--sweep", action="store_true", help="explore N, C, the split, the base resolution")
    parser.add_argument("--sweep-bases", type=int, nargs="+", default=[10, 9, 8])
    args = parser.parse_args()
    delta = args.delta if args.delta is not None else min(1e-6, 1 / args.people**1.5)
    secret = f"bench-{args.seed}".encode()

    started = time.perf_counter()
    city = simulate(args.seed, args.people, args.rides)
    ridden = exact_inputs(city, 10)
    per_person: dict[str, int] = defaultdict(int)
    for person, _ in city.passes:
        per_person[person] += 1
    cells = sorted(per_person.values())
    print(
        f"city: {args.people} people, {city.rides} walk/bike rides kept of {args.rides}, "
        f"{sum(1 for i in ridden.values() if i.rides)} ridden res-10 cells, cells per person "
        f"median {cells[len(cells) // 2]} p90 {cells[9 * len(cells) // 10]}, "
        f"{sum(city.near_misses.values())} near misses ({time.perf_counter() - started:.0f} s)"
    )
    baselines(city)
    if args.sweep:
        sweep(city, args.epsilon, delta, args.repeats, secret, args.sweep_bases)
        return
    split = FigureSplit(*args.split)
    params = ReleaseParams(
        args.epsilon, delta, args.max_cells, args.max_passes, args.max_near_misses, split=split
    )
    report(city, Config(params, args.base), args.repeats, secret)


if __name__ == "__main__":
    main()
