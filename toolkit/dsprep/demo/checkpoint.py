"""Tiny DeepSeek-V3-shaped checkpoints: the msmodelslim W8A8 layout and the original FP8 one.

Written with the safetensors library's numpy-free API (no numpy, no torch), deterministic
(same :class:`TinySpec` → same bytes) and small, so tests, the demo and the loopback hub can
use a real checkpoint folder. :func:`w8a8_layout` is also what the benchmarks use to write
full-size headers.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from dsprep.launch.footprint import DEEPSEEK_V31

# safetensors header dtype → (constructor name the serializer takes, bytes per element)
DTYPES: dict[str, tuple[str, int]] = {
    "I8": ("int8", 1),
    "I32": ("int32", 4),
    "I64": ("int64", 8),
    "F32": ("float32", 4),
    "BF16": ("bfloat16", 2),
    "F16": ("float16", 2),
    "F8_E4M3": ("float8_e4m3fn", 1),
}


@dataclass(frozen=True)
class TinySpec:
    """Small but shaped like DeepSeek-V3 (the config keys of DeepseekV3ForCausalLM)."""

    num_hidden_layers: int = 3
    first_k_dense_replace: int = 1
    n_routed_experts: int = 4
    n_shared_experts: int = 1
    num_experts_per_tok: int = 2
    num_nextn_predict_layers: int = 1
    hidden_size: int = 64
    intermediate_size: int = 128
    moe_intermediate_size: int = 32
    num_attention_heads: int = 4
    q_lora_rank: int = 32
    kv_lora_rank: int = 16
    qk_nope_head_dim: int = 16
    qk_rope_head_dim: int = 8
    v_head_dim: int = 16
    vocab_size: int = 256
    max_position_embeddings: int = 4096
    shards: int = 3


# The real DeepSeek-V3.1 shape (the published config.json, kept once as the memory plan's
# built-in architecture) in 163 shards, as msmodelslim exports it: the full-size layouts of
# the benchmarks (headers only, sparse data).
FULL_SIZE = TinySpec(
    **{f.name: getattr(DEEPSEEK_V31, f.name) for f in fields(DEEPSEEK_V31)},
    num_experts_per_tok=8,
    shards=163,
)


@dataclass(frozen=True)
class TensorPlan:
    """One tensor of a checkpoint: header dtype, shape and its description entry."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    quant_type: str  # FLOAT, W8A8, W8A8_DYNAMIC (W8A8 layout) or FP8 (FP8 layout)

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * DTYPES[self.dtype][1]


def _linears(spec: TinySpec, layer: int) -> Iterator[tuple[str, int, int, str]]:
    """(prefix, out, in, kind) of every linear in one decoder layer; kind attn/kv_b/mlp/gate."""
    p = f"model.layers.{layer}"
    h = spec.hidden_size
    heads = spec.num_attention_heads
    yield f"{p}.self_attn.q_a_proj", spec.q_lora_rank, h, "attn"
    q_head = spec.qk_nope_head_dim + spec.qk_rope_head_dim
    yield f"{p}.self_attn.q_b_proj", heads * q_head, spec.q_lora_rank, "attn"
    kv_a_out = spec.kv_lora_rank + spec.qk_rope_head_dim
    yield f"{p}.self_attn.kv_a_proj_with_mqa", kv_a_out, h, "attn"
    kv_b_out = heads * (spec.qk_nope_head_dim + spec.v_head_dim)
    yield f"{p}.self_attn.kv_b_proj", kv_b_out, spec.kv_lora_rank, "kv_b"
    yield f"{p}.self_attn.o_proj", h, heads * spec.v_head_dim, "attn"
    if layer < spec.first_k_dense_replace:
        mlps = [(f"{p}.mlp", spec.intermediate_size)]
    else:
        yield f"{p}.mlp.gate", spec.n_routed_experts, h, "gate"
        shared = spec.moe_intermediate_size * spec.n_shared_experts
        mlps = [(f"{p}.mlp.shared_experts", shared)]
        mlps += [
            (f"{p}.mlp.experts.{e}", spec.moe_intermediate_size)
            for e in range(spec.n_routed_experts)
        ]
    for mlp, inter in mlps:
        yield f"{mlp}.gate_proj", inter, h, "mlp"
        yield f"{mlp}.up_proj", inter, h, "mlp"
        yield f"{mlp}.down_proj", h, inter, "mlp"


def _norms(spec: TinySpec, layer: int) -> list[tuple[str, int]]:
    p = f"model.layers.{layer}"
    return [
        (f"{p}.input_layernorm.weight", spec.hidden_size),
        (f"{p}.post_attention_layernorm.weight", spec.hidden_size),
        (f"{p}.self_attn.q_a_layernorm.weight", spec.q_lora_rank),
        (f"{p}.self_attn.kv_a_layernorm.weight", spec.kv_lora_rank),
    ]


