"""The ``dsprep`` Click group: subcommands load lazily; a command returns its exit code.

``run`` is the console script: it runs the group, and reports a usage error as one JSON
document when ``--format json`` was asked for (the promise of every command).
"""

from __future__ import annotations

import importlib
import itertools
import os
import sys
from typing import Any

import click

from dsprep import __version__

# name -> ("module:attribute", one-line help); the module is imported only when it runs.
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("dsprep.cli.demo:demo", "Run the main job on the bundled sample (no network)."),
    "fetch": ("dsprep.cli.fetch:fetch", "Download W8A8 weights from ModelScope, config first."),
    "check": ("dsprep.cli.check:check", "Prove a weights folder is servable by vllm-ascend."),
    "template": ("dsprep.cli.template:template", "Rewrite or lint the chat template."),
    "render": ("dsprep.cli.render:render", "Render the chat template as transformers/vLLM do."),
    "emit-launch": (
        "dsprep.cli.emit_launch:emit_launch",
        "Write launch scripts for every node from one cluster file.",
    ),
    "plan": ("dsprep.cli.plan:plan", "Check that weights and KV cache fit the NPUs."),
    "diagnose": (
        "dsprep.cli.diagnose:diagnose",
        "Name the cause and fix of a failed start from its logs.",
    ),
    "up": ("dsprep.cli.ops:up", "Start the cluster over ssh: kit, preflight, serve, verify."),
    "down": ("dsprep.cli.ops:down", "Stop vLLM and remove the containers on every node."),
    "status": ("dsprep.cli.ops:status", "A table of every node: container, vLLM, health."),
    "logs": ("dsprep.cli.ops:logs", "Print (or follow) vllm.log of every node."),
    "verify": ("dsprep.cli.verify:verify", "Prove a live deployment: parsers, thinking, tools."),
}

HELP = """dsprep: serve DeepSeek-V3.1 W8A8 on Ascend NPUs with vllm-ascend, failing early.

Each command checks one stage of the deployment before it costs anything:
FP8 checkpoints before the download, broken shards before the 20-minute load,
look-alike chat-template tokens before production, wrong IPs before the hang.
"""


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        target, _ = COMMANDS[cmd_name]
        module_name, attr = target.split(":")
        command = getattr(importlib.import_module(module_name), attr)
        if not isinstance(command, click.Command):
            raise TypeError(f"{target} is not a click command")
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(
    cls=LazyGroup,
    help=HELP,
    epilog="Example: dsprep demo /tmp/dsprep-demo",
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, "--version", prog_name="dsprep")
@click.option(
    "--debug",
    is_flag=True,
    default=False,
    help="Show full tracebacks on errors (also DSPREP_DEBUG=1).",
)
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    obj: dict[str, Any] = ctx.ensure_object(dict)
    obj["debug"] = debug or os.environ.get("DSPREP_DEBUG", "") not in ("", "0")


def wants_json(args: list[str]) -> bool:
    """``--format json`` (or ``--format=json``) among the arguments."""
    return "--format=json" in args or any(
        a == "--format" and b == "json" for a, b in itertools.pairwise(args)
    )


def run(args: list[str] | None = None) -> None:
    """The console script: the group, plus usage errors as JSON when JSON was asked for."""
    argv = list(sys.argv[1:] if args is None else args)
    try:
        code = main.main(argv, prog_name="dsprep", standalone_mode=False)
    except click.exceptions.Exit as done:  # raised outside a command (--help, --version)
        sys.exit(done.exit_code)
    except click.UsageError as error:
        if wants_json(argv):
            from dsprep.report import render_json, usage_document

            sys.stdout.write(render_json(usage_document(error.format_message())))
        else:
            error.show()
        sys.exit(error.exit_code)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except click.Abort:
        sys.stderr.write("Aborted!\n")
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
