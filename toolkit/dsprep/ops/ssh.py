"""One node over OpenSSH: the user's ssh config and agent, never a password prompt
(``BatchMode=yes``); ``nodes[i].ssh`` may give the host, user and port.

Every remote command is one shell string whose values went through :func:`shlex.quote`;
relative paths (``launch.remote_dir``) are taken inside the login's ``$HOME``.
"""

from __future__ import annotations

import shlex
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from dsprep.launch.cluster import Cluster, Node
from dsprep.launch.kit import LOG_NAME

SSH_OPTIONS = ("-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "-o", "ServerAliveInterval=15")
SSH_FAILED = 255  # ssh's own exit status when it could not connect or log in

LineSink = Callable[[str, str], None]  # (node name, line)


@dataclass(frozen=True)
class Remote:
    """How to reach one node and where its kit lives there."""

    node: Node
    cluster: Cluster
    ssh_config: Path | None = None

    @property
    def host(self) -> str:
        return self.node.ssh_host or self.node.ip

    @property
    def folder(self) -> str:
        """The node's kit folder on the node (relative: inside $HOME)."""
        return f"{self.cluster.remote_dir.rstrip('/')}/{self.node.name}"

    @property
    def log_file(self) -> str:
        if self.cluster.log_dir:
            return f"{self.cluster.log_dir.rstrip('/')}/{LOG_NAME}"
        return f"{self.folder}/logs/{LOG_NAME}"

    def in_home(self, command: str) -> str:
        """``command`` run from the login's home folder (where relative paths point)."""
        return f'cd -- "$HOME" && {command}'

    def script(self, name: str, *args: str) -> str:
        return self.in_home(shlex.join(["bash", f"{self.folder}/{name}", *args]))

    def argv(self, command: str) -> list[str]:
        argv = ["ssh", *SSH_OPTIONS]
        if self.ssh_config is not None:
            argv += ["-F", str(self.ssh_config)]
        if self.node.ssh_user:
            argv += ["-l", self.node.ssh_user]
        if self.node.ssh_port:
            argv += ["-p", str(self.node.ssh_port)]
        return [*argv, "--", self.host, command]


@dataclass(frozen=True)
class Outcome:
    returncode: int
    lines: list[str]

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def run(
    remote: Remote,
    command: str,
    on_line: LineSink | None = None,
    stdin: bytes | None = None,
    timeout_s: float = 3600,
) -> Outcome:
    """Run ``command`` on the node; every output line (stdout and stderr) goes to
    ``on_line`` as it comes and is kept."""
    process = subprocess.Popen(
        remote.argv(command),
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    if stdin is not None:
        assert process.stdin is not None
        feeder = threading.Thread(target=_feed, args=(process.stdin, stdin), daemon=True)
        feeder.start()
    lines: list[str] = []
    timer = threading.Timer(timeout_s, process.kill)
    timer.start()
    try:
        assert process.stdout is not None
        for raw in process.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            lines.append(line)
            if on_line is not None:
                on_line(remote.node.name, line)
        code = process.wait()
    finally:
        timer.cancel()
        if process.poll() is None:
            process.kill()
            process.wait()
    return Outcome(code, lines)


def _feed(pipe: object, data: bytes) -> None:
    import contextlib

    with contextlib.suppress(OSError):
        pipe.write(data)  # type: ignore[attr-defined]
        pipe.close()  # type: ignore[attr-defined]


class Follower:
    """``tail -F`` of a node's log until :meth:`stop`: the remote tail ends when ssh's
    stdin closes (it waits on ``cat``), so nothing is left running on the node."""

    def __init__(self, remote: Remote, on_line: LineSink, lines: int = 0) -> None:
        start = f"-n {lines}" if lines else "-n +1"
        tail = f"tail {start} -F -- {shlex.quote(remote.log_file)} 2>/dev/null"
        command = remote.in_home(f"{{ {tail} & pid=$!; cat >/dev/null; kill $pid; }}")
        self.remote = remote
        self.process = subprocess.Popen(
            remote.argv(command),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self.last: list[str] = []
        self.thread = threading.Thread(target=self._pump, args=(on_line,), daemon=True)
        self.thread.start()

    def _pump(self, on_line: LineSink) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.last = [*self.last[-49:], line]
            on_line(self.remote.node.name, line)

    def wait(self) -> int:
        return self.process.wait()

    def close(self) -> None:
        """Close ssh's stdin: the remote tail ends (see :meth:`stop`)."""
        import contextlib

        if self.process.stdin is not None:
            with contextlib.suppress(OSError):
                self.process.stdin.close()

    def stop(self) -> None:
        self.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.thread.join(timeout=5)


def stop_all(followers: list[Follower]) -> None:
    """Stop every follower: all stdins closed first, then each waited for."""
    for follower in followers:
        follower.close()
    for follower in followers:
        follower.stop()
