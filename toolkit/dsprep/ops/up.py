"""``dsprep up``: emit the kit, then drive it on every node over ssh.

Order: copy each node's folder (parallel); container.sh (parallel); preflight.sh (parallel:
it checks the container and installs dsprep into it, so it runs after container.sh) and the
NPU TLS switch compared across nodes; serve.sh on the headless nodes, then on the head; each
node's log streamed (``[node] line``) while the head's ``/health`` is awaited (vLLM exiting
on a node stops the wait with its last line); then verify.sh. The first step that fails on
any node stops the run with that node's line; what was already started is reported.
"""

from __future__ import annotations

import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from dsprep import catalogue as C
from dsprep.findings import Finding, JsonPayload, Result
from dsprep.launch.cluster import Cluster
from dsprep.ops.phases import Task, copy_task, failure, run_all
from dsprep.ops.ssh import Follower, LineSink, Remote, stop_all

Progress = Callable[[int, int], None]
_ERROR_LINE = re.compile(r"(Error|ERROR|Exception|Traceback|EI\d{4}|FAIL)")


@dataclass(frozen=True)
class UpOptions:
    cluster: Path
    out_dir: Path
    model_dir: Path | None = None
    ssh_config: Path | None = None
    dry_run: bool = False
    verify_weights: bool = False  # preflight.sh --verify
    health_timeout_s: int | None = None  # None: PLAN.md's wait
    poll_s: float = 5.0
    on_line: LineSink | None = None
    on_progress: Progress | None = None


@dataclass
class UpSummary(JsonPayload):
    """``commands``: with --dry-run, every command in order; ``steps``: what ran (node,
    step, ok); ``started``: the nodes whose vLLM was started; ``health``: ok, timeout or
    exited; ``verify``: passed or failed."""

    out: str
    nodes: list[str]
    dry_run: bool = False
    commands: list[str] = field(default_factory=list)
    steps: list[dict[str, str]] = field(default_factory=list)
    started: list[str] = field(default_factory=list)
    health: str = ""
    verify: str = ""
    base_url: str = ""


@dataclass
class _Run:
    cluster: Cluster
    options: UpOptions
    remotes: list[Remote]
    summary: UpSummary
    findings: list[Finding] = field(default_factory=list)
    containers: list[str] = field(default_factory=list)
    outputs: dict[str, list[str]] = field(default_factory=dict)

    def phase(self, tasks: list[Task]) -> bool:
        """Run ``tasks`` at once; False (and the failures reported) when any failed."""
        outcomes = run_all(tasks, self.options.on_line)
        for task, outcome in outcomes:
            status = "ok" if outcome.ok else "failed"
            self.summary.steps.append(
                {"node": task.remote.node.name, "step": task.step, "status": status}
            )
            if outcome.ok and task.step == "container.sh":
                self.containers.append(task.remote.node.name)
            if outcome.ok and task.step == "serve.sh":
                self.summary.started.append(task.remote.node.name)
        self.findings += [failure(t, o) for t, o in outcomes if not o.ok]
        self.outputs = {t.remote.node.name: o.lines for t, o in outcomes}
        return all(o.ok for _, o in outcomes)


def _tasks(run_: _Run, step: str, *args: str, head: bool | None = None) -> list[Task]:
    chosen = [r for r in run_.remotes if head is None or (r.node.index == 0) is head]
    return [Task(r, step, r.script(step, *args)) for r in chosen]


def _tls_findings(outputs: dict[str, list[str]], source: str) -> list[Finding]:
    states = {}
    for node, lines in outputs.items():
        for line in lines:
            if line.startswith("STATE tls="):
                states[node] = line.split("=", 1)[1]
    if len(set(states.values())) <= 1:
        return []
    shown = ", ".join(f"{node}={value}" for node, value in states.items())
    return [
        C.TLS_DIFFERS_ACROSS_NODES(
            source, f"the NPU TLS switch differs across nodes ({shown}): HCCL cannot connect"
        )
    ]


def health_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _exited(run_: _Run, followers: dict[str, Follower]) -> list[Finding]:
    """Findings for nodes whose vLLM is no longer running (status.sh says vllm=stopped)."""
    found = []
    for task, outcome in run_all(_tasks(run_, "status.sh"), None):
        if "vllm=stopped" not in outcome.lines:
            continue
        node = task.remote.node.name
        last = followers[node].last if node in followers else []
        lines = [line for line in last if _ERROR_LINE.search(line)] or last
        found.append(
            C.VLLM_EXITED(
                f"{node}:{task.remote.log_file}",
                f"{node}: vLLM exited: {lines[-1] if lines else '(no log line)'}",
            )
        )
    return found


def _await_health(run_: _Run, url: str, wait_s: int) -> bool:
    options = run_.options
    followers = {
        r.node.name: Follower(r, options.on_line or (lambda _n, _l: None)) for r in run_.remotes
    }
    try:
        start = time.monotonic()
        polls = 0
        while True:
            elapsed = int(time.monotonic() - start)
            if options.on_progress is not None:
                options.on_progress(min(elapsed, wait_s), wait_s)
            if health_ok(url):
                run_.summary.health = "ok"
                return True
            polls += 1
            if polls % 3 == 0:
                exited = _exited(run_, followers)
                if exited:
                    run_.findings += exited
                    run_.summary.health = "exited"
                    return False
            if elapsed >= wait_s:
                run_.findings.append(
                    C.HEALTH_TIMEOUT(url, f"{url} did not answer 200 within {wait_s} s", hint=None)
                )
                run_.summary.health = "timeout"
                return False
            time.sleep(options.poll_s)
    finally:
        stop_all(list(followers.values()))


