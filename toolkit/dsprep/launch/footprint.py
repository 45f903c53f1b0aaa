"""What the model puts on the NPUs: architecture from config.json, weight bytes split into
routed experts (spread over the expert-parallel group), TP-sharded and replicated weights.

Measured from the safetensors shard headers when a local copy is given; otherwise
estimated from config.json (or the built-in DeepSeek-V3.1 shape) assuming the msmodelslim
W8A8 layout: linears int8 with per-channel scale/offset, kv_b_proj/embeddings/lm_head bf16.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dsprep.errors import InputError


@dataclass(frozen=True)
class Architecture:
    """The DeepseekV3ForCausalLM keys the memory plan needs."""

    num_hidden_layers: int = 61
    num_nextn_predict_layers: int = 1
    first_k_dense_replace: int = 3
    hidden_size: int = 7168
    intermediate_size: int = 18432
    moe_intermediate_size: int = 2048
    n_routed_experts: int = 256
    n_shared_experts: int = 1
    num_attention_heads: int = 128
    q_lora_rank: int = 1536
    kv_lora_rank: int = 512
    qk_nope_head_dim: int = 128
    qk_rope_head_dim: int = 64
    v_head_dim: int = 128
    vocab_size: int = 129280
    max_position_embeddings: int = 163840


DEEPSEEK_V31 = Architecture()


def architecture_from_config(document: dict[str, Any], source: str) -> Architecture:
    values: dict[str, int] = {}
    for name in Architecture.__dataclass_fields__:
        raw = document.get(name, getattr(DEEPSEEK_V31, name))
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise InputError(
                f"{source}: {name} is {raw!r}, not an integer",
                hint="fix config.json (DeepseekV3ForCausalLM keys)",
                path=source,
            )
        values[name] = raw
    return Architecture(**values)


def read_config(model_dir: Path) -> dict[str, Any]:
    path = Path(model_dir) / "config.json"
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InputError(
            f"{path} does not exist",
            hint="--model-dir must be the model folder holding config.json",
            path=path,
        ) from exc
    except (OSError, ValueError) as exc:
        raise InputError(
            f"cannot read {path}: {exc}", hint="fix or re-download it", path=path
        ) from exc
    if not isinstance(document, dict):
        raise InputError(f"{path} is not a JSON object", hint="re-download it", path=path)
    return document


@dataclass(frozen=True)
class WeightBytes:
    """Bytes of the loaded weights by placement; ``source`` says how they were obtained."""

    routed_experts: int
    sharded: int  # split over TP (attention projections, dense/shared MLP, vocab)
    replicated: int  # every NPU holds a full copy (norms, router, q_a/kv_a projections)
    source: str  # "headers" | "config" | "builtin"
    shards: int = 0


_LAYER = re.compile(r"(?:^|\.)layers\.(\d+)\.")
_REPLICATED = (
    "norm",
    "q_a_proj",
    "kv_a_proj_with_mqa",
    "mlp.gate.",
    "e_score_correction",
    "eh_proj",
)


def placement(name: str) -> str:
    """``expert``, ``replicated`` or ``sharded`` for one checkpoint tensor name."""
    if ".mlp.experts." in name:
        return "expert"
    if any(part in name for part in _REPLICATED):
        return "replicated"
    return "sharded"


def loaded(name: str, arch: Architecture, mtp: bool) -> bool:
    """vLLM skips the MTP layer's tensors unless speculative decoding loads the draft."""
    match = _LAYER.search(name)
    return mtp or match is None or int(match.group(1)) < arch.num_hidden_layers


def weights_from_headers(model_dir: Path, arch: Architecture, mtp: bool) -> WeightBytes | None:
    """Sum the shard headers of ``model_dir``; None when it holds no safetensors shard."""
    from dsprep.weights.headers import read_shard_header

    paths = sorted(Path(model_dir).glob("*.safetensors"))
    if not paths:
        return None
    totals = {"expert": 0, "sharded": 0, "replicated": 0}
    for path in paths:
        header = read_shard_header(path)
        for name, info in header.tensors.items():
            if loaded(name, arch, mtp):
                totals[placement(name)] += info.nbytes
    return WeightBytes(
        totals["expert"], totals["sharded"], totals["replicated"], "headers", len(paths)
    )


def _int8_linear(out: int, inp: int) -> int:
    """W8A8 linear: int8 weight plus bf16 scale and offset per output channel (plus the
    static-quant extras, about 8 bytes per channel)."""
    return out * inp + out * 12


def _decoder_layer(arch: Architecture, layer: int) -> dict[str, int]:
    h = arch.hidden_size
    heads = arch.num_attention_heads
    rep = 2 * h * 2  # input and post-attention RMSNorm, bf16
    rep += _int8_linear(arch.q_lora_rank, h) + arch.q_lora_rank * 2
    rep += _int8_linear(arch.kv_lora_rank + arch.qk_rope_head_dim, h) + arch.kv_lora_rank * 2
    sharded = _int8_linear(
        heads * (arch.qk_nope_head_dim + arch.qk_rope_head_dim), arch.q_lora_rank
    )
    sharded += heads * (arch.qk_nope_head_dim + arch.v_head_dim) * arch.kv_lora_rank * 2
    sharded += _int8_linear(h, heads * arch.v_head_dim)
    expert = 0
    if layer < arch.first_k_dense_replace:
        sharded += 3 * _int8_linear(arch.intermediate_size, h)
    else:
        per_expert = 3 * _int8_linear(arch.moe_intermediate_size, h)
        expert = arch.n_routed_experts * per_expert
        sharded += arch.n_shared_experts * per_expert
        rep += arch.n_routed_experts * h * 2 + arch.n_routed_experts * 4  # router + bias
    return {"expert": expert, "sharded": sharded, "replicated": rep}


def weights_from_architecture(arch: Architecture, mtp: bool, source: str) -> WeightBytes:
    """The W8A8 estimate: every loaded layer plus embeddings, final norm and lm_head."""
    h = arch.hidden_size
    vocab_bytes = arch.vocab_size * h * 2
    totals = {"expert": 0, "sharded": 2 * vocab_bytes, "replicated": h * 2}
    layers = arch.num_hidden_layers + (arch.num_nextn_predict_layers if mtp else 0)
    for layer in range(layers):
        for key, value in _decoder_layer(arch, layer).items():
            totals[key] += value
    if mtp:  # each MTP layer: embed_tokens, shared_head.head, enorm/hnorm, eh_proj (float)
        extra = arch.num_nextn_predict_layers
        totals["sharded"] += extra * 2 * vocab_bytes
        totals["replicated"] += extra * (3 * h * 2 + h * 2 * h * 2)
    return WeightBytes(totals["expert"], totals["sharded"], totals["replicated"], source)
