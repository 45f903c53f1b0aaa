"""The graphs a release captures for ``graph.batch_sizes``, computed by the mode's rule
(:class:`dsprep.profiles.GraphSizes`): which sizes it drops, what it appends, and what
MTP does to them. ``emit-launch`` reports the differences; ``--migrate`` carries the
captured graphs into the unit of the new release's mode.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from dsprep.launch.cluster import Cluster
from dsprep.profiles import GraphSizes


@dataclass(frozen=True)
class Captured:
    """``dropped``: sizes above the limit (or, rounded, above the largest size kept);
    ``captured``: what the release captures (in the mode's unit after MTP);
    ``rejected``: the release refuses the sizes (no size left after rounding)."""

    limit: int | None
    limit_key: str | None
    dropped: list[int] = field(default_factory=list)
    appended: list[int] = field(default_factory=list)
    captured: list[int] = field(default_factory=list)
    rejected: bool = False


LIMIT_KEYS = {
    "max_num_seqs": "limits.max_num_seqs",
    "max_num_batched_tokens": "limits.max_num_batched_tokens",
}


def speculative_step(cluster: Cluster) -> int:
    """Tokens per sequence in one decode step: 1 + speculative tokens."""
    return 1 + cluster.mtp_tokens if cluster.mtp else 1


def captured_graphs(sizes: list[int], rule: GraphSizes, cluster: Cluster) -> Captured:
    limit = getattr(cluster, rule.limit) if rule.limit else None
    limit_key = LIMIT_KEYS[rule.limit] if rule.limit else None
    kept = sorted(set(sizes))
    dropped = [s for s in kept if limit is not None and s > limit]
    kept = [s for s in kept if s not in dropped]
    appended: list[int] = []
    if not kept and rule.none_left == "one_and_limit" and limit is not None:
        kept, appended = [1, limit], [1, limit]
    elif kept and rule.append_limit and limit is not None and kept[-1] < limit:
        kept, appended = [*kept, limit], [limit]
    step = speculative_step(cluster)
    if step == 1 or rule.speculative == "none" or not kept:
        return Captured(limit, limit_key, dropped, appended, kept)
    if rule.speculative == "multiply":
        return Captured(limit, limit_key, dropped, appended, [s * step for s in kept])
    largest = kept[-1]
    rounded = sorted({math.ceil(s / step) * step for s in kept})
    over = [s for s in kept if math.ceil(s / step) * step > largest]
    rounded = [s for s in rounded if s <= largest]
    if rounded:
        return Captured(limit, limit_key, dropped + over, appended, rounded)
    if step <= largest:
        return Captured(limit, limit_key, dropped + over, appended, [step])
    return Captured(limit, limit_key, dropped + over, appended, [], rejected=True)


def in_tokens(captured: list[int], rule: GraphSizes, cluster: Cluster) -> list[int]:
    """Captured graphs in tokens per forward pass (batch graphs hold 1 + k tokens per
    sequence once MTP multiplied them; without MTP a sequence is one token)."""
    if rule.unit == "tokens" or rule.speculative == "multiply":
        return list(captured)
    return [s * speculative_step(cluster) for s in captured]


def from_tokens(tokens: list[int], rule: GraphSizes, cluster: Cluster) -> list[int]:
    """Token graphs as sizes in ``rule``'s unit (batch: sequences, 1 + k tokens each)."""
    if rule.unit == "tokens":
        return sorted(set(tokens))
    step = speculative_step(cluster)
    return sorted({max(1, s // step) for s in tokens})
