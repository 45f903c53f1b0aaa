"""``dsprep down``, ``status`` and ``logs``: the kit's stop.sh, status.sh and the node's
vllm.log over ssh, for every node of the cluster file (or one)."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path

from dsprep import catalogue as C
from dsprep.errors import InputError
from dsprep.findings import Finding, JsonPayload, Result
from dsprep.launch.cluster import Cluster, load_cluster
from dsprep.ops.phases import Task, failure, run_all
from dsprep.ops.ssh import SSH_FAILED, Follower, LineSink, Remote, run, stop_all

STATUS_KEYS = ("container", "image", "vllm", "pid", "health", "log")


def remotes_of(
    path: Path, ssh_config: Path | None, only: str | None = None
) -> tuple[Cluster, list[Remote]]:
    """The cluster file's nodes as remotes (``only``: that node); schema findings when the
    file is not valid (then no remote)."""
    loaded = load_cluster(path)
    cluster = loaded.cluster
    if cluster is None:
        raise _invalid(path, loaded.findings)
    nodes = [n for n in cluster.nodes if only is None or n.name == only]
    if not nodes:
        names = ", ".join(n.name for n in cluster.nodes)
        raise InputError(
            f"{path} has no node {only!r}", hint=f"--node takes one of: {names}", path=path
        )
    return cluster, [Remote(n, cluster, ssh_config) for n in nodes]


def _invalid(path: Path, findings: list[Finding]) -> InputError:
    first = findings[0].message if findings else "not a valid cluster file"
    return InputError(
        f"{path}: {first}", hint=f"dsprep emit-launch {path} --out DIR lists every problem"
    )


@dataclass
class DownSummary(JsonPayload):
    nodes: list[str]
    dry_run: bool = False
    commands: list[str] = field(default_factory=list)
    lines: dict[str, list[str]] = field(default_factory=dict)


def down(
    path: Path,
    ssh_config: Path | None = None,
    dry_run: bool = False,
    on_line: LineSink | None = None,
) -> Result[DownSummary]:
    """stop.sh --container on every node at once: vLLM stopped, the container removed."""
    _, remotes = remotes_of(path, ssh_config)
    tasks = [Task(r, "stop.sh", r.script("stop.sh", "--container")) for r in remotes]
    summary = DownSummary([r.node.name for r in remotes], dry_run)
    if dry_run:
        summary.commands = [t.shown() for t in tasks]
        return Result("down", summary, [])
    outcomes = run_all(tasks, on_line)
    summary.lines = {t.remote.node.name: o.lines for t, o in outcomes}
    return Result("down", summary, [failure(t, o) for t, o in outcomes if not o.ok])


@dataclass
class StatusSummary(JsonPayload):
    """One row per node: container, image, vllm, pid, health, log (``error``: why the row
    could not be read)."""

    nodes: list[dict[str, str]]
    dry_run: bool = False
    commands: list[str] = field(default_factory=list)


def status(
    path: Path, ssh_config: Path | None = None, dry_run: bool = False
) -> Result[StatusSummary]:
    cluster, remotes = remotes_of(path, ssh_config)
    tasks = [Task(r, "status.sh", r.script("status.sh")) for r in remotes]
    if dry_run:
        return Result("status", StatusSummary([], True, [t.shown() for t in tasks]), [])
    rows, findings = [], []
    for task, outcome in run_all(tasks, None):
        node = task.remote.node
        pairs = dict(line.split("=", 1) for line in outcome.lines if "=" in line)
        row = {"node": node.name, **{key: pairs.get(key, "?") for key in STATUS_KEYS}}
        if outcome.returncode == SSH_FAILED or "container" not in pairs:
            row["error"] = outcome.lines[-1] if outcome.lines else f"exit {outcome.returncode}"
            findings.append(failure(task, outcome))
        elif outcome.returncode != 0:
            down = [
                k for k in ("container", "vllm", "health") if row[k] not in ("running", "ok", "-")
            ]
            findings.append(
                C.NODE_NOT_UP(
                    f"{node.name}:{task.remote.folder}",
                    f"{node.name}: " + ", ".join(f"{k} {row[k]}" for k in down),
                    hint=f"dsprep logs {cluster.source} --node {node.name}, then dsprep up"
                    f" {cluster.source}",
                )
            )
        rows.append(row)
    return Result("status", StatusSummary(rows), findings)


@dataclass
class LogsSummary(JsonPayload):
    nodes: list[str]
    lines: int = 0
    dry_run: bool = False
    commands: list[str] = field(default_factory=list)


def logs(
    path: Path,
    on_line: LineSink,
    node: str | None = None,
    follow: bool = False,
    lines: int = 100,
    ssh_config: Path | None = None,
    dry_run: bool = False,
) -> Result[LogsSummary]:
    """The last ``lines`` of each node's vllm.log through ``on_line``; with ``follow``, then
    every new line until Ctrl-C (nothing is left running on the nodes)."""
    _, remotes = remotes_of(path, ssh_config, node)
    names = [r.node.name for r in remotes]
    if dry_run:
        tail = "tail -F" if follow else "tail"
        shown = [
            shlex.join(r.argv(r.in_home(f"{tail} -n {lines} -- {shlex.quote(r.log_file)}")))
            for r in remotes
        ]
        return Result("logs", LogsSummary(names, lines, True, shown), [])
    if not follow:
        findings = []
        for remote in remotes:
            command = remote.in_home(f"tail -n {lines} -- {shlex.quote(remote.log_file)}")
            outcome = run(remote, command, on_line)
            if not outcome.ok:
                findings.append(failure(Task(remote, "vllm.log", command), outcome))
        return Result("logs", LogsSummary(names, lines), findings)
    followers = [Follower(r, on_line, lines) for r in remotes]
    try:
        for follower in followers:
            follower.wait()
    except KeyboardInterrupt:
        pass
    finally:
        stop_all(followers)
    return Result("logs", LogsSummary(names, lines), [])
