"""Shared test fixtures: the CLI runner, paths to the repository and to ../shared."""

from __future__ import annotations

import json
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


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """``../shared`` beside the checkout (CI lays it there); fail loudly if it is missing."""
    if not (SHARED_DIR / "reference").is_dir():
        pytest.fail(f"{SHARED_DIR} is missing: the reference templates live there")
    return SHARED_DIR