def _layers(spec: TinySpec) -> range:
    return range(spec.num_hidden_layers + spec.num_nextn_predict_layers)


def _mtp_float(spec: TinySpec, layer: int) -> list[TensorPlan]:
    p, h, v = f"model.layers.{layer}", spec.hidden_size, spec.vocab_size
    return [
        TensorPlan(f"{p}.embed_tokens.weight", "BF16", (v, h), "FLOAT"),
        TensorPlan(f"{p}.enorm.weight", "BF16", (h,), "FLOAT"),
        TensorPlan(f"{p}.hnorm.weight", "BF16", (h,), "FLOAT"),
        TensorPlan(f"{p}.eh_proj.weight", "BF16", (h, 2 * h), "FLOAT"),
        TensorPlan(f"{p}.shared_head.norm.weight", "BF16", (h,), "FLOAT"),
        TensorPlan(f"{p}.shared_head.head.weight", "BF16", (v, h), "FLOAT"),
    ]


def _layout(
    spec: TinySpec, linear: Callable[[str, int, int, str], list[TensorPlan]]
) -> list[TensorPlan]:
    """Embeddings, each layer's norms and linears (``linear`` gives a linear's tensors), the
    MTP layer's extra tensors, the final norm and lm_head, in a stable order."""
    h = spec.hidden_size
    plans = [TensorPlan("model.embed_tokens.weight", "BF16", (spec.vocab_size, h), "FLOAT")]
    for layer in _layers(spec):
        for name, size in _norms(spec, layer):
            plans.append(TensorPlan(name, "BF16", (size,), "FLOAT"))
        for prefix, out, inp, kind in _linears(spec, layer):
            plans += linear(prefix, out, inp, kind)
        if layer >= spec.num_hidden_layers:
            plans.extend(_mtp_float(spec, layer))
    plans.append(TensorPlan("model.norm.weight", "BF16", (h,), "FLOAT"))
    plans.append(TensorPlan("lm_head.weight", "BF16", (spec.vocab_size, h), "FLOAT"))
    return plans


def _float_linear(prefix: str, out: int, inp: int, kind: str) -> list[TensorPlan]:
    """A BF16 linear left unquantized; the MoE router also has its F32 correction bias."""
    plans = [TensorPlan(f"{prefix}.weight", "BF16", (out, inp), "FLOAT")]
    if kind == "gate":
        plans.append(TensorPlan(f"{prefix}.e_score_correction_bias", "F32", (out,), "FLOAT"))
    return plans


def _w8a8_linear(prefix: str, out: int, inp: int, kind: str) -> list[TensorPlan]:
    if kind in ("kv_b", "gate"):
        return _float_linear(prefix, out, inp, kind)
    qt = "W8A8" if kind == "attn" else "W8A8_DYNAMIC"
    plans = [
        TensorPlan(f"{prefix}.weight", "I8", (out, inp), qt),
        TensorPlan(f"{prefix}.weight_scale", "BF16", (out, 1), qt),
        TensorPlan(f"{prefix}.weight_offset", "BF16", (out, 1), qt),
    ]
    if qt == "W8A8":
        plans.append(TensorPlan(f"{prefix}.input_scale", "BF16", (1,), qt))
        plans.append(TensorPlan(f"{prefix}.input_offset", "I8", (1,), qt))
        plans.append(TensorPlan(f"{prefix}.quant_bias", "I32", (out,), qt))
        plans.append(TensorPlan(f"{prefix}.deq_scale", "F32", (out,), qt))
    return plans


def _fp8_linear(prefix: str, out: int, inp: int, kind: str) -> list[TensorPlan]:
    if kind == "gate":
        return _float_linear(prefix, out, inp, kind)
    blocks = (math.ceil(out / 128), math.ceil(inp / 128))
    return [
        TensorPlan(f"{prefix}.weight", "F8_E4M3", (out, inp), "FP8"),
        TensorPlan(f"{prefix}.weight_scale_inv", "F32", blocks, "FP8"),
    ]


def w8a8_layout(spec: TinySpec = TinySpec()) -> list[TensorPlan]:
    """Every tensor of an msmodelslim W8A8 DeepSeek-V3 checkpoint, in a stable order.

    Attention linears static W8A8, every ``*.mlp.*`` linear W8A8_DYNAMIC, kv_b_proj, the
    router, norms, embeddings and lm_head FLOAT (BF16); the MTP layer included.
    """
    return _layout(spec, _w8a8_linear)


def fp8_layout(spec: TinySpec = TinySpec()) -> list[TensorPlan]:
    """The original DeepSeek-V3.1 layout: F8_E4M3 linears with F32 128×128 block scales."""
    return _layout(spec, _fp8_linear)


