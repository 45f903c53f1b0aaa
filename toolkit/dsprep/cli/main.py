"""The ``dsprep`` Click group; subcommands load lazily (see :mod:`dsprep.cli.entry`)."""

from __future__ import annotations

import importlib
import os
from typing import Any

import click

from dsprep import __version__
from dsprep.cli.catalog import (
    COMMANDS,
    DEBUG_HELP,
    EPILOG,
    GROUP_HELP,
    HELP_HELP,
    HELP_OPTIONS,
    MAX_CONTENT_WIDTH,
    VERSION_HELP,
)


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
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(
    cls=LazyGroup,
    help=GROUP_HELP,
    epilog=EPILOG,
    context_settings={
        "help_option_names": list(HELP_OPTIONS),
        "max_content_width": MAX_CONTENT_WIDTH,
    },
)
@click.version_option(__version__, "--version", prog_name="dsprep", help=VERSION_HELP)
@click.option("--debug", is_flag=True, default=False, help=DEBUG_HELP)
@click.help_option(*HELP_OPTIONS, help=HELP_HELP)
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    obj: dict[str, Any] = ctx.ensure_object(dict)
    obj["debug"] = debug or os.environ.get("DSPREP_DEBUG", "") not in ("", "0")
