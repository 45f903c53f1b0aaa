"""``dsprep up/down/status/logs`` against real sshd servers, one per node in a network
namespace of its own (tests/ops/lab.py), with fake docker/npu-smi/hccn_tool/vllm recording
their argv on each node: the order of the calls across nodes, one node's failure stopping
the run with that node's line, and down cleaning up. Each test is bounded (ssh and the
scripts have timeouts; the health wait is cut to seconds)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from dsprep.ops.control import down, status
from dsprep.ops.up import UpOptions, up
from tests.conftest import CliOutcome
from tests.ops.conftest import lab_cluster
from tests.ops.lab import Lab

NAME = "deepseek-v31-w8a8"


def options(lab: Lab, cluster: Path, folder: Path, **more: Any) -> UpOptions:
    lines: list[tuple[str, str]] = more.pop("lines", [])
    return UpOptions(
        cluster=cluster,
        out_dir=folder / "launch",
        ssh_config=lab.ssh_config,
        health_timeout_s=more.pop("health_timeout_s", 60),
        poll_s=0.5,
        on_line=lambda node, line: lines.append((node, line)),
        **more,
    )


def calls(lab: Lab) -> list[tuple[int, str, list[str]]]:
    """Every recorded call of every node, in time order: (ns, node, argv)."""
    found = [(c["t"], n.name, c["argv"]) for n in lab.nodes for c in n.fake.calls()]
    return sorted(found, key=lambda c: c[0])


def first(found: list[tuple[int, str, list[str]]], node: str, argv0: str, *more: str) -> int:
    return next(
        t
        for t, n, argv in found
        if n == node and argv[0] == argv0 and argv[1 : 1 + len(more)] == list(more)
    )


def test_up_starts_headless_then_head_streams_logs_verifies_and_down_cleans_up(
    lab: Callable[..., Lab], tmp_path: Path
) -> None:
    nodes = lab(2, node0={"health_after_s": 3})  # the logs stream meanwhile
    cluster = lab_cluster(nodes, tmp_path)
    lines: list[tuple[str, str]] = []
    result = up(options(nodes, cluster, tmp_path, lines=lines))
    assert result.ok, [f.message for f in result.findings]
    summary = result.payload
    assert summary.health == "ok" and summary.verify == "passed"
    assert summary.started == ["node1", "node0"]
    found = calls(nodes)
    runs = [first(found, n, "docker", "run") for n in ("node0", "node1")]
    tls = [first(found, n, "hccn_tool", "-i", "7", "-tls") for n in ("node0", "node1")]
    vllm = {n: first(found, n, "vllm") for n in ("node0", "node1")}
    assert max(runs) < min(tls)  # every container before any preflight
    assert max(tls) < vllm["node1"] < vllm["node0"]  # preflight, then headless, then head
    head_argv = next(a for _, n, a in found if n == "node0" and a[0] == "vllm")
    worker_argv = next(a for _, n, a in found if n == "node1" and a[0] == "vllm")
    assert "--headless" in worker_argv and "--headless" not in head_argv
    assert worker_argv[worker_argv.index("--data-parallel-address") + 1] == nodes.nodes[0].ip
    assert ("node1", "INFO headless engine ready") in lines
    assert ("node0", "INFO API server on 0.0.0.0:8000") in lines
    assert any(n == "node0" and line.startswith("PASS NPU TLS switch is 0") for n, line in lines)
    # the kit is on each node in kit/NODE inside the login's home
    assert (nodes.nodes[1].fake.home / "kit" / "node1" / "serve.sh").is_file()
    rows = status(cluster, nodes.ssh_config).payload.nodes
    assert [(r["node"], r["container"], r["vllm"], r["health"]) for r in rows] == [
        ("node0", "running", "running", "ok"),
        ("node1", "running", "running", "-"),
    ]
    again = up(options(nodes, cluster, tmp_path))  # re-running changes nothing
    assert again.ok
    assert [a for _, n, a in calls(nodes) if a[0] == "vllm"].__len__() == 2
    stopped = down(cluster, nodes.ssh_config)
    assert stopped.ok, [f.message for f in stopped.findings]
    for node in nodes.nodes:
        assert NAME not in node.fake.state()["containers"]
        assert ["docker", "rm", "-f", NAME] in node.fake.argvs("docker")
    rows = status(cluster, nodes.ssh_config).payload.nodes
    assert {r["container"] for r in rows} == {"absent"} and {r["vllm"] for r in rows} == {"stopped"}
    assert down(cluster, nodes.ssh_config).ok  # again: nothing left, still fine


def test_a_failing_preflight_on_one_node_stops_the_run_with_its_line(
    lab: Callable[..., Lab], tmp_path: Path
) -> None:
    nodes = lab(2, node1={"tools": ["docker", "npu-smi", "vllm"]})  # no hccn_tool on node1
    cluster = lab_cluster(nodes, tmp_path)
    result = up(options(nodes, cluster, tmp_path))
    assert not result.ok
    messages = [f.message for f in result.findings if f.severity.value == "error"]
    assert messages[0] == (
        "node1: preflight.sh failed (exit 1): FAIL hccn_tool is neither on this host's PATH"
        " nor at /usr/local/Ascend/driver/tools/hccn_tool: the NPU network checks left out"
        " (fix: install the Ascend driver on this host (it ships hccn_tool), then run"
        " preflight.sh again)"
    )
    assert [f.code for f in result.findings if f.severity.value == "error"] == [
        "node-step-failed",
        "left-running",
    ]
    assert "container deepseek-v31-w8a8 runs on node0, node1" in messages[1]
    assert not [a for _, _, a in calls(nodes) if a[0] == "vllm"]  # nothing served


def test_tls_differing_across_nodes_stops_before_serving(
    lab: Callable[..., Lab], tmp_path: Path
) -> None:
    nodes = lab(2, node1={"tls_all": 1})
    result = up(options(nodes, lab_cluster(nodes, tmp_path), tmp_path))
    codes = [f.code for f in result.findings]
    assert "tls-differs-across-nodes" in codes
    tls = next(f for f in result.findings if f.code == "tls-differs-across-nodes")
    assert "(node0=0, node1=1)" in tls.message
    assert not [a for _, _, a in calls(nodes) if a[0] == "vllm"]


def test_vllm_exiting_on_a_node_stops_the_wait_with_that_nodes_line(
    lab: Callable[..., Lab], tmp_path: Path
) -> None:
    failing = "RuntimeError: HCCL connect timeout EI0006 (fake)"
    nodes = lab(2, node1={"vllm_fails": failing}, node0={"health_after_s": 600})
    result = up(options(nodes, lab_cluster(nodes, tmp_path), tmp_path))
    exited = [f for f in result.findings if f.code == "vllm-exited"]
    assert [f.message for f in exited] == [f"node1: vLLM exited: {failing}"]
    left = next(f for f in result.findings if f.code == "left-running")
    assert "vLLM runs on node1, node0" in left.message
    assert result.payload.health == "exited"


def test_dry_run_prints_every_command_and_runs_none(
    lab: Callable[..., Lab], tmp_path: Path, run_cli: Callable[..., CliOutcome]
) -> None:
    nodes = lab(2)
    cluster = lab_cluster(nodes, tmp_path)
    out = tmp_path / "launch"
    outcome = run_cli(
        "up", str(cluster), "--out", str(out), "--ssh-config", str(nodes.ssh_config), "--dry-run"
    )
    assert outcome.exit_code == 0, outcome.stdout
    shown = [line.strip() for line in outcome.stdout.splitlines() if line.startswith("  ssh ")]
    assert len(shown) == 2 * 4  # copy, container, preflight, serve on each node
    assert shown[-1].endswith("'cd -- \"$HOME\" && bash kit/node0/serve.sh'")
    assert f"-p {nodes.nodes[1].port} -- {nodes.nodes[1].ip}" in shown[-2]
    assert calls(nodes) == [] and not out.exists()
    for command in ("down", "status"):
        dry = run_cli(command, str(cluster), "--ssh-config", str(nodes.ssh_config), "--dry-run")
        assert dry.exit_code == 0 and "kit/node1/" in dry.stdout
    assert calls(nodes) == []


def test_cli_up_status_logs_down(
    lab: Callable[..., Lab], tmp_path: Path, run_cli: Callable[..., CliOutcome]
) -> None:
    nodes = lab(2, node0={"health_after_s": 3})
    cluster = lab_cluster(nodes, tmp_path)
    ssh = ("--ssh-config", str(nodes.ssh_config))
    started = run_cli("up", str(cluster), "--out", str(tmp_path / "launch"), *ssh)
    assert started.exit_code == 0, started.stdout + started.stderr
    assert "[node=node1] INFO headless engine ready" in started.stderr
    assert "verify.sh passed" in started.stdout
    table = run_cli("status", str(cluster), *ssh)
    assert table.exit_code == 0
    assert "| node0 | running | running | ok |" in table.stdout
    logged = run_cli("logs", str(cluster), "--node", "node1", *ssh)
    assert "[node=node1] INFO dsprep fake vllm: loading weights" in logged.stdout
    assert "[node=node0]" not in logged.stdout
    assert run_cli("down", str(cluster), *ssh).exit_code == 0
    after = run_cli("status", str(cluster), *ssh, "--format", "json").json()
    assert after["status"] == "ok"  # warnings only: every node is down
    assert {f["code"] for f in after["findings"]} == {"node-not-up"}


def test_an_unreachable_node_is_named(lab: Callable[..., Lab], tmp_path: Path) -> None:
    nodes = lab(2)
    nodes.nodes[1].sshd.kill()  # type: ignore[union-attr]
    nodes.nodes[1].sshd.wait()  # type: ignore[union-attr]
    result = up(options(nodes, lab_cluster(nodes, tmp_path), tmp_path))
    (unreachable,) = [f for f in result.findings if f.code == "ssh-unreachable"]
    assert unreachable.message.startswith(f"node1 ({nodes.nodes[1].ip}): ssh failed (exit 255)")
    assert not [a for _, _, a in calls(nodes) if a[0] == "docker"]  # stopped at the copy


def test_ctrl_c_says_what_was_left_running(lab: Callable[..., Lab], tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys
    import time

    nodes = lab(2, node0={"health_after_s": 600})
    cluster = lab_cluster(nodes, tmp_path)
    command = [sys.executable, "-m", "dsprep", "up", str(cluster), "--out", str(tmp_path / "l")]
    process = subprocess.Popen(
        [*command, "--ssh-config", str(nodes.ssh_config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while len([a for _, _, a in calls(nodes) if a[0] == "vllm"]) < 2:
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.2)
        time.sleep(1)  # now waiting for /health
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 1, stdout + stderr
    assert "dsprep up was interrupted (Ctrl-C): vLLM runs on node1, node0 [left-running]" in stdout
    assert f"fix: dsprep down {cluster} stops it all" in stdout
