"""A read-only --local-dir is one `disk` error naming the folder, before any network
(issue 13, item 11). As root, the child runs without CAP_DAC_OVERRIDE (setpriv), so the
mode bits apply to it as they do to any user."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from dsprep.demo.hub import LoopbackHub
from dsprep.errors import DiskError
from dsprep.weights.hub_errors import CallContext, translate
from dsprep.weights.hubclient import Limits
from tests.conftest import CliOutcome
from tests.fetch.conftest import W8A8
from tests.fetch.test_fetch import SHARD_3, fetch_args

Run = Callable[..., CliOutcome]
DROP = "-dac_override,-dac_read_search"


def unprivileged(args: list[str], home: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "dsprep", *args]
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without util-linux setpriv")
        command = ["setpriv", f"--inh-caps={DROP}", f"--bounding-set={DROP}", *command]
    env = {**os.environ, "HOME": str(home), "INTRA_CLOUD_ACCELERATION": "false"}
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)


def one_disk_error(proc: subprocess.CompletedProcess[str], folder: Path) -> dict:
    assert proc.returncode == 3, proc.stdout + proc.stderr
    (error,) = json.loads(proc.stdout)["findings"]
    assert error["code"] == "disk", error
    assert f"cannot write into {folder}" in error["message"] and "0555" in error["message"]
    assert "Traceback" not in proc.stderr
    return dict(error)


def test_a_read_only_folder_of_an_earlier_fetch_is_a_disk_error(
    run_cli: Run, hub: LoopbackHub, tmp_path: Path
) -> None:
    dest = tmp_path / "model"
    first = run_cli(*fetch_args(hub, W8A8, dest, "--exclude", "*-00003-of-*"))
    assert first.exit_code in (0, 1) and not (dest / SHARD_3).exists()
    dest.chmod(0o555)
    hub.clear_log()
    try:
        proc = unprivileged(fetch_args(hub, W8A8, dest, "--format", "json"), tmp_path / "home")
    finally:
        dest.chmod(0o755)
    error = one_disk_error(proc, dest)
    assert "chmod u+w" in error["hint"]
    assert hub.requests() == []  # decided before the network


def test_a_new_folder_under_a_read_only_parent_is_a_disk_error(
    hub: LoopbackHub, tmp_path: Path
) -> None:
    parent = tmp_path / "ro"
    parent.mkdir(mode=0o555)
    parent.chmod(0o555)
    try:
        args = fetch_args(hub, W8A8, parent / "model", "--format", "json")
        proc = unprivileged(args, tmp_path / "home")
    finally:
        parent.chmod(0o755)
    one_disk_error(proc, parent)
    assert list(parent.iterdir()) == []


def test_a_permission_error_from_the_client_is_a_disk_error_not_a_network_one() -> None:
    context = CallContext("http://127.0.0.1:1", "a/b@master", "downloading x", Limits(), "x")
    denied = PermissionError(errno.EACCES, "Permission denied", "/data/model/x.incomplete")
    error = translate(denied, context)
    assert isinstance(error, DiskError)
    assert "/data/model/x.incomplete" in error.message
