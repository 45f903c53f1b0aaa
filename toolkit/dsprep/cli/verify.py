"""``dsprep verify URL``: the thin Click layer over :func:`dsprep.verify.run.verify_deployment`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from dsprep.cli.common import Command, format_option, run_command
from dsprep.errors import ExitCode

if TYPE_CHECKING:
    from dsprep.findings import Result
    from dsprep.verify.rows import VerifyReport


def verify_summary(report: VerifyReport) -> list[str]:
    from dsprep.verify.rows import table_lines

    return table_lines(report)


@click.command(
    "verify",
    cls=Command,
    epilog="Example: dsprep verify http://10.0.0.1:8000 --cluster cluster.yaml --concurrency 8",
)
@click.argument("url")
@click.option(
    "--cluster",
    type=click.Path(path_type=Path, dir_okay=False, readable=False),
    default=None,
    help="The cluster file: served name, features.thinking_default, features.tools.",
)
@click.option("--model", "served_name", metavar="NAME", default=None, help="The served model name.")
@click.option(
    "--thinking-default",
    type=click.Choice(["on", "off"]),
    default=None,
    help="Without --cluster: the thinking default the server must have [default: measured only].",
)
@click.option(
    "--tools/--no-tools",
    default=True,
    show_default=True,
    help="Without --cluster: check tool calls.",
)
@click.option(
    "--concurrency",
    type=click.IntRange(1, 256),
    default=4,
    show_default=True,
    help="Requests at once for the throughput probe and the accuracy smoke.",
)
@click.option(
    "--min-accuracy",
    type=click.FloatRange(0, 1),
    default=0.9,
    show_default=True,
    help="The accuracy smoke's pass threshold (share of exact answers).",
)
@click.option(
    "--questions",
    type=click.Path(path_type=Path, dir_okay=False, readable=False),
    default=None,
    help="A JSON list of {id, question, answer} instead of the bundled questions.",
)
@click.option(
    "--request-timeout",
    type=click.FloatRange(0.1, 3600),
    default=120.0,
    show_default=True,
    help="Seconds one request may take.",
)
@click.option(
    "--timeout",
    "total_timeout",
    type=click.FloatRange(0.1, 86400),
    default=900.0,
    show_default=True,
    help="Seconds the whole run may take; the checks after it FAIL as not run.",
)
@click.option("--api-key", envvar="OPENAI_API_KEY", default="EMPTY", help="The server's --api-key.")
@format_option
@click.pass_context
def verify(
    ctx: click.Context,
    url: str,
    cluster: Path | None,
    served_name: str | None,
    thinking_default: str | None,
    tools: bool,
    concurrency: int,
    min_accuracy: float,
    questions: Path | None,
    request_timeout: float,
    total_timeout: float,
    api_key: str,
    fmt: str,
) -> ExitCode:
    """Prove a live deployment with the official OpenAI client (pip install 'dsprep[verify]').

    Checks /health; that /v1/models serves the name; a completion; chat with thinking on
    (reasoning separated) and off (none); that the server's default matches
    thinking_default; a tool call, non-streaming and streaming, whose arguments validate
    against the tool's schema; an accuracy smoke on the bundled questions; time to first
    token and output tokens/s alone and at --concurrency. Each FAIL names the fix.
    Exit 0 all PASS, 1 any FAIL, 3 the server does not answer or URL is not a URL.
    """

    def produce() -> Result[VerifyReport]:
        from dsprep.verify.expect import from_cluster, from_options
        from dsprep.verify.run import VerifyOptions, verify_deployment

        if cluster is not None:
            expect = from_cluster(cluster, served_name)
        else:
            default = None if thinking_default is None else thinking_default == "on"
            expect = from_options(served_name, default, tools)
        options = VerifyOptions(
            url=url,
            expect=expect,
            api_key=api_key,
            request_timeout=request_timeout,
            total_timeout=total_timeout,
            concurrency=concurrency,
            min_accuracy=min_accuracy,
            questions=questions,
        )
        return verify_deployment(options)

    return run_command(ctx, "verify", fmt, produce, verify_summary)
