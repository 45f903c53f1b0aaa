"""The companion tensors of a quantized weight: which dtypes and shapes the release loads.

Each quant method of the profile (``weights.methods``) lists, beside ``P.weight``, the
tensors it creates (``P.weight_scale`` [out, 1], ``P.deq_scale`` [out], …) with the dtypes a
checkpoint may store them in (the loader casts floats; ``deq_scale`` is F32 for a bfloat16
model and I64 for a float16 one) and their shape. A per-tensor scale stored as a scalar
``[]`` loads where the layer's own loader reshapes it to [1] (``scalar_ok``), but not into
a layer the release fuses with its siblings (``weights.fused``: vLLM's
MergedColumnParallelLinear asserts the shape) unless ``scalar_fused_ok`` (0.11.0rc0, whose
per-tensor params have no loader of their own).
"""

from __future__ import annotations

from itertools import repeat

from dsprep.findings import Severity
from dsprep.profiles import Companion, Profile
from dsprep.weights.description import fused_severity, separately
from dsprep.weights.shards import TensorInfo

RULE_TEXT = {"out1": "[out, 1]", "one": "[1]", "out": "[out]"}


def shape_of(rule: str, out: int) -> tuple[int, ...]:
    return (out, 1) if rule == "out1" else (1,) if rule == "one" else (out,)


def shapes_of(rule: str, outs: list[int]) -> list[tuple[int, ...]]:
    """:func:`shape_of` for a whole list (C-level zips)."""
    if rule == "out1":
        return list(zip(outs, repeat(1)))
    if rule == "out":
        return list(zip(outs))
    return [(1,)] * len(outs)


class CompanionRules:
    """The profile's companion rules, with what a fused layer changes."""

    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        self._allowed: dict[str, frozenset[str]] = {}
        # leaf module -> (its fused layer, the others in it, how bad a [] scale is, where not)
        self._fused_leaves: dict[str, tuple[str, list[str], Severity, str]] = {
            member: (
                group.module,
                [m for m in group.members if m != member],
                fused_severity(profile, group),
                separately(group),
            )
            for group in profile.weights.fused
            for member in group.members
            if "." not in member  # a linear fused with its siblings, not a MoE expert
        }

    def allowed(self, companion: Companion) -> frozenset[str]:
        """Every dtype the companion may be stored in, whatever the model dtype."""
        allowed = self._allowed.get(companion.suffix)
        if allowed is None:
            allowed = frozenset(d for dtypes in companion.dtypes.values() for d in dtypes)
            self._allowed[companion.suffix] = allowed
        return allowed

    def problem(
        self, companion: Companion, quant_type: str, out: int, name: str, info: TensorInfo
    ) -> tuple[str, Severity]:
        """What is wrong with the companion ``name`` ("" when nothing), and how bad it is."""
        allowed = self.allowed(companion)
        shape = shape_of(companion.shape, out)
        if info.dtype in allowed and info.shape == shape:
            return "", Severity.ERROR
        if info.dtype in allowed and info.shape == () and companion.scalar_ok:
            leaf = name.rsplit(".", 2)[-2] if name.count(".") >= 2 else ""
            fused = self._fused_leaves.get(leaf)
            if fused is None or companion.scalar_fused_ok:
                return "", Severity.ERROR  # the layer's own loader reshapes it to [1]
            module, others, severity, apart = fused
            return (
                f"is {info.dtype} [] (a scalar); vllm-ascend {self.profile.name} loads "
                f"{leaf} with {' and '.join(others)} as one layer ({module}), whose loader "
                f"asserts the shape {RULE_TEXT[companion.shape]} (AssertionError at load)"
                f"{apart}",
                severity,
            )
        return (
            f"is {info.dtype} {list(info.shape)}; {quant_type} needs "
            f"{'/'.join(sorted(allowed))} {RULE_TEXT[companion.shape]} with out={out}",
            Severity.ERROR,
        )
