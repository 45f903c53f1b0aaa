"""The ``dsprep`` console script: answers ``--help`` and ``--version`` before importing Click.

Importing Click (and the ``typing`` it pulls in) costs more than three times a bare
interpreter start on these machines, so the two calls a user types most to find their way
are answered from :mod:`dsprep.cli.catalog` with Click's own layout rules (usage, wrapped
help paragraphs, definition lists, epilog, width ``min(columns, 100) - 2``, at least 50).
``tests/test_entry.py`` compares the result with Click's output at several widths.
Everything else goes to the Click group.
"""

from __future__ import annotations

import sys

from dsprep.cli.catalog import (
    COMMANDS,
    DEBUG_HELP,
    EPILOG,
    GROUP_HELP,
    HELP_HELP,
    HELP_OPTIONS,
    MAX_CONTENT_WIDTH,
    USAGE_ARGS,
    VERSION_HELP,
)

PROG = "dsprep"
_INDENT = 2
_COL_MAX = 30
_COL_SPACING = 2


def _width() -> int:
    import shutil

    return max(min(shutil.get_terminal_size().columns, MAX_CONTENT_WIDTH) - 2, 50)


def _wrap(text: str, width: int, indent: str = "") -> str:
    """Click's ``wrap_text(..., preserve_paragraphs=True)`` for plain (unindented) text."""
    import textwrap

    wrapper = textwrap.TextWrapper(
        width, initial_indent=indent, subsequent_indent=indent, replace_whitespace=False
    )
    paragraphs = [" ".join(p.split("\n")) for p in text.expandtabs().split("\n\n") if p]
    return "\n\n".join(wrapper.fill(p) for p in paragraphs)


def _definitions(rows: list[tuple[str, str]], width: int) -> str:
    first_col = min(max(len(first) for first, _ in rows), _COL_MAX) + _COL_SPACING
    text_width = max(width - first_col - 2, 10)
    out = []
    for first, second in rows:
        line = " " * _INDENT + first
        if len(first) <= first_col - _COL_SPACING:
            line += " " * (first_col - len(first))
        else:
            line += "\n" + " " * (first_col + _INDENT)
        lines = _wrap(second, text_width).splitlines()
        out.append(line + lines[0])
        out.extend(" " * (first_col + _INDENT) + rest for rest in lines[1:])
    return "\n".join(out) + "\n"


def group_help() -> str:
    """The text ``dsprep --help`` prints, as Click would lay it out."""
    width = _width()
    options = [
        ("--version", VERSION_HELP),
        ("--debug", DEBUG_HELP),
        (", ".join(HELP_OPTIONS), HELP_HELP),
    ]
    commands = [(name, summary) for name, (_, summary) in COMMANDS.items()]
    indent = " " * _INDENT
    return (
        f"Usage: {PROG} {USAGE_ARGS}\n\n"
        f"{_wrap(GROUP_HELP.strip(), width, indent)}\n\n"
        f"Options:\n{_definitions(options, width)}\n"
        f"Commands:\n{_definitions(commands, width)}\n"
        f"{_wrap(EPILOG, width, indent)}\n"
    )


def main() -> None:
    args = sys.argv[1:]
    if len(args) == 1 and args[0] in HELP_OPTIONS:
        sys.stdout.write(group_help())
        sys.stdout.flush()
        return
    if args == ["--version"]:
        from dsprep import __version__

        sys.stdout.write(f"{PROG}, version {__version__}\n")
        return
    from dsprep.cli.main import main as group

    group(prog_name=PROG)
