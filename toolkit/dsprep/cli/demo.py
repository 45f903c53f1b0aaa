"""`dsprep demo [DIR]`: the main job on the bundled sample, through a loopback hub."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from dsprep.cli.common import Command, format_option, run_command
from dsprep.errors import ExitCode

if TYPE_CHECKING:
    from dsprep.demo.run import DemoSummary, StepRecord


def step_line(number: int, total: int, record: StepRecord) -> str:
    text = f" - {record.summary}" if record.summary else ""
    details = "".join(f"\n      {line}" for line in record.details)
    return f"[{number}/{total}] {record.name}: {record.status}{text}{details}"


def demo_summary(summary: DemoSummary) -> list[str]:
    """What follows the steps (printed as they ran): where the results are."""
    lines: list[str] = []
    if summary.model_dir:
        lines.append(f"W8A8 model: {summary.model_dir}")
    if summary.launch_dir:
        lines.append(f"launch scripts: {summary.launch_dir} (start with PLAN.md)")
    if summary.model_dir:
        lines.append(f"next: dsprep check --verify-hashes {summary.model_dir}")
    return lines


@click.command("demo", cls=Command, epilog="Example: dsprep demo /tmp/dsprep-demo")
@click.argument("folder", metavar="[DIR]", required=False, type=click.Path(path_type=Path))
@format_option
@click.pass_context
def demo(ctx: click.Context, folder: Path | None, fmt: str) -> ExitCode:
    """Run the main job on the bundled sample, with no network beyond 127.0.0.1.

    Builds a tiny DeepSeek-V3-shaped W8A8 repo and an FP8 one, serves them from a
    ModelScope-compatible hub on 127.0.0.1, fetches the W8A8 repo with the real modelscope
    client, shows the FP8 repo refused before any shard is transferred, checks the
    download against its manifest, lints and rewrites its chat template, writes the
    launch scripts of the manual's cluster, then migrates a copy of that cluster to the
    newest bundled release, prints what changes and writes its scripts too. DIR (default:
    a new temporary folder) holds everything, including the client's cache and
    credentials. Each step is printed as it runs.
    """
    from dsprep.demo.run import DemoListener, run_demo

    class Printer(DemoListener):
        def started(self, root: Path, temporary: bool, steps: int) -> None:
            where = " (a new temporary folder)" if temporary else ""
            click.echo(f"dsprep demo in {root}{where}")

        def step(self, number: int, total: int, record: StepRecord) -> None:
            click.echo(step_line(number, total, record))

    listener = Printer() if fmt == "text" else None
    return run_command(ctx, "demo", fmt, lambda: run_demo(folder, listener=listener), demo_summary)
