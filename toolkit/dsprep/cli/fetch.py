"""`dsprep fetch MODEL_ID --local-dir DIR`: config first, FP8 refused before any shard."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from dsprep.cli.common import format_option, human_bytes, run_command
from dsprep.findings import Result


def fetch_summary(data: dict[str, Any]) -> list[str]:
    if not data:
        return []
    lines = [
        f"repo:     {data['repo']}@{data['revision']} from {data['endpoint']}",
        f"listed:   {data['remote_files']} files, {human_bytes(data['remote_bytes'])}",
        f"folder:   {data['local_dir']}",
    ]
    if data.get("refused"):
        lines.append(
            f"refused:  no weight shard was requested ({len(data['downloaded'])} metadata "
            "file(s) read); no manifest written"
        )
        if data.get("alternatives"):
            lines.append("W8A8 repos for Ascend: " + ", ".join(data["alternatives"]))
        return lines
    lines.append(
        f"files:    {data['files']} ({human_bytes(data['bytes'])}): "
        f"{len(data['downloaded'])} downloaded, {len(data['reused'])} already present and verified"
    )
    lines.append(f"manifest: {data['manifest']}")
    if "check" in data:
        lines.append(f"check:    {data['check']['status']}")
    return lines


@click.command(
    "fetch",
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
    fmt: str,
) -> None:
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
    )

    def produce() -> Result:
        return fetch_model(options)

    run_command(ctx, "fetch", fmt, produce, fetch_summary)
