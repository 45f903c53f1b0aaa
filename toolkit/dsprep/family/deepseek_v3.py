"""The DeepSeek-V3 family (DeepseekV3ForCausalLM: DeepSeek-V3, V3.1): names, layout, formulas.

Layout of a checkpoint (the published config.json and model card):
``model.embed_tokens``, ``model.norm``, ``lm_head``; per decoder layer ``model.layers.N``
the MLA attention (``self_attn.{q_a_proj, q_b_proj, kv_a_proj_with_mqa, kv_b_proj,
o_proj}``, ``q_a_layernorm``, ``kv_a_layernorm``), the two RMSNorms, and the MLP: a dense
``mlp.{gate,up,down}_proj`` for the first ``first_k_dense_replace`` layers, then the MoE
router ``mlp.gate`` (+ ``e_score_correction_bias``), ``mlp.shared_experts`` and the routed
``mlp.experts.E``. The MTP layers follow the decoder layers (index ``num_hidden_layers``):
a whole decoder block plus ``embed_tokens``, ``enorm``, ``hnorm``, ``eh_proj`` and
``shared_head.{norm,head}``.

The Ascend W8A8 layout is msmodelslim's DeepSeek recipe: every ``*.mlp.*`` linear
W8A8_DYNAMIC, the other attention linears static W8A8, kv_b_proj, the router, norms,
embeddings and lm_head FLOAT. The FP8 original stores F8_E4M3 linears with F32 128×128
block scales (``*.weight_scale_inv``) in ``model-XXXXX-of-000163.safetensors``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator

from dsprep.family.base import Architecture, ModelFamily, Placement, Role, TensorSpec


class DeepseekV3Architecture(Architecture, frozen=True):
    """The DeepseekV3ForCausalLM config keys; defaults: DeepSeek-V3.1's published config.json."""

    num_hidden_layers: int = 61
    num_nextn_predict_layers: int = 1
    first_k_dense_replace: int = 3
    hidden_size: int = 7168
    intermediate_size: int = 18432
    moe_intermediate_size: int = 2048
    n_routed_experts: int = 256
    n_shared_experts: int = 1
    num_experts_per_tok: int = 8
    num_attention_heads: int = 128
    q_lora_rank: int = 1536
    kv_lora_rank: int = 512
    qk_nope_head_dim: int = 128
    qk_rope_head_dim: int = 64
    v_head_dim: int = 128
    vocab_size: int = 129280
    max_position_embeddings: int = 163840


_LAYER_PREFIX = "model.layers."
_ATTENTION = ("q_a_proj", "q_b_proj", "kv_a_proj_with_mqa", "o_proj")


def layer_index(name: str) -> int:
    """``model.layers.12.…`` → 12; -1 for tensors outside the decoder layers."""
    if name.startswith(_LAYER_PREFIX):
        end = name.find(".", 13)
        part = name[13:end]
        if part.isdigit():
            return int(part)
    return -1


def role(name: str, arch: Architecture) -> Role:
    """The role of one tensor name (see :class:`~dsprep.family.base.Role`)."""
    layer = layer_index(name)
    mtp = layer >= arch.num_hidden_layers
    if ".mlp.experts." in name:
        return Role.ROUTED_EXPERT
    if ".mlp.shared_experts." in name:
        return Role.SHARED_EXPERT
    if ".mlp.gate." in name or name.endswith(".mlp.gate"):
        return Role.ROUTER
    if ".mlp." in name:
        return Role.DENSE_MLP
    if ".kv_b_proj." in name:
        return Role.KV_B
    if any(f".self_attn.{p}." in name for p in _ATTENTION):
        return Role.ATTENTION
    if mtp and ".eh_proj." in name:
        return Role.MTP_EH_PROJ
    if mtp and ".shared_head.head." in name:
        return Role.MTP_HEAD
    if mtp and ".embed_tokens." in name:
        return Role.MTP_EMBEDDING
    if mtp and ("norm." in name):
        return Role.MTP_NORM if (".enorm." in name or ".hnorm." in name) else Role.NORM
    if "norm." in name:
        return Role.NORM
    if name.startswith("model.embed_tokens."):
        return Role.EMBEDDING
    if name.startswith("lm_head."):
        return Role.LM_HEAD
    return Role.OTHER


