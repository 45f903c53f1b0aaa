"""What every command shares: ``--format``, error handling, rendering and the exit code."""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import click

from dsprep.errors import DsprepError
from dsprep.findings import Result
from dsprep.report import (
    SummaryFn,
    error_document,
    render_error_text,
    render_json,
    render_text,
    result_document,
)

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


def human_bytes(count: int) -> str:
    """``512 B``, ``1.5 KiB`` … ``690.0 GiB``: a byte count for the text summaries."""
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


def format_option(func: F) -> F:
    """``--format text|json``: JSON prints exactly one document on stdout, errors included."""
    option = click.option(
        "--format",
        "fmt",
        type=click.Choice(["text", "json"]),
        default="text",
        show_default=True,
        help="Output format; json prints one document on stdout.",
    )
    return option(func)


def debug_enabled(ctx: click.Context) -> bool:
    root = ctx.find_root()
    return bool(isinstance(root.obj, dict) and root.obj.get("debug"))


def fail(ctx: click.Context, command: str, fmt: str, error: DsprepError) -> NoReturn:
    """Report an error that stopped the command and exit with its code (3 unless set)."""
    if debug_enabled(ctx):
        traceback.print_exception(type(error), error, error.__traceback__, file=sys.stderr)
    if fmt == "json":
        click.echo(render_json(error_document(command, error)), nl=False)
    else:
        click.echo(render_error_text(error), err=True, nl=False)
    ctx.exit(int(error.exit_code))
    raise AssertionError("unreachable")  # pragma: no cover - ctx.exit raises


def call_core(ctx: click.Context, command: str, fmt: str, produce: Callable[[], T]) -> T:
    """Call the core and return what it produced.

    A :class:`DsprepError` becomes one ``Error:`` line (or a JSON error document) and its
    exit code; any other exception is an internal error, exit 3, traceback only with --debug.
    """
    try:
        return produce()
    except DsprepError as exc:
        fail(ctx, command, fmt, exc)
    except KeyboardInterrupt:
        fail(ctx, command, fmt, DsprepError("interrupted", hint="run the command again"))
    except click.exceptions.Exit:
        raise
    except Exception as exc:  # an unexpected bug must still not print a bare traceback
        if debug_enabled(ctx):
            traceback.print_exc(file=sys.stderr)
        error = DsprepError(
            f"internal error: {type(exc).__name__}: {exc}",
            hint="re-run with --debug for the traceback and report it",
        )
        fail(ctx, command, fmt, error)


def run_command(
    ctx: click.Context,
    command: str,
    fmt: str,
    produce: Callable[[], Result],
    summary: SummaryFn | None = None,
) -> NoReturn:
    """Call the core (see :func:`call_core`), render its result in ``fmt``, exit 0 (ok) or 1
    (findings)."""
    emit(ctx, fmt, call_core(ctx, command, fmt, produce), summary)


def emit(
    ctx: click.Context, fmt: str, result: Result, summary: SummaryFn | None = None
) -> NoReturn:
    if fmt == "json":
        click.echo(render_json(result_document(result)), nl=False)
    else:
        click.echo(render_text(result, summary), nl=False)
    ctx.exit(int(result.exit_code))
    raise AssertionError("unreachable")  # pragma: no cover
