"""The launch pitfalls of the selected image profile (domain notes §2), checked before a
20-minute start fails: scheduler limits, graph mode keys, parsers, MTP method, headless.
"""

from __future__ import annotations

from collections.abc import Callable

from dsprep.findings import Finding, Severity
from dsprep.launch.argv import engine_config
from dsprep.launch.cluster import Cluster
from dsprep.launch.features import (
    check_headless,
    check_parsers,
    check_speculative,
    flag_conflicts,
)
from dsprep.launch.profiles import Profile
from dsprep.launch.rules import finding

ProfileCheck = Callable[[Cluster, Profile], list[Finding]]


def check_graph(cluster: Cluster, profile: Profile) -> list[Finding]:
    found: list[Finding] = []
    modes = ", ".join(profile.graph_modes)
    mode = profile.graph_modes.get(cluster.graph_mode)
    if mode is None:
        return [
            finding(
                cluster,
                "graph-mode-unsupported",
                "graph.mode",
                f"{cluster.graph_mode} is not available in image {profile.name}"
                f" (vLLM {profile.vllm_version}); it has: {modes}",
                f"set graph.mode to one of: {modes}",
            )
        ]
    sizes = cluster.graph_batch_sizes
    if sizes and mode.batch_sizes_at is None:
        if "torchair" in profile.graph_modes:
            found.append(
                finding(
                    cluster,
                    "torchair-keys-without-enabled",
                    "graph.batch_sizes",
                    f"torchair graph_batch_sizes with graph.mode {cluster.graph_mode}: vllm-ascend"
                    f" {profile.name} raises RuntimeError for torchair keys while torchair is off",
                    "set graph.mode: torchair, or remove graph.batch_sizes",
                )
            )
        else:
            found.append(
                finding(
                    cluster,
                    "graph-batch-sizes-ignored",
                    "graph.batch_sizes",
                    f"graph.mode {cluster.graph_mode} captures no graphs; the sizes are unused",
                    "remove graph.batch_sizes or choose a graph mode",
                    Severity.WARNING,
                )
            )
    elif sizes:
        dropped = sorted({s for s in sizes if s > cluster.max_num_seqs})
        if dropped:
            found.append(
                finding(
                    cluster,
                    "graph-batch-size-dropped",
                    "graph.batch_sizes",
                    f"{dropped} exceed limits.max_num_seqs {cluster.max_num_seqs}; vllm-ascend"
                    " drops them and appends max_num_seqs, so those graphs are never captured",
                    f"use sizes up to {cluster.max_num_seqs}, e.g. [{cluster.max_num_seqs}]",
                    Severity.WARNING,
                )
            )
        if cluster.mtp and cluster.graph_mode == "torchair":
            padded = [s * (1 + cluster.mtp_tokens) for s in sizes if s <= cluster.max_num_seqs]
            found.append(
                finding(
                    cluster,
                    "graph-batch-sizes-padded",
                    "graph.batch_sizes",
                    f"with MTP each size is multiplied by 1 + {cluster.mtp_tokens}: graphs for"
                    f" {padded} tokens",
                    "nothing to do; size HBM for these graphs",
                    Severity.INFO,
                )
            )
    config = engine_config(cluster, profile)
    additional = config.additional_config
    if config.compilation_config:
        owner = "graph.mode/graph.batch_sizes on this image"
        found += flag_conflicts(cluster, "--compilation-config", owner)
    torchair = additional.get("torchair_graph_config")
    if isinstance(torchair, dict) and not torchair.get("enabled", False):
        keys = [k for k in profile.torchair_keys_need_enabled if torchair.get(k)]
        if keys:
            found.append(
                finding(
                    cluster,
                    "torchair-keys-without-enabled",
                    "additional_config.torchair_graph_config",
                    f"sets {', '.join(keys)} without enabled: true; vllm-ascend {profile.name}"
                    " raises RuntimeError",
                    "use graph.mode: torchair, or remove those keys",
                )
            )
    if cluster.graph_mode == "eager" and isinstance(torchair, dict) and torchair.get("enabled"):
        found.append(
            finding(
                cluster,
                "graph-and-eager",
                "additional_config.torchair_graph_config.enabled",
                "torchair graph mode together with --enforce-eager is rejected at start",
                "remove torchair_graph_config from additional_config or set graph.mode: torchair",
            )
        )
    return found


def check_scheduler(cluster: Cluster, profile: Profile) -> list[Finding]:
    if cluster.ascend_scheduler and not profile.ascend_scheduler:
        return [
            finding(
                cluster,
                "ascend-scheduler-unsupported",
                "scheduler.ascend",
                f"image {profile.name} has no Ascend scheduler; its ascend_scheduler_config"
                " would be silently ignored",
                "set scheduler.ascend: false (vLLM's scheduler is used)",
            )
        ]
    if (
        cluster.ascend_scheduler
        and not cluster.chunked_prefill
        and cluster.max_num_batched_tokens < cluster.max_model_len
    ):
        return [
            finding(
                cluster,
                "batched-tokens-below-model-len",
                "limits.max_num_batched_tokens",
                f"{cluster.max_num_batched_tokens} < limits.max_model_len"
                f" {cluster.max_model_len}: with the Ascend scheduler and no chunked prefill"
                f" vllm-ascend {profile.name} raises ValueError at start",
                f"set limits.max_num_batched_tokens to at least {cluster.max_model_len},"
                " or scheduler.chunked_prefill: true",
            )
        ]
    return []


def check_additional_config(cluster: Cluster, profile: Profile) -> list[Finding]:
    found: list[Finding] = []
    for key in cluster.additional_config:
        where = f"additional_config.{key}"
        if key in profile.ignored_additional_config_keys:
            found.append(
                finding(
                    cluster,
                    "additional-config-ignored",
                    where,
                    f"image {profile.name} silently ignores {key}",
                    f"remove {where}; see the profile's graph modes and scheduler",
                )
            )
        elif profile.additional_config_keys is not None and key not in (
            profile.additional_config_keys
        ):
            found.append(
                finding(
                    cluster,
                    "additional-config-unknown-key",
                    where,
                    f"vllm-ascend {profile.name} does not read {key!r} (it is ignored)",
                    "remove it or fix its name; known: "
                    + ", ".join(profile.additional_config_keys),
                    Severity.WARNING,
                )
            )
    return found


PROFILE_CHECKS: tuple[ProfileCheck, ...] = (
    check_graph,
    check_scheduler,
    check_additional_config,
    check_parsers,
    check_speculative,
    check_headless,
)
