"""``dsprep up``, ``down``, ``status`` and ``logs``: the cluster over OpenSSH.

Node log lines go to stderr as ``[node] line`` (text mode); stdout keeps the result."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from dsprep.cli.common import Command, format_option, progress_bar, run_command
from dsprep.errors import ExitCode

if TYPE_CHECKING:
    from dsprep.ops.control import DownSummary, LogsSummary, StatusSummary
    from dsprep.ops.up import UpSummary

CLUSTER = click.argument("cluster", type=click.Path(path_type=Path, dir_okay=False, readable=False))
SSH_CONFIG = click.option(
    "--ssh-config",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="An ssh config file to use instead of ~/.ssh/config (ssh -F).",
)
DRY_RUN = click.option(
    "--dry-run", is_flag=True, default=False, help="Print every command it would run; run none."
)


def line_printer(fmt: str) -> Callable[[str, str], None]:
    """Each node's line on stderr, prefixed with the node (text mode only)."""
    from dsprep.diagnose.nodelog import format_line

    def show(node: str, line: str) -> None:
        if fmt == "text":
            click.echo(format_line(node, line), err=True)

    return show


def _commands(commands: list[str]) -> list[str]:
    return ["commands it would run, in order:", *[f"  {c}" for c in commands]]


def up_summary(summary: UpSummary) -> list[str]:
    if summary.dry_run:
        return _commands(summary.commands)
    lines = [f"{s['node']}: {s['step']} {s['status']}" for s in summary.steps]
    if summary.health == "ok":
        lines.append(f"{summary.base_url}/health answered 200")
    if summary.verify:
        lines.append(f"verify.sh {summary.verify}")
    if summary.health == "ok" and summary.verify == "passed":
        lines.append(f"the cluster serves at {summary.base_url}")
    return lines


@click.command(
    "up",
    cls=Command,
    epilog="Example: dsprep up cluster.yaml --out launch/ --dry-run; dsprep up cluster.yaml",
)
@CLUSTER
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False, readable=False),
    default=Path("launch"),
    show_default=True,
    help="Where emit-launch writes the kit before it is copied to the nodes.",
)
@click.option(
    "--model-dir",
    type=click.Path(path_type=Path, file_okay=False, exists=True, readable=False),
    help="Local copy of the model (its manifest: the weights preflight checks on every node).",
)
@click.option("--verify-weights", is_flag=True, default=False, help="preflight.sh --verify.")
@click.option(
    "--health-timeout",
    type=click.IntRange(min=1),
    help="Seconds to wait for /health (default: PLAN.md's wait from the load estimate).",
)
@SSH_CONFIG
@DRY_RUN
@format_option
@click.pass_context
def up(
    ctx: click.Context,
    cluster: Path,
    out_dir: Path,
    model_dir: Path | None,
    verify_weights: bool,
    health_timeout: int | None,
    ssh_config: Path | None,
    dry_run: bool,
    fmt: str,
) -> ExitCode:
    """Start the cluster of CLUSTER over ssh (your ssh config and agent, BatchMode).

    Writes the kit (emit-launch --out), copies each node's folder to launch.remote_dir on
    that node, runs container.sh, then preflight.sh on every node at once (and compares
    the NPU TLS switch across nodes), starts the headless nodes, then the head, streams
    every node's log as [node] lines on stderr while it waits for /health, then runs
    verify.sh. The first failure stops it with the node and the line that failed; what was
    already started is listed (dsprep down stops it).
    """
    from dsprep.ops.up import UpOptions
    from dsprep.ops.up import up as core_up

    with progress_bar("waiting for /health", fmt == "text") as advance:
        options = UpOptions(
            cluster=cluster,
            out_dir=out_dir,
            model_dir=model_dir,
            ssh_config=ssh_config,
            dry_run=dry_run,
            verify_weights=verify_weights,
            health_timeout_s=health_timeout,
            on_line=line_printer(fmt),
            on_progress=advance,
        )
        return run_command(ctx, "up", fmt, lambda: core_up(options), up_summary)


def down_summary(summary: DownSummary) -> list[str]:
    if summary.dry_run:
        return _commands(summary.commands)
    return [f"{node}: {'; '.join(lines[-2:])}" for node, lines in summary.lines.items()]


@click.command("down", cls=Command, epilog="Example: dsprep down cluster.yaml")
@CLUSTER
@SSH_CONFIG
@DRY_RUN
@format_option
@click.pass_context
def down(
    ctx: click.Context, cluster: Path, ssh_config: Path | None, dry_run: bool, fmt: str
) -> ExitCode:
    """Stop vLLM and remove the container on every node of CLUSTER (stop.sh --container,
    all nodes at once). Safe to run again."""
    from dsprep.ops.control import down as core_down

    return run_command(
        ctx,
        "down",
        fmt,
        lambda: core_down(cluster, ssh_config, dry_run, line_printer(fmt)),
        down_summary,
    )


def status_table(summary: StatusSummary) -> list[str]:
    if summary.dry_run:
        return _commands(summary.commands)
    lines = ["| node | container | vLLM | health | pid | log |", "|---|---|---|---|---|---|"]
    for row in summary.nodes:
        if "error" in row:
            lines.append(f"| {row['node']} | ? | ? | ? | ? | {row['error']} |")
            continue
        cells = [row[k] for k in ("node", "container", "vllm", "health", "pid", "log")]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


@click.command("status", cls=Command, epilog="Example: dsprep status cluster.yaml")
@CLUSTER
@SSH_CONFIG
@DRY_RUN
@format_option
@click.pass_context
def status(
    ctx: click.Context, cluster: Path, ssh_config: Path | None, dry_run: bool, fmt: str
) -> ExitCode:
    """A table of the nodes of CLUSTER: container, vLLM process, /health of the head."""
    from dsprep.ops.control import status as core_status

    return run_command(
        ctx, "status", fmt, lambda: core_status(cluster, ssh_config, dry_run), status_table
    )


def logs_summary(summary: LogsSummary) -> list[str]:
    return _commands(summary.commands) if summary.dry_run else []


@click.command(
    "logs",
    cls=Command,
    epilog="Example: dsprep logs cluster.yaml --node node1 --follow",
)
@CLUSTER
@click.option("--node", "node", metavar="NAME", help="Only this node (default: every node).")
@click.option("--follow", is_flag=True, default=False, help="Keep printing new lines (Ctrl-C).")
@click.option("--lines", type=click.IntRange(min=1), default=100, show_default=True)
@SSH_CONFIG
@DRY_RUN
@format_option
@click.pass_context
def logs(
    ctx: click.Context,
    cluster: Path,
    node: str | None,
    follow: bool,
    lines: int,
    ssh_config: Path | None,
    dry_run: bool,
    fmt: str,
) -> ExitCode:
    """The last lines of vllm.log of every node (or --node), as [node] lines on stdout."""
    from dsprep.diagnose.nodelog import format_line
    from dsprep.ops.control import logs as core_logs

    def show(name: str, line: str) -> None:
        if fmt == "text":
            sys.stdout.write(format_line(name, line) + "\n")
            sys.stdout.flush()

    return run_command(
        ctx,
        "logs",
        fmt,
        lambda: core_logs(cluster, show, node, follow, lines, ssh_config, dry_run),
        logs_summary,
    )
