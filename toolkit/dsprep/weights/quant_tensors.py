"""Each quantized weight is I8 with the companion tensors vllm-ascend v0.11.0rc0 creates.

Per linear ``P`` (w8a8.py / w8a8_dynamic.py): static W8A8 has ``P.weight`` I8 [out, in],
``P.weight_scale`` and ``P.weight_offset`` [out, 1], ``P.input_scale`` [1], ``P.input_offset``
I8 [1], ``P.quant_bias`` I32 [out] and ``P.deq_scale`` F32 [out] (I64 for a float16 model);
W8A8_DYNAMIC has the weight, weight_scale and weight_offset. Floating companions may be
any float dtype (the loader copies with a cast); shapes must match exactly (the loader
asserts them), and per-expert MoE tensors follow the same rule.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from dsprep.findings import Finding
from dsprep.weights.description import capped, needs_entry
from dsprep.weights.headers import TensorInfo

FLOATS = frozenset({"F32", "BF16", "F16"})
_OUT1 = "[out, 1]"
_ONE = "[1]"
_OUT = "[out]"


def _expected(quant_type: str, model_dtype: str) -> list[tuple[str, frozenset[str], str]]:
    """(suffix, allowed dtypes, shape rule) of the companions of one quant type."""
    companions = [("weight_scale", FLOATS, _OUT1), ("weight_offset", FLOATS, _OUT1)]
    if quant_type == "W8A8":
        deq = frozenset({"I64"}) if model_dtype == "float16" else frozenset({"F32"})
        companions += [
            ("input_scale", FLOATS, _ONE),
            ("input_offset", FLOATS | {"I8"}, _ONE),
            ("quant_bias", frozenset({"I32"}), _OUT),
            ("deq_scale", deq, _OUT),
        ]
    return companions


def _shape(rule: str, out: int) -> tuple[int, ...]:
    return (out, 1) if rule == _OUT1 else (1,) if rule == _ONE else (out,)


def quant_tensor_findings(
    description: Mapping[str, Any],
    tensors: Mapping[str, TensorInfo],
    shard_of: Callable[[str], str],
    *,
    model_dtype: str = "bfloat16",
) -> list[Finding]:
    """``bad-quant-tensor`` for every quantized weight whose tensors vllm-ascend would reject.

    ``tensors`` maps every tensor name of the shards to its header entry, ``shard_of`` maps
    it to the shard's shown path (called only for findings).
    """
    expected = {qt: _expected(qt, model_dtype) for qt in ("W8A8", "W8A8_DYNAMIC")}
    findings: list[Finding] = []
    for key, quant_type in description.items():
        if not key.endswith(".weight"):
            continue
        info = tensors.get(key)
        if info is None:
            continue
        companions = expected.get(quant_type)
        if companions is None:
            if quant_type == "FLOAT" and info.dtype == "I8" and needs_entry(key):
                findings.append(
                    _bad(shard_of, key, key, f"is I8 but the description says FLOAT for {key!r}")
                )
            continue
        shape = info.shape
        if info.dtype != "I8" or len(shape) != 2:
            findings.append(
                _bad(
                    shard_of,
                    key,
                    key,
                    f"is {info.dtype} {list(shape)} but {quant_type} needs I8 [out, in]",
                )
            )
            continue
        out = shape[0]
        prefix = key[:-6]
        for suffix, dtypes, rule in companions:
            name = prefix + suffix
            companion = tensors.get(name)
            if companion is None:
                findings.append(
                    _bad(shard_of, key, name, f"is missing; {quant_type} weight {key!r} needs it")
                )
            elif companion.dtype not in dtypes or companion.shape != _shape(rule, out):
                findings.append(
                    _bad(
                        shard_of,
                        name,
                        name,
                        f"is {companion.dtype} {list(companion.shape)}; {quant_type} needs "
                        f"{'/'.join(sorted(dtypes))} {rule} with out={out}",
                    )
                )
    return capped(findings, "bad-quant-tensor", "tensors")


def _bad(shard_of: Callable[[str], str], anchor: str, name: str, problem: str) -> Finding:
    shown = shard_of(anchor)
    return Finding(
        "bad-quant-tensor",
        shown,
        f"tensor {name!r} in {os.path.basename(shown)} {problem}",
        hint="the shard does not match its description: re-export or re-download the weights",
    )
