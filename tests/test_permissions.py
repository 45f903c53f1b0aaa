"""Inputs the user may not read or list are "could not run" (exit 3, naming the file and the
permissions) or a finding whose hint names the permissions, never Click's usage error (exit 2)
or "download again". Root reads everything, so the commands run as nobody."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from dsprep.demo.checkpoint import write_w8a8_checkpoint
from dsprep.launch.emit import example_text

NOBODY = 65534
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="switching to another user needs root")


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A folder other users can enter (pytest's tmp_path is private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="dsprep-unlistable-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


SETPRIV = shutil.which("setpriv")  # util-linux: switches user right before exec


def as_nobody(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    if SETPRIV is None:
        pytest.skip("setpriv (util-linux) is not installed")
    switch = [SETPRIV, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    env = {"PATH": "/usr/bin:/bin", "HOME": str(cwd), "LANG": "C.UTF-8"}
    if "PYTHONPATH" in os.environ:  # run the code under test, wherever it was put
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    return subprocess.run(
        [*switch, sys.executable, "-m", "dsprep", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def unlistable_model(shared_tmp: Path) -> Iterator[Path]:
    model = shared_tmp / "model"
    write_w8a8_checkpoint(model)
    model.chmod(0o000)
    yield model
    model.chmod(0o755)


def test_check_of_an_unlistable_folder_is_exit_3(unlistable_model: Path) -> None:
    done = as_nobody("check", str(unlistable_model), cwd=unlistable_model.parent)
    assert done.returncode == 3, done.stdout + done.stderr
    assert done.stderr.startswith(f"Error: cannot list {unlistable_model}: Permission denied")
    assert "check the folder's permissions" in done.stderr
    assert "Usage:" not in done.stderr


def test_emit_launch_with_an_unlistable_model_dir_is_exit_3(unlistable_model: Path) -> None:
    cluster = unlistable_model.parent / "cluster.yaml"
    cluster.write_text(example_text(), encoding="utf-8")
    cluster.chmod(0o644)
    done = as_nobody(
        "emit-launch",
        str(cluster),
        "--out",
        str(unlistable_model.parent / "launch"),
        "--model-dir",
        str(unlistable_model),
        cwd=unlistable_model.parent,
    )
    assert done.returncode == 3, done.stdout + done.stderr
    assert f"{unlistable_model}" in done.stderr and "Permission denied" in done.stderr
    assert "Usage:" not in done.stderr


@pytest.mark.parametrize(
    ("unreadable", "code"),
    [
        ("config.json", "invalid-json"),
        ("quant_model_weight_w8a8_dynamic-00002-of-00003.safetensors", "bad-header"),
    ],
)
def test_an_unreadable_file_names_the_permissions_not_a_download(
    shared_tmp: Path, unreadable: str, code: str
) -> None:
    import json

    model = shared_tmp / "model"
    write_w8a8_checkpoint(model)
    model.chmod(0o755)
    for path in model.iterdir():
        path.chmod(0o644)
    (model / unreadable).chmod(0o000)
    done = as_nobody("check", str(model), "--format", "json", cwd=shared_tmp)
    assert done.returncode == 1, done.stdout + done.stderr
    found = [f for f in json.loads(done.stdout)["findings"] if f["code"] == code]
    assert len(found) == 1, found
    assert "Permission denied" in found[0]["message"]
    assert found[0]["hint"].startswith(f"check the permissions of {model}")
    assert "download" not in found[0]["hint"]


def test_plan_with_an_unlistable_model_dir_is_exit_3(unlistable_model: Path) -> None:
    cluster = unlistable_model.parent / "cluster.yaml"
    cluster.write_text(example_text(), encoding="utf-8")
    cluster.chmod(0o644)
    done = as_nobody(
        "plan", str(cluster), "--model-dir", str(unlistable_model), cwd=unlistable_model.parent
    )
    assert done.returncode == 3, done.stdout + done.stderr
    assert f"{unlistable_model}" in done.stderr and "Permission denied" in done.stderr
    assert "Usage:" not in done.stderr


@pytest.mark.parametrize("command", ["plan", "emit-launch"])
def test_an_unreadable_cluster_file_is_exit_3(shared_tmp: Path, command: str) -> None:
    cluster = shared_tmp / "cluster.yaml"
    cluster.write_text(example_text(), encoding="utf-8")
    cluster.chmod(0o000)
    extra = ["--out", str(shared_tmp / "launch")] if command == "emit-launch" else []
    done = as_nobody(command, str(cluster), *extra, cwd=shared_tmp)
    assert done.returncode == 3, done.stdout + done.stderr
    assert str(cluster) in done.stderr and "Permission denied" in done.stderr
    assert "Usage:" not in done.stderr
