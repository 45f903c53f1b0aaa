"""gate_proj/up_proj (and the experts of a layer) must share one quant type.

vllm-ascend v0.11.0rc0 fuses gate_proj and up_proj and raises "Not all shards of … are
quantized with same quant type" otherwise; a fused MoE layer takes expert 0's
gate/up/down type for every expert.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from dsprep.findings import Finding
from dsprep.weights.description import capped


def pair_findings(
    description: Mapping[str, Any], weights: Sequence[tuple[str, Any]], shown: str
) -> list[Finding]:
    """gate/up types agree, and every expert of a layer has expert 0's type.

    Compared as whole lists (C-level); only a layer with a disagreement is walked.
    """
    gates = [(k[:-17], v) for k, v in weights if k.endswith(".gate_proj.weight")]
    prefixes = [p for p, _ in gates]
    types = [v for _, v in gates]
    ups = list(map(description.get, [p + ".up_proj.weight" for p in prefixes]))
    firsts = list(map(description.get, [_expert0(p) + ".gate_proj.weight" for p in prefixes]))
    if ups == types and firsts == types:
        return _down_findings(description, prefixes, shown)
    base = os.path.basename(shown)
    findings: list[Finding] = []
    for prefix, gate_type, up_type, first_type in zip(prefixes, types, ups, firsts, strict=True):
        if up_type is not None and up_type != gate_type:
            findings.append(
                Finding(
                    "gate-up-mismatch",
                    shown,
                    f"in {base}, {prefix}.gate_proj.weight is {gate_type!r} but "
                    f"{prefix}.up_proj.weight is {up_type!r}; vllm-ascend fuses them and "
                    "requires one type",
                    hint="give gate_proj and up_proj the same type (re-export with msmodelslim)",
                )
            )
        if first_type is not None and first_type != gate_type:
            findings.append(
                Finding(
                    "gate-up-mismatch",
                    shown,
                    f"in {base}, {prefix}.gate_proj.weight is {gate_type!r} but "
                    f"{_expert0(prefix)}.gate_proj.weight is {first_type!r}; the fused MoE "
                    "layer uses expert 0's type for every expert",
                    hint="give all experts of a layer the same type",
                )
            )
    findings += _down_findings(description, prefixes, shown)
    return capped(findings, "gate-up-mismatch", "pairs")


def _expert0(prefix: str) -> str:
    """``….mlp.experts.7`` → ``….mlp.experts.0``; any other prefix maps to itself."""
    marker = prefix.rfind(".experts.")
    return prefix if marker < 0 else prefix[: marker + 9] + "0"


def _down_findings(
    description: Mapping[str, Any], prefixes: Sequence[str], shown: str
) -> list[Finding]:
    findings: list[Finding] = []
    for prefix in prefixes:
        if not prefix.endswith(".experts.0"):
            continue
        gate_type = description.get(prefix + ".gate_proj.weight")
        down_type = description.get(prefix + ".down_proj.weight")
        if down_type is not None and down_type != gate_type:
            findings.append(
                Finding(
                    "gate-up-mismatch",
                    shown,
                    f"in {os.path.basename(shown)}, {prefix}.gate_proj.weight is {gate_type!r} "
                    f"but {prefix}.down_proj.weight is {down_type!r}; vllm-ascend requires "
                    "expert 0's gate/up/down to share one type",
                    hint="give gate_proj, up_proj and down_proj the same type",
                )
            )
    return findings
