"""The memory-fit plan: weights per NPU as the release loads them + MLA KV cache for
max_num_seqs × max_model_len + a runtime reserve, against the memory torch sees on the NPU ×
gpu_memory_utilization (:mod:`dsprep.launch.device_memory` states the release's model).

The weights as loaded are the checkpoint's bytes as the release shards them plus what its
load keeps beside them, item by item from the profile's ``memory`` section (MLA's bf16
W_UK_T/W_UV copies, the rotary tables, shared experts held whole under FlashComm1 /
shared-expert DP) minus what the MTP drafter takes from the target and frees.

KV per token (MLA) = (kv_lora_rank + qk_rope_head_dim) × layers × dtype bytes; it is not
split by TP (one latent head), and each DP rank holds the KV of its own max_num_seqs.

vLLM stops at start only when the KV cache cannot hold one sequence of max_model_len
(``check_enough_kv_cache_memory``: "To serve at least one request with the models's max
seq len …"); when it holds one but not max_num_seqs of them, vLLM starts and admits fewer
sequences at once. The first is ``memory-no-fit`` (error), the second
``memory-concurrency-limited`` (warning).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from dsprep import catalogue as C
from dsprep.family.base import Role
from dsprep.findings import Finding
from dsprep.launch.argv import node_env
from dsprep.launch.cluster import Cluster
from dsprep.launch.device_memory import (
    DEVICES,
    GIB,
    RUNTIME_RESERVE,
    hccl_bytes_per_communicator,
)
from dsprep.launch.footprint import (
    ModelShape,
    WeightBytes,
    read_model,
    weights_from_headers,
    weights_from_layout,
)
from dsprep.launch.rules import finding
from dsprep.profiles import Profile

BLOCK_SIZE = 128  # vllm-ascend's KV block: a sequence's KV is rounded up to whole blocks
TIGHT_FRACTION = 0.05  # headroom below 5 % of the budget is a warning


def gib(value: float) -> str:
    return f"{value / GIB:.2f} GiB"


def _ceil_div(total: int, parts: int) -> int:
    return -(-total // parts)


@dataclass(frozen=True)
class LoadItem:
    """One thing the release's load keeps (or frees) per NPU beside the checkpoint's tensors
    as sharded; ``source`` is the profile's citation."""

    label: str
    bytes: int  # negative: a checkpoint tensor the load frees again
    source: str


@dataclass(frozen=True)
class MemoryPlan:
    device: str
    hbm_bytes: int
    torch_total_bytes: int  # what torch.npu.mem_get_info reports as total
    budget_bytes: int  # torch_total × gpu_memory_utilization
    weights: WeightBytes
    ep_size: int
    tp: int
    weight_bytes_per_npu: int  # the checkpoint's bytes on one NPU
    load_items: tuple[LoadItem, ...]  # what the load keeps or frees beside them
    maybe_freed_bytes: int  # freed too when the drafter's tensors equal the target's
    kv_dtype_bytes: int
    kv_layers: int
    kv_bytes_per_token: int
    tokens_per_seq: int  # max_model_len rounded up to whole blocks
    kv_bytes_per_npu: int
    reserve_bytes: int
    reserve_measured: bool  # limits.reserve_gib (a start's figure), not the estimate
    hccl_per_communicator_bytes: int  # 2 × HCCL_BUFFSIZE: taken from the reserve per communicator
    max_model_len_fit: int  # largest max_model_len at this max_num_seqs (0: none)
    max_num_seqs_fit: int  # largest max_num_seqs at this max_model_len (0: none)
    max_position_embeddings: int
    kv_formula: str

    @property
    def loaded_weight_bytes(self) -> int:
        """What the release logs as "Loading model weights took …" (in bytes)."""
        return self.weight_bytes_per_npu + sum(item.bytes for item in self.load_items)

    @property
    def used_bytes(self) -> int:
        return self.loaded_weight_bytes + self.kv_bytes_per_npu + self.reserve_bytes

    @property
    def headroom_bytes(self) -> int:
        return self.budget_bytes - self.used_bytes

    @property
    def fits(self) -> bool:
        """Every one of max_num_seqs sequences of max_model_len fits at once."""
        return self.headroom_bytes >= 0

    @property
    def starts(self) -> bool:
        """The KV cache holds at least one sequence of max_model_len (vLLM's start check)."""
        one = self.tokens_per_seq * self.kv_bytes_per_token
        return self.loaded_weight_bytes + self.reserve_bytes + one <= self.budget_bytes

    def to_json(self) -> dict[str, Any]:
        document = asdict(self)
        document.update(
            loaded_weight_bytes=self.loaded_weight_bytes,
            used_bytes=self.used_bytes,
            headroom_bytes=self.headroom_bytes,
            fits=self.fits,
            starts=self.starts,
        )
        return document


