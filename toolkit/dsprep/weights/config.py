"""config.json checks: FP8, leftover quantization_config, fa_quant_type, torch_dtype.

vllm-ascend v0.11.0rc0 reads ``quantization_config`` from config.json before the
description file: a leftover FP8 block beside ``quant_model_description.json`` becomes the
description (``KeyError: 'model.layers.0.self_attn.q_a_proj.weight'`` at load), an
``fa_quant_type`` switches attention to a quantized KV method, and a ``torch_dtype`` other
than bfloat16 gives the wrong parameter dtypes (``deq_scale`` must then be I64).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from dsprep.findings import Finding, Severity

EXPECTED_ARCHITECTURE = "DeepseekV3ForCausalLM"
DTYPE_KEYS = ("torch_dtype", "dtype")  # newer transformers write ``dtype``


def quant_method(config: dict[str, Any]) -> str:
    block = config.get("quantization_config")
    if isinstance(block, dict):
        return str(block.get("quant_method", "")).lower()
    return ""


def says_fp8(config: dict[str, Any]) -> bool:
    return quant_method(config) == "fp8"


def has_fa_quant_type(config: dict[str, Any]) -> bool:
    block = config.get("quantization_config")
    return "fa_quant_type" in config or (isinstance(block, dict) and "fa_quant_type" in block)


def model_dtypes(config: dict[str, Any]) -> dict[str, Any]:
    """The dtype keys config.json sets (``torch_dtype`` and/or ``dtype``) and their values."""
    return {key: config[key] for key in DTYPE_KEYS if key in config}


def needs_dtype_fix(config: dict[str, Any]) -> bool:
    values = model_dtypes(config)
    return not values or any(value != "bfloat16" for value in values.values())


def leftover_quantization_config(config: dict[str, Any], *, has_description: bool) -> bool:
    """A quantization_config beside the description that only confuses vllm-ascend."""
    return has_description and "quantization_config" in config and not has_fa_quant_type(config)


def int_key(config: Mapping[str, Any], key: str, default: int = 0) -> int:
    value = config.get(key, default)
    return value if type(value) is int and value >= 0 else default


def architecture(config: dict[str, Any]) -> str:
    archs = config.get("architectures")
    if isinstance(archs, list) and archs and all(isinstance(a, str) for a in archs):
        return ",".join(archs)
    return str(config.get("model_type", "unknown"))


def config_findings(config: dict[str, Any], shown: str, *, has_description: bool) -> list[Finding]:
    """Launch-breakers of one parsed config.json (``shown`` names the file in messages)."""
    findings: list[Finding] = []
    name = os.path.basename(shown)
    block = config.get("quantization_config")
    if says_fp8(config) and not has_description:
        findings.append(
            Finding(
                "fp8-weights",
                shown,
                f"{name} sets quantization_config.quant_method to 'fp8': this is the original FP8 "
                "checkpoint, and Ascend NPUs cannot compute in FP8",
                hint="download an Ascend W8A8 conversion instead "
                "(e.g. Eco-Tech/DeepSeek-V3.1-w8a8-mtp-QuaRot)",
            )
        )
    if has_fa_quant_type(config):
        findings.append(
            Finding(
                "fa-quant-type",
                shown,
                f"{name} has the key 'fa_quant_type' (written by msmodelslim --fa_quant): "
                "vllm-ascend v0.11.0rc0 then quantizes attention and fails at load",
                hint="re-export without --fa_quant, or delete quantization_config from "
                "config.json by hand if you do not want FA quantization",
            )
        )
    elif leftover_quantization_config(config, has_description=has_description):
        method = quant_method(config) or (type(block).__name__ if block is not None else "null")
        findings.append(
            Finding(
                "leftover-quantization-config",
                shown,
                f"{name} has a leftover key 'quantization_config' ({method}) beside "
                "quant_model_description.json; vllm-ascend reads it as the description and "
                "fails with KeyError: 'model.layers.0.self_attn.q_a_proj.weight'",
                hint="delete quantization_config from config.json (dsprep check --fix does it)",
            )
        )
    findings.extend(_dtype_findings(config, shown))
    arch = architecture(config)
    if EXPECTED_ARCHITECTURE not in arch.split(","):
        findings.append(
            Finding(
                "unexpected-architecture",
                shown,
                f"key 'architectures' in {name} is {arch!r}, not {EXPECTED_ARCHITECTURE!r}",
                hint="check that this is a DeepSeek-V3/V3.1 checkpoint",
                severity=Severity.WARNING,
            )
        )
    return findings


def _dtype_findings(config: dict[str, Any], shown: str) -> list[Finding]:
    values = model_dtypes(config)
    name = os.path.basename(shown)
    if not values:
        return [
            Finding(
                "torch-dtype",
                shown,
                f"{name} has no 'torch_dtype' key; vllm-ascend expects bfloat16 for this "
                "W8A8 checkpoint",
                hint='set "torch_dtype": "bfloat16" (dsprep check --fix does it)',
                severity=Severity.WARNING,
            )
        ]
    return [
        Finding(
            "torch-dtype",
            shown,
            f"key {key!r} in {name} is {value!r}, not 'bfloat16'; the W8A8 scales then get "
            "the wrong dtype at load",
            hint=f'set "{key}": "bfloat16" (dsprep check --fix does it)',
        )
        for key, value in values.items()
        if value != "bfloat16"
    ]
