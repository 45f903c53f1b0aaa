"""`dsprep demo [DIR]`: the main job on the bundled sample, through a loopback hub."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from dsprep.cli.common import format_option, run_command
from dsprep.findings import Result


def demo_summary(data: dict[str, Any]) -> list[str]:
    if not data:
        return []
    where = " (a new temporary folder)" if data.get("temporary") else ""
    lines = [f"dsprep demo in {data['dir']}{where}"]
    steps = data.get("steps", [])
    for i, step in enumerate(steps, start=1):
        text = step.get("summary", "")
        lines.append(
            f"[{i}/{len(steps)}] {step['name']}: {step['status']}" + (f" - {text}" if text else "")
        )
    if "model_dir" in data:
        lines.append(f"W8A8 model: {data['model_dir']}")
    if data.get("launch_dir"):
        lines.append(f"launch scripts: {data['launch_dir']} (start with PLAN.md)")
    if data.get("model_dir"):
        lines.append(f"next: dsprep check --verify-hashes {data['model_dir']}")
    return lines


@click.command("demo", epilog="Example: dsprep demo /tmp/dsprep-demo")
@click.argument("folder", metavar="[DIR]", required=False, type=click.Path(path_type=Path))
@format_option
@click.pass_context
def demo(ctx: click.Context, folder: Path | None, fmt: str) -> None:
    """Run the main job on the bundled sample, with no network beyond 127.0.0.1.

    Builds a tiny DeepSeek-V3-shaped W8A8 repo and an FP8 one, serves them from a
    ModelScope-compatible hub on 127.0.0.1, fetches the W8A8 repo with the real modelscope
    client, shows the FP8 repo refused before any shard is transferred, and checks the
    download against its manifest. DIR (default: a new temporary folder) holds everything,
    including the client's cache and credentials.
    """
    from dsprep.demo.run import run_demo

    def produce() -> Result:
        return run_demo(folder)

    run_command(ctx, "demo", fmt, produce, demo_summary)
