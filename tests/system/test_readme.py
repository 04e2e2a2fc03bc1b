"""The README's shell examples, run as written against a fresh demo city, so the README cannot drift.

Every ```sh (or ```bash) block of README.md runs, in document order, in one
``bash -euo pipefail`` shell, as a reader would paste them one after the other
from the clone's directory: variables and helpers a block sets (``$TOKEN``,
``get``, ``login``) are there for the later ones. A block meant for humans only
is marked by an HTML comment on the line before its fence,
``<!-- readme-test: skip (why) -->``: the two set-up commands (this test seeds
and serves the demo city the same way, on a port of its own), the TypeScript
client (needs Node; its own test runs it), the contract run (``.ci/contract``)
and the street import (it would replace the demo city's routes by Helsinki's
streets; tests/integration/streets runs the same command).

What the test changes, and only that: ``localhost:8000`` becomes the demo
server's address; the shell runs in a scratch directory where ``docs`` and
``.venv`` are this clone's (so the files the examples write land there);
``DATABASE_URL`` names the demo's database, so ``.venv/bin/saferoutes`` works on
the data the server serves; and ``curl`` is wrapped to fail on an HTTP error
(``--fail-with-body``: a ``curl -s`` that got a 422 still exits 0) and to report
each answer's status and size on stderr (curl 7.76 or later). An answer of 200 or 201 must have a
body, and the files the planner examples write must hold cells.

The server runs on the real clock (it is a black box here, as for a reader);
nothing asserted depends on the time of day.
"""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.system.cluster import ROOT, Cluster, Service

README = ROOT / "README.md"
SKIP = re.compile(r"<!--\s*readme-test:\s*skip\b.*?-->")
FENCE = re.compile(r"^(?P<indent>[ \t]*)```(?P<lang>[\w-]*)\s*$")
STATUS = re.compile(r"^readme-test-curl (?P<code>\d{3}) (?P<size>\d+)$")
BLOCK = re.compile(r"^readme-test-block (?P<n>\d+)$")
DONE = "readme-test-done"
BARE_COMMAND = re.compile(r"(?<![\w./-])saferoutes ")

CURL_WRAPPER = """curl() {
  command curl --fail-with-body -w '%{stderr}readme-test-curl %{http_code} %{size_download}\\n' "$@"
}
"""


@dataclass(frozen=True)
class Block:
    line: int
    language: str
    text: str
    skip: bool


def readme_blocks(text: str) -> list[Block]:
    """Every fenced block of the README with its language, and whether a skip comment precedes it."""
    blocks: list[Block] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if opening is None or not opening["lang"]:
            i += 1
            continue
        indent, start = opening["indent"], i
        body: list[str] = []
        i += 1
        while i < len(lines) and lines[i].strip() != "```":
            body.append(lines[i].removeprefix(indent))
            i += 1
        before = next((lines[j] for j in range(start - 1, -1, -1) if lines[j].strip()), "")
        blocks.append(Block(start + 1, opening["lang"], "\n".join(body), SKIP.search(before) is not None))
        i += 1
    return blocks


def shell_blocks() -> list[Block]:
    return [b for b in readme_blocks(README.read_text(encoding="utf-8")) if b.language in {"sh", "bash"}]


def script(blocks: list[Block], port: int) -> str:
    parts = [CURL_WRAPPER]
    for n, block in enumerate(blocks):
        parts.append(f"echo 'readme-test-block {n}' >&2")
        parts.append(block.text.replace("localhost:8000", f"127.0.0.1:{port}"))
    parts.append(f"echo '{DONE}' >&2")
    return "\n".join(parts) + "\n"


@pytest.fixture(scope="module")
def demo_city(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """The README's first command, on a database of its own: the demo city (default size), then serve."""
    url = cluster.create_database("readme_demo")
    service = Service(url, tmp_path_factory.mktemp("readme") / "service.log", workers=1)
    subprocess.run(
        [sys.executable, "-m", "api.cli", "demo", "--if-empty", "--quiet"],
        cwd=ROOT,
        env=service.environment(),
        check=True,
        timeout=600,
        capture_output=True,
    )
    yield service.start()
    service.stop()


def _commands(block: Block) -> Iterator[str]:
    """The block's lines without their comments (the examples put ``#`` only before a comment)."""
    for line in block.text.splitlines():
        command = line.split(" #")[0]
        if command.strip() and not command.lstrip().startswith("#"):
            yield command


def test_the_readme_shows_commands_a_reader_can_run_as_written() -> None:
    blocks = shell_blocks()
    skipped = [b.line for b in blocks if b.skip]
    assert len(skipped) == 4, (
        f"blocks marked readme-test: skip at lines {skipped}: say why in this test's doc"
    )
    assert len(blocks) - len(skipped) >= 8, "the README's examples went missing"
    for block in blocks:
        for command in _commands(block):
            assert BARE_COMMAND.search(command) is None, f"line {block.line}+: say .venv/bin/saferoutes"
            assert block.skip or "…" not in command, f"a literal … in the block at line {block.line}"


def test_every_shell_example_in_the_readme_runs_against_a_demo_city(
    demo_city: Service, tmp_path: Path
) -> None:
    blocks = [b for b in shell_blocks() if not b.skip]
    work = tmp_path / "clone"
    work.mkdir()
    (work / "docs").symlink_to(ROOT / "docs")
    venv = Path(sys.prefix)
    assert (venv / "bin" / "saferoutes").exists(), f"no saferoutes command in {venv}: pip install -e '.[dev]'"
    (work / ".venv").symlink_to(venv)
    env = demo_city.environment()

    ran = subprocess.run(  # noqa: S603
        ["bash", "-euo", "pipefail", "-c", script(blocks, demo_city.port)],  # noqa: S607
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )

    current = -1
    answers: dict[int, list[tuple[int, int]]] = {n: [] for n in range(len(blocks))}
    for line in ran.stderr.splitlines():
        if (marker := BLOCK.match(line)) is not None:
            current = int(marker["n"])
        elif (status := STATUS.match(line)) is not None:
            answers[current].append((int(status["code"]), int(status["size"])))
    where = f"the README block at line {blocks[current].line}" if current >= 0 else "the wrapper"
    assert ran.returncode == 0 and DONE in ran.stderr, (
        f"{where} failed ({ran.returncode}):\n{blocks[current].text if current >= 0 else ''}\n"
        f"--- stdout\n{ran.stdout[-3000:]}\n--- stderr\n{ran.stderr[-3000:]}"
    )
    for n, calls in answers.items():
        for code, size in calls:
            assert 200 <= code < 300, (blocks[n].line, code)
            assert code not in (200, 201) or size > 0, (
                f"an empty answer in the block at line {blocks[n].line}"
            )
    assert sum(len(calls) for calls in answers.values()) >= 30

    # the sample ride's near miss is during the ride, so it is filed (a literal in the answer's JSON)
    assert '"incidentsFiled":1,' in ran.stdout
    # what the planner examples promise: cells of the demo city
    for name in ("heat.geojson", "recent.geojson"):
        features = json.loads((work / name).read_text())["features"]
        assert features, f"{name} holds no cell"
    for name in ("flanders.csv", "opendata/cells.csv"):
        with (work / name).open(newline="") as rows:
            assert len(list(csv.reader(rows))) > 1, f"{name} holds no row"
    # flows: the README says the demo city's riders make a few pairs at most (none is a valid answer)
    assert (work / "flows.csv").read_text().startswith("from,to,")
