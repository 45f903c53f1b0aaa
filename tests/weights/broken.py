"""Broken variants of the tiny W8A8 checkpoint: one function per way a real folder breaks.

Each ``break_*`` takes a folder that holds a fresh :func:`write_w8a8_checkpoint` output and
damages it in place, returning what the finding must name (a file name, plus a tensor or
key where there is one).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from dsprep.demo import checkpoint
from dsprep.demo.checkpoint import CheckpointSpec, w8a8_layout
from dsprep.family import TensorSpec

STEM = "quant_model_weight_w8a8_dynamic"
INDEX = f"{STEM}.safetensors.index.json"
DESCRIPTION = "quant_model_description.json"
Q_A = "model.layers.0.self_attn.q_a_proj.weight"
O_PROJ = "model.layers.0.self_attn.o_proj.weight"
GATE0 = "model.layers.0.mlp.gate_proj.weight"
UP0 = "model.layers.0.mlp.up_proj.weight"


def shard(i: int, n: int = 3) -> str:
    return f"{STEM}-{i:05d}-of-{n:05d}.safetensors"


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def write_json(path: Path, document: Any) -> None:
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


def edit_json(path: Path, key: str, value: Any) -> None:
    document = read_json(path)
    if value is _DELETE:
        del document[key]
    else:
        document[key] = value
    write_json(path, document)


_DELETE = object()


def shard_of(folder: Path, tensor: str) -> str:
    return str(read_json(folder / INDEX)["weight_map"][tensor])


def write_raw_shard(path: Path, header: bytes | dict[str, Any], data: bytes = b"") -> None:
    """A shard with exactly this header (bytes or a JSON object) and data region."""
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    path.write_bytes(len(raw).to_bytes(8, "little") + raw + data)


def rewrite_with_layout(folder: Path, plans: list[TensorSpec]) -> None:
    """Re-write shards and index from a modified layout (description left as generated)."""
    for old in folder.glob("*.safetensors"):
        old.unlink()
    checkpoint.write_shards(folder, plans, CheckpointSpec().shards, STEM, INDEX)


def patched_layout(name: str, **changes: Any) -> list[TensorSpec]:
    plans = []
    for plan in w8a8_layout():
        if plan.name == name:
            if changes.get("drop"):
                continue
            plan = TensorSpec(
                plan.name,
                changes.get("dtype", plan.dtype),
                changes.get("shape", plan.shape),
                plan.quant_type,
            )
        plans.append(plan)
    return plans


# --- config.json -------------------------------------------------------------------------


def break_fp8_config(folder: Path) -> str:
    """config says fp8 and there is no description: the FP8 original."""
    (folder / DESCRIPTION).unlink()
    quant = {"quant_method": "fp8", "fmt": "e4m3", "activation_scheme": "dynamic"}
    edit_json(folder / "config.json", "quantization_config", quant)
    return "config.json"


def break_leftover_quantization_config(folder: Path) -> str:
    quant = {"quant_method": "fp8", "fmt": "e4m3", "weight_block_size": [128, 128]}
    edit_json(folder / "config.json", "quantization_config", quant)
    return "quantization_config"


def break_fa_quant_type(folder: Path) -> str:
    edit_json(folder / "config.json", "quantization_config", {"fa_quant_type": "FAQuant"})
    return "fa_quant_type"


def break_torch_dtype(folder: Path) -> str:
    edit_json(folder / "config.json", "torch_dtype", "float16")
    return "torch_dtype"


def break_dtype_key(folder: Path) -> str:
    """Newer transformers write ``dtype`` instead of ``torch_dtype``."""
    edit_json(folder / "config.json", "torch_dtype", _DELETE)
    edit_json(folder / "config.json", "dtype", "float32")
    return "dtype"


# --- the description ---------------------------------------------------------------------


def break_misnamed_description(folder: Path) -> str:
    target = "quant_model_description_w8a8_dynamic.json"
    (folder / DESCRIPTION).rename(folder / target)
    return target


def break_duplicate_description(folder: Path) -> str:
    second = "old_quant_model_description.json"
    (folder / second).write_bytes((folder / DESCRIPTION).read_bytes())
    return second


def break_unknown_quant_type(folder: Path) -> str:
    """A type no release registers (W8A16 and the like are valid from 0.13: see
    test_release_checks)."""
    edit_json(folder / DESCRIPTION, O_PROJ, "W4A4")
    return O_PROJ


def break_missing_entry(folder: Path) -> str:
    edit_json(folder / DESCRIPTION, Q_A, _DELETE)
    return Q_A


def break_gate_up(folder: Path) -> str:
    edit_json(folder / DESCRIPTION, UP0, "W8A8")
    return UP0


def break_mtp_not_covered(folder: Path) -> str:
    description = read_json(folder / DESCRIPTION)
    layer = f"model.layers.{CheckpointSpec().arch.num_hidden_layers}."
    write_json(
        folder / DESCRIPTION,
        {k: v for k, v in description.items() if not k.startswith(layer)},
    )
    return layer + "eh_proj.weight"


# --- shards and tensors ------------------------------------------------------------------


def break_scale_shape(folder: Path) -> str:
    """weight_scale stored as [out] instead of [out, 1]."""
    name = "model.layers.0.mlp.down_proj.weight_scale"
    out = next(p.shape[0] for p in w8a8_layout() if p.name == name)
    rewrite_with_layout(folder, patched_layout(name, shape=(out,)))
    return name


def break_weight_dtype(folder: Path) -> str:
    """A W8A8_DYNAMIC weight stored as BF16 (a float export with a quant description)."""
    name = "model.layers.1.mlp.experts.2.up_proj.weight"
    rewrite_with_layout(folder, patched_layout(name, dtype="BF16"))
    return name


def break_missing_offset(folder: Path) -> str:
    name = "model.layers.1.mlp.shared_experts.down_proj.weight_offset"
    rewrite_with_layout(folder, patched_layout(name, drop=True))
    return name


def break_deq_scale(folder: Path) -> str:
    name = "model.layers.0.self_attn.o_proj.deq_scale"
    rewrite_with_layout(folder, patched_layout(name, dtype="I64"))
    return name


def break_stray_index(folder: Path) -> str:
    weight_map = {
        "model.layers.0.mlp.down_proj.weight_scale_inv": "model-00001-of-00163.safetensors"
    }
    write_json(folder / "model.safetensors.index.json", {"weight_map": weight_map})
    return "model.safetensors.index.json"


def break_stray_fp8_shard(folder: Path) -> str:
    name = "model-00001-of-00163.safetensors"
    header = {
        "model.layers.0.mlp.down_proj.weight": {
            "dtype": "F8_E4M3",
            "shape": [2, 2],
            "data_offsets": [0, 4],
        }
    }
    write_raw_shard(folder / name, header, b"\0" * 4)
    return name


def break_stray_shard(folder: Path) -> str:
    name = "extra.safetensors"
    header = {"extra.bias": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}
    write_raw_shard(folder / name, header, b"\0" * 4)
    return name


def break_missing_shard(folder: Path) -> str:
    (folder / shard(2)).unlink()
    return shard(2)


def break_tensor_not_in_shard(folder: Path) -> str:
    index = read_json(folder / INDEX)
    index["weight_map"]["model.layers.9.ghost.weight"] = shard(1)
    write_json(folder / INDEX, index)
    return "model.layers.9.ghost.weight"


def break_tensor_not_in_index(folder: Path) -> str:
    index = read_json(folder / INDEX)
    del index["weight_map"]["lm_head.weight"]
    write_json(folder / INDEX, index)
    return "lm_head.weight"


def break_truncated(folder: Path, missing: int = 100) -> str:
    path = folder / shard(2)
    os.truncate(path, path.stat().st_size - missing)
    return shard(2)


def break_no_description(folder: Path) -> str:
    (folder / DESCRIPTION).unlink()
    return DESCRIPTION


def break_lfs_pointer(folder: Path) -> str:
    oid = "a" * 64
    (folder / shard(3)).write_text(
        f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize 123456\n"
    )
    return shard(3)
