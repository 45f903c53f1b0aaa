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
SHARED_WHAT = (
    "third-party reference chat templates: DeepSeek's published one and vLLM's tool template"
)


def _shared_missing() -> bool:
    return not (SHARED_DIR / "reference").is_dir()


def _shared_required() -> bool:
    return os.environ.get(REQUIRE_SHARED, "") not in ("", "0")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without ../shared the tests that read it are left out (not run, not failed) and one
    summary line says so; under DSPREP_REQUIRE_SHARED=1 they run and fail instead."""
    if not _shared_missing() or _shared_required():
        return
    needing = [i for i in items if "shared_dir" in getattr(i, "fixturenames", ())]
    if needing:
        config.hook.pytest_deselected(items=needing)
        items[:] = [i for i in items if i not in needing]
        config.stash[_LEFT_OUT] = len(needing)


_LEFT_OUT = pytest.StashKey[int]()


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    left_out = config.stash.get(_LEFT_OUT, 0)
    if left_out:
        terminalreporter.write_line(
            f"SKIPPED {left_out} tests that need {SHARED_DIR / 'reference'} ({SHARED_WHAT}), "
            f"which is not beside this checkout; {REQUIRE_SHARED}=1 (set by .ci/run) runs "
            "them and fails without it",
            yellow=True,
        )


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """``../shared`` beside the checkout (CI lays it there). Without it the tests that use
    this fixture are left out with one summary line; under DSPREP_REQUIRE_SHARED=1 they
    fail here."""
    if _shared_missing():
        pytest.fail(
            f"{SHARED_DIR / 'reference'} ({SHARED_WHAT}) is missing and {REQUIRE_SHARED}=1 "
            "requires it"
        )
    return SHARED_DIR
