"""``dsprep emit-launch``: one cluster file → every node's scripts, verify.sh and PLAN.md."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from dsprep.cli.common import Command, format_option, run_command
from dsprep.errors import ExitCode

if TYPE_CHECKING:
    from dsprep.launch.emit import EmitSummary, InitSummary
    from dsprep.launch.migrate import MigratedEmit, MigrationSummary

DEFAULT_INIT = Path("cluster.yaml")


def init_summary(summary: InitSummary) -> list[str]:
    if not summary.written:
        return ["the example cluster file is already there, unchanged"]
    values = (
        f"vllm-ascend {summary.tag}'s documented multi-node defaults"
        if summary.tag
        else "the manual's two-node values"
    )
    return [
        f"wrote the example cluster file {summary.target} ({values})",
        f"next: edit it, then: dsprep emit-launch {summary.target} --out launch/",
    ]


SCOPES = (
    ("file", "the cluster file changes"),
    ("launch", "what emit-launch writes changes"),
    ("default", "release defaults that change (a launch does not set them)"),
    ("advice", "advice for the new release (never applied)"),
)


def migration_summary(summary: MigrationSummary) -> list[str]:
    if not summary.source:
        return [f"{summary.file}: not migrated: fix the problems below first"]
    lines = [f"{summary.file}: {summary.source} → {summary.target} (image tag {summary.tag})"]
    for scope, title in SCOPES:
        changes = summary.lines(scope)
        if changes:
            lines.append(f"{title}:")
            lines += [f"  {change}" for change in changes]
    if not summary.lines("file"):
        lines.append("the cluster file needs no change")
    elif summary.written:
        lines.append(f"rewrote {summary.file} (the original is kept as {summary.backup})")
        if summary.rewritten:
            lines.append("its layout was not one dsprep edits in place: written out afresh")
    else:
        lines.append(
            f"nothing written: dsprep emit-launch {summary.file} --image {summary.tag} --migrate"
            " rewrites it"
        )
    if summary.comments_lost:
        lines.append(f"comments {'lost' if summary.written else 'it would lose'}:")
        lines += [f"  {comment}" for comment in summary.comments_lost]
    return lines


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

        if memory.get("fits"):
            verdict = f"fits, headroom {gib(memory['headroom_bytes'])}"
        elif memory.get("starts"):
            verdict = (
                f"starts, holding at most {memory['max_num_seqs_fit']} sequences of max_model_len"
                " at once"
            )
        else:
            verdict = "DOES NOT FIT (vLLM stops at start)"
        details = f" (details in {summary.out}/PLAN.md)" if "PLAN.md" in summary.written else ""
        lines.append(f"memory per NPU: {verdict}{details}")
    if "PLAN.md" in summary.written:
        lines.append(f"next: follow the run order in {summary.out}/PLAN.md")
    else:
        lines.append(f"next: kubectl apply -f {summary.out}/lws.yaml (see the README)")
    return lines


@click.command(
    "emit-launch",
    cls=Command,
    epilog=(
        "Example: dsprep emit-launch --init cluster.yaml && "
        "dsprep emit-launch cluster.yaml --out launch/; "
        "dsprep emit-launch cluster.yaml --target k8s --out k8s/; "
        "dsprep emit-launch cluster.yaml --image v0.23.0 --migrate"
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
    "--image",
    "tag",
    metavar="TAG",
    help="A vllm-ascend image tag: with --init, write that release's documented multi-node"
    " defaults; with CLUSTER, list what changes to carry the file to that release.",
)
@click.option(
    "--migrate",
    is_flag=True,
    default=False,
    help="With --image: rewrite CLUSTER for that release (atomic, the original kept as"
    " CLUSTER.dsprep-orig), then emit to --out if given.",
)
@click.option(
    "--model-dir",
    type=click.Path(path_type=Path, file_okay=False, exists=True, readable=False),
    help="Local copy of the model (config.json, shards) for exact weight bytes in PLAN.md.",
)
@click.option(
    "--target",
    type=click.Choice(["docker", "k8s"]),
    default="docker",
    show_default=True,
    help="docker: the node scripts; k8s: a LeaderWorkerSet and a Service (OUT/lws.yaml).",
)
@format_option
@click.pass_context
def emit_launch(
    ctx: click.Context,
    cluster: Path | None,
    out_dir: Path | None,
    init: bool,
    tag: str | None,
    migrate: bool,
    model_dir: Path | None,
    target: str,
    fmt: str,
) -> ExitCode:
    """Validate CLUSTER and write ready-to-run scripts for every node.

    Per node: env.sh, container.sh, preflight.sh, serve.sh, vllm.sh, stop.sh, status.sh
    and the wheel of this dsprep; plus verify.sh and PLAN.md
    (topology, run order, exact commands, findings, memory fit). Nothing is written when
    the cluster file has an error; every error names its key path and the fix. --out is
    replaced as a whole (the previous output moves to OUT.dsprep-prev); a file you edited
    since the last run is kept as FILE.dsprep-user and reported.

    With --target k8s, OUT/lws.yaml holds a LeaderWorkerSet (one group, a pod per node) and
    its Service instead, the pods running the same vllm serve argv.

    With --image TAG, CLUSTER is judged for that release: the changes it needs (graph mode
    and sizes, MTP method, env variables that became --additional-config keys, removed or
    renamed keys, changed defaults) are listed, and --migrate writes them.
    """
    from dsprep.launch.emit import emit_launch as core_emit
    from dsprep.launch.emit import write_example

    if init:
        example = cluster or DEFAULT_INIT
        return run_command(
            ctx, "emit-launch", fmt, lambda: write_example(example, tag), init_summary
        )
    if migrate and tag is None:
        raise click.UsageError("--migrate needs --image TAG (the release to migrate to)")
    if tag is not None and cluster is not None and (migrate or out_dir is None):
        return _migrate(ctx, cluster, tag, migrate, out_dir, model_dir, fmt)
    if tag is not None:
        raise click.UsageError(
            "--image with --out needs --migrate: the scripts are written from the cluster file,"
            " so migrate it first (or drop --image)"
        )
    if cluster is None or out_dir is None:
        raise click.UsageError("give a CLUSTER file and --out DIR (or --init to write an example)")
    cluster_path, out_path = cluster, out_dir
    return run_command(
        ctx,
        "emit-launch",
        fmt,
        lambda: core_emit(cluster_path, out_path, model_dir, target),
        emit_summary,
    )


def _migrate(
    ctx: click.Context,
    cluster: Path,
    tag: str,
    write: bool,
    out_dir: Path | None,
    model_dir: Path | None,
    fmt: str,
) -> ExitCode:
    """List (or, with --migrate, write) the changes for ``tag``; with --out, then emit."""
    from dsprep.launch.migrate import migrate, migrate_and_emit

    if out_dir is None:
        return run_command(
            ctx, "emit-launch", fmt, lambda: migrate(cluster, tag, write=write), migration_summary
        )
    out = out_dir

    def both(summary: MigratedEmit) -> list[str]:
        lines = migration_summary(summary.migration)
        return lines + (["", *emit_summary(summary.emit)] if summary.emit else [])

    return run_command(
        ctx, "emit-launch", fmt, lambda: migrate_and_emit(cluster, tag, out, model_dir), both
    )
