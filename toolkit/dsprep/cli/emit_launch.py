"""``dsprep emit-launch``: one cluster file → every node's scripts, verify.sh and PLAN.md."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from dsprep.cli.common import Command, format_option, run_command
from dsprep.errors import ExitCode

if TYPE_CHECKING:
    from dsprep.launch.emit import EmitSummary, InitSummary

DEFAULT_INIT = Path("cluster.yaml")


def init_summary(summary: InitSummary) -> list[str]:
    if not summary.written:
        return ["the example cluster file is already there, unchanged"]
    return [
        f"wrote the example cluster file {summary.target} (the manual's two-node values)",
        f"next: edit it, then: dsprep emit-launch {summary.target} --out launch/",
    ]


def emit_summary(summary: EmitSummary) -> list[str]:
    if not summary.written:
        return ["nothing written: fix the problems below and run again"]
    if summary.up_to_date:
        lines = [
            f"{summary.out} holds these {len(summary.written)} files already (nothing written):"
        ]
    else:
        lines = [f"wrote {len(summary.written)} files to {summary.out}:"]
    lines += [f"  {name}" for name in summary.written]
    for kept in summary.kept:
        lines.append(f"kept your {kept['file']} as {kept['kept_as']} (see below)")
    if summary.previous:
        lines.append(f"the previous output is in {summary.previous} (until the next run)")
    memory = summary.memory
    if memory:
        from dsprep.launch.plan import gib

        verdict = "fits" if memory.get("fits") else "DOES NOT FIT"
        lines.append(
            f"memory per NPU: {verdict}, headroom {gib(memory['headroom_bytes'])}"
            f" (details in {summary.out}/PLAN.md)"
        )
    lines.append(f"next: follow the run order in {summary.out}/PLAN.md")
    return lines


@click.command(
    "emit-launch",
    cls=Command,
    epilog=(
        "Example: dsprep emit-launch --init cluster.yaml && "
        "dsprep emit-launch cluster.yaml --out launch/"
    ),
)
@click.argument(
    "cluster", required=False, type=click.Path(path_type=Path, dir_okay=False, readable=False)
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False, readable=False),
    help="Folder for the scripts: one sub-folder per node, verify.sh and PLAN.md.",
)
@click.option(
    "--init",
    is_flag=True,
    default=False,
    help="Write an annotated example cluster file (to CLUSTER, default cluster.yaml) and stop.",
)
@click.option(
    "--model-dir",
    type=click.Path(path_type=Path, file_okay=False, exists=True, readable=False),
    help="Local copy of the model (config.json, shards) for exact weight bytes in PLAN.md.",
)
@format_option
@click.pass_context
def emit_launch(
    ctx: click.Context,
    cluster: Path | None,
    out_dir: Path | None,
    init: bool,
    model_dir: Path | None,
    fmt: str,
) -> ExitCode:
    """Validate CLUSTER and write ready-to-run scripts for every node.

    Per node: env.sh, container.sh, preflight.sh, serve.sh; plus verify.sh and PLAN.md
    (topology, run order, exact commands, findings, memory fit). Nothing is written when
    the cluster file has an error; every error names its key path and the fix. --out is
    replaced as a whole (the previous output moves to OUT.dsprep-prev); a file you edited
    since the last run is kept as FILE.dsprep-user and reported.
    """
    from dsprep.launch.emit import emit_launch as core_emit
    from dsprep.launch.emit import write_example

    if init:
        target = cluster or DEFAULT_INIT
        return run_command(ctx, "emit-launch", fmt, lambda: write_example(target), init_summary)
    if cluster is None or out_dir is None:
        raise click.UsageError("give a CLUSTER file and --out DIR (or --init to write an example)")
    cluster_path, out_path = cluster, out_dir
    return run_command(
        ctx, "emit-launch", fmt, lambda: core_emit(cluster_path, out_path, model_dir), emit_summary
    )