_PLACEMENT = {
    Role.ROUTED_EXPERT: Placement.EXPERT,
    Role.NORM: Placement.REPLICATED,
    Role.MTP_NORM: Placement.REPLICATED,
    Role.ROUTER: Placement.REPLICATED,
    Role.MTP_EH_PROJ: Placement.REPLICATED,
}


def placement(tensor_role: Role) -> Placement:
    """Experts spread over EP; norms, the router and eh_proj replicated; the rest over TP.

    q_a_proj and kv_a_proj_with_mqa are replicated too (ReplicatedLinear); they are told
    apart by name in :func:`tensor_placement`.
    """
    return _PLACEMENT.get(tensor_role, Placement.SHARDED)


def tensor_placement(name: str, arch: Architecture) -> Placement:
    if ".q_a_proj." in name or ".kv_a_proj_with_mqa." in name:
        return Placement.REPLICATED
    return placement(role(name, arch))


def _linears(arch: DeepseekV3Architecture, layer: int) -> Iterator[tuple[str, int, int, Role]]:
    """(prefix, out, in, role) of every linear of one decoder layer."""
    p = f"model.layers.{layer}"
    h = arch.hidden_size
    heads = arch.num_attention_heads
    yield f"{p}.self_attn.q_a_proj", arch.q_lora_rank, h, Role.ATTENTION
    q_head = arch.qk_nope_head_dim + arch.qk_rope_head_dim
    yield f"{p}.self_attn.q_b_proj", heads * q_head, arch.q_lora_rank, Role.ATTENTION
    kv_a_out = arch.kv_lora_rank + arch.qk_rope_head_dim
    yield f"{p}.self_attn.kv_a_proj_with_mqa", kv_a_out, h, Role.ATTENTION
    kv_b_out = heads * (arch.qk_nope_head_dim + arch.v_head_dim)
    yield f"{p}.self_attn.kv_b_proj", kv_b_out, arch.kv_lora_rank, Role.KV_B
    yield f"{p}.self_attn.o_proj", h, heads * arch.v_head_dim, Role.ATTENTION
    if layer < arch.first_k_dense_replace:
        mlps = [(f"{p}.mlp", arch.intermediate_size, Role.DENSE_MLP)]
    else:
        yield f"{p}.mlp.gate", arch.n_routed_experts, h, Role.ROUTER
        shared = arch.moe_intermediate_size * arch.n_shared_experts
        mlps = [(f"{p}.mlp.shared_experts", shared, Role.SHARED_EXPERT)]
        mlps += [
            (f"{p}.mlp.experts.{e}", arch.moe_intermediate_size, Role.ROUTED_EXPERT)
            for e in range(arch.n_routed_experts)
        ]
    for mlp, inter, mlp_role in mlps:
        yield f"{mlp}.gate_proj", inter, h, mlp_role
        yield f"{mlp}.up_proj", inter, h, mlp_role
        yield f"{mlp}.down_proj", h, inter, mlp_role


def _norms(arch: DeepseekV3Architecture, layer: int) -> list[tuple[str, int]]:
    p = f"model.layers.{layer}"
    return [
        (f"{p}.input_layernorm.weight", arch.hidden_size),
        (f"{p}.post_attention_layernorm.weight", arch.hidden_size),
        (f"{p}.self_attn.q_a_layernorm.weight", arch.q_lora_rank),
        (f"{p}.self_attn.kv_a_layernorm.weight", arch.kv_lora_rank),
    ]


