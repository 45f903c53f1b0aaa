"""``dsprep diagnose LOG_OR_DIR...``: the known failures in the logs of a failed start, the
node and rank that failed first, and what follows from it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from dsprep.cli.common import Command, format_option, run_command
from dsprep.errors import ExitCode

if TYPE_CHECKING:
    from dsprep.diagnose.scan import DiagnoseSummary


def diagnose_summary(summary: DiagnoseSummary) -> list[str]:
    nodes = ", ".join(summary.nodes) or "none"
    files = len(summary.files)
    lines = [f"read {summary.lines} lines from {files} file{'s' if files != 1 else ''} "]
    lines[0] += f"(nodes: {nodes})"
    first = summary.first_failure
    if first is None:
        lines.append("no known failure in the logs")
    else:
        lines.append(f"first failure: {first.where}: {first.code}")
        after = sum(1 for f in summary.failures if f.consequence_of)
        if after:
            lines.append(f"consequences of it: {after}")
    if summary.dropped:
        lines.append(f"{summary.dropped} further distinct failures were counted, not kept")
    return lines


@click.command(
    "diagnose",
    cls=Command,
    epilog="Example: dsprep diagnose logs/   (or: dsprep diagnose node0.log node1.log)",
)
@click.argument(
    "logs",
    nargs=-1,
    required=True,
    type=click.Path(path_type=Path, exists=False, readable=False),
)
@format_option
@click.pass_context
def diagnose(ctx: click.Context, logs: tuple[Path, ...], fmt: str) -> ExitCode:
    """Name the cause and the fix of a failed vLLM / vllm-ascend start from its logs.

    LOGS are log files (one per node: the file name names the node), `[node=NAME] `
    prefixed streams as `dsprep logs` writes them, or folders of per-node logs. Each known
    failure is reported with its cause, its fix and the dsprep check that catches it before
    the start; the first failure (node, rank, time) is named and the failures that follow
    from it are warnings. Exit 1 when a known failure is found, 0 when none, 3 when a log
    cannot be read.
    """
    from dsprep.diagnose.scan import diagnose as run

    return run_command(ctx, "diagnose", fmt, lambda: run(logs), diagnose_summary)
