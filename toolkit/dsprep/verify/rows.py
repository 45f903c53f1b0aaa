"""What ``dsprep verify`` produces: one :class:`CheckRow` per check (PASS, FAIL or SKIP with
its figures), the :class:`VerifyReport` payload, and the table the text output shows."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from dsprep.findings import Finding, JsonPayload

Figure = int | float | str | bool | None


class Status(str, Enum):
    PASS = "PASS"
    FAIL = "FAIL"
    SKIP = "SKIP"


@dataclass
class CheckRow:
    """One check: ``name`` (``health``, ``tool call (stream)`` …), its status, a one-line
    ``detail`` and every figure it measured."""

    name: str
    status: Status
    detail: str
    figures: dict[str, Figure] = field(default_factory=dict)
    samples: list[dict[str, Figure]] = field(default_factory=list)  # per item (JSON only)


@dataclass
class Outcome:
    """What one check returns: its row, plus the findings of a FAIL."""

    row: CheckRow
    findings: list[Finding] = field(default_factory=list)

    @classmethod
    def passed(cls, name: str, detail: str, **figures: Figure) -> Outcome:
        return cls(CheckRow(name, Status.PASS, detail, dict(figures)))

    @classmethod
    def skipped(cls, name: str, detail: str) -> Outcome:
        return cls(CheckRow(name, Status.SKIP, detail))

    @classmethod
    def failed(cls, name: str, finding: Finding, **figures: Figure) -> Outcome:
        return cls(CheckRow(name, Status.FAIL, finding.message, dict(figures)), [finding])


@dataclass
class VerifyReport(JsonPayload):
    """The payload: the URL, the model name the requests used, and every row."""

    url: str
    model: str
    expected_model: str | None
    rows: list[CheckRow] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "model": self.model,
            "expected_model": self.expected_model,
            "checks": [
                {
                    "name": r.name,
                    "status": r.status.value,
                    "detail": r.detail,
                    "figures": r.figures,
                    **({"samples": r.samples} if r.samples else {}),
                }
                for r in self.rows
            ],
        }


def _figure_text(name: str, value: Figure) -> str:
    if isinstance(value, float):
        return f"{name}={value:.3g}"
    return f"{name}={value}"


def table_lines(report: VerifyReport, width: int = 72) -> list[str]:
    """The PASS/FAIL table: status, check, detail, then the figures on the next line."""
    lines = [f"verify {report.url} (model {report.model})", ""]
    name_width = max((len(r.name) for r in report.rows), default=5)
    for row in report.rows:
        detail = row.detail if len(row.detail) <= width else row.detail[: width - 1] + "…"
        lines.append(f"{row.status.value:<4}  {row.name:<{name_width}}  {detail}")
        if row.figures:
            shown = " ".join(_figure_text(k, v) for k, v in row.figures.items())
            lines.append(f"{'':<4}  {'':<{name_width}}  {shown}")
    return lines