def _source(profile: Profile, fact: str) -> str:
    cited = profile.memory.sources[fact]
    return "; ".join(cited) if isinstance(cited, list) else str(cited)


def shared_experts_whole_by(cluster: Cluster, profile: Profile, env: dict[str, str]) -> str | None:
    """The launch setting (``env``: what env.sh exports) that makes the release hold every
    shared expert whole on each TP rank (None: they are split over TP as usual)."""
    rule = profile.memory.shared_experts_whole
    for name in rule.env:
        value = env.get(name, "0").strip()
        if value.lstrip("+-").isdigit() and int(value) != 0:
            return f"env {name}={value}"
    for key in rule.additional_config:
        if cluster.additional_config.get(key) is True:
            return f"additional_config.{key}: true"
    return None


def load_items(
    cluster: Cluster,
    profile: Profile,
    shape: ModelShape,
    weights: WeightBytes,
    ep: int,
    *,
    layers: int,
    env: dict[str, str],
) -> tuple[list[LoadItem], int]:
    """What the release's load adds or frees per NPU (``layers``: the attention layers it
    loads; ``env``: what env.sh exports), and what it may free besides (the drafter's
    tensors it shares only when they equal the target's)."""
    memory, family, arch, tp = profile.memory, shape.family, shape.arch, cluster.tp
    items: list[LoadItem] = []
    if memory.kv_b_copies:
        items.append(
            LoadItem(
                f"MLA's bf16 W_UK_T/W_UV copies of kv_b_proj ({layers} layers)",
                family.absorbed_kv_b_bytes(arch, tp, layers),
                _source(profile, "kv_b_copies"),
            )
        )
    if memory.rope_tables:
        items.append(
            LoadItem(
                f"rotary tables ({memory.rope_tables} × positions × rope dim, bf16)",
                memory.rope_tables * family.rope_table_bytes(arch),
                _source(profile, "rope_tables"),
            )
        )
    setting = shared_experts_whole_by(cluster, profile, env)
    if setting is not None:
        shared = Role.SHARED_EXPERT.value
        whole = weights.role_bytes(shared, 1, ep)
        items.append(
            LoadItem(
                f"shared experts held whole on every TP rank ({setting})",
                whole - weights.role_bytes(shared, tp, ep),
                _source(profile, "shared_experts_whole"),
            )
        )
    maybe = 0
    if cluster.mtp:
        for role in memory.drafter_shares:
            freed = weights.role_bytes(role, tp, ep)
            if freed:
                items.append(
                    LoadItem(
                        f"the drafter's {role} freed (it takes the target's)",
                        -freed,
                        _source(profile, "drafter_shares"),
                    )
                )
        maybe = sum(weights.role_bytes(r, tp, ep) for r in memory.drafter_shares_if_equal)
    return items, maybe


