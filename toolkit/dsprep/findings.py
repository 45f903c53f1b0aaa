"""Finding and result types every stage returns and every reporter renders.

Findings are made through :mod:`dsprep.catalogue` (``FP8_WEIGHTS(path, message)``); a
code that is not in the catalogue is refused here. A :class:`Result` carries a typed
payload (a msgspec Struct or a dataclass of the command's summary) that the text summary
reads by attribute and the JSON document serialises.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from enum import Enum
from typing import Any, Generic, Protocol, TypeVar

import msgspec

from dsprep.errors import ExitCode


class Severity(str, Enum):
    """How much a finding matters: only ``error`` makes a command fail."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


class Finding(msgspec.Struct, frozen=True):
    """One problem (or note) with a stable ``code`` users can grep and tests can assert on.

    ``path`` names the file (plus ``:key``/``:tensor``/``:line`` detail in the message),
    ``hint`` says how to fix it.
    """

    code: str
    path: str
    message: str
    hint: str = ""
    severity: Severity = Severity.ERROR

    def __post_init__(self) -> None:
        from dsprep.catalogue import BY_CODE

        if self.code not in BY_CODE:
            raise ValueError(f"finding code {self.code!r} is not in dsprep.catalogue")

    def with_message(self, message: str) -> Finding:
        """The same finding with another message (a reporter shortening it)."""
        return msgspec.structs.replace(self, message=message)

    def to_json(self) -> dict[str, str]:
        return {
            "code": self.code,
            "severity": self.severity.value,
            "path": self.path,
            "message": self.message,
            "hint": self.hint,
        }


class Payload(Protocol):
    """What a command produced besides its findings; ``to_json`` gives the ``data`` object."""

    def to_json(self) -> dict[str, Any]: ...


class JsonPayload:
    """Mixin for payloads (a msgspec Struct or a dataclass): ``to_json`` is the payload as
    plain JSON types, fields in order."""

    def to_json(self) -> dict[str, Any]:
        if dataclasses.is_dataclass(self):
            document: dict[str, Any] = dataclasses.asdict(self)
            return document
        built: dict[str, Any] = msgspec.to_builtins(self, enc_hook=str)
        return built


class NoPayload(msgspec.Struct, JsonPayload, frozen=True):
    """The payload of a result that only has findings."""


P = TypeVar("P", bound=Payload)


class Result(msgspec.Struct, Generic[P]):
    """What a command produced: findings plus its typed ``payload``."""

    command: str
    payload: P
    findings: list[Finding] = msgspec.field(default_factory=list)

    def add(self, finding: Finding) -> None:
        self.findings.append(finding)

    def extend(self, findings: Iterable[Finding]) -> None:
        self.findings.extend(findings)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity is Severity.WARNING]

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
        """The finding codes in order (for tests and the JSON summary, never for control flow)."""
        return [f.code for f in self.findings]
