"""Tests that need tools beyond Python (Node packages, Chromium): skip on a developer machine, fail in CI.

The README's test command needs only Python, so a missing tool skips with the
reason; CI (``CI=true``) installs every tool in ``.ci/run``, so there a missing
one is a failure, never a silent skip.
"""

from __future__ import annotations

import os

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require_or_skip(available: bool, reason: str) -> None:
    if available:
        return
    if in_ci():
        pytest.fail(f"CI=true but a required tool is missing: {reason}")
    pytest.skip(reason)
