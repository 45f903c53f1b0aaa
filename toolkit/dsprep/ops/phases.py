"""A step of the kit run on several nodes at once, and what a failed step reports: the node,
the script and the line that failed (the last FAIL line, else the last line)."""

from __future__ import annotations

import io
import tarfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from dsprep import catalogue as C
from dsprep.findings import Finding
from dsprep.ops.ssh import SSH_FAILED, LineSink, Outcome, Remote, run


@dataclass(frozen=True)
class Task:
    """One command on one node: ``step`` names it in messages (``preflight.sh``)."""

    remote: Remote
    step: str
    command: str
    stdin: bytes | None = None

    def shown(self) -> str:
        """The command as --dry-run prints it."""
        import shlex

        text = shlex.join(self.remote.argv(self.command))
        if self.stdin is not None:
            return f"{text} < (tar of {self.remote.node.name}/)"
        return text


def failing_line(lines: list[str]) -> str:
    """The line that says what failed: the last ``FAIL …`` (with its fix), else the last."""
    for i in range(len(lines) - 1, -1, -1):
        if lines[i].startswith("FAIL"):
            fix = lines[i + 1].strip() if i + 1 < len(lines) else ""
            return f"{lines[i]} ({fix})" if fix.startswith("fix:") else lines[i]
    shown = [line for line in lines if line.strip()]
    return shown[-1] if shown else "(no output)"


def failure(task: Task, outcome: Outcome) -> Finding:
    node = task.remote.node.name
    where = f"{node}:{task.remote.folder}/{task.step}"
    if outcome.returncode == SSH_FAILED:
        return C.SSH_UNREACHABLE(
            where,
            f"{node} ({task.remote.host}): ssh failed (exit {SSH_FAILED}):"
            f" {failing_line(outcome.lines)}",
        )
    return C.NODE_STEP_FAILED(
        where,
        f"{node}: {task.step} failed (exit {outcome.returncode}): {failing_line(outcome.lines)}",
    )


def run_all(tasks: list[Task], on_line: LineSink | None) -> list[tuple[Task, Outcome]]:
    """Every task at once (one thread each); the outcomes in the tasks' order."""
    if not tasks:
        return []
    with ThreadPoolExecutor(max_workers=len(tasks)) as pool:
        futures = [pool.submit(run, t.remote, t.command, on_line, t.stdin) for t in tasks]
        return [(t, f.result()) for t, f in zip(tasks, futures, strict=True)]


def folder_tar(out_dir: Path, node: str) -> bytes:
    """The node's folder of the launch kit as a tar archive (its name kept, modes kept)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        root = out_dir / node
        for path in [root, *sorted(p for p in root.rglob("*") if "logs" not in p.parts)]:
            info = archive.gettarinfo(str(path), arcname=str(path.relative_to(out_dir)))
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mtime = 0
            if path.is_file():
                with open(path, "rb") as handle:
                    archive.addfile(info, handle)
            else:
                archive.addfile(info)
    return buffer.getvalue()


def copy_task(remote: Remote, out_dir: Path) -> Task:
    """Unpack the node's folder into ``launch.remote_dir`` (its logs/ is left alone)."""
    import shlex

    parent = shlex.quote(remote.cluster.remote_dir)
    command = remote.in_home(f"mkdir -p -- {parent} && tar -C {parent} -xf - --no-same-owner")
    return Task(remote, "copy", command, folder_tar(out_dir, remote.node.name))
