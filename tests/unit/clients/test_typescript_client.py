"""The OpenAPI document generates a TypeScript client that type-checks: the mobile team's contract.

Needs Node and ``npm ci`` in ``clients/typescript``; skipped without them on a
developer machine, required in CI (``CI=true``), where ``.ci/run`` installs them.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from api.app import create_app
from api.settings import Settings
from tests.tooling import require_or_skip

CLIENT_DIR = Path(__file__).resolve().parents[3] / "clients" / "typescript"
BIN = CLIENT_DIR / "node_modules" / ".bin"


def _openapi_document() -> dict[str, object]:
    # the document is built from the handlers alone: no database is reached
    settings = Settings(database_url="postgresql+asyncpg://nobody@127.0.0.1:9/none")
    app = create_app(settings, null_pool=True, log_config=False)
    document: dict[str, object] = app.openapi_schema.to_schema()
    return document


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=300, check=False)  # noqa: S603


@pytest.fixture(scope="module")
def toolchain() -> Path:
    require_or_skip(
        shutil.which("node") is not None and (BIN / "openapi-typescript").exists() and (BIN / "tsc").exists(),
        "Node and clients/typescript/node_modules are needed (run `npm ci` in clients/typescript)",
    )
    return BIN


def test_openapi_document_generates_a_typescript_client_that_type_checks(
    toolchain: Path, tmp_path: Path
) -> None:
    (tmp_path / "openapi.json").write_text(json.dumps(_openapi_document()))
    for name in ("example.ts", "tsconfig.json"):
        shutil.copy(CLIENT_DIR / name, tmp_path / name)

    generated = _run([str(toolchain / "openapi-typescript"), "openapi.json", "-o", "schema.d.ts"], tmp_path)
    assert generated.returncode == 0, generated.stdout + generated.stderr
    schema = (tmp_path / "schema.d.ts").read_text()
    assert '"/rides": {' in schema and '"/routes/safe": {' in schema

    checked = _run([str(toolchain / "tsc"), "-p", "."], tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_type_check_catches_a_field_the_api_does_not_have(toolchain: Path, tmp_path: Path) -> None:
    (tmp_path / "openapi.json").write_text(json.dumps(_openapi_document()))
    shutil.copy(CLIENT_DIR / "tsconfig.json", tmp_path / "tsconfig.json")
    example = (CLIENT_DIR / "example.ts").read_text()
    (tmp_path / "example.ts").write_text(example.replace("created.distanceM", "created.distanceKm"))
    generated = _run([str(toolchain / "openapi-typescript"), "openapi.json", "-o", "schema.d.ts"], tmp_path)
    assert generated.returncode == 0, generated.stderr

    checked = _run([str(toolchain / "tsc"), "-p", "."], tmp_path)
    assert checked.returncode != 0
    assert "distanceKm" in checked.stdout
