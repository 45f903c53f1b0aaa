"""The quant fast path decides as the full walk would, also when a companion sits in the
next shard (as in the full-size layout, where shards split a layer's tensors)."""

from __future__ import annotations

import pytest

import dsprep.weights.quant_tensors as qt
from dsprep.weights.headers import TensorInfo


def _t(dtype: str, *shape: int) -> TensorInfo:
    return TensorInfo(dtype, shape, 0, 0)


def _layout(bad_static: bool) -> tuple[dict[str, str], list[dict[str, TensorInfo]]]:
    deq = "I64" if bad_static else "F32"
    first = {
        "a.weight": _t("I8", 4, 8),
        "a.weight_scale": _t("F32", 4, 1),  # a.weight_offset is in the next shard
        "s1.weight": _t("I8", 2, 8),
        "s1.weight_scale": _t("F32", 2, 1),
        "s1.weight_offset": _t("F32", 2, 1),
        "s1.input_scale": _t("F32", 1),
        "s1.input_offset": _t("F32", 1),
        "s1.quant_bias": _t("I32", 2),
        "s1.deq_scale": _t(deq, 2),
    }
    second = {
        "a.weight_offset": _t("F32", 4, 1),
        "s2.weight": _t("I8", 3, 8),
        "s2.weight_scale": _t("F32", 3, 1),
        "s2.weight_offset": _t("F32", 3, 1),
        "s2.input_scale": _t("F32", 1),
        "s2.input_offset": _t("F32", 1),
        "s2.quant_bias": _t("I32", 3),
        "s2.deq_scale": _t(deq, 3),
        "norm.weight": _t("BF16", 8),
    }
    # The description lists s2 before s1: the full walk reports in this order.
    description = {"s2.weight": "W8A8", "a.weight": "W8A8_DYNAMIC", "s1.weight": "W8A8"}
    description["norm.weight"] = "FLOAT"
    return description, [first, second]


def _findings(description: dict[str, str], groups: list[dict[str, TensorInfo]]) -> list[str]:
    weights = [(k, v) for k, v in description.items() if k.endswith(".weight")]
    found = qt.quant_tensor_findings(description, weights, groups, lambda name: "shard")
    return [f.message for f in found]


@pytest.mark.parametrize("bad_static", [False, True])
def test_fast_path_with_a_companion_in_the_next_shard(bad_static: bool) -> None:
    description, groups = _layout(bad_static)
    weights = [(k, v) for k, v in description.items() if k.endswith(".weight")]
    assert qt._fast_path(description, weights, groups) is not None  # it decides
    fast = _findings(description, groups)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(qt, "_fast_path", lambda *args: None)
        full = _findings(description, groups)
    assert fast == full
    assert bool(full) == bad_static
    if bad_static:
        assert "s2.deq_scale" in full[0] and "s1.deq_scale" in full[1]


def test_dynamic_ok_says_where_the_companions_are() -> None:
    _, groups = _layout(False)
    i8 = [qt.i8_weights(group) for group in groups]
    statics = [["s1.weight"], ["s2.weight"]]
    assert qt.dynamic_ok(groups, i8, statics) == 2  # a.weight_offset is in the next shard
    groups[0]["a.weight_offset"] = groups[1].pop("a.weight_offset")
    assert qt.dynamic_ok(groups, i8, statics) == 1
    groups[0]["a.weight_offset"] = _t("F32", 4)  # [out] instead of [out, 1]
    assert qt.dynamic_ok(groups, i8, statics) == 0