def memory_plan(cluster: Cluster, profile: Profile, model_dir: Path | None = None) -> MemoryPlan:
    shape, model = read_model(model_dir)
    arch = shape.arch
    weights: WeightBytes | None = None
    if model is not None:
        weights = weights_from_headers(model, shape, cluster.mtp)
    if weights is None:
        weights = weights_from_layout(shape, cluster.mtp)
    ep_size = cluster.tp * cluster.dp if cluster.expert_parallel else cluster.tp
    per_npu = _ceil_div(weights.routed_experts, ep_size) + _ceil_div(weights.sharded, cluster.tp)
    per_npu += weights.replicated
    # the attention layers loaded (MTP's with speculative decoding): KV and MLA copies each
    kv_layers = arch.num_hidden_layers + (arch.num_nextn_predict_layers if cluster.mtp else 0)
    env = dict(node_env(cluster, profile, cluster.nodes[0]))
    items, maybe_freed = load_items(
        cluster, profile, shape, weights, ep_size, layers=kv_layers, env=env
    )
    if cluster.weights_gib is not None:  # a real start's figure replaces the itemised one
        logged = int(cluster.weights_gib * GIB)
        items.append(
            LoadItem(
                "what a start logged beyond these items (limits.weights_gib:"
                f" {cluster.weights_gib:g} GiB)",
                logged - per_npu - sum(item.bytes for item in items),
                f"{cluster.source} limits.weights_gib",
            )
        )
    loaded = per_npu + sum(item.bytes for item in items)
    reserve = RUNTIME_RESERVE if cluster.reserve_gib is None else int(cluster.reserve_gib * GIB)
    kv_dtype = 1 if str(cluster.additional_config.get("kv_cache_dtype", "")) == "int8" else 2
    per_token = shape.family.kv_bytes_per_token(arch, kv_layers, kv_dtype)
    tokens = _ceil_div(cluster.max_model_len, BLOCK_SIZE) * BLOCK_SIZE
    kv = cluster.max_num_seqs * tokens * per_token
    device = DEVICES[cluster.device]
    budget = int(device.torch_total_bytes * cluster.gpu_memory_utilization)
    free_for_kv = budget - loaded - reserve
    len_fit = 0
    seqs_fit = 0
    if free_for_kv > 0:
        len_fit = free_for_kv // (cluster.max_num_seqs * per_token) // BLOCK_SIZE * BLOCK_SIZE
        seqs_fit = free_for_kv // (tokens * per_token)
    return MemoryPlan(
        device=cluster.device,
        hbm_bytes=device.label_bytes,
        torch_total_bytes=device.torch_total_bytes,
        budget_bytes=budget,
        weights=weights,
        ep_size=ep_size,
        tp=cluster.tp,
        weight_bytes_per_npu=per_npu,
        load_items=tuple(items),
        maybe_freed_bytes=maybe_freed,
        kv_dtype_bytes=kv_dtype,
        kv_layers=kv_layers,
        kv_bytes_per_token=per_token,
        tokens_per_seq=tokens,
        kv_bytes_per_npu=kv,
        reserve_bytes=reserve,
        reserve_measured=cluster.reserve_gib is not None,
        hccl_per_communicator_bytes=hccl_bytes_per_communicator(env.get("HCCL_BUFFSIZE")),
        max_model_len_fit=min(len_fit, arch.max_position_embeddings),
        max_num_seqs_fit=seqs_fit,
        max_position_embeddings=arch.max_position_embeddings,
        kv_formula=shape.family.kv_formula,
    )


def plan_lines(plan: MemoryPlan, cluster: Cluster) -> list[str]:
    """The plan as Markdown-friendly text lines (PLAN.md and `dsprep plan`)."""
    w = plan.weights
    how = {
        "headers": f"measured from {w.shards} shard header(s)",
        "config": "estimated from config.json (W8A8 layout assumed; pass a folder with the"
        " shards for exact bytes)",
        "builtin": "estimated from the built-in DeepSeek-V3.1 shape (W8A8 layout assumed;"
        " pass --model-dir for config.json and shard headers)",
    }[w.source]
    experts = _ceil_div(w.routed_experts, plan.ep_size)
    lines = [
        f"Weights {how}: routed experts {gib(w.routed_experts)}, TP-sharded {gib(w.sharded)},"
        f" replicated {gib(w.replicated)}.",
        "",
        "| per NPU | bytes | GiB |",
        "|---|---:|---:|",
        _row(f"routed experts / EP {plan.ep_size}", experts),
        _row(f"other weights / TP {plan.tp} + replicated", plan.weight_bytes_per_npu - experts),
        *(_row(f"load: {item.label}", item.bytes) for item in plan.load_items),
        _row(
            '**weights as loaded** (vLLM\'s "Loading model weights took")', plan.loaded_weight_bytes
        ),
        _row(
            f"KV cache: {cluster.max_num_seqs} seqs × {plan.tokens_per_seq} tokens ×"
            f" {plan.kv_bytes_per_token} B",
            plan.kv_bytes_per_npu,
        ),
        _row(
            "activation peak + non-torch ("
            + ("limits.reserve_gib" if plan.reserve_measured else "estimate")
            + "; HCCL's buffers are in it, 2 × HCCL_BUFFSIZE ="
            f" {gib(plan.hccl_per_communicator_bytes)} per communicator)",
            plan.reserve_bytes,
        ),
        _row("**total**", plan.used_bytes),
        _row(
            f"budget: {plan.device} as torch sees it {gib(plan.torch_total_bytes)} (of"
            f" {gib(plan.hbm_bytes)} HBM) × {cluster.gpu_memory_utilization}",
            plan.budget_bytes,
        ),
        "",
        f"KV per token = {plan.kv_formula} × {plan.kv_layers} layers ×"
        f" {plan.kv_dtype_bytes} B = {plan.kv_bytes_per_token} B; max_model_len"
        f" {cluster.max_model_len} rounds up to {plan.tokens_per_seq} ({BLOCK_SIZE}-token blocks).",
        "",
    ]
    if not plan.reserve_measured and 2 * plan.hccl_per_communicator_bytes >= plan.reserve_bytes:
        lines[-1:-1] = [
            "",
            f"HCCL_BUFFSIZE here makes each HCCL communicator take"
            f" {gib(plan.hccl_per_communicator_bytes)} outside torch: two would fill the"
            f" {gib(plan.reserve_bytes)} reserve estimate before any activation; lower"
            " HCCL_BUFFSIZE (env) or check the reserve with `dsprep plan --from-log`.",
        ]
    if plan.maybe_freed_bytes:
        lines[-1:-1] = [
            "",
            f"The release also frees the drafter's copy of a tensor equal to the target's"
            f" (it compares the data; the plan counts it kept): up to {gib(plan.maybe_freed_bytes)}"
            " less per NPU.",
        ]
    if plan.fits:
        share = plan.headroom_bytes / plan.budget_bytes
        lines.append(
            f"FITS: {gib(plan.headroom_bytes)} headroom per NPU ({share:.1%} of the budget);"
            f" largest max_model_len at max_num_seqs {cluster.max_num_seqs}:"
            f" {plan.max_model_len_fit}; largest max_num_seqs at max_model_len"
            f" {cluster.max_model_len}: {plan.max_num_seqs_fit}."
        )
    elif plan.starts:
        lines.append(
            f"STARTS, BUT NOT AT FULL CONCURRENCY: {gib(-plan.headroom_bytes)} over budget per NPU"
            f" with {cluster.max_num_seqs} sequences of max_model_len; vLLM starts and holds at"
            f" most {plan.max_num_seqs_fit} of them at once (the others wait); for all of them,"
            f" {_advice(plan, cluster)}."
        )
    else:
        lines.append(
            f"DOES NOT FIT: {gib(-plan.headroom_bytes)} over budget per NPU; not even one"
            f" sequence of max_model_len fits, so vLLM stops at start; {_advice(plan, cluster)}."
        )
    return lines


