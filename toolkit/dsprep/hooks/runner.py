"""The shared shape of every hook: ``main(argv) -> int`` over the file names pre-commit passes.

Hooks print ``<file>: <problem> [code] (<fix>)`` lines (the pre-commit-hooks convention)
and exit 1 on any error finding, 3 when they could not run. They use argparse, not Click,
and import only what their check needs, so a commit stays fast. A hook never prints a
traceback unless DSPREP_DEBUG=1.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from dsprep.errors import DsprepError, ExitCode
from dsprep.findings import Finding, Result, Severity
from dsprep.report import hook_line

HookCheck = Callable[[list[Path]], list[Finding]]


def files_by_folder(paths: Sequence[Path]) -> dict[Path, list[str]]:
    """The given files grouped by their folder (first-seen order), duplicates dropped."""
    grouped: dict[Path, list[str]] = {}
    for path in paths:
        names = grouped.setdefault(path.parent, [])
        if path.name not in names:
            names.append(path.name)
    return grouped


def error_finding(error: DsprepError, path: Path | str) -> Finding:
    """A typed error about one input file, as an error finding naming that file."""
    return Finding(error.code, error.path or str(path), error.message, hint=error.hint)


def _debug() -> bool:
    return os.environ.get("DSPREP_DEBUG", "") not in ("", "0")


def run_hook(
    argv: Sequence[str] | None,
    *,
    prog: str,
    description: str,
    check: HookCheck,
    example: str = "",
) -> int:
    epilog = f"Example: {prog} {example}" if example else None
    parser = argparse.ArgumentParser(
        prog=prog,
        description=description,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,  # the example stays on one line
    )
    parser.add_argument("filenames", nargs="*", help="files to check (pre-commit passes them)")
    parser.add_argument(
        "--format",
        dest="fmt",
        choices=("text", "json"),
        default="text",
        help="text: one `<file>: <problem> [code] (<fix>)` line per finding; json: one document",
    )
    args = parser.parse_args(argv)
    paths = [Path(name) for name in args.filenames]
    try:
        findings = check(paths)
    except DsprepError as exc:
        if args.fmt == "json":
            from dsprep.report import error_document

            print(json.dumps(error_document(prog, exc), ensure_ascii=False, indent=2))
        else:
            where = exc.path or (args.filenames[0] if args.filenames else prog)
            hint = f" ({exc.hint})" if exc.hint else ""
            print(f"{where}: {exc.message}{hint}")
        return int(ExitCode.CANNOT_RUN)
    except Exception as exc:  # a bug: one line, never a traceback (unless DSPREP_DEBUG=1)
        if _debug():
            raise
        print(
            f"{prog}: internal error: {type(exc).__name__}: {exc} "
            "(run again with DSPREP_DEBUG=1 for the traceback and report it)"
        )
        return int(ExitCode.CANNOT_RUN)
    result = Result(prog, findings, {"files": [str(p) for p in paths]})
    if args.fmt == "json":
        from dsprep.report import result_document

        print(json.dumps(result_document(result), ensure_ascii=False, indent=2))
    else:
        for finding in findings:
            print(hook_line(finding))
    sys.stdout.flush()
    failed = any(f.severity is Severity.ERROR for f in findings)
    return int(ExitCode.FINDINGS if failed else ExitCode.OK)
