"""A node's fake external commands (``tests/fixtures/launch/fake_node.py``: stateful docker,
npu-smi, hccn_tool, vllm) in a folder of their own, and a runner for the emitted scripts
with that folder first on PATH. The ssh tests put the same folder on a node's PATH."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.conftest import REPO_ROOT

SOURCE = REPO_ROOT / "tests" / "fixtures" / "launch" / "fake_node.py"
TOOLS = ("docker", "npu-smi", "hccn_tool", "vllm")


@dataclass
class FakeNode:
    home: Path  # scenario.json, state.json, calls.jsonl

    @property
    def bin(self) -> Path:
        return self.home / "bin"

    @classmethod
    def create(cls, home: Path, tools: tuple[str, ...] = TOOLS, **scenario: Any) -> FakeNode:
        node = cls(home)
        node.bin.mkdir(parents=True)
        program = node.bin / "fake_node.py"
        program.write_text(f"#!{sys.executable} -S\n" + SOURCE.read_text(encoding="utf-8"))
        program.chmod(0o755)
        for tool in tools:
            os.symlink(program, node.bin / tool)
        (home / "hccn.conf").write_text("address_0=10.99.0.1\n", encoding="utf-8")
        (home / "version.info").write_text("Version=24.1.rc2\n", encoding="utf-8")
        node.scenario(**scenario)
        return node

    def scenario(self, **scenario: Any) -> None:
        (self.home / "scenario.json").write_text(json.dumps(scenario), encoding="utf-8")

    def env(self) -> dict[str, str]:
        return {
            "PATH": f"{self.bin}:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": str(self.home),
            "LANG": "C.UTF-8",
            "FAKE_NODE_DIR": str(self.home),
            "HCCN_CONF": str(self.home / "hccn.conf"),
            "ASCEND_DRIVER_VERSION_INFO": str(self.home / "version.info"),
            "SERVE_START_WAIT": "20",
            "STOP_TIMEOUT": "10",
        }

    def run(self, script: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", str(script), *args],
            env={**self.env(), **env},
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
        )

    def calls(self) -> list[dict[str, Any]]:
        path = self.home / "calls.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]

    def argvs(self, tool: str | None = None) -> list[list[str]]:
        return [c["argv"] for c in self.calls() if tool is None or c["argv"][0] == tool]

    def state(self) -> dict[str, Any]:
        path = self.home / "state.json"
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}

    def kill_all(self) -> None:
        """End what the fake docker started detached (a test's cleanup)."""
        import signal

        for box in self.state().get("containers", {}).values():
            for pid in box.get("pids", []):
                with contextlib.suppress(OSError):
                    os.killpg(pid, signal.SIGKILL)
