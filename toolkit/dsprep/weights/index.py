"""The shard index (``*.safetensors.index.json``): which index counts, and does it agree?

vLLM follows only ``model.safetensors.index.json``; with msmodelslim's own index name it
loads every ``*.safetensors`` in the folder. So a stray ``model.safetensors.index.json``
(left from the FP8 original) beside the W8A8 index makes vLLM follow the wrong map, and
a stray shard is loaded too.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from dsprep.findings import Finding, Severity
from dsprep.weights.description import capped

SHARD_SUFFIX = ".safetensors"
INDEX_SUFFIX = SHARD_SUFFIX + ".index.json"
VLLM_INDEX = "model.safetensors.index.json"


@dataclass
class ShardIndex:
    """A parsed index: tensor name → shard file name, and the shards in first-seen order."""

    name: str
    weight_map: dict[str, str]
    shards: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)  # tensors per shard

    @classmethod
    def parse(cls, name: str, document: Mapping[str, Any], shown: str) -> ShardIndex | Finding:
        weight_map = document.get("weight_map")
        if not isinstance(weight_map, dict) or not all(
            isinstance(v, str) for v in weight_map.values()
        ):
            return Finding(
                "invalid-index",
                shown,
                f"key 'weight_map' in {os.path.basename(shown)} is missing or not an object of "
                "tensor → shard names",
                hint="download the index again",
            )
        counts = Counter(weight_map.values())
        return cls(name, weight_map, list(counts), dict(counts))

    def says_fp8(self) -> bool:
        """FP8 block-scaled checkpoints carry ``*.weight_scale_inv`` tensors."""
        return any(name.endswith("_scale_inv") for name in self.weight_map)

    def names_by_shard(self) -> dict[str, set[str]]:
        grouped: dict[str, list[str]] = {shard: [] for shard in self.shards}
        for tensor, shard in self.weight_map.items():
            grouped[shard].append(tensor)
        return {shard: set(names) for shard, names in grouped.items()}


def index_names(names: list[str]) -> list[str]:
    return sorted(n for n in names if n.endswith(INDEX_SUFFIX) and "/" not in n)


def choose_index(indexes: list[str]) -> tuple[str | None, list[str]]:
    """(the index that describes the W8A8 shards, the stray ones).

    ``model.safetensors.index.json`` beside another index is stray (vLLM would follow it
    instead of the W8A8 index); with several other indexes the first one counts.
    """
    if not indexes:
        return None, []
    others = [n for n in indexes if n != VLLM_INDEX]
    if others and VLLM_INDEX in indexes:
        return others[0], [VLLM_INDEX]
    return indexes[0], []


def stray_index_finding(shown: str, main_shown: str | None, reason: str = "") -> Finding:
    beside = f" beside {os.path.basename(main_shown)}" if main_shown else ""
    return Finding(
        "stray-index",
        shown,
        f"{os.path.basename(shown)} is a stray index{beside}{reason}: vLLM follows "
        "model.safetensors.index.json and loads the wrong shards",
        hint=f"delete {shown} (it belongs to the FP8 original)",
    )


def fp8_index_finding(shown: str) -> Finding:
    """The FP8 original's model.safetensors.index.json beside a W8A8 description."""
    return stray_index_finding(shown, None, " (it lists the FP8 original's *_scale_inv tensors)")


def consistency_findings(
    index: ShardIndex,
    index_shown: str,
    headers: Mapping[str, Collection[str]],
    shown: Callable[[str], str],
    grouped: Mapping[str, set[str]] | None = None,
) -> list[Finding]:
    """tensor-not-in-shard / tensor-not-in-index for every indexed shard that parsed.

    ``headers`` maps shard names to the tensor names of their headers (missing or broken
    shards are reported elsewhere), ``shown`` gives a shard's shown path. Fast path: every
    header tensor maps to its own shard and the counts agree (C-level map/count, or one
    subset test per shard against ``grouped``, :meth:`ShardIndex.names_by_shard`).
    """
    lookup = index.weight_map.get
    consistent = True
    for shard in index.shards:
        header = headers.get(shard)
        if header is None:
            continue
        if grouped is not None:
            same = len(header) == index.counts[shard] and grouped[shard].issuperset(header)
        else:
            placed = list(map(lookup, header))
            same = placed.count(shard) == len(placed) == index.counts[shard]
        if not same:
            consistent = False
            break
    if consistent:
        return []
    return _inconsistencies(index, index_shown, headers, shown)


def _inconsistencies(
    index: ShardIndex,
    index_shown: str,
    headers: Mapping[str, Collection[str]],
    shown: Callable[[str], str],
) -> list[Finding]:
    not_in_shard: list[Finding] = []
    not_in_index: list[Finding] = []
    index_base = os.path.basename(index_shown)
    for shard, expected in index.names_by_shard().items():
        header = headers.get(shard)
        if header is None:
            continue
        path = shown(shard)
        base = os.path.basename(path)
        for name in sorted(expected.difference(header)):
            not_in_shard.append(
                Finding(
                    "tensor-not-in-shard",
                    path,
                    f"tensor {name!r} is missing from {base}; {index_base} puts it there",
                    hint="download the shard again (or the index, if it is the wrong one)",
                )
            )
        for name in sorted(set(header) - expected):
            not_in_index.append(
                Finding(
                    "tensor-not-in-index",
                    path,
                    f"tensor {name!r} in {base} is not in {index_base}'s weight_map",
                    hint="download the index again; it does not belong to these shards",
                )
            )
    return capped(not_in_shard, "tensor-not-in-shard", "tensors") + capped(
        not_in_index, "tensor-not-in-index", "tensors"
    )


def missing_shard_finding(shard_shown: str, index_shown: str, count: int) -> Finding:
    return Finding(
        "missing-shard",
        shard_shown,
        f"{os.path.basename(shard_shown)} does not exist; {os.path.basename(index_shown)} "
        f"puts {count} tensors in it",
        hint="download the missing shard (dsprep fetch resumes)",
    )


def broken_symlink_finding(name: str, shown: str) -> Finding:
    return Finding(
        "missing-shard",
        shown,
        f"{name} is a broken symlink",
        hint="delete it or download the shard again",
    )


def multiple_index_finding(shown: str, main_shown: str) -> Finding:
    return Finding(
        "multiple-indexes",
        shown,
        f"{os.path.basename(shown)} is a second shard index beside "
        f"{os.path.basename(main_shown)}; only one is used",
        hint=f"delete {shown} if it does not belong to these shards",
        severity=Severity.WARNING,
    )
