"""The tiny checkpoint generator: deterministic, small, readable by safetensors."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import safetensors

from dsprep.demo.checkpoint import (
    CheckpointSpec,
    fp8_layout,
    w8a8_layout,
    write_fp8_checkpoint,
    write_w8a8_checkpoint,
)


def test_w8a8_is_deterministic_and_small(tmp_path: Path) -> None:
    first = write_w8a8_checkpoint(tmp_path / "a")
    second = write_w8a8_checkpoint(tmp_path / "b")
    assert [p.name for p in first] == [p.name for p in second]
    for one, two in zip(first, second, strict=True):
        assert one.read_bytes() == two.read_bytes()
    assert sum(p.stat().st_size for p in first) < 1_000_000
    names = [p.name for p in first]
    assert names[:2] == ["config.json", "quant_model_description.json"]
    assert names[-1] == "quant_model_weight_w8a8_dynamic.safetensors.index.json"
    assert names[2] == "quant_model_weight_w8a8_dynamic-00001-of-00003.safetensors"


def test_w8a8_content_matches_the_recipe(tmp_path: Path) -> None:
    paths = write_w8a8_checkpoint(tmp_path / "w")
    config = json.loads((tmp_path / "w" / "config.json").read_text())
    assert config["torch_dtype"] == "bfloat16" and "quantization_config" not in config
    description = json.loads((tmp_path / "w" / "quant_model_description.json").read_text())
    assert description["model_quant_type"] == "W8A8_DYNAMIC" and "version" in description
    assert description["model.layers.0.self_attn.q_a_proj.weight"] == "W8A8"
    assert description["model.layers.0.self_attn.kv_b_proj.weight"] == "FLOAT"
    assert description["model.layers.1.mlp.experts.3.down_proj.weight"] == "W8A8_DYNAMIC"
    assert description["model.layers.3.eh_proj.weight"] == "FLOAT"
    index = json.loads(paths[-1].read_text())
    tensors: dict[str, str] = {}
    for shard in paths[2:-1]:
        with safetensors.safe_open(str(shard), "numpy") as handle:
            for name in handle.keys():  # noqa: SIM118 - safe_open is not a mapping
                tensors[name] = handle.get_slice(name).get_dtype()
                assert index["weight_map"][name] == shard.name
    assert tensors.keys() == index["weight_map"].keys()
    assert {p.name for p in w8a8_layout()} == set(tensors)
    with safetensors.safe_open(str(paths[2]), "numpy") as handle:
        name = next(n for n in handle.keys() if tensors[n] == "I8")  # noqa: SIM118
        assert handle.get_tensor(name).dtype == np.int8


def test_spec_controls_shape_and_shards(tmp_path: Path) -> None:
    spec = CheckpointSpec(shards=1).replace(
        num_hidden_layers=2, n_routed_experts=2, num_nextn_predict_layers=0
    )
    paths = write_w8a8_checkpoint(tmp_path / "s", spec)
    assert len([p for p in paths if p.suffix == ".safetensors"]) == 1
    assert not any(p.name.startswith("model.layers.2.") for p in w8a8_layout(spec))


def test_fp8_checkpoint(tmp_path: Path) -> None:
    paths = write_fp8_checkpoint(tmp_path / "f")
    config = json.loads(paths[0].read_text())
    assert config["quantization_config"]["quant_method"] == "fp8"
    assert paths[-1].name == "model.safetensors.index.json"
    assert paths[1].name == "model-00001-of-00003.safetensors"
    plans = {p.name: p for p in fp8_layout()}
    weight = plans["model.layers.0.self_attn.q_b_proj.weight"]
    scale = plans["model.layers.0.self_attn.q_b_proj.weight_scale_inv"]
    assert weight.dtype == "F8_E4M3" and scale.dtype == "F32"
    assert scale.shape == tuple(math.ceil(d / 128) for d in weight.shape)
