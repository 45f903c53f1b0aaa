"""`dsprep fetch MODEL_ID --local-dir DIR`: config first, FP8 refused before any shard."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from dsprep.cli.common import Command, format_option, human_bytes, run_command
from dsprep.errors import ExitCode

if TYPE_CHECKING:
    from dsprep.weights.fetch import FetchSummary


def fetch_summary(summary: FetchSummary) -> list[str]:
    lines = [
        f"repo:     {summary.repo}@{summary.revision} from {summary.endpoint}",
        f"release:  vllm-ascend {summary.profile}",
        f"listed:   {summary.remote_files} files, {human_bytes(summary.remote_bytes)}",
        f"folder:   {summary.local_dir}",
    ]
    if summary.refused:
        lines.append(
            f"refused:  no weight shard was requested ({len(summary.downloaded)} metadata "
            "file(s) read); no manifest written"
        )
        if summary.alternatives:
            lines.append("W8A8 repos for Ascend: " + ", ".join(summary.alternatives))
        return lines
    lines.append(
        f"files:    {summary.files} ({human_bytes(summary.bytes)}): "
        f"{len(summary.downloaded)} downloaded, {len(summary.reused)} already present and verified"
    )
    lines.append(f"manifest: {summary.manifest}")
    if summary.check is not None:
        lines.append(f"check:    {summary.check.status}")
    return lines


@click.command(
    "fetch",
    cls=Command,
    epilog="Example: dsprep fetch Eco-Tech/DeepSeek-V3.1-w8a8-mtp-QuaRot --local-dir ./w8a8",
)
@click.argument("model_id")
@click.option(
    "--local-dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to download into (created if missing); re-running resumes.",
)
@click.option(
    "--revision",
    default=None,
    help="Branch, tag or commit [default: the repo's default branch, resolved once].",
)
@click.option("--include", multiple=True, metavar="GLOB", help="Only download matching files.")
@click.option("--exclude", multiple=True, metavar="GLOB", help="Skip matching files.")
@click.option(
    "--max-workers",
    default=4,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Parallel files.",
)
@click.option(
    "--endpoint",
    default=None,
    help="Hub URL [default: MODELSCOPE_ENDPOINT, else https://modelscope.cn].",
)
@click.option(
    "--allow-unverified",
    is_flag=True,
    default=False,
    help="Download even when the repo has no quant_model_description.json (and no FP8).",
)
@click.option(
    "--image",
    metavar="TAG",
    default=None,
    help="The vllm-ascend image tag the gate and the final check judge for [default: newest].",
)
@format_option
@click.pass_context
def fetch(
    ctx: click.Context,
    model_id: str,
    local_dir: Path,
    revision: str | None,
    include: tuple[str, ...],
    exclude: tuple[str, ...],
    max_workers: int,
    endpoint: str | None,
    allow_unverified: bool,
    image: str | None,
    fmt: str,
) -> ExitCode:
    """Download W8A8 weights from ModelScope, reading config.json first.

    Lists the repo (sizes, SHA-256), fetches config.json and the quantization description,
    checks them against the listing and refuses FP8 before a single shard is requested.
    Then downloads the rest with the modelscope client (progress on stderr, resume on
    re-run), writes DIR/.dsprep/manifest.json and runs `dsprep check` on the folder.
    """
    from dsprep.weights.fetch import FetchOptions, fetch_model

    options = FetchOptions(
        model_id=model_id,
        local_dir=local_dir,
        revision=revision,
        include=include,
        exclude=exclude,
        max_workers=max_workers,
        endpoint=endpoint,
        allow_unverified=allow_unverified,
        image=image,
    )
    return run_command(ctx, "fetch", fmt, lambda: fetch_model(options), fetch_summary)
