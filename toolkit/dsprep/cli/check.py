"""``dsprep check DIR``: the thin Click layer over :func:`dsprep.weights.check.check_model_dir`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from dsprep.cli.common import Command, format_option, human_bytes, progress_bar, run_command
from dsprep.errors import ExitCode

if TYPE_CHECKING:
    from dsprep.weights.check import CheckSummary


def check_summary(summary: CheckSummary) -> list[str]:
    """The text summary: release, architecture, quant types, shards, bytes, MTP, hashes."""
    types = summary.quant_types
    quant = ", ".join(f"{name} ×{count}" for name, count in types.items()) or "none described"
    layers = ", ".join(map(str, summary.mtp_layers))
    default = " (the newest bundled profile; pass --image for yours)"
    lines = [
        f"model:        {summary.model_dir}",
        f"release:      vllm-ascend {summary.profile}"
        + (default if summary.profile_is_default else ""),
        f"architecture: {summary.architecture}",
        f"quant types:  {quant}",
        f"shards:       {summary.shards} ({summary.tensors} tensors)",
        f"total bytes:  {human_bytes(summary.total_bytes)}",
        f"MTP:          {f'yes (layer {layers})' if summary.mtp else 'no'}",
    ]
    hashes = summary.hashes
    if hashes is not None:
        rewritten = f", {hashes.rewritten} rewritten by dsprep" if hashes.rewritten else ""
        failed = f", {hashes.failed} failed" if hashes.failed else ""
        lines.append(
            f"hashes:       {hashes.verified} of {hashes.files} files verified{rewritten}{failed}"
        )
    return lines


@click.command(
    "check",
    cls=Command,
    epilog="Example: dsprep check ./DeepSeek-V3.1-w8a8 --image v0.11.0rc0 --verify-hashes",
)
@click.argument("model_dir", type=click.Path(readable=False))
@click.option(
    "--image",
    metavar="TAG",
    default=None,
    help="The vllm-ascend image tag to judge for [default: the newest bundled profile].",
)
@click.option(
    "--speculative",
    is_flag=True,
    help="MTP speculative decoding will be on (the MTP layer must then be described).",
)
@click.option(
    "--verify-hashes", is_flag=True, help="Re-hash every file against .dsprep/manifest.json."
)
@click.option(
    "--sha256-file",
    type=click.Path(dir_okay=False),
    default=None,
    help="Verify against this sha256sum list instead of the manifest (implies hashing).",
)
@click.option(
    "--fix",
    is_flag=True,
    help="Repair what is safe (leftover quantization_config, torch_dtype, a misnamed "
    "description) atomically, with a backup.",
)
@click.option("--force", is_flag=True, help="With --fix: also rewrite a read-only config.json.")
@click.option("--jobs", type=click.IntRange(1, 64), default=None, help="Files hashed in parallel.")
@format_option
@click.pass_context
def check(
    ctx: click.Context,
    model_dir: str,
    image: str | None,
    speculative: bool,
    verify_hashes: bool,
    sha256_file: str | None,
    fix: bool,
    force: bool,
    jobs: int | None,
    fmt: str,
) -> ExitCode:
    """Prove a weights folder is servable by a vllm-ascend release before the 20-minute load.

    Reads config.json, quant_model_description.json, the shard index and every shard
    header (never tensor data, never a file outside MODEL_DIR) and reports FP8 weights,
    misnamed descriptions, uncovered layers, bad quantized tensors, leftover config keys,
    missing or truncated shards, as the release of --image would meet them. Exit 0 ok,
    1 problems found, 3 could not run.
    """
    from pathlib import Path  # (not at import: `check --help` stays quick)

    from dsprep.weights.check import CheckOptions, check_model_dir

    hashing = verify_hashes or sha256_file is not None
    with progress_bar("hashing", hashing) as advance:
        options = CheckOptions(
            image=image,
            speculative=speculative,
            verify_hashes=hashing,
            sha256_file=Path(sha256_file) if sha256_file is not None else None,
            fix=fix,
            force=force,
            max_workers=jobs,
            progress=advance,
        )
        return run_command(
            ctx, "check", fmt, lambda: check_model_dir(Path(model_dir), options), check_summary
        )
