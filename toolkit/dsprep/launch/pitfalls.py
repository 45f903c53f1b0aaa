"""The launch pitfalls of the selected release profile, checked before a 20-minute start
fails: graph sizes, the Ascend scheduler, ``--additional-config`` keys, the release's own
start-up rules, parsers, the MTP method, headless nodes. Every check reads profile
fields; none compares a release, parser or graph-mode name.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from dsprep import catalogue as C
from dsprep.findings import Finding, Severity
from dsprep.launch.argv import engine_config
from dsprep.launch.cluster import Cluster
from dsprep.launch.features import (
    check_headless,
    check_parsers,
    check_speculative,
    flag_conflicts,
)
from dsprep.launch.release_rules import check_release_rules
from dsprep.launch.rules import finding
from dsprep.profiles import GraphSizes, Profile

ProfileCheck = Callable[[Cluster, Profile], list[Finding]]


def check_graph(cluster: Cluster, profile: Profile) -> list[Finding]:
    """Graph sizes as the mode's release treats them; --compilation-config owned by it."""
    mode = profile.launch.graph_modes.get(cluster.graph_mode)
    if mode is None:  # the schema names the profile's modes: reported there
        return []
    found: list[Finding] = []
    sizes = cluster.graph_batch_sizes
    if sizes and mode.sizes is None:
        found.append(
            finding(
                cluster,
                C.GRAPH_BATCH_SIZES_IGNORED,
                "graph.batch_sizes",
                f"graph.mode {cluster.graph_mode} captures no graphs on {profile.name}; the"
                " sizes are unused",
            )
        )
    elif sizes and mode.sizes is not None:
        found += _size_findings(cluster, mode.sizes)
    if engine_config(cluster, profile).compilation_config:
        owner = "graph.mode/graph.batch_sizes on this image"
        found += flag_conflicts(cluster, "--compilation-config", owner)
    return found


def _size_findings(cluster: Cluster, rule: GraphSizes) -> list[Finding]:
    """``batch`` sizes above max_num_seqs are dropped (max_num_seqs is appended) and, with
    MTP, multiplied by 1 + k; ``tokens`` sizes above max_num_batched_tokens are dropped
    and the rest rounded up to multiples of 1 + k."""
    sizes = cluster.graph_batch_sizes
    step = 1 + cluster.mtp_tokens if cluster.mtp else 1
    if rule.unit == "batch":
        limit, what = cluster.max_num_seqs, "limits.max_num_seqs"
        consequence = "drops them and appends max_num_seqs"
    else:
        limit, what = cluster.max_num_batched_tokens, "limits.max_num_batched_tokens"
        consequence = "drops them (capture sizes count tokens)"
    found: list[Finding] = []
    dropped = sorted({s for s in sizes if s > limit})
    if dropped:
        found.append(
            finding(
                cluster,
                C.GRAPH_BATCH_SIZE_DROPPED,
                "graph.batch_sizes",
                f"{dropped} exceed {what} {limit}; the release {consequence}, so those graphs"
                " are never captured",
                f"use sizes up to {limit}",
            )
        )
    kept = [s for s in sizes if s <= limit]
    if step > 1 and kept:
        if rule.unit == "batch" and rule.padded_by_speculative:
            padded = [s * step for s in kept]
        else:
            padded = [math.ceil(s / step) * step for s in kept]
        if padded != kept:
            found.append(
                finding(
                    cluster,
                    C.GRAPH_BATCH_SIZES_PADDED,
                    "graph.batch_sizes",
                    f"with MTP (1 + {cluster.mtp_tokens} tokens per step) the graphs are"
                    f" captured for {padded} tokens",
                )
            )
    return found


def check_scheduler(cluster: Cluster, profile: Profile) -> list[Finding]:
    if cluster.ascend_scheduler and profile.launch.scheduler is None:
        return [
            finding(
                cluster,
                C.ASCEND_SCHEDULER_UNSUPPORTED,
                "scheduler.ascend",
                f"image {profile.name} has no Ascend scheduler; an ascend_scheduler_config"
                " would be silently ignored",
            )
        ]
    return []


def check_additional_config(cluster: Cluster, profile: Profile) -> list[Finding]:
    """Keys the release ignores (and where the setting moved), keys it does not read at
    all, nested keys of containers it reads, and containers whose unknown keys raise."""
    known = profile.launch.additional_config
    found: list[Finding] = []
    for key, value in cluster.additional_config.items():
        where = f"additional_config.{key}"
        if key in known.ignored:
            found.append(
                finding(
                    cluster,
                    C.ADDITIONAL_CONFIG_IGNORED,
                    where,
                    f"image {profile.name} silently ignores {key}; the setting lives in"
                    f" {known.ignored[key]}",
                    f"remove {where}; use {known.ignored[key]}",
                )
            )
        elif known.keys is not None and key not in known.keys:
            found.append(
                finding(
                    cluster,
                    C.ADDITIONAL_CONFIG_UNKNOWN_KEY,
                    where,
                    f"vllm-ascend {profile.name} does not read {key!r} (it is ignored)",
                    "remove it or fix its name; known: " + ", ".join(sorted(known.keys)),
                )
            )
        elif known.keys is not None and isinstance(value, dict):
            found += _nested(cluster, profile, key, value, known.keys.get(key))
    return found


def _nested(
    cluster: Cluster, profile: Profile, key: str, value: dict[str, object], nested: list[str] | None
) -> list[Finding]:
    if nested is None:
        return []
    strict = key in profile.launch.additional_config.strict
    return [
        finding(
            cluster,
            C.ADDITIONAL_CONFIG_INVALID if strict else C.ADDITIONAL_CONFIG_UNKNOWN_KEY,
            f"additional_config.{key}.{inner}",
            f"vllm-ascend {profile.name} "
            + (
                f"raises ValueError on unknown {key} keys" if strict else f"does not read {inner!r}"
            ),
            f"remove it or fix its name; {key} knows: {', '.join(sorted(nested))}",
            None if strict else Severity.WARNING,
        )
        for inner in value
        if inner not in nested
    ]


def check_rules(cluster: Cluster, profile: Profile) -> list[Finding]:
    return check_release_rules(cluster, profile, engine_config(cluster, profile))


PROFILE_CHECKS: tuple[ProfileCheck, ...] = (
    check_graph,
    check_scheduler,
    check_additional_config,
    check_rules,
    check_parsers,
    check_speculative,
    check_headless,
)
