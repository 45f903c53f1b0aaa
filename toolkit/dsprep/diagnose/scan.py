"""``dsprep diagnose``'s core: stream the logs, match each line against the fingerprints,
group what repeats (the same failure on eight ranks is one finding), then name the failure
that came first and the ones that follow from it.

Order and consequences: every matched line gets a time (its own timestamp, else the last
one before it in the same file and node). The first failure is the earliest line of a
fingerprint that is not a ``consequence`` (an OOM, a KeyError), or, when the logs hold only
consequences (socket and engine timeouts), the earliest of those. Consequence fingerprints
are then reported as warnings that name it; failures that are not consequences stay errors
wherever they are (two nodes with the same bad description both fail on their own).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

from dsprep import catalogue as C
from dsprep.diagnose import logline, reader
from dsprep.diagnose.fingerprints import Fingerprint
from dsprep.diagnose.logline import Stamp
from dsprep.diagnose.matcher import EXCEPTION, Matcher
from dsprep.findings import Finding, JsonPayload, Result, Severity

MAX_GROUPS = 500  # distinct failures kept; more are counted, not kept (bounded memory)
_STAMPED = re.compile(
    r"(?:INFO|WARNING|ERROR|DEBUG|CRITICAL) \d\d-\d\d \d\d:"
    r"|\d{4}-\d\d-\d\d-\d\d:|\]:\[[IWEF]\d{3,4} "
)
_LAYER = re.compile(r"\blayers\.(\d+)\.")


def _quiet(text: str) -> bool:
    """A line vLLM's logger wrote at INFO or DEBUG (``INFO 08-14 11:52:46 [``), after the
    process prefixes: failures are raised (their traceback lines carry ERROR) or printed
    by CANN/torch without vLLM's header, so these are not matched (most lines of a log)."""
    for level in ("INFO ", "DEBUG "):
        at = text.find(level, 0, 120)
        if at >= 0 and (at == 0 or text[at - 1] == " "):
            start = at + len(level)
            return text[start + 2 : start + 3] == "-" and text[start : start + 2].isdigit()
    return False


class FailureRecord(msgspec.Struct, JsonPayload, frozen=True):
    code: str
    fingerprint: str
    where: str  # node, rank and time of the earliest line, how many other ranks
    node: str
    ranks: list[str]  # the earliest line's first
    time: str | None
    lines: int
    path: str
    line: int
    cause: str
    caught_by: list[str]
    check: str
    releases: list[str]
    consequence_of: str | None


class DiagnoseSummary(msgspec.Struct, JsonPayload):
    files: list[str]
    lines: int
    nodes: list[str]
    first_failure: FailureRecord | None
    failures: list[FailureRecord]
    unrecognised: int
    dropped: int = 0


@dataclass
class _Group:
    fingerprint: Fingerprint
    node: str
    cause: str
    fix: str
    path: str
    line: int
    stamp: Stamp | None
    order: int
    rank: str = ""  # the rank of the earliest line
    ranks: list[str] = field(default_factory=list)
    lines: int = 0

    def key(self) -> tuple[bool, Stamp | None, int]:
        return (self.stamp is None, self.stamp or Stamp(0, 0, 0), self.order)

    def where(self) -> str:
        """``node1 DP1 TP3 EP11 at 08-14 11:52:46 (+7 ranks)``: the earliest line's rank."""
        rank = f" {self.rank}" if self.rank else ""
        when = f" at {self.stamp}" if self.stamp else ""
        more = len(self.ranks) - (1 if self.rank in self.ranks else 0)
        others = f" (+{more} rank{'s' if more != 1 else ''})" if more > 0 else ""
        return f"{self.node}{rank}{when}{others}"


