"""The shared shape of every hook: ``main(argv) -> int`` over the file names pre-commit passes.

Hooks print ``<file>: <problem> [code] (<fix>)`` lines (the pre-commit-hooks convention)
and exit 1 on any error finding, 3 when they could not run. They use argparse, not Click,
and import only what their check needs, so a commit stays fast. A hook never prints a
traceback unless DSPREP_DEBUG=1.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from dsprep import catalogue as C
from dsprep.errors import DsprepError, ExitCode
from dsprep.findings import Finding, JsonPayload, Result
from dsprep.report import error_document, hook_line, render_json, result_document

if TYPE_CHECKING:
    from dsprep.profiles import Profile


@dataclass(frozen=True)
class HookSummary(JsonPayload):
    files: list[str]


HookCheck = Callable[[list[Path], "Profile"], list[Finding]]
FolderCheck = Callable[[Path, list[str], "Profile"], list[Finding]]
IMAGE_ENV = "DSPREP_IMAGE"


def files_by_folder(paths: Sequence[Path]) -> dict[Path, list[str]]:
    """The given files grouped by their folder (first-seen order), duplicates dropped."""
    grouped: dict[Path, list[str]] = {}
    for path in paths:
        names = grouped.setdefault(path.parent, [])
        if path.name not in names:
            names.append(path.name)
    return grouped


def check_by_folder(
    paths: Sequence[Path], profile: Profile, check_folder: FolderCheck
) -> list[Finding]:
    """``check_folder(folder, names, profile)`` once per folder of the given files."""
    findings: list[Finding] = []
    for folder, names in files_by_folder(paths).items():
        findings.extend(check_folder(folder, names, profile))
    return findings


def error_finding(error: DsprepError, path: Path, *, beside: bool = False) -> Finding:
    """A typed error about the input file ``path`` (with ``beside``: or about a file in its
    folder) as an error finding naming that file.

    An error about any other file is re-raised: it is not this input's fault (e.g. dsprep's
    own bundled data is missing) and the hook cannot run (exit 3).
    """
    ours = error.path in ("", str(path)) or (beside and Path(error.path).parent == path.parent)
    if not ours:
        raise error
    return C.kind(error.code)(error.path or str(path), error.message, hint=error.hint)


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
        "--image",
        metavar="TAG",
        default=os.environ.get(IMAGE_ENV) or None,
        help=f"the vllm-ascend image tag to judge for (also {IMAGE_ENV}); default: the newest"
        " bundled profile",
    )
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
        from dsprep.profiles import profile_for

        findings = check(paths, profile_for(args.image))
    except DsprepError as exc:
        if args.fmt == "json":
            print(render_json(error_document(prog, exc)), end="")
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
    result = Result(prog, HookSummary([str(p) for p in paths]), findings)
    if args.fmt == "json":
        print(render_json(result_document(result)), end="")
    else:
        for finding in findings:
            print(hook_line(finding))
    sys.stdout.flush()
    return int(result.exit_code)
