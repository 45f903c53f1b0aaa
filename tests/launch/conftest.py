"""Fixtures for the launch tests: the example cluster document, cluster files, a PATH of
fake external commands that record their argv, and a runner for the emitted scripts."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from dsprep.launch.cluster import Cluster, load_cluster
from dsprep.launch.emit import example_text
from dsprep.launch.plan import MemoryPlan, memory_plan
from dsprep.profiles import profile_for
from tests.conftest import REPO_ROOT

FAKE_SOURCE = REPO_ROOT / "tests" / "fixtures" / "launch" / "fake_tool.py"
FAKE_TOOLS = ("vllm", "docker", "npu-smi", "hccn_tool", "ip", "ping", "curl")


def example_document() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(example_text())
    return document


def write_cluster(folder: Path, document: dict[str, Any], name: str = "cluster.yaml") -> Path:
    path = folder / name
    if name.endswith(".json"):
        path.write_text(json.dumps(document), encoding="utf-8")
    else:
        path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def plan_for(
    tmp_path: Path, document: dict[str, Any], model_dir: Path | None = None
) -> tuple[MemoryPlan, Cluster]:
    """The memory plan of a cluster document, with the profile its image tag selects."""
    loaded = load_cluster(write_cluster(tmp_path, document))
    assert loaded.cluster is not None, loaded.findings
    cluster = loaded.cluster
    return memory_plan(cluster, profile_for(cluster.image_tag), model_dir), cluster


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    records: list[dict[str, Any]]

    @property
    def argvs(self) -> list[list[str]]:
        return [r["argv"] for r in self.records]


@dataclass
class FakeTools:
    """A bin folder of fakes plus the scenario they answer from."""

    folder: Path

    def run(
        self, script: Path, *args: str, scenario: dict[str, Any] | None = None, **env: str
    ) -> Run:
        log = self.folder / "calls.jsonl"
        log.write_text("", encoding="utf-8")
        scenario_path = self.folder / "scenario.json"
        scenario_path.write_text(json.dumps(scenario or {}), encoding="utf-8")
        hccn_conf = self.folder / "hccn.conf"
        hccn_conf.write_text("address_0=10.20.0.10\n", encoding="utf-8")
        version_info = self.folder / "version.info"
        version_info.write_text("Version=24.1.rc2\n", encoding="utf-8")
        environment = {
            "HCCN_CONF": str(hccn_conf),
            "ASCEND_DRIVER_VERSION_INFO": str(version_info),
            "PATH": f"{self.folder}:/usr/bin:/bin",
            "HOME": str(self.folder),
            "LANG": "C.UTF-8",
            "FAKE_LOG": str(log),
            "FAKE_SCENARIO": str(scenario_path),
            **env,
        }
        done = subprocess.run(
            ["bash", str(script), *args],
            env=environment,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        records = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
        return Run(done.returncode, done.stdout, done.stderr, records)


@pytest.fixture
def fake_tools(tmp_path: Path) -> FakeTools:
    folder = tmp_path / "fakebin"
    folder.mkdir()
    program = folder / "fake.py"
    program.write_text(
        f"#!{sys.executable} -S\n" + FAKE_SOURCE.read_text(encoding="utf-8"), encoding="utf-8"
    )
    program.chmod(0o755)
    for tool in FAKE_TOOLS:
        os.symlink(program, folder / tool)
    return FakeTools(folder)


@pytest.fixture
def emit(tmp_path: Path, run_cli: Callable[..., Any]) -> Callable[..., tuple[Path, Any]]:
    """Write a cluster document, run `dsprep emit-launch` on it, return (out dir, outcome)."""

    def go(document: dict[str, Any], name: str = "cluster.yaml") -> tuple[Path, Any]:
        cluster = write_cluster(tmp_path, document, name)
        out = tmp_path / "out"
        outcome = run_cli("emit-launch", str(cluster), "--out", str(out))
        return out, outcome

    return go
