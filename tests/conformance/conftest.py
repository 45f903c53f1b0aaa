"""The conformance tier runs only through ``bash tests/conformance/run`` (which sets
``DSPREP_CONFORMANCE=1``): it installs each release's vLLM (~10 GB, minutes) and is not
part of ``bash tests/run``. Without the variable nothing here is collected."""

from __future__ import annotations

import os
from typing import Any

import pytest

ENABLE_ENV = "DSPREP_CONFORMANCE"

if os.environ.get(ENABLE_ENV, "") in ("", "0"):
    collect_ignore_glob = ["test_*.py"]


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    if os.environ.get(ENABLE_ENV, "") in ("", "0"):
        return
    from tests.conformance.probe import FINISHED, venv_disk

    terminalreporter.section("conformance: time and disk per release")
    for run in FINISHED.values():
        install = "reused" if run.venv.reused else "installed"
        terminalreporter.write_line(
            f"{run.profile.name}: vllm=={run.setup.get('vllm')} torch=={run.setup.get('torch')}"
            f" (python {run.venv.python_version}); venv {run.venv.path}"
            f" {venv_disk(run) / 1e9:.1f} GB, {install} (install took"
            f" {run.venv.install_seconds:.0f} s); probe {run.probe_seconds:.0f} s for"
            f" {len(run.outcomes)} argv"
        )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Remove each run's work folder (cluster files, model folder, per-case logs) unless
    DSPREP_CONFORMANCE_KEEP_WORKDIR=1."""
    if os.environ.get(ENABLE_ENV, "") in ("", "0"):
        return
    from tests.conformance.probe import FINISHED, cleanup

    for run in FINISHED.values():
        cleanup(run)
