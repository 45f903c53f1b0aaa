"""Finding and result types every stage returns and every reporter renders."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from dsprep.errors import ExitCode


class Severity(str, Enum):
    """How much a finding matters: only ``error`` makes a command fail."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True)
class Finding:
    """One problem (or note) with a stable ``code`` users can grep and tests can assert on.

    ``path`` names the file (plus ``:key``/``:tensor``/``:line`` detail in the message),
    ``hint`` says how to fix it.
    """

    code: str
    path: str
    message: str
    hint: str = ""
    severity: Severity = Severity.ERROR

    def to_json(self) -> dict[str, str]:
        return {
            "code": self.code,
            "severity": self.severity.value,
            "path": self.path,
            "message": self.message,
            "hint": self.hint,
        }


@dataclass
class Result:
    """What a command produced: findings plus JSON-able ``data`` (a summary, paths written)."""

    command: str
    findings: list[Finding] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    def add(self, finding: Finding) -> None:
        self.findings.append(finding)

    def extend(self, findings: Iterable[Finding]) -> None:
        self.findings.extend(findings)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity is Severity.ERROR]

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def status(self) -> str:
        return "ok" if self.ok else "fail"

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.OK if self.ok else ExitCode.FINDINGS

    def codes(self) -> list[str]:
        """The finding codes in order (handy for tests and for grepping)."""
        return [f.code for f in self.findings]
