"""Shared test fixtures: the CLI runner, paths to the repository and to ../shared."""

from __future__ import annotations

import json
import os
import shutil
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


# ``.ci/run`` sets these: there a missing requirement fails the run instead of leaving tests out.
REQUIRE_SHARED = "DSPREP_REQUIRE_SHARED"
SHARED_WHAT = (
    "third-party reference chat templates: DeepSeek's published one and vLLM's tool template"
)
REQUIRE_SSHD = "DSPREP_REQUIRE_SSHD"
SSHD = Path("/usr/sbin/sshd")


def _shared_missing() -> bool:
    return not (SHARED_DIR / "reference").is_dir()


def _sshd_missing() -> bool:
    return not SSHD.is_file() or shutil.which("ping") is None


def _required(variable: str) -> bool:
    return os.environ.get(variable, "") not in ("", "0")


def _shared_required() -> bool:
    return _required(REQUIRE_SHARED)


@dataclass(frozen=True)
class HostNeed:
    """Tests that use ``fixture`` need something a fresh machine may lack: without it they
    are left out (not run, not failed) with one summary line; under ``variable``=1 (set by
    .ci/run) they run and fail instead."""

    fixture: str
    variable: str
    missing: Callable[[], bool]
    what: str


HOST_NEEDS = (
    HostNeed(
        "shared_dir",
        REQUIRE_SHARED,
        _shared_missing,
        f"{SHARED_DIR / 'reference'} ({SHARED_WHAT}), which is not beside this checkout",
    ),
    HostNeed(
        "lab",
        REQUIRE_SSHD,
        _sshd_missing,
        f"OpenSSH's {SSHD} and ping (Debian: openssh-server, iputils-ping), missing here",
    ),
)
_LEFT_OUT = pytest.StashKey[dict[str, int]]()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    left_out: dict[str, int] = {}
    for need in HOST_NEEDS:
        if not need.missing() or _required(need.variable):
            continue
        needing = [i for i in items if need.fixture in getattr(i, "fixturenames", ())]
        if needing:
            config.hook.pytest_deselected(items=needing)
            items[:] = [i for i in items if i not in needing]
            left_out[need.fixture] = len(needing)
    config.stash[_LEFT_OUT] = left_out


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    left_out = config.stash.get(_LEFT_OUT, {})
    for need in HOST_NEEDS:
        if left_out.get(need.fixture):
            terminalreporter.write_line(
                f"SKIPPED {left_out[need.fixture]} tests that need {need.what}; {need.variable}=1"
                " (set by .ci/run) runs them and fails without it",
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
