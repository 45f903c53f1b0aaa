"""The one reporter path: a :class:`Result` (or an error) rendered as text or as JSON.

Core code returns results; ``dsprep.cli`` chooses the format and writes the string.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from dsprep.errors import DsprepError
from dsprep.findings import Finding, Payload, Result, Severity

P = TypeVar("P", bound=Payload)


def finding_line(finding: Finding) -> str:
    """``<file>: <problem> [code]`` plus an indented ``fix:`` line, for humans."""
    prefix = "" if finding.severity is Severity.ERROR else f"{finding.severity.value}: "
    where = f"{finding.path}: " if finding.path else ""
    line = f"{where}{prefix}{finding.message} [{finding.code}]"
    if finding.hint:
        line += f"\n    fix: {finding.hint}"
    return line


def hook_line(finding: Finding) -> str:
    """``<file>: <problem> (<fix>)`` on one line, the pre-commit-hooks convention."""
    prefix = "" if finding.severity is Severity.ERROR else f"{finding.severity.value}: "
    fix = f" ({finding.hint})" if finding.hint else ""
    return f"{finding.path}: {prefix}{finding.message} [{finding.code}]{fix}"


def render_text(result: Result[P], summary: Callable[[P], list[str]] | None = None) -> str:
    lines: list[str] = []
    if summary is not None:
        lines.extend(summary(result.payload))
    if result.findings:
        if lines:
            lines.append("")
        lines.extend(finding_line(f) for f in result.findings)
    n_err = len(result.errors)
    n_warn = sum(1 for f in result.findings if f.severity is Severity.WARNING)
    if lines:
        lines.append("")
    if result.ok:
        tail = f" ({n_warn} warning{'s' if n_warn != 1 else ''})" if n_warn else ""
        lines.append(f"OK: {result.command} found no problems{tail}")
    else:
        lines.append(
            f"FAIL: {result.command} found {n_err} problem{'s' if n_err != 1 else ''}"
            + (f" and {n_warn} warning{'s' if n_warn != 1 else ''}" if n_warn else "")
        )
    return "\n".join(lines) + "\n"


def result_document(result: Result[Any]) -> dict[str, Any]:
    return {
        "status": result.status,
        "command": result.command,
        "findings": [f.to_json() for f in result.findings],
        "data": result.payload.to_json(),
    }


def error_document(command: str, error: DsprepError) -> dict[str, Any]:
    from dsprep.catalogue import kind

    finding = kind(error.code)(error.path, error.message, hint=error.hint)
    return {"status": "error", "command": command, "findings": [finding.to_json()], "data": {}}


def usage_document(message: str) -> dict[str, Any]:
    """A usage error (exit 2) as the one JSON document ``--format json`` promises."""
    from dsprep import catalogue as C

    return {
        "status": "error",
        "command": "dsprep",
        "findings": [C.USAGE("", message).to_json()],
        "data": {},
    }


def render_json(document: dict[str, Any]) -> str:
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def render_error_text(error: DsprepError) -> str:
    where = f"{error.path}: " if error.path and error.path not in error.message else ""
    text = f"Error: {where}{error.message}\n"
    if error.hint:
        text += f"Hint: {error.hint}\n"
    return text
