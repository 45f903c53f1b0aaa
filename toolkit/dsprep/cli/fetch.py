"""`dsprep fetch MODEL_ID --local-dir DIR`: config first, FP8 refused before any shard."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from dsprep.cli.common import Command, format_option, human_bytes, progress_bar, run_command
from dsprep.errors import ExitCode

if TYPE_CHECKING:
    from dsprep.weights.fetch import FetchSummary

LISTING = "listing"  # FetchSummary.refused_by: a listed name outside the folder


def fetch_summary(summary: FetchSummary) -> list[str]:
    lines = [
        f"repo:     {summary.repo}@{summary.revision} from {summary.endpoint}",
        f"release:  vllm-ascend {summary.profile}",
        f"listed:   {summary.remote_files} files, {human_bytes(summary.remote_bytes)}",
        f"folder:   {summary.local_dir}",
    ]
    if summary.refused:
        if summary.refused_by == LISTING:
            lines.append("refused:  the listing names files outside the folder; nothing downloaded")
        else:
            lines.append(
                f"refused:  no weight shard was requested ({len(summary.downloaded)} metadata "
                "file(s) read); no manifest written"
            )
        if summary.alternatives:
            lines.append("W8A8 repos for Ascend: " + ", ".join(summary.alternatives))
        return lines
    kept = f", {len(summary.kept)} kept with local changes" if summary.kept else ""
    lines.append(
        f"files:    {summary.files} ({human_bytes(summary.bytes)}): "
        f"{len(summary.downloaded)} downloaded, {len(summary.reused)} already present and "
        f"verified{kept}"
    )
    if summary.backups:
        lines.append(f"backups:  {', '.join(summary.backups)}")
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
    help="Files downloaded in parallel.",
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
@click.option(
    "--overwrite-local",
    is_flag=True,
    default=False,
    help="Replace files that differ from the hub and that dsprep did not write (hand edits); "
    "each is first moved to <name>.dsprep-local.",
)
@click.option(
    "--verify",
    is_flag=True,
    default=False,
    help="Re-hash files already in DIR even when the manifest's size/mtime/inode record "
    "says they are unchanged.",
)
@click.option(
    "--connect-timeout",
    type=click.FloatRange(0.1, 600),
    default=10.0,
    show_default=True,
    envvar="DSPREP_CONNECT_TIMEOUT",
    show_envvar=True,
    metavar="SECONDS",
    help="Seconds to wait for a connection to the hub.",
)
@click.option(
    "--read-timeout",
    type=click.FloatRange(0.1, 600),
    default=10.0,
    show_default=True,
    envvar="DSPREP_READ_TIMEOUT",
    show_envvar=True,
    metavar="SECONDS",
    help="Seconds to wait for an answer, or for a transfer slower than 1 KiB/s, before retrying.",
)
@click.option(
    "--retries",
    type=click.IntRange(0, 20),
    default=2,
    show_default=True,
    envvar="DSPREP_RETRIES",
    show_envvar=True,
    help="Further attempts after a time-out or a dropped transfer (per call, per file).",
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
    overwrite_local: bool,
    verify: bool,
    connect_timeout: float,
    read_timeout: float,
    retries: int,
    fmt: str,
) -> ExitCode:
    """Download W8A8 weights from ModelScope, reading config.json first.

    Lists the repo (sizes, SHA-256), refuses names that would land outside DIR, fetches
    config.json and the quantization description, checks them against the listing and
    refuses FP8 (or unreadable metadata) before a single shard is requested. Then
    downloads the rest with the modelscope client (progress on stderr, resume on re-run),
    writes DIR/.dsprep/manifest.json and runs `dsprep check` on the folder. Files already
    in DIR are not read again when the manifest records them unchanged; your own edits
    are kept (see --overwrite-local).
    """
    if not sys.stderr.isatty():
        # The client draws a tqdm bar per file (with cursor moves) even into a log or a
        # pipe, where they garble the output and the Error: line; tqdm reads this when
        # it is imported, which is below.
        os.environ.setdefault("TQDM_DISABLE", "1")
    from dsprep.weights.fetch import FetchOptions, fetch_model
    from dsprep.weights.hubclient import Limits

    with progress_bar("verifying present files") as progress:
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
            limits=Limits(connect=connect_timeout, read=read_timeout, retries=retries),
            verify=verify,
            overwrite_local=overwrite_local,
            progress=progress,
        )
        return run_command(ctx, "fetch", fmt, lambda: fetch_model(options), fetch_summary)
