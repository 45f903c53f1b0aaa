"""Tiny DeepSeek-V3-shaped checkpoints: the msmodelslim W8A8 layout and the original FP8 one.

The layout (which tensors, their dtypes and shapes) is the model family's
(:mod:`dsprep.family.deepseek_v3`); this module writes it: safetensors files through the
library's numpy-free API (no numpy, no torch), deterministic (same spec, same bytes) and
small, so tests, the demo and the loopback hub can use a real checkpoint folder.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from dsprep.family import DEFAULT_FAMILY, ModelFamily, TensorSpec
from dsprep.family.base import Architecture
from dsprep.family.deepseek_v3 import DeepseekV3Architecture

# safetensors header dtype → the constructor name the serializer takes
SERIALIZER_DTYPES: dict[str, str] = {
    "I8": "int8",
    "I32": "int32",
    "I64": "int64",
    "F32": "float32",
    "BF16": "bfloat16",
    "F16": "float16",
    "F8_E4M3": "float8_e4m3fn",
}

# Small but shaped like DeepSeek-V3: every kind of layer (dense, MoE, MTP) once or twice.
TINY = DeepseekV3Architecture(
    num_hidden_layers=3,
    first_k_dense_replace=1,
    n_routed_experts=4,
    n_shared_experts=1,
    num_experts_per_tok=2,
    num_nextn_predict_layers=1,
    hidden_size=64,
    intermediate_size=128,
    moe_intermediate_size=32,
    num_attention_heads=4,
    q_lora_rank=32,
    kv_lora_rank=16,
    qk_nope_head_dim=16,
    qk_rope_head_dim=8,
    v_head_dim=16,
    vocab_size=256,
    max_position_embeddings=4096,
)


@dataclass(frozen=True)
class CheckpointSpec:
    """What to write: an architecture of a family, in how many shards."""

    arch: Architecture = TINY
    shards: int = 3
    family: ModelFamily = DEFAULT_FAMILY

    def replace(self, **arch_changes: int) -> CheckpointSpec:
        return dataclasses.replace(self, arch=msgspec.structs.replace(self.arch, **arch_changes))


# The published DeepSeek-V3.1 in 163 shards, as msmodelslim exports it: the full-size
# layouts of the benchmarks (headers only, sparse data).
FULL_SIZE = CheckpointSpec(DEFAULT_FAMILY.published, 163)


def w8a8_layout(spec: CheckpointSpec = CheckpointSpec()) -> list[TensorSpec]:
    return spec.family.w8a8_layout(spec.arch)


def fp8_layout(spec: CheckpointSpec = CheckpointSpec()) -> list[TensorSpec]:
    return spec.family.fp8_layout(spec.arch)


def config_document(spec: CheckpointSpec = CheckpointSpec()) -> dict[str, Any]:
    """config.json of a DeepseekV3ForCausalLM with the spec's sizes (no quantization_config)."""
    sizes = {f.name: getattr(spec.arch, f.name) for f in msgspec.structs.fields(spec.arch)}
    arch = spec.arch
    assert isinstance(arch, DeepseekV3Architecture)
    return {
        "architectures": ["DeepseekV3ForCausalLM"],
        "model_type": "deepseek_v3",
        **sizes,
        "num_key_value_heads": arch.num_attention_heads,
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


def _tensor_bytes(plan: TensorSpec) -> bytes:
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


def _serialize(plans: list[TensorSpec], path: Path) -> None:
    import ctypes

    import safetensors

    keep: list[Any] = []
    entries: dict[str, Any] = {}
    for plan in plans:
        data = _tensor_bytes(plan)
        torch_name = SERIALIZER_DTYPES[plan.dtype]
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


def _split(plans: list[TensorSpec], shards: int) -> list[list[TensorSpec]]:
    shards = max(1, min(shards, len(plans)))
    per = math.ceil(len(plans) / shards)
    return [plans[i * per : (i + 1) * per] for i in range(shards) if plans[i * per : (i + 1) * per]]


def _dump(path: Path, document: dict[str, Any]) -> Path:
    path.write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path


def write_shards(
    folder: Path, plans: list[TensorSpec], shards: int, stem: str, index_name: str
) -> list[Path]:
    """The shards of ``plans`` (split evenly) and their index."""
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


def write_w8a8_checkpoint(folder: Path, spec: CheckpointSpec = CheckpointSpec()) -> list[Path]:
    """Write config.json, quant_model_description.json, the shards and their index."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    plans = w8a8_layout(spec)
    written = [_dump(folder / "config.json", config_document(spec))]
    description: dict[str, Any] = {"model_quant_type": "W8A8_DYNAMIC", "version": "1.0.0"}
    description.update({plan.name: plan.quant_type for plan in plans})
    written.append(_dump(folder / "quant_model_description.json", description))
    stem = "quant_model_weight_w8a8_dynamic"
    written += write_shards(folder, plans, spec.shards, stem, f"{stem}.safetensors.index.json")
    return written


def write_fp8_checkpoint(folder: Path, spec: CheckpointSpec = CheckpointSpec()) -> list[Path]:
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
    written += write_shards(folder, plans, spec.shards, "model", "model.safetensors.index.json")
    return written