class _Fields(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "?"


def _fields(groups: dict[str, str]) -> _Fields:
    fields = _Fields(groups)
    from dsprep.family import DEFAULT_FAMILY

    mtp = DEFAULT_FAMILY.from_config({}, "defaults").mtp_layers  # the published shape
    for value in groups.values():
        found = _LAYER.search(value)
        if found is not None:
            index = int(found.group(1))
            fields["layer"] = f"layer {index}" + (", the MTP layer" if index in mtp else "")
            break
    else:
        fields["layer"] = "not a decoder layer"
    return fields


class _Scan:
    def __init__(self) -> None:
        self.matcher = Matcher()
        self.groups: dict[tuple[str, str, str], _Group] = {}
        self.unrecognised: dict[str, tuple[str, int, str]] = {}
        self.unrecognised_count = 0
        self.last_stamped: dict[tuple[str, str], str] = {}
        self.lines = 0
        self.dropped = 0
        self.nodes: dict[str, None] = {}

    def feed(self, line: reader.Line) -> None:
        self.lines += 1
        self.nodes.setdefault(line.node)
        text = line.text
        if _quiet(text):  # an INFO/DEBUG line of vLLM's logger: stamped, never a failure
            self.last_stamped[(line.path, line.node)] = text
            return
        if _STAMPED.search(text, 0, 200):
            self.last_stamped[(line.path, line.node)] = text
        candidates = self.matcher.candidates(text)
        if candidates is None:
            return
        parsed = logline.parse(text)
        hit = self.matcher.match(parsed.message, candidates) if candidates else None
        if hit is None:
            self._maybe_unrecognised(line, parsed.message)
            return
        fingerprint, groups = hit
        stamp = parsed.stamp
        if stamp is None and (earlier := self.last_stamped.get((line.path, line.node))):
            stamp = logline.parse(earlier).stamp
        fields = _fields(groups)
        cause = fingerprint.cause.format_map(fields)
        key = (fingerprint.id, line.node, cause)
        group = self.groups.get(key)
        if group is None:
            if len(self.groups) >= MAX_GROUPS:
                self.dropped += 1
                return
            fix = fingerprint.fix.format_map(fields)
            group = _Group(
                fingerprint, line.node, cause, fix, line.path, line.number, stamp, self.lines
            )
            self.groups[key] = group
        rank = str(parsed.rank) if parsed.rank else ""
        if group.lines == 0:
            group.rank = rank
        elif stamp is not None and (group.stamp is None or stamp < group.stamp):
            group.stamp, group.path, group.line, group.rank = stamp, line.path, line.number, rank
        group.lines += 1
        if rank and rank not in group.ranks and len(group.ranks) < 64:
            group.ranks.append(rank)

    def _maybe_unrecognised(self, line: reader.Line, message: str) -> None:
        found = EXCEPTION.match(message)
        if found is None:
            return
        self.unrecognised_count += 1
        self.unrecognised.setdefault(line.node, (line.path, line.number, message.strip()[:300]))


def _record(group: _Group, first: _Group | None) -> FailureRecord:
    f = group.fingerprint
    return FailureRecord(
        f.kind.code,
        f.id,
        group.where(),
        group.node,
        [group.rank, *(r for r in group.ranks if r != group.rank)] if group.rank else [],
        str(group.stamp) if group.stamp else None,
        group.lines,
        group.path,
        group.line,
        group.cause,
        list(f.caught_by),
        f.check,
        list(f.releases),
        None if first is None else f"{first.fingerprint.kind.code} on {first.where()}",
    )


def _finding(group: _Group, first: _Group | None) -> Finding:
    f = group.fingerprint
    lines = f" ({group.lines} lines)" if group.lines > 1 else ""
    message = f"{group.where()}: {group.cause}{lines}"
    caught = f" ({', '.join(f.caught_by)})" if f.caught_by else ""
    hint = f"{group.fix}; before the start: {f.check}{caught}"
    if first is not None:
        message += f"; a consequence of {first.fingerprint.kind.code} on {first.where()}"
        return f.kind(f"{group.path}:{group.line}", message, hint=hint, severity=Severity.WARNING)
    return f.kind(f"{group.path}:{group.line}", message, hint=hint)


def diagnose(inputs: Iterable[Path]) -> Result[DiagnoseSummary]:
    """Read every log of ``inputs`` (files or folders of per-node logs) once, streaming."""
    files = reader.log_files(inputs)
    scan = _Scan()
    for line in reader.lines(files):
        scan.feed(line)
    groups = sorted(scan.groups.values(), key=_Group.key)
    roots = [g for g in groups if not g.fingerprint.consequence]
    first = (roots or groups)[0] if groups else None
    records: list[FailureRecord] = []
    findings: list[Finding] = []
    for group in groups:
        follows = group.fingerprint.consequence or not roots
        cause_of = first if group is not first and follows else None
        records.append(_record(group, cause_of))
        findings.append(_finding(group, cause_of))
    if first is not None:
        findings.insert(
            0,
            C.LOG_FIRST_FAILURE(
                f"{first.path}:{first.line}",
                f"first failure: {first.where()}: {first.fingerprint.kind.code}",
                hint="fix this one first; the consequences below follow from it"
                if len(groups) > 1
                else "",
            ),
        )
    known_nodes = {g.node for g in groups}
    for node, (path, number, message) in scan.unrecognised.items():
        if node not in known_nodes:
            findings.append(C.LOG_UNRECOGNISED_ERROR(f"{path}:{number}", f"{node}: {message}"))
    summary = DiagnoseSummary(
        [str(p) for p in files],
        scan.lines,
        list(scan.nodes),
        records[groups.index(first)] if first is not None else None,
        records,
        scan.unrecognised_count,
        scan.dropped,
    )
    return Result("diagnose", summary, findings)
