"""``dsprep check DIR``: the thin Click layer over :func:`dsprep.weights.check.check_model_dir`."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from dsprep.cli.common import format_option, human_bytes, run_command
from dsprep.findings import Result


def check_summary(data: dict[str, Any]) -> list[str]:
    """The text summary: architecture, quant types, shards, bytes, MTP."""
    if not data:
        return []
    types = data.get("quant_types") or {}
    quant = ", ".join(f"{name} ×{count}" for name, count in types.items()) or "none described"
    mtp_layers = data.get("mtp_layers") or []
    mtp = f"yes (layer {', '.join(map(str, mtp_layers))})" if data.get("mtp") else "no"
    lines = [
        f"model:        {data.get('model_dir', '')}",
        f"architecture: {data.get('architecture', 'unknown')}",
        f"quant types:  {quant}",
        f"shards:       {data.get('shards', 0)} ({data.get('tensors', 0)} tensors)",
        f"total bytes:  {human_bytes(int(data.get('total_bytes', 0)))}",
        f"MTP:          {mtp}",
    ]
    hashes = data.get("hashes")
    if hashes:
        lines.append(f"hashes:       {hashes['verified']} of {hashes['files']} files verified")
    return lines


@contextmanager
def _progress(model_dir: Path, sha256_file: Path | None, wanted: bool) -> Iterator[Any]:
    """A progress bar on stderr while hashing (only when stderr is a terminal)."""
    if not wanted or not sys.stderr.isatty():
        yield None
        return
    from dsprep.weights.hashes import manifest_targets, sha256sum_targets, target_bytes
    from dsprep.weights.safety import ModelDir

    try:
        model = ModelDir(model_dir)
        targets = sha256sum_targets(sha256_file) if sha256_file else manifest_targets(model)
        total = target_bytes(model, targets)
    except Exception:  # the core reports the real problem; the bar is only decoration
        yield None
        return
    with click.progressbar(length=total, label="hashing", file=sys.stderr) as bar:
        seen = [0]

        def advance(done: int) -> None:
            bar.update(done - seen[0])
            seen[0] = done

        yield advance


@click.command(
    "check",
    epilog="Example: dsprep check ./DeepSeek-V3.1-w8a8 --verify-hashes --format json",
)
@click.argument("model_dir", type=click.Path(path_type=Path))
@click.option(
    "--verify-hashes", is_flag=True, help="Re-hash every file against .dsprep/manifest.json."
)
@click.option(
    "--sha256-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Verify against this sha256sum list instead of the manifest (implies hashing).",
)
@click.option(
    "--fix",
    is_flag=True,
    help="Repair what is safe (leftover quantization_config, torch_dtype, a misnamed "
    "description) atomically, with a backup.",
)
@click.option("--jobs", type=click.IntRange(1, 64), default=None, help="Files hashed in parallel.")
@format_option
@click.pass_context
def check(
    ctx: click.Context,
    model_dir: Path,
    verify_hashes: bool,
    sha256_file: Path | None,
    fix: bool,
    jobs: int | None,
    fmt: str,
) -> None:
    """Prove a weights folder is servable by vllm-ascend before the 20-minute load.

    Reads config.json, quant_model_description.json, the shard index and every shard
    header (never tensor data, never a file outside MODEL_DIR) and reports FP8 weights,
    misnamed descriptions, uncovered layers, bad quantized tensors, leftover config keys,
    missing or truncated shards. Exit 0 ok, 1 problems found, 3 could not run.
    """
    from dsprep.weights.check import CheckOptions, check_model_dir

    hashing = verify_hashes or sha256_file is not None
    with _progress(model_dir, sha256_file, hashing) as advance:
        options = CheckOptions(
            verify_hashes=hashing,
            sha256_file=sha256_file,
            fix=fix,
            max_workers=jobs,
            progress=advance,
        )
        produce: Callable[[], Result] = lambda: check_model_dir(model_dir, options)  # noqa: E731
        run_command(ctx, "check", fmt, produce, check_summary)
