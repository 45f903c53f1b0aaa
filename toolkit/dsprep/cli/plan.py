"""``dsprep plan``: does the model plus its KV cache fit the NPUs of a cluster file?"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from dsprep.cli.common import Command, format_option, run_command
from dsprep.errors import ExitCode

if TYPE_CHECKING:
    from dsprep.launch.emit import PlanSummary


def plan_summary(summary: PlanSummary) -> list[str]:
    return list(summary.lines)


@click.command(
    "plan",
    cls=Command,
    epilog="Example: dsprep plan cluster.yaml --model-dir /data/DeepSeek-V3.1-w8a8 "
    "(after a start: --from-log logs/)",
)
@click.argument("cluster", type=click.Path(path_type=Path, dir_okay=False, readable=False))
@click.option(
    "--model-dir",
    type=click.Path(path_type=Path, file_okay=False, exists=True, readable=False),
    help="Local copy of the model: config.json and shard headers give exact weight bytes.",
)
@click.option(
    "--from-log",
    "logs",
    multiple=True,
    type=click.Path(path_type=Path, readable=False),
    help="A log of a start (file, `dsprep logs` stream or folder of per-node logs; "
    "repeatable): vLLM's own memory lines per node, beside the plan.",
)
@format_option
@click.pass_context
def plan(
    ctx: click.Context, cluster: Path, model_dir: Path | None, logs: tuple[Path, ...], fmt: str
) -> ExitCode:
    """Memory fit per NPU: weights as the release loads them (experts over the EP group,
    the rest over TP, the MTP layer with speculative decoding), MLA KV cache for
    max_num_seqs × max_model_len and a reserve, against the memory torch sees ×
    gpu_memory_utilization. Says the headroom, or the largest max_model_len and
    max_num_seqs that fit. With --from-log, the figures vLLM logged at start beside it.
    """
    from dsprep.launch.emit import plan_result

    return run_command(
        ctx, "plan", fmt, lambda: plan_result(cluster, model_dir, logs), plan_summary
    )
