"""What every command shares: ``--format``, ``--debug``, error handling, rendering and the
exit code a command returns."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import click

from dsprep.errors import DsprepError, ExitCode

if TYPE_CHECKING:
    from dsprep.findings import Payload, Result

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")
P = TypeVar("P", bound="Payload")


class Command(click.Command):
    """A dsprep command: the callback returns its exit code, which becomes the process's."""

    def invoke(self, ctx: click.Context) -> Any:
        code = super().invoke(ctx)
        if isinstance(code, int):
            ctx.exit(code)
        return code


def human_bytes(count: int) -> str:
    """``512 B``, ``1.5 KiB`` … ``690.0 GiB``: a byte count for the text summaries."""
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


def _debug_callback(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    if value:
        root = ctx.find_root()
        root.obj = root.obj if isinstance(root.obj, dict) else {}
        root.obj["debug"] = True
    return value


def format_option(func: F) -> F:
    """``--format text|json`` (JSON prints exactly one document on stdout, errors included)
    and ``--debug``, which every command takes after its name too."""
    func = click.option(
        "--debug",
        is_flag=True,
        expose_value=False,
        callback=_debug_callback,
        help="Show full tracebacks on errors (also DSPREP_DEBUG=1).",
    )(func)
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
    if isinstance(root.obj, dict) and root.obj.get("debug"):
        return True
    return os.environ.get("DSPREP_DEBUG", "") not in ("", "0")


def report_error(ctx: click.Context, command: str, fmt: str, error: DsprepError) -> ExitCode:
    """Report an error that stopped the command; its exit code (3 unless it says)."""
    from dsprep.report import error_document, render_error_text, render_json

    if debug_enabled(ctx):
        import traceback

        traceback.print_exception(type(error), error, error.__traceback__, file=sys.stderr)
    if fmt == "json":
        click.echo(render_json(error_document(command, error)), nl=False)
    else:
        click.echo(render_error_text(error), err=True, nl=False)
    return error.exit_code


def call_core(ctx: click.Context, command: str, fmt: str, produce: Callable[[], T]) -> T | ExitCode:
    """Call the core: what it produced, or the exit code of the error that stopped it.

    A :class:`DsprepError` becomes one ``Error:`` line (or a JSON error document); any
    other exception is an internal error, exit 3, traceback only with --debug.
    """
    try:
        return produce()
    except DsprepError as exc:
        return report_error(ctx, command, fmt, exc)
    except KeyboardInterrupt:
        return report_error(
            ctx, command, fmt, DsprepError("interrupted", hint="run the command again")
        )
    except click.exceptions.Exit:
        raise
    except Exception as exc:  # an unexpected bug must still not print a bare traceback
        if debug_enabled(ctx):
            import traceback

            traceback.print_exc(file=sys.stderr)
        error = DsprepError(
            f"internal error: {type(exc).__name__}: {exc}",
            hint="re-run with --debug for the traceback and report it",
        )
        return report_error(ctx, command, fmt, error)


def run_command(
    ctx: click.Context,
    command: str,
    fmt: str,
    produce: Callable[[], Result[P]],
    summary: Callable[[P], list[str]] | None = None,
) -> ExitCode:
    """Call the core (see :func:`call_core`), render its result in ``fmt``; the exit code
    (0 ok, 1 findings, 3 could not run) for the command to return."""
    result = call_core(ctx, command, fmt, produce)
    if isinstance(result, ExitCode):
        return result
    return emit(fmt, result, summary)


def emit(fmt: str, result: Result[P], summary: Callable[[P], list[str]] | None = None) -> ExitCode:
    from dsprep.report import render_json, render_text, result_document

    if fmt == "json":
        click.echo(render_json(result_document(result)), nl=False)
    else:
        click.echo(render_text(result, summary), nl=False)
    return result.exit_code


@contextmanager
def progress_bar(label: str, wanted: bool = True) -> Iterator[Callable[[int, int], None] | None]:
    """A progress bar on stderr (only when ``wanted`` and stderr is a terminal), fed with
    the ``(done, total)`` the core reports; None otherwise."""
    if not wanted or not sys.stderr.isatty():
        yield None
        return
    bar: Any = None

    def advance(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = click.progressbar(length=total, label=label, file=sys.stderr)
            bar.__enter__()
        bar.update(done - bar.pos)

    try:
        yield advance
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