def config_document(spec: TinySpec = TinySpec()) -> dict[str, Any]:
    """config.json of a DeepseekV3ForCausalLM with the spec's sizes (no quantization_config)."""
    sizes = {f.name: getattr(spec, f.name) for f in fields(spec) if f.name != "shards"}
    return {
        "architectures": ["DeepseekV3ForCausalLM"],
        "model_type": "deepseek_v3",
        **sizes,
        "num_key_value_heads": spec.num_attention_heads,
        "moe_layer_freq": 1,
        "n_group": 1,
        "topk_group": 1,
        "topk_method": "noaux_tc",
        "scoring_func": "sigmoid",
        "norm_topk_prob": True,
        "routed_scaling_factor": 2.5,
        **{"rms_norm_eps": 1e-06, "rope_theta": 10000, "hidden_act": "silu"},
        **{"tie_word_embeddings": False, "bos_token_id": 0, "eos_token_id": 1},
        **{"torch_dtype": "bfloat16", "transformers_version": "4.44.2", "use_cache": True},
    }


def _tensor_bytes(plan: TensorPlan) -> bytes:
    """Deterministic content: 1.0 for norms and scales, zero offsets, hashed noise otherwise."""
    n = plan.nbytes
    if n == 0:
        return b""
    leaf = plan.name.rsplit(".", 1)[-1]
    if plan.dtype == "BF16" and (leaf in ("weight_scale", "input_scale") or "norm" in plan.name):
        return b"\x80\x3f" * (n // 2)
    if leaf in ("weight_offset", "input_offset", "quant_bias", "e_score_correction_bias"):
        return bytes(n)
    seed = hashlib.sha256(plan.name.encode()).digest()
    raw = (seed * (n // len(seed) + 1))[:n]
    if plan.dtype == "BF16":  # keep values small and finite: clear the high exponent bits
        raw = bytes(b & 0xBC if i % 2 else b for i, b in enumerate(raw))
    return raw


def _serialize(plans: list[TensorPlan], path: Path) -> None:
    import ctypes

    import safetensors

    keep: list[Any] = []
    entries: dict[str, Any] = {}
    for plan in plans:
        data = _tensor_bytes(plan)
        torch_name = DTYPES[plan.dtype][0]
        if hasattr(safetensors, "TensorSpec"):  # safetensors >= 0.8: raw pointers
            buffer = (ctypes.c_char * max(len(data), 1)).from_buffer(bytearray(data or b"\0"))
            keep.append(buffer)
            entries[plan.name] = safetensors.TensorSpec(
                dtype=torch_name,
                shape=list(plan.shape),
                data_ptr=ctypes.addressof(buffer) if data else 0,
                data_len=len(data),
            )
        else:  # older safetensors take plain dicts
            entries[plan.name] = {"dtype": torch_name, "shape": list(plan.shape), "data": data}
    safetensors.serialize_file(entries, str(path), metadata={"format": "pt"})


def _split(plans: list[TensorPlan], shards: int) -> list[list[TensorPlan]]:
    shards = max(1, min(shards, len(plans)))
    per = math.ceil(len(plans) / shards)
    return [plans[i * per : (i + 1) * per] for i in range(shards) if plans[i * per : (i + 1) * per]]


def _dump(path: Path, document: dict[str, Any]) -> Path:
    path.write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path


def _write_shards(
    folder: Path, plans: list[TensorPlan], shards: int, stem: str, index_name: str
) -> list[Path]:
    groups = _split(plans, shards)
    written: list[Path] = []
    weight_map: dict[str, str] = {}
    for i, group in enumerate(groups, start=1):
        name = f"{stem}-{i:05d}-of-{len(groups):05d}.safetensors"
        _serialize(group, folder / name)
        written.append(folder / name)
        weight_map.update({plan.name: name for plan in group})
    total = sum(plan.nbytes for plan in plans)
    index = {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}
    written.append(_dump(folder / index_name, index))
    return written


def write_w8a8_checkpoint(folder: Path, spec: TinySpec = TinySpec()) -> list[Path]:
    """Write config.json, quant_model_description.json, the shards and their index."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    plans = w8a8_layout(spec)
    written = [_dump(folder / "config.json", config_document(spec))]
    description: dict[str, Any] = {"model_quant_type": "W8A8_DYNAMIC", "version": "1.0.0"}
    description.update({plan.name: plan.quant_type for plan in plans})
    written.append(_dump(folder / "quant_model_description.json", description))
    stem = "quant_model_weight_w8a8_dynamic"
    written += _write_shards(folder, plans, spec.shards, stem, f"{stem}.safetensors.index.json")
    return written


def write_fp8_checkpoint(folder: Path, spec: TinySpec = TinySpec()) -> list[Path]:
    """Write the original FP8 layout: an fp8 quantization_config and model-*.safetensors."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    config = config_document(spec)
    config["quantization_config"] = {
        "activation_scheme": "dynamic",
        "fmt": "e4m3",
        "quant_method": "fp8",
        "weight_block_size": [128, 128],
    }
    written = [_dump(folder / "config.json", config)]
    plans = fp8_layout(spec)
    written += _write_shards(folder, plans, spec.shards, "model", "model.safetensors.index.json")
    return written
