"""``dsprep render``: the thin Click layer over dsprep.template.prompt."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from dsprep.cli.common import Command, call_core, emit, format_option, run_command
from dsprep.errors import ExitCode
from dsprep.findings import Result

if TYPE_CHECKING:
    from dsprep.template.prompt import RenderedPrompt, SelfTestSummary, TokenPiece


def self_test_summary(summary: SelfTestSummary) -> list[str]:
    return [
        f"template:   {summary.template}",
        f"engine:     {summary.engine}",
        f"cases:      {summary.cases} ({summary.renders} renders,"
        f" {summary.tool_calls_checked} tool calls parsed back)",
    ]


def _pieces_text(pieces: list[TokenPiece]) -> str:
    lines = [f"# {len(pieces)} tokens"]
    for index, piece in enumerate(pieces):
        token_id = "-" if piece.id is None else str(piece.id)
        mark = "  added token" if piece.added_token else ""
        lines.append(f"{index:5d} {token_id:>7} {piece.text!r}{mark}")
    return "\n".join(lines) + "\n"


@click.command(
    "render",
    cls=Command,
    epilog="Example: dsprep render ./DeepSeek-V3.1-w8a8 --messages conv.json"
    " --add-generation-prompt --tokens\n\nExample: dsprep render ./DeepSeek-V3.1-w8a8 --self-test",
)
@click.argument("model_dir", type=click.Path(path_type=Path))
@click.option(
    "--messages",
    "messages_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="JSON list of messages (or {messages, tools}).",
)
@click.option(
    "--tools",
    "tools_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="JSON list of tools (OpenAI format).",
)
@click.option("--thinking", type=click.Choice(["on", "off"]), default=None, help="Send thinking.")
@click.option("--add-generation-prompt", is_flag=True, help="End with the assistant prompt.")
@click.option(
    "--engine",
    type=click.Choice(["jinja", "transformers"]),
    default="jinja",
    show_default=True,
    help="jinja: dsprep's transformers-equivalent sandbox; transformers: apply_chat_template.",
)
@click.option(
    "--image",
    metavar="TAG",
    default=None,
    help="Render the request as this vllm-ascend release's vLLM converts it"
    " [default: the newest bundled profile].",
)
@click.option(
    "--as-sent",
    is_flag=True,
    help="Hand the messages to the template as sent (transformers' apply_chat_template),"
    " not as vLLM converts an OpenAI request.",
)
@click.option("--tokens", is_flag=True, help="Also print the token pieces.")
@click.option("--self-test", is_flag=True, help="Run the built-in case suite instead.")
@format_option
@click.pass_context
def render(
    ctx: click.Context,
    model_dir: Path,
    messages_file: Path | None,
    tools_file: Path | None,
    thinking: str | None,
    add_generation_prompt: bool,
    engine: str,
    image: str | None,
    as_sent: bool,
    tokens: bool,
    self_test: bool,
    fmt: str,
) -> ExitCode:
    """Render MODEL_DIR's chat template for an OpenAI request as vLLM does.

    The request is converted as the release's vLLM converts it (--image; tool-call arguments
    parsed and re-serialised by the template, text parts joined with newlines, content None
    as "", mapping arguments refused as vLLM refuses them); --as-sent skips that.
    The default engine is a bounded Jinja sandbox configured like transformers' own
    (hostile templates end in a clear error); --engine transformers uses
    apply_chat_template. --self-test renders the bundled cases and parses every tool call
    back with a deepseek_v31-compatible parser. Exit 0 ok, 1 self-test failures, 3 error.
    """
    from dsprep.profiles import profile_for
    from dsprep.template.prompt import load_conversation, load_tools, render_model, self_test_model
    from dsprep.template.render import Engine, RenderRequest
    from dsprep.template.served import ServedDialect

    chosen: Engine = "transformers" if engine == "transformers" else "jinja"
    if self_test:
        return run_command(
            ctx,
            "render --self-test",
            fmt,
            lambda: self_test_model(model_dir, engine=chosen),
            self_test_summary,
        )
    if messages_file is None:
        raise click.UsageError("pass --messages conv.json (or --self-test)", ctx=ctx)

    def produce() -> RenderedPrompt:
        messages, inline_tools = load_conversation(messages_file)
        tools = load_tools(tools_file) if tools_file is not None else inline_tools
        request = RenderRequest(
            messages=messages,
            tools=tools,
            add_generation_prompt=add_generation_prompt,
            thinking=None if thinking is None else thinking == "on",
            dialect="transformers" if as_sent else ServedDialect.of(profile_for(image)),
        )
        return render_model(model_dir, request, engine=chosen, with_tokens=tokens)

    rendered = call_core(ctx, "render", fmt, produce)
    if isinstance(rendered, ExitCode):
        return rendered
    if fmt == "json":
        return emit(fmt, Result("render", rendered))
    click.echo(rendered.prompt)
    if rendered.tokens is not None:
        click.echo(_pieces_text(rendered.tokens), nl=False)
    return ExitCode.OK
