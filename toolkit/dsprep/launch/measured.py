"""What vLLM itself logged about memory at start, per node, for ``dsprep plan --from-log``.

Each figure is one log line the releases print (release, file, line beside each row of
:data:`FIGURES`; the provenance tier re-derives them). Logs are read as
``dsprep diagnose`` reads them (:mod:`dsprep.diagnose.reader`: files, ``[node=NAME] ``
streams, folders of per-node logs, streamed); a figure repeated by several ranks of a node
is kept at its worst: the most weight bytes, the least KV cache.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from dsprep.diagnose import logline, reader
from dsprep.diagnose.fingerprints import Cite, ascend_at, vllm_at
from dsprep.diagnose.matcher import needle
from dsprep.launch.device_memory import GIB


@dataclass(frozen=True)
class Figure:
    name: str  # the NodeFigures field it fills
    regex: str
    scale: float  # bytes per unit of the first group
    worst: str  # "max" | "min": which of several ranks' values is kept
    cites: tuple[Cite, ...]

    @property
    def pattern(self) -> re.Pattern[str]:
        return re.compile(self.regex)


FIGURES: tuple[Figure, ...] = (
    Figure(
        "weights",
        r"Loading model weights took (?P<v>[\d.]+) GB",
        GIB,  # consumed_memory / float(2**30)
        "max",
        ascend_at(
            "vllm_ascend/worker/model_runner_v1.py",
            "v0.11.0rc0:2661",
            "v0.11.0:2707",
            "v0.12.0rc1:2362",
            "v0.13.0:2395",
            "v0.18.0:2592",
            "v0.23.0:3796",
        ),
    ),
    Figure(
        "available_kv",
        r"Available memory: (?P<v>\d+), total memory: (?P<total>\d+)",
        1,
        "min",
        ascend_at(
            "vllm_ascend/worker/worker_v1.py", "v0.11.0rc0:235", "v0.11.0:257", "v0.12.0rc1:271"
        )
        + ascend_at("vllm_ascend/worker/worker.py", "v0.13.0:309"),
    ),
    Figure(
        "available_kv",
        r"Available KV cache memory: (?P<v>[\d.]+) GiB",
        GIB,
        "min",
        ascend_at("vllm_ascend/worker/worker.py", "v0.18.0:358", "v0.23.0:594"),
    ),
    Figure(
        "free_at_start",
        r"Free memory on device \((?P<v>[\d.]+)/(?P<total>[\d.]+) GiB\) on startup",
        GIB,
        "min",
        ascend_at("vllm_ascend/worker/worker.py", "v0.18.0:271", "v0.23.0:473"),
    ),
    Figure(
        "kv_tokens",
        r"GPU KV cache size: (?P<v>[\d,]+) tokens",
        1,
        "min",
        vllm_at(
            "vllm/v1/core/kv_cache_utils.py",
            "v0.11.0rc0:1087",
            "v0.11.0:1087",
            "v0.12.0rc1:1286",
            "v0.13.0:1291",
            "v0.18.0:1316",
            "v0.23.0:1744",
        ),
    ),
    Figure(
        "concurrency",
        r"Maximum concurrency for (?P<tokens>[\d,]+) tokens per request: (?P<v>[\d.]+)x",
        1,
        "min",
        vllm_at(
            "vllm/v1/core/kv_cache_utils.py",
            "v0.11.0rc0:1091",
            "v0.11.0:1091",
            "v0.12.0rc1:1292",
            "v0.13.0:1297",
            "v0.18.0:1322",
            "v0.23.0:1746",
        ),
    ),
)


@dataclass
class NodeFigures:
    """One node's figures (bytes, tokens, sequences), None where its log has none."""

    node: str
    weights: float | None = None
    available_kv: float | None = None
    free_at_start: float | None = None
    torch_total: float | None = None
    kv_tokens: float | None = None
    concurrency: float | None = None
    ranks: list[str] = field(default_factory=list)


def _keep(current: float | None, value: float, worst: str) -> float:
    if current is None:
        return value
    return max(current, value) if worst == "max" else min(current, value)


def read_figures(inputs: Iterable[Path]) -> list[NodeFigures]:
    """Every node's figures in the logs of ``inputs``, in the order nodes first appear."""
    nodes: dict[str, NodeFigures] = {}
    needles = [(f, f.pattern, needle(f.regex)) for f in FIGURES]
    for line in reader.lines(reader.log_files(inputs)):
        for figure, pattern, literal in needles:
            if literal not in line.text:
                continue
            parsed = logline.parse(line.text)
            found = pattern.search(parsed.message)
            if found is None:
                continue
            entry = nodes.setdefault(line.node, NodeFigures(line.node))
            value = float(found["v"].replace(",", "")) * figure.scale
            setattr(entry, figure.name, _keep(getattr(entry, figure.name), value, figure.worst))
            if "total" in found.groupdict() and figure.name != "concurrency":
                entry.torch_total = float(found["total"]) * figure.scale
            rank = str(parsed.rank)
            if rank and rank not in entry.ranks and len(entry.ranks) < 64:
                entry.ranks.append(rank)
    return list(nodes.values())