def _mtp_extras(arch: DeepseekV3Architecture, layer: int) -> list[TensorSpec]:
    p, h, v = f"model.layers.{layer}", arch.hidden_size, arch.vocab_size
    return [
        TensorSpec(f"{p}.embed_tokens.weight", "BF16", (v, h), "FLOAT"),
        TensorSpec(f"{p}.enorm.weight", "BF16", (h,), "FLOAT"),
        TensorSpec(f"{p}.hnorm.weight", "BF16", (h,), "FLOAT"),
        TensorSpec(f"{p}.eh_proj.weight", "BF16", (h, 2 * h), "FLOAT"),
        TensorSpec(f"{p}.shared_head.norm.weight", "BF16", (h,), "FLOAT"),
        TensorSpec(f"{p}.shared_head.head.weight", "BF16", (v, h), "FLOAT"),
    ]


LinearFn = Callable[[str, int, int, Role], list[TensorSpec]]


def _layout(arch: Architecture, linear: LinearFn) -> list[TensorSpec]:
    """Embeddings, each layer's norms and linears (``linear`` gives a linear's tensors),
    the MTP layers' extra tensors, the final norm and lm_head, in a stable order."""
    assert isinstance(arch, DeepseekV3Architecture)
    h = arch.hidden_size
    specs = [TensorSpec("model.embed_tokens.weight", "BF16", (arch.vocab_size, h), "FLOAT")]
    for layer in range(arch.num_hidden_layers + arch.num_nextn_predict_layers):
        specs += [TensorSpec(name, "BF16", (size,), "FLOAT") for name, size in _norms(arch, layer)]
        for prefix, out, inp, linear_role in _linears(arch, layer):
            specs += linear(prefix, out, inp, linear_role)
        if layer >= arch.num_hidden_layers:
            specs += _mtp_extras(arch, layer)
    specs.append(TensorSpec("model.norm.weight", "BF16", (h,), "FLOAT"))
    specs.append(TensorSpec("lm_head.weight", "BF16", (arch.vocab_size, h), "FLOAT"))
    return specs


def _float_linear(prefix: str, out: int, inp: int, linear_role: Role) -> list[TensorSpec]:
    """A BF16 linear left unquantized; the router also has its F32 correction bias."""
    specs = [TensorSpec(f"{prefix}.weight", "BF16", (out, inp), "FLOAT")]
    if linear_role is Role.ROUTER:
        specs.append(TensorSpec(f"{prefix}.e_score_correction_bias", "F32", (out,), "FLOAT"))
    return specs


def _w8a8_linear(prefix: str, out: int, inp: int, linear_role: Role) -> list[TensorSpec]:
    """msmodelslim's recipe: MLP linears W8A8_DYNAMIC, attention static W8A8, the rest FLOAT."""
    if linear_role in (Role.KV_B, Role.ROUTER):
        return _float_linear(prefix, out, inp, linear_role)
    qt = "W8A8" if linear_role is Role.ATTENTION else "W8A8_DYNAMIC"
    specs = [
        TensorSpec(f"{prefix}.weight", "I8", (out, inp), qt),
        TensorSpec(f"{prefix}.weight_scale", "BF16", (out, 1), qt),
        TensorSpec(f"{prefix}.weight_offset", "BF16", (out, 1), qt),
    ]
    if qt == "W8A8":
        specs += [
            TensorSpec(f"{prefix}.input_scale", "BF16", (1,), qt),
            TensorSpec(f"{prefix}.input_offset", "I8", (1,), qt),
            TensorSpec(f"{prefix}.quant_bias", "I32", (out,), qt),
            TensorSpec(f"{prefix}.deq_scale", "F32", (out,), qt),
        ]
    return specs


FP8_SCALE_SUFFIX = "_scale_inv"


def _fp8_linear(prefix: str, out: int, inp: int, linear_role: Role) -> list[TensorSpec]:
    if linear_role is Role.ROUTER:
        return _float_linear(prefix, out, inp, linear_role)
    blocks = (math.ceil(out / 128), math.ceil(inp / 128))
    return [
        TensorSpec(f"{prefix}.weight", "F8_E4M3", (out, inp), "FP8"),
        TensorSpec(f"{prefix}.weight{FP8_SCALE_SUFFIX}", "F32", blocks, "FP8"),
    ]


