"""``dsprep plan``: does the model plus its KV cache fit the NPUs of a cluster file?"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from dsprep.cli.common import format_option, run_command
from dsprep.findings import Result


def _summary(data: dict[str, Any]) -> list[str]:
    return list(data.get("lines", []))


@click.command(
    "plan", epilog="Example: dsprep plan cluster.yaml --model-dir /data/DeepSeek-V3.1-w8a8"
)
@click.argument("cluster", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--model-dir",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    help="Local copy of the model: config.json and shard headers give exact weight bytes.",
)
@format_option
@click.pass_context
def plan(ctx: click.Context, cluster: Path, model_dir: Path | None, fmt: str) -> None:
    """Memory fit per NPU: weights (experts over the EP group, the rest over TP), MLA KV
    cache for max_num_seqs × max_model_len and a reserve, against HBM ×
    gpu_memory_utilization. Says the headroom, or the largest max_model_len and
    max_num_seqs that fit.
    """
    from dsprep.launch.emit import plan_result

    def produce() -> Result:
        return plan_result(cluster, model_dir)

    run_command(ctx, "plan", fmt, produce, _summary)
