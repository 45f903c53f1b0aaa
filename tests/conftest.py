"""Shared test fixtures: the CLI runner, paths to the repository and to ../shared."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from dsprep.cli.main import main

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DIR = REPO_ROOT.parent / "shared"


@dataclass
class CliOutcome:
    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(self.stdout)
        return document


@pytest.fixture
def run_cli() -> Callable[..., CliOutcome]:
    """Invoke ``dsprep ARGS…`` in-process; stdout and stderr kept apart."""

    def invoke(*args: str, env: dict[str, str] | None = None) -> CliOutcome:
        runner = CliRunner()
        result = runner.invoke(main, list(args), env=env, catch_exceptions=False)
        return CliOutcome(result.exit_code, result.stdout, result.stderr)

    return invoke


# ``.ci/run`` sets this: there a missing ../shared fails the run instead of skipping.
REQUIRE_SHARED = "DSPREP_REQUIRE_SHARED"
SHARED_MISSING = (
    f"needs {SHARED_DIR / 'reference'} (third-party reference chat templates: DeepSeek's "
    f"published one and vLLM's tool template), which is not beside this checkout; "
    f"{REQUIRE_SHARED}=1 (set by .ci/run) makes this a failure"
)


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """``../shared`` beside the checkout (CI lays it there). Without it the tests that read
    it are skipped, on one summary line; under ``DSPREP_REQUIRE_SHARED=1`` they fail."""
    if not (SHARED_DIR / "reference").is_dir():
        if os.environ.get(REQUIRE_SHARED, "") not in ("", "0"):
            pytest.fail(SHARED_MISSING)
        pytest.skip(SHARED_MISSING)
    return SHARED_DIR