def w8a8_layout(arch: Architecture) -> list[TensorSpec]:
    """Every tensor of an msmodelslim W8A8 checkpoint of ``arch``, in a stable order."""
    return _layout(arch, _w8a8_linear)


def fp8_layout(arch: Architecture) -> list[TensorSpec]:
    """Every tensor of the FP8 original of ``arch``."""
    return _layout(arch, _fp8_linear)


def kv_bytes_per_token(arch: Architecture, layers: int, dtype_bytes: int) -> int:
    """MLA caches one latent per token and layer: kv_lora_rank + qk_rope_head_dim values,
    not split by tensor parallelism."""
    assert isinstance(arch, DeepseekV3Architecture)
    return (arch.kv_lora_rank + arch.qk_rope_head_dim) * layers * dtype_bytes


def absorbed_kv_b_bytes(arch: Architecture, tp: int, layers: int) -> int:
    """MLA's W_UK_T and W_UV: each layer's kv_b_proj shard (num_heads / tp heads ×
    kv_lora_rank × (qk_nope_head_dim + v_head_dim)) again, as bf16, whatever kv_b_proj's
    own dtype."""
    assert isinstance(arch, DeepseekV3Architecture)
    heads = -(-arch.num_attention_heads // tp)
    return layers * heads * arch.kv_lora_rank * (arch.qk_nope_head_dim + arch.v_head_dim) * 2


def rope_table_bytes(arch: Architecture) -> int:
    """One YaRN table: max_position_embeddings (original × factor, 4096 × 40 for V3.1)
    positions × qk_rope_head_dim, bf16."""
    assert isinstance(arch, DeepseekV3Architecture)
    return arch.max_position_embeddings * arch.qk_rope_head_dim * 2


DEEPSEEK_V3 = ModelFamily(
    name="deepseek_v3",
    title="DeepSeek-V3/V3.1 (DeepseekV3ForCausalLM)",
    architectures=("DeepseekV3ForCausalLM",),
    architecture=DeepseekV3Architecture,
    published=DeepseekV3Architecture(),
    role=role,
    layer_index=layer_index,
    placement=tensor_placement,
    role_markers={
        Role.EMBEDDING: "embed_tokens.",
        Role.NORM: "norm.",
        Role.ATTENTION: ".self_attn.",
        Role.KV_B: ".kv_b_proj.",
        Role.ROUTER: ".mlp.gate",
        Role.DENSE_MLP: ".mlp.",
        Role.SHARED_EXPERT: ".shared_experts.",
        Role.ROUTED_EXPERT: ".experts.",
        Role.LM_HEAD: "lm_head.",
        Role.MTP_EMBEDDING: ".embed_tokens.",
        Role.MTP_EH_PROJ: ".eh_proj.",
        Role.MTP_NORM: "norm.",
        Role.MTP_HEAD: ".shared_head.head.",
    },
    w8a8_layout=w8a8_layout,
    fp8_layout=fp8_layout,
    kv_bytes_per_token=kv_bytes_per_token,
    kv_formula="MLA: (kv_lora_rank + qk_rope_head_dim) values per token and layer",
    absorbed_kv_b_bytes=absorbed_kv_b_bytes,
    rope_table_bytes=rope_table_bytes,
    fp8_shard_name=re.compile(r"^model-\d+-of-\d+\.safetensors$"),
    w8a8_repos=("Eco-Tech/DeepSeek-V3.1-w8a8-mtp-QuaRot", "vllm-ascend/DeepSeek-V3.1-W8A8"),
    mtp_markers=("eh_proj.weight", "enorm.weight", "hnorm.weight"),
    fp8_scale_suffix=FP8_SCALE_SUFFIX,
)
