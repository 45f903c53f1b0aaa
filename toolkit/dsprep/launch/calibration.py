"""The plan beside what vLLM logged (``dsprep plan --from-log``): per node, the figures
the release printed at start against the plan's, and what they imply for the next plan
(what of the weights as loaded the plan's items do not account for, and the activation +
non-torch reserve the release really took)."""

from __future__ import annotations

import math
from dataclasses import asdict
from typing import Any

from dsprep.launch.cluster import Cluster
from dsprep.launch.measured import NodeFigures
from dsprep.launch.plan import GIB, MemoryPlan


def planned(plan: MemoryPlan, cluster: Cluster) -> dict[str, float]:
    """The plan's side of each figure, per NPU."""
    kv = plan.budget_bytes - plan.loaded_weight_bytes - plan.reserve_bytes
    tokens = max(kv, 0) // plan.kv_bytes_per_token
    return {
        "weights": plan.loaded_weight_bytes,
        "torch_total": plan.torch_total_bytes,
        "available_kv": kv,
        "kv_tokens": tokens,
        "concurrency": tokens / cluster.max_model_len,
    }


def _gib(value: float | None) -> str:
    return "—" if value is None else f"{value / GIB:.2f} GiB"


def _signed_gib(value: float) -> str:
    return f"{value / GIB:+.2f} GiB"


def _tokens(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


def _times(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}x"


def implied(node: NodeFigures, plan: MemoryPlan, cluster: Cluster) -> dict[str, float | None]:
    """What the node's figures say the plan's estimates should have been."""
    remainder = None
    if node.weights is not None:
        remainder = node.weights - plan.loaded_weight_bytes
    reserve = None
    total = node.torch_total
    if node.weights is not None and node.available_kv is not None and total is not None:
        reserve = total * cluster.gpu_memory_utilization - node.weights - node.available_kv
    return {"weights_remainder": remainder, "reserve": reserve}


def comparison_lines(plan: MemoryPlan, cluster: Cluster, nodes: list[NodeFigures]) -> list[str]:
    ours = planned(plan, cluster)
    lines = [
        "",
        "Plan beside the release's own log lines (per NPU; the worst rank of each node):",
        "",
        "| node | weights loaded | torch total | KV cache memory | KV tokens | concurrency at"
        " max_model_len |",
        "|---|---:|---:|---:|---:|---:|",
        f"| plan | {_gib(ours['weights'])} | {_gib(ours['torch_total'])} |"
        f" {_gib(ours['available_kv'])} | {_tokens(ours['kv_tokens'])} |"
        f" {_times(ours['concurrency'])} |",
    ]
    for node in nodes:
        lines.append(
            f"| {node.node} | {_gib(node.weights)} | {_gib(node.torch_total)} |"
            f" {_gib(node.available_kv)} | {_tokens(node.kv_tokens)} |"
            f" {_times(node.concurrency)} |"
        )
    if not nodes:
        lines.append("(no memory line of vLLM in the logs)")
    for node in nodes:
        found = implied(node, plan, cluster)
        parts = []
        remainder = found["weights_remainder"]
        if remainder is not None:
            share = remainder / max(plan.loaded_weight_bytes, 1)
            parts.append(
                f"weights {_signed_gib(remainder)} ({share:+.2%}) beside the plan's itemised"
                f" {_gib(plan.loaded_weight_bytes)}"
            )
        if found["reserve"] is not None:
            parts.append(
                f"activation peak + non-torch {_gib(found['reserve'])}"
                f" (plan: {_gib(plan.reserve_bytes)})"
            )
        if parts:
            lines.append(f"{node.node}: the log implies " + "; ".join(parts) + ".")
    settings = next_plan_settings(plan, cluster, nodes)
    if settings:
        keys = " and ".join(f"limits.{key}: {value:.2f}" for key, value in settings.items())
        lines.append(
            f"To plan with these figures (the largest node's), set {keys} in {cluster.source}."
        )
    return lines


def next_plan_settings(
    plan: MemoryPlan, cluster: Cluster, nodes: list[NodeFigures]
) -> dict[str, float]:
    """The cluster-file keys that make the next plan use the logs' figures (GiB, rounded up
    to the hundredth: the worst node's)."""
    weights = [n.weights for n in nodes if n.weights is not None]
    reserves = [r for n in nodes if (r := implied(n, plan, cluster)["reserve"]) is not None]
    settings: dict[str, float] = {}
    if weights:
        settings["weights_gib"] = math.ceil(max(weights) / GIB * 100) / 100
    if reserves and max(reserves) > 0:
        settings["reserve_gib"] = math.ceil(max(reserves) / GIB * 100) / 100
    return settings


def measured_json(plan: MemoryPlan, cluster: Cluster, nodes: list[NodeFigures]) -> dict[str, Any]:
    return {
        "plan": planned(plan, cluster),
        "nodes": [{**asdict(n), "implied": implied(n, plan, cluster)} for n in nodes],
        "settings": next_plan_settings(plan, cluster, nodes),
    }
