"""``dsprep template``: the thin Click layer over dsprep.template.rewrite and .lint."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from dsprep.cli.common import Command, format_option, run_command
from dsprep.errors import ExitCode

if TYPE_CHECKING:
    from dsprep.findings import Result
    from dsprep.template.lint import TemplateCheckSummary
    from dsprep.template.rewrite import RewriteStatus, RewriteSummary
    from dsprep.template.tokenizer_flags import FlagFixSummary


def check_summary(summary: TemplateCheckSummary) -> list[str]:
    """``--check``: the file and, per template, its kind, thinking default and tool support."""
    lines = [f"file:   {summary.path}"]
    for entry in summary.templates:
        default = entry.thinking_default
        thinking = "unset" if default is None else ("on" if default else "off")
        tools = "yes" if entry.tools else "no"
        lines.append(
            f"entry:  {entry.name}: {entry.kind}, thinking default {thinking}, tools {tools}"
        )
    return lines


def fix_summary(summary: FlagFixSummary) -> list[str]:
    lines = [f"folder: {summary.folder}"]
    lines.extend(f"file:   {e.path}: {', '.join(e.tokens)}" for e in summary.edits)
    lines.append(f"status: {summary.status}")
    return lines


def _status_line(status: RewriteStatus, backup: str | None) -> str:
    from dsprep.template.rewrite import RewriteStatus

    if status is RewriteStatus.UP_TO_DATE:
        return "status: up to date (nothing written)"
    if status is RewriteStatus.REWRITTEN:
        return f"status: rewritten (original kept as {backup or ''})"
    if status is RewriteStatus.WOULD_REWRITE:
        return "status: would rewrite (dry run, nothing written)"
    return f"status: {status.value} (nothing written)"


def rewrite_summary(summary: RewriteSummary) -> list[str]:
    """The file, each template's kind and action, the status and the self-test's size."""
    lines = [f"file:   {summary.path}"]
    for entry in summary.entries:
        lines.append(f"entry:  {entry.name}: {entry.kind} -> {entry.action.value}")
    lines.append(_status_line(summary.status, summary.backup))
    if summary.self_test_renders is not None:
        lines.append(f"self-test: {summary.self_test_renders} renders checked")
    return lines


@click.command(
    "template",
    cls=Command,
    epilog="Example: dsprep template ./DeepSeek-V3.1-w8a8 --thinking off --tools --dry-run\n\n"
    "Example: dsprep template ./DeepSeek-V3.1-w8a8/tokenizer_config.json --check\n\n"
    "Example: dsprep template ./DeepSeek-V3.1-w8a8 --fix-tokenizer",
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
@click.option(
    "--force",
    is_flag=True,
    help="Replace an unknown template with dsprep's; also rewrite a read-only file.",
)
@click.option("--dry-run", is_flag=True, help="Print the unified diff; write nothing.")
@click.option(
    "--check",
    is_flag=True,
    help="Lint without writing: syntax, special tokens, ASCII-bar look-alikes, defaults.",
)
@click.option(
    "--fix-tokenizer",
    is_flag=True,
    help="Clear the special flag of the tool-call and thinking tokens vLLM's parsers must see"
    " (tokenizer.json, tokenizer_config.json, special_tokens_map.json); alone, or with --dry-run.",
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
    fix_tokenizer: bool,
    fmt: str,
) -> ExitCode:
    """Rewrite or lint the DeepSeek-V3.1 chat template of a model folder.

    Recognises the published template, vLLM's example, a copy with ASCII-bar look-alike
    tokens and an earlier dsprep template, and replaces it with dsprep's (thinking default
    from --thinking, tool description with --tools, the default). A tokenizer_config.json
    without a chat_template gets dsprep's added. An unknown template only gets its standard
    thinking-default line switched; anything else needs --force. Writes are atomic,
    keep the original once as <file>.dsprep-orig, and a second identical run changes
    nothing. --fix-tokenizer instead clears the special flag of the tokens the tool-call
    and thinking format depends on, which vLLM's default decoding would strip. Exit 0 ok,
    1 problems or refused, 2 usage, 3 could not run.
    """
    if fix_tokenizer:
        if check or thinking is not None:
            raise click.UsageError("--fix-tokenizer runs alone (or with --dry-run)", ctx=ctx)
        from dsprep.template.tokenizer_flags import fix_tokenizer_flags

        folder = target.parent if target.is_file() else target
        return run_command(
            ctx,
            "template --fix-tokenizer",
            fmt,
            lambda: fix_tokenizer_flags(folder, dry_run=dry_run),
            fix_summary,
        )
    if check:
        from dsprep.template.lint import check_template

        return run_command(
            ctx, "template --check", fmt, lambda: check_template(target), check_summary
        )
    if thinking is None:
        raise click.UsageError("pass --thinking on|off (or --check to lint)", ctx=ctx)
    from dsprep.template.rewrite import RewriteOptions, rewrite

    options = RewriteOptions(thinking == "on", tools, force, dry_run)

    def produce_rewrite() -> Result[RewriteSummary]:
        result = rewrite(target, options)
        diff = result.payload.diff
        if fmt == "text" and dry_run and diff:
            click.echo(diff, nl=False)  # the diff first, then the summary
        return result

    return run_command(ctx, "template", fmt, produce_rewrite, rewrite_summary)
