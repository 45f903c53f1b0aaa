"""The shared shape of every hook: ``main(argv) -> int`` over the file names pre-commit passes.

Hooks print ``<file>: <problem> [code] (<fix>)`` lines (the pre-commit-hooks convention)
and exit 1 on any error finding, 3 when they could not run. They use argparse, not Click,
and import only what their check needs, so a commit stays fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from dsprep.errors import DsprepError, ExitCode
from dsprep.findings import Finding, Severity
from dsprep.report import hook_line

HookCheck = Callable[[list[Path]], list[Finding]]


def run_hook(argv: Sequence[str] | None, *, prog: str, description: str, check: HookCheck) -> int:
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("filenames", nargs="*", help="files to check (pre-commit passes them)")
    args = parser.parse_args(argv)
    paths = [Path(name) for name in args.filenames]
    try:
        findings = check(paths)
    except DsprepError as exc:
        where = exc.path or (args.filenames[0] if args.filenames else prog)
        hint = f" ({exc.hint})" if exc.hint else ""
        print(f"{where}: {exc.message}{hint}")
        return int(ExitCode.CANNOT_RUN)
    for finding in findings:
        print(hook_line(finding))
    sys.stdout.flush()
    failed = any(f.severity is Severity.ERROR for f in findings)
    return int(ExitCode.FINDINGS if failed else ExitCode.OK)
