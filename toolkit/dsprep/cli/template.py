"""``dsprep template``: the thin Click layer over dsprep.template.rewrite and .lint."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from dsprep.cli.common import format_option, run_command
from dsprep.findings import Result


def template_summary(data: dict[str, Any]) -> list[str]:
    if not data:
        return []
    lines = [f"file:   {data.get('path', '')}"]
    for entry in data.get("entries", []):
        lines.append(f"entry:  {entry['name']}: {entry['kind']} -> {entry['action']}")
    for entry in data.get("templates", []):
        default = entry["thinking_default"]
        thinking = "unset" if default is None else ("on" if default else "off")
        tools = "yes" if entry["tools"] else "no"
        lines.append(
            f"entry:  {entry['name']}: {entry['kind']}, thinking default {thinking}, tools {tools}"
        )
    status = data.get("status")
    if status == "up-to-date":
        lines.append("status: up to date (nothing written)")
    elif status == "rewritten":
        lines.append(f"status: rewritten (original kept as {data.get('backup', '')})")
    elif status == "would-rewrite":
        lines.append("status: would rewrite (dry run, nothing written)")
    elif status:
        lines.append(f"status: {status} (nothing written)")
    if "self_test_renders" in data:
        lines.append(f"self-test: {data['self_test_renders']} renders checked")
    return lines


@click.command(
    "template",
    epilog="Example: dsprep template ./DeepSeek-V3.1-w8a8 --thinking off --tools --dry-run\n\n"
    "Example: dsprep template ./DeepSeek-V3.1-w8a8/tokenizer_config.json --check",
)
@click.argument("target", metavar="MODEL_DIR_OR_TOKENIZER_CONFIG", type=click.Path(path_type=Path))
@click.option(
    "--thinking",
    type=click.Choice(["on", "off"]),
    default=None,
    help="Thinking default when a request sends none (required unless --check).",
)
@click.option(
    "--tools/--no-tools",
    default=None,
    help="Add the model card's tool description when tools are passed [default: --tools].",
)
@click.option("--force", is_flag=True, help="Replace an unknown template with dsprep's.")
@click.option("--dry-run", is_flag=True, help="Print the unified diff; write nothing.")
@click.option(
    "--check",
    is_flag=True,
    help="Lint without writing: syntax, special tokens, ASCII-bar look-alikes, defaults.",
)
@format_option
@click.pass_context
def template(
    ctx: click.Context,
    target: Path,
    thinking: str | None,
    tools: bool | None,
    force: bool,
    dry_run: bool,
    check: bool,
    fmt: str,
) -> None:
    """Rewrite or lint the DeepSeek-V3.1 chat template of a model folder.

    Recognises the published template, vLLM's example, a copy with ASCII-bar look-alike
    tokens and an earlier dsprep template, and replaces it with dsprep's (thinking default
    from --thinking, tool description with --tools). An unknown template only gets its
    standard thinking-default line switched; anything else needs --force. Writes are atomic,
    keep the original once as <file>.dsprep-orig, and a second identical run changes
    nothing. Exit 0 ok, 1 problems or refused, 2 usage, 3 could not run.
    """
    if check:
        from dsprep.template.lint import check_template

        run_command(ctx, "template --check", fmt, lambda: check_template(target), template_summary)
    if thinking is None:
        raise click.UsageError("pass --thinking on|off (or --check to lint)", ctx=ctx)
    from dsprep.template.rewrite import RewriteOptions, rewrite

    options = RewriteOptions(thinking == "on", tools, force, dry_run)

    def produce_rewrite() -> Result:
        result = rewrite(target, options)
        if fmt == "text" and dry_run and result.data.get("diff"):
            click.echo(result.data["diff"], nl=False)  # the diff first, then the summary
        return result

    run_command(ctx, "template", fmt, produce_rewrite, template_summary)
