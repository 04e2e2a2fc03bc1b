"""The import order of docs/architecture.md holds: `lint-imports` keeps every contract in pyproject.toml."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def _lint_imports() -> str:
    found = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if found is None:
        pytest.fail("import-linter is a dev dependency: pip install -e '.[dev]'")
    return found


def test_every_import_contract_is_kept() -> None:
    run = subprocess.run(  # noqa: S603 - our own tool, fixed arguments
        [_lint_imports(), "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stdout[-4000:]


def test_a_wrong_arrow_breaks_a_contract(tmp_path: Path) -> None:
    """The contracts bite: a rules module importing a service of a higher capability is refused."""
    copy = tmp_path / "repo"
    shutil.copytree(
        ROOT, copy, ignore=shutil.ignore_patterns(".venv", ".git", "node_modules", "__pycache__", "tests")
    )
    rules = copy / "domain" / "hazards" / "rules.py"
    rules.write_text(rules.read_text() + "\nfrom gamification.points import service as _wrong  # noqa\n")
    run = subprocess.run(  # noqa: S603
        [_lint_imports(), "--no-cache"],
        cwd=copy,
        capture_output=True,
        text=True,
        check=False,
        env={"PYTHONPATH": str(copy), "PATH": str(Path(sys.executable).parent)},
    )
    assert run.returncode != 0
    assert "domain.hazards.rules -> gamification.points.service" in run.stdout