def _row(label: str, count: int) -> str:
    """One row of the per-NPU table: label, bytes, GiB."""
    return f"| {label} | {count} | {count / GIB:.2f} |"


def _advice(plan: MemoryPlan, cluster: Cluster) -> str:
    if plan.max_model_len_fit == 0 and plan.max_num_seqs_fit == 0:
        return (
            "the weights alone leave no room for KV cache: add nodes (a larger expert-parallel"
            " group) or raise limits.gpu_memory_utilization"
        )
    return (
        f"set limits.max_model_len to at most {plan.max_model_len_fit} or limits.max_num_seqs"
        f" to at most {plan.max_num_seqs_fit}"
    )


def plan_findings(plan: MemoryPlan, cluster: Cluster) -> list[Finding]:
    found: list[Finding] = []
    if cluster.max_model_len > plan.max_position_embeddings:
        found.append(
            finding(
                cluster,
                C.MODEL_LEN_ABOVE_MAX_POSITION,
                "limits.max_model_len",
                f"{cluster.max_model_len} exceeds the model's"
                f" max_position_embeddings {plan.max_position_embeddings}",
                f"set limits.max_model_len to at most {plan.max_position_embeddings}",
            )
        )
    if not plan.starts:
        one = plan.tokens_per_seq * plan.kv_bytes_per_token
        found.append(
            finding(
                cluster,
                C.MEMORY_NO_FIT,
                "limits",
                f"weights {gib(plan.loaded_weight_bytes)} + the KV cache of one sequence of"
                f" max_model_len {gib(one)} + reserve {gib(plan.reserve_bytes)} per NPU exceed"
                f" {gib(plan.budget_bytes)} ({plan.device} × gpu_memory_utilization): vLLM stops"
                " at start (ValueError: To serve at least one request with the models's max seq"
                " len … KV cache is needed)",
                _advice(plan, cluster),
            )
        )
    elif not plan.fits:
        found.append(
            finding(
                cluster,
                C.MEMORY_CONCURRENCY_LIMITED,
                "limits",
                f"{cluster.max_num_seqs} sequences of max_model_len need KV"
                f" {gib(plan.kv_bytes_per_npu)} per NPU beside weights"
                f" {gib(plan.loaded_weight_bytes)} and reserve {gib(plan.reserve_bytes)}, over"
                f" {gib(plan.budget_bytes)}: vLLM starts and holds at most"
                f" {plan.max_num_seqs_fit} of them at once",
                _advice(plan, cluster),
            )
        )
    elif plan.headroom_bytes < TIGHT_FRACTION * plan.budget_bytes:
        found.append(
            finding(
                cluster,
                C.MEMORY_TIGHT,
                "limits",
                f"only {gib(plan.headroom_bytes)} headroom per NPU (estimates may be off)",
                f"lower limits.max_num_seqs or limits.max_model_len (fits up to"
                f" {plan.max_model_len_fit} tokens at {cluster.max_num_seqs} seqs)",
            )
        )
    return found
