"""What the fetch benchmarks share: an isolated client environment and one measured child.

Children run as an installation does (bytecode cached), with HOME and the client's cache
in a temp folder and intra-cloud probing off, so nothing reaches modelscope.cn. Each child
writes its own ``/proc/self/io`` at exit (``rchar``: bytes it read through read(2) and
friends, page cache hits included; ``read_bytes``: bytes fetched from storage).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

# Runs the dsprep CLI, then records the process's I/O counters as it exits.
WITH_IO = (
    "import atexit, os\n"
    "def _io():\n"
    "    with open('/proc/self/io') as src, open(os.environ['BENCH_IO'], 'w') as out:\n"
    "        out.write(src.read())\n"
    "atexit.register(_io)\n"
    "from dsprep.cli.main import run\n"
    "run()\n"
)


@dataclass(frozen=True)
class Child:
    returncode: int
    wall: float  # seconds
    cpu: float  # user + sys seconds
    rchar: int  # bytes read by the child (read(2), pread(2), recv(2)…)
    read_bytes: int  # bytes the child caused to be read from storage
    stdout: str
    stderr: str

    def json(self) -> dict:
        document: dict = json.loads(self.stdout)
        return document


def client_env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(
        HOME=str(tmp / "home"),
        MODELSCOPE_CACHE=str(tmp / "home" / "cache"),
        INTRA_CLOUD_ACCELERATION="false",
        MODELSCOPE_DOWNLOAD_INTRA_CLOUD="false",
        MODELSCOPE_API_TOKEN="",
    )
    for name in ("MODELSCOPE_ENDPOINT", "MODELSCOPE_DOMAIN", "http_proxy", "HTTP_PROXY"):
        env.pop(name, None)
    return env


def run_child(argv: list[str], env: dict[str, str], io_file: Path | None = None) -> Child:
    """Run ``argv``; its wall and CPU time, and its I/O counters when it writes them."""
    if io_file is not None:
        env = {**env, "BENCH_IO": str(io_file)}
        io_file.unlink(missing_ok=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, env=env, text=True, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    counters = _read_io(io_file) if io_file is not None else {}
    return Child(
        proc.returncode,
        wall,
        cpu,
        counters.get("rchar", 0),
        counters.get("read_bytes", 0),
        proc.stdout,
        proc.stderr,
    )


def dsprep_fetch(
    repo: str, dest: Path, endpoint: str, env: dict[str, str], *extra: str, io_file: Path | None
) -> Child:
    argv = [sys.executable, "-c", WITH_IO, "fetch", repo, "--local-dir", str(dest)]
    argv += ["--endpoint", endpoint, "--revision", "master", "--format", "json", *extra]
    return run_child(argv, env, io_file)


def _read_io(path: Path) -> dict[str, int]:
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return {}
    pairs = (line.split(":", 1) for line in lines if ":" in line)
    return {key.strip(): int(value) for key, value in pairs}
