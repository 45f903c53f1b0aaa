"""What one log line says about where and when it was written: the process prefix vLLM puts
on every line of a worker (the rank), and the timestamp of vLLM's logger, CANN's plog or
torch's c10d.

vLLM's logger format (every release 0.11 … 0.23; ``vllm/logger.py`` ``_FORMAT`` and
``_DATE_FORMAT``: vllm==0.11.0 vllm/logger.py:25-27, vllm==0.23.0 vllm/logger.py:22-26)::

    %(levelname)s %(asctime)s [%(fileinfo)s:%(lineno)d] %(message)s    datefmt %m-%d %H:%M:%S

(``VLLM_LOGGING_PREFIX`` goes before it, empty by default). Its ``NewLineFormatter`` repeats
the header on every line of a multi-line message, so a logged traceback keeps it. Each
process wraps stdout/stderr with ``(<name> pid=<pid>) `` (``_add_prefix``: vllm==0.11.0
vllm/utils/__init__.py:3463, vllm==0.13.0 vllm/utils/system_utils.py:179-181, cyan when
coloured); a worker's name is ``Worker`` + ``_DP<r>`` ``_PP<r>`` ``_PCP<r>`` ``_TP<r>``
``_DCP<r>`` ``_EP<r>`` for each group larger than one (vllm==0.13.0
vllm/v1/executor/multiproc_executor.py:846-861), an engine core's ``EngineCore_DP<r>``
(vllm==0.13.0 vllm/v1/engine/utils.py:123). CANN's plog lines carry
``YYYY-MM-DD-HH:MM:SS.mmm.uuu`` and torch's c10d ``[rank<n>]:[W<M><DD> HH:MM:SS.…``
(glog style, the month not padded).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_PROCESS = re.compile(r"\((?P<name>[A-Za-z][\w.-]*)(?: rank=(?P<rank>\d+))? pid=\d+\) ")
_GROUP = re.compile(r"_(DP|PP|PCP|TP|DCP|EP)(\d+)")
_VLLM = re.compile(
    r"(?P<level>DEBUG|INFO|WARNING|ERROR|CRITICAL) (?P<mo>\d\d)-(?P<d>\d\d) "
    r"(?P<h>\d\d):(?P<mi>\d\d):(?P<s>\d\d)(?:\.\d+)? \[(?P<where>[^\]]+:\d+)\] ?"
)
_CANN = re.compile(
    r"(?P<y>\d{4})-(?P<mo>\d\d)-(?P<d>\d\d)-(?P<h>\d\d):(?P<mi>\d\d):(?P<s>\d\d)\.(?P<ms>\d{3})"
)
_C10D = re.compile(
    r"\[rank(?P<rank>\d+)\]:\[[IWEF](?P<mo>\d{1,2})(?P<d>\d\d) "
    r"(?P<h>\d\d):(?P<mi>\d\d):(?P<s>\d\d)(?:\.(?P<frac>\d+))?"
)


@dataclass(frozen=True, order=True)
class Stamp:
    """When a line was written, to the second or better; vLLM's logger gives no year, so
    stamps compare by month, day and time (a log spanning New Year sorts wrong)."""

    month: int
    day: int
    seconds: float

    def __str__(self) -> str:
        whole = int(self.seconds)
        h, rest = divmod(whole, 3600)
        m, s = divmod(rest, 60)
        return f"{self.month:02d}-{self.day:02d} {h:02d}:{m:02d}:{s:02d}"


@dataclass(frozen=True)
class Rank:
    """The parallel ranks a process names: ``{"DP": 1, "TP": 3}``, as vLLM names them."""

    groups: tuple[tuple[str, int], ...] = ()
    process: str = ""

    def __str__(self) -> str:
        if self.groups:
            return " ".join(f"{name}{value}" for name, value in self.groups)
        return self.process

    def __bool__(self) -> bool:
        return bool(self.groups or self.process)


@dataclass(frozen=True)
class LogLine:
    """One line taken apart: its message text (prefixes and logger header removed), the
    rank of the process that wrote it and its timestamp, where the line has them."""

    message: str
    rank: Rank
    stamp: Stamp | None
    level: str = ""


def _stamp(found: re.Match[str], frac: str = "0") -> Stamp:
    seconds = int(found["h"]) * 3600 + int(found["mi"]) * 60 + int(found["s"])
    return Stamp(int(found["mo"]), int(found["d"]), seconds + float(f"0.{frac or '0'}"))


def _rank(names: list[tuple[str, str | None]]) -> Rank:
    groups: dict[str, int] = {}
    process = ""
    for name, rank in names:
        process = name
        for group, value in _GROUP.findall(name):
            groups[group] = int(value)
        if rank is not None:  # vLLM 0.9's "(VllmWorker rank=3 pid=…)"
            groups.setdefault("TP", int(rank))
    return Rank(tuple(groups.items()), process)


def parse(text: str) -> LogLine:
    """The anatomy of one line (without its newline)."""
    text = _ANSI.sub("", text)
    names: list[tuple[str, str | None]] = []
    while found := _PROCESS.match(text):
        names.append((found["name"], found["rank"]))
        text = text[found.end() :]
    rank = _rank(names)
    header = _VLLM.match(text)
    if header is not None:
        return LogLine(text[header.end() :], rank, _stamp(header), header["level"])
    c10d = _C10D.match(text)
    if c10d is not None:
        groups = (*rank.groups, ("rank", int(c10d["rank"])))
        return LogLine(text, Rank(groups, rank.process), _stamp(c10d, c10d["frac"] or "0"))
    cann = _CANN.search(text, 0, 80)
    if cann is not None:
        return LogLine(text, rank, _stamp(cann, cann["ms"]))
    return LogLine(text, rank, None)
