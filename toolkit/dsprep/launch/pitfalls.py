"""The launch pitfalls of the selected release profile, checked before a 20-minute start
fails: graph sizes, the Ascend scheduler, ``--additional-config`` keys, the release's own
start-up rules, parsers, the MTP method, headless nodes. Every check reads profile
fields; none compares a release, parser or graph-mode name.
"""

from __future__ import annotations

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
from dsprep.launch.graphs import captured_graphs, speculative_step
from dsprep.launch.release_rules import check_release_rules
from dsprep.launch.rules import finding
from dsprep.launch.thinking import check_thinking
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
        found += _size_findings(cluster, profile, mode.sizes)
    if engine_config(cluster, profile).compilation_config:
        owner = "graph.mode/graph.batch_sizes on this image"
        found += flag_conflicts(cluster, "--compilation-config", owner)
    return found


def _size_findings(cluster: Cluster, profile: Profile, rule: GraphSizes) -> list[Finding]:
    """What the release does with the sizes (:func:`captured_graphs`), said as findings."""
    sizes = list(cluster.graph_batch_sizes)
    outcome = captured_graphs(sizes, rule, cluster)
    unit = "sequences per decode step" if rule.unit == "batch" else "tokens per forward pass"
    where = ".".join(rule.at)
    step = speculative_step(cluster)
    found: list[Finding] = []
    if outcome.rejected:
        return [
            finding(
                cluster,
                C.GRAPH_SIZES_INVALID,
                "graph.batch_sizes",
                f"{sizes} ({where}, {unit}) leave no size once rounded up to multiples of"
                f" 1 + {cluster.mtp_tokens} speculative tokens: vllm-ascend {profile.name}"
                f" stops at start with {rule.rejects}",
                f"use sizes that are multiples of {step}, e.g. [{step}]",
            )
        ]
    if outcome.dropped:
        above = (
            f"exceed {outcome.limit_key} {outcome.limit}"
            if any(outcome.limit is not None and s > outcome.limit for s in outcome.dropped)
            else f"round up past the largest size {max(sizes)} (multiples of {step})"
        )
        found.append(
            finding(
                cluster,
                C.GRAPH_BATCH_SIZE_DROPPED,
                "graph.batch_sizes",
                f"{outcome.dropped} {above}; vllm-ascend {profile.name} drops them, so those"
                f" graphs are never captured ({where} counts {unit})",
                f"use sizes up to {outcome.limit}"
                + (f" that are multiples of {step}" if rule.speculative == "round_up" else ""),
            )
        )
    if not outcome.captured:
        return found
    kept = [s for s in sorted(set(sizes)) if s not in outcome.dropped]
    if outcome.captured != kept and (outcome.appended or step > 1):
        why = []
        if outcome.appended:
            why.append(f"appends {outcome.appended}")
        if step > 1 and rule.speculative == "multiply":
            why.append(f"multiplies by 1 + {cluster.mtp_tokens} speculative tokens")
        if step > 1 and rule.speculative == "round_up":
            why.append(f"rounds up to multiples of 1 + {cluster.mtp_tokens} speculative tokens")
        found.append(
            finding(
                cluster,
                C.GRAPH_BATCH_SIZES_PADDED,
                "graph.batch_sizes",
                f"vllm-ascend {profile.name} {' and '.join(why)}: the graphs are captured for"
                f" {outcome.captured}"
                + (" tokens" if rule.unit == "tokens" or rule.speculative == "multiply" else ""),
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
                f"image {profile.name} has no Ascend scheduler; dsprep writes no"
                " ascend_scheduler_config (the release would ignore it) and vLLM's scheduler"
                " is used",
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
                    f"vllm-ascend {profile.name} silently ignores {key}; the setting lives"
                    f" in {known.ignored[key]}",
                    f"remove {where}; use {known.ignored[key]} (`dsprep emit-launch"
                    f" {cluster.source} --image {cluster.image_tag} --migrate` moves it)",
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


def check_env(cluster: Cluster, profile: Profile) -> list[Finding]:
    """env variables of the cluster file that this release reads elsewhere, or not at all."""
    found: list[Finding] = []
    for name in cluster.env:
        moved = profile.launch.moved.get(f"env.{name}")
        if moved is None:
            continue
        now = f"it lives in {moved.to}" if moved.to else "nothing reads it"
        old = "still read, deprecated" if moved.still_read else "ignored"
        found.append(
            finding(
                cluster,
                C.ENV_MOVED,
                f"env.{name}",
                f"{old} by vllm-ascend {profile.name}: {now} ({moved.note})",
                (f"set {moved.to} instead" if moved.to else f"remove env.{name}")
                + f" (`dsprep emit-launch {cluster.source} --image {cluster.image_tag}"
                " --migrate` does)",
            )
        )
    return found


def check_rules(cluster: Cluster, profile: Profile) -> list[Finding]:
    return check_release_rules(cluster, profile, engine_config(cluster, profile))


PROFILE_CHECKS: tuple[ProfileCheck, ...] = (
    check_graph,
    check_scheduler,
    check_additional_config,
    check_env,
    check_rules,
    check_parsers,
    check_thinking,
    check_speculative,
    check_headless,
)
