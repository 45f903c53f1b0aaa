"""Shared calls of the weights tests."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

from dsprep.demo.checkpoint import CheckpointSpec, w8a8_layout, write_shards
from dsprep.family import TensorSpec
from dsprep.findings import Finding
from dsprep.profiles import profile_for
from dsprep.weights.folder import ModelDir
from dsprep.weights.inspect import inspect_folder
from tests.weights.broken import DESCRIPTION, INDEX, STEM


def quantization_gate(
    folder: Path, remote_files: Sequence[str] = (), image: str | None = None
) -> list[Finding]:
    """What the fetch gate finds in ``folder`` (metadata only) with the hub's file names."""
    found = inspect_folder(
        ModelDir(folder), profile_for(image), shards=False, remote_names=remote_files
    )
    return found.findings


# --- checkpoint variants: the tiny W8A8 layout changed, shards and description rewritten ---

Layout = list[TensorSpec]
Transform = Callable[[Layout], Layout]


def rewrite_checkpoint(folder: Path, *transforms: Transform) -> None:
    """Re-write ``folder``'s shards, index and description from the tiny W8A8 layout
    changed by ``transforms``: the description says each tensor's (new) quant type, so it
    and the shards agree unless a transform means them not to."""
    plans = w8a8_layout()
    for transform in transforms:
        plans = transform(plans)
    for old in folder.glob("*.safetensors"):
        old.unlink()
    write_shards(folder, plans, CheckpointSpec().shards, STEM, INDEX)
    description = json.loads((folder / DESCRIPTION).read_text(encoding="utf-8"))
    settings = {k: v for k, v in description.items() if not isinstance(v, str) or "." not in k}
    settings.update({plan.name: plan.quant_type for plan in plans})
    (folder / DESCRIPTION).write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")


def _of(prefix: str, plan: TensorSpec) -> bool:
    return plan.name.startswith(prefix + ".") and "." not in plan.name[len(prefix) + 1 :]


def as_float(prefix: str) -> Transform:
    """The linear ``prefix`` left unquantized: a BF16 weight, no companions, FLOAT."""

    def transform(plans: Layout) -> Layout:
        out: Layout = []
        for plan in plans:
            if not _of(prefix, plan):
                out.append(plan)
            elif plan.name.endswith(".weight"):
                out.append(TensorSpec(plan.name, "BF16", plan.shape, "FLOAT"))
        return out

    return transform


def as_dynamic(prefix: str) -> Transform:
    """The linear ``prefix`` (a FLOAT or static W8A8 one) as W8A8_DYNAMIC: I8 weight plus
    weight_scale / weight_offset [out, 1]."""

    def transform(plans: Layout) -> Layout:
        out: Layout = []
        for plan in plans:
            if not _of(prefix, plan):
                out.append(plan)
            elif plan.name.endswith(".weight"):
                rows = plan.shape[0]
                out.append(TensorSpec(plan.name, "I8", plan.shape, "W8A8_DYNAMIC"))
                for leaf in ("weight_scale", "weight_offset"):
                    out.append(TensorSpec(f"{prefix}.{leaf}", "BF16", (rows, 1), "W8A8_DYNAMIC"))
        return out

    return transform


def as_static(match: Callable[[str], bool]) -> Transform:
    """Every W8A8_DYNAMIC linear whose prefix ``match``-es as static W8A8 (input_scale,
    input_offset [1], quant_bias, deq_scale F32 [out] besides the scales)."""

    def transform(plans: Layout) -> Layout:
        out: Layout = []
        for plan in plans:
            prefix, _, leaf = plan.name.rpartition(".")
            if plan.quant_type != "W8A8_DYNAMIC" or not match(prefix):
                out.append(plan)
                continue
            out.append(TensorSpec(plan.name, plan.dtype, plan.shape, "W8A8"))
            if leaf == "weight":
                rows = plan.shape[0]
                out += [
                    TensorSpec(f"{prefix}.input_scale", "BF16", (1,), "W8A8"),
                    TensorSpec(f"{prefix}.input_offset", "I8", (1,), "W8A8"),
                    TensorSpec(f"{prefix}.quant_bias", "I32", (rows,), "W8A8"),
                    TensorSpec(f"{prefix}.deq_scale", "F32", (rows,), "W8A8"),
                ]
        return out

    return transform


def typed(quant_type: str, match: Callable[[str], bool]) -> Transform:
    """The entries of the tensors whose name ``match``-es say ``quant_type`` (tensors kept)."""

    def transform(plans: Layout) -> Layout:
        return [
            TensorSpec(p.name, p.dtype, p.shape, quant_type) if match(p.name) else p for p in plans
        ]

    return transform


def reshaped(name: str, shape: tuple[int, ...]) -> Transform:
    def transform(plans: Layout) -> Layout:
        return [
            TensorSpec(p.name, p.dtype, shape, p.quant_type) if p.name == name else p for p in plans
        ]

    return transform


def with_dtype(name: str, dtype: str) -> Transform:
    def transform(plans: Layout) -> Layout:
        return [
            TensorSpec(p.name, dtype, p.shape, p.quant_type) if p.name == name else p for p in plans
        ]

    return transform


def float16_export(plans: Layout) -> Layout:
    """What msmodelslim writes for a float16 model: I64 deq_scale, F16 scales and floats."""
    out: Layout = []
    for plan in plans:
        dtype = "I64" if plan.name.endswith(".deq_scale") else plan.dtype
        out.append(TensorSpec(plan.name, "F16" if dtype == "BF16" else dtype, plan.shape,
                              plan.quant_type))  # fmt: skip
    return out
