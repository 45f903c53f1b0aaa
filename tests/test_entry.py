"""The console script's fast path for --help/--version prints exactly what Click prints."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from dsprep import __version__

CLICK_HELP = "from dsprep.cli.main import main; main(['--help'], prog_name='dsprep')"
FAST = "from dsprep.cli.entry import main; import sys; sys.argv[1:] = {args!r}; main()"


def run(code: str, columns: int) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": str(columns)}
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )


@pytest.mark.parametrize("columns", [30, 52, 80, 101, 160])
@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_fast_help_equals_clicks(columns: int, flag: str) -> None:
    fast = run(FAST.format(args=[flag]), columns)
    click_help = run(CLICK_HELP, columns)
    assert fast.stdout == click_help.stdout
    assert "Commands:" in fast.stdout and "emit-launch" in fast.stdout


def test_fast_paths_do_not_import_click() -> None:
    code = FAST.format(args=["--help"]) + "; assert 'click' not in sys.modules, 'click'"
    run(code, 80)
    version = run(FAST.format(args=["--version"]) + "; assert 'click' not in sys.modules", 80)
    assert version.stdout == f"dsprep, version {__version__}\n"


def test_everything_else_goes_to_click() -> None:
    env = {**os.environ, "COLUMNS": "80"}
    done = subprocess.run(
        [sys.executable, "-m", "dsprep", "check", "--help"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 0
    assert done.stdout.startswith("Usage: dsprep check")
    bad = subprocess.run(
        [sys.executable, "-m", "dsprep", "--nope"], capture_output=True, text=True, env=env
    )
    assert bad.returncode == 2 and "No such option" in bad.stderr