def _verify(run_: _Run, url: str) -> bool:
    import os
    import subprocess

    script = run_.options.out_dir / "verify.sh"
    environment = {**os.environ, "VERIFY_TIMEOUT": "60", "VERIFY_INTERVAL": "2"}
    done = subprocess.run(
        ["bash", str(script), url], capture_output=True, text=True, env=environment, check=False
    )
    if done.returncode == 0:
        return True
    fails = [line for line in done.stdout.splitlines() if line.startswith("FAIL")]
    run_.findings.append(
        C.VERIFY_FAILED(str(script), f"verify.sh against {url}: {'; '.join(fails) or done.stderr}")
    )
    return False


def _left_running(run_: _Run, why: str) -> Finding | None:
    started, containers = run_.summary.started, run_.containers
    if not started and not containers:
        return None
    parts = []
    if started:
        parts.append(f"vLLM runs on {', '.join(started)}")
    idle = [n for n in containers if n not in started]
    if idle:
        parts.append(f"container {run_.cluster.container_name} runs on {', '.join(idle)}")
    return C.LEFT_RUNNING(
        run_.cluster.source,
        f"{why}: {'; '.join(parts)}",
        hint=f"dsprep down {run_.cluster.source} stops it all; or fix the cause and run"
        " dsprep up again",
    )


def _steps(run_: _Run) -> list[list[Task]]:
    """The phases in order (the health wait and verify.sh follow the last)."""
    return [[copy_task(r, run_.options.out_dir) for r in run_.remotes], *_steps_after_copy(run_)]


def up(options: UpOptions) -> Result[UpSummary]:
    """Validate and emit the kit to ``options.out_dir``, then start the cluster (see the
    module doc); with ``dry_run`` nothing is written or run: every command is listed."""
    from dsprep.launch.emit import emit_launch, validate

    outcome = validate(options.cluster, options.model_dir)
    cluster = outcome.cluster
    summary = UpSummary(str(options.out_dir), [])
    if not Result("up", summary, list(outcome.findings)).ok or cluster is None:
        return Result("up", summary, list(outcome.findings))
    summary.nodes = [n.name for n in cluster.nodes]
    url = f"http://{cluster.head.ip}:{cluster.api_port}"
    summary.base_url = url
    wait_s = options.health_timeout_s or outcome.times.health_s
    remotes = [Remote(node, cluster, options.ssh_config) for node in cluster.nodes]
    run_ = _Run(cluster, options, remotes, summary, list(outcome.findings))
    if options.dry_run:
        summary.dry_run = True
        if not options.out_dir.is_dir():  # the copy's tar needs the folder: say it instead
            summary.commands.append(f"dsprep emit-launch {cluster.source} --out {options.out_dir}")
        for phase in _steps(run_) if options.out_dir.is_dir() else _steps_without_copy(run_):
            summary.commands += [task.shown() for task in phase]
        summary.commands.append(f"GET {url}/health (every {options.poll_s:g} s, up to {wait_s} s)")
        summary.commands.append(f"bash {options.out_dir / 'verify.sh'} {url}")
        return Result("up", summary, run_.findings)
    emitted = emit_launch(options.cluster, options.out_dir, options.model_dir)
    if not emitted.ok:
        return Result("up", summary, list(emitted.findings))
    run_.findings = list(emitted.findings)
    try:
        for number, phase in enumerate(_steps(run_)):
            if not run_.phase(phase):
                return _stopped(run_, "dsprep up stopped at a failed step")
            if number == 2:
                tls = _tls_findings(run_.outputs, cluster.source)
                if tls:
                    run_.findings += tls
                    return _stopped(run_, "dsprep up stopped before serving")
        if not _await_health(run_, f"{url}/health", wait_s):
            return _stopped(run_, "dsprep up stopped waiting for /health")
        summary.verify = "passed" if _verify(run_, url) else "failed"
    except KeyboardInterrupt:
        return _stopped(run_, "dsprep up was interrupted (Ctrl-C)")
    return Result("up", summary, run_.findings)


def _steps_without_copy(run_: _Run) -> list[list[Task]]:
    """--dry-run before the first emit: the copy is shown without its archive."""
    copy = [
        Task(r, "copy", f"(tar of {r.node.name}/ unpacked into {r.cluster.remote_dir})")
        for r in run_.remotes
    ]
    return [copy, *_steps_after_copy(run_)]


def _steps_after_copy(run_: _Run) -> list[list[Task]]:
    check = ("--verify",) if run_.options.verify_weights else ()
    return [
        _tasks(run_, "container.sh"),
        _tasks(run_, "preflight.sh", *check),
        _tasks(run_, "serve.sh", head=False),
        _tasks(run_, "serve.sh", head=True),
    ]


def _stopped(run_: _Run, why: str) -> Result[UpSummary]:
    left = _left_running(run_, why)
    if left is not None:
        run_.findings.append(left)
    return Result("up", run_.summary, run_.findings)
