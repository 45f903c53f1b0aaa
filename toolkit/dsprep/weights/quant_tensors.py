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
from collections.abc import Callable, Mapping, Sequence
from operator import itemgetter
from typing import Any

from dsprep.findings import Finding
from dsprep.weights.description import capped, needs_entry
from dsprep.weights.headers import TensorInfo

FLOATS = frozenset({"F32", "BF16", "F16"})
_OUT1 = "[out, 1]"
_ONE = "[1]"
_OUT = "[out]"
_DTYPE = itemgetter(0)
_SHAPE = itemgetter(1)
_QUANT_TYPES = frozenset({"W8A8", "W8A8_DYNAMIC"})


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
    weights: Sequence[tuple[str, Any]],
    shard_tensors: Sequence[Mapping[str, TensorInfo]],
    shard_of: Callable[[str], str],
    *,
    model_dtype: str = "bfloat16",
    static: list[tuple[str, Mapping[str, TensorInfo]]] | None = None,
) -> list[Finding]:
    """``bad-quant-tensor`` for every quantized weight whose tensors vllm-ascend would reject.

    ``weights`` are the description's ``(name.weight, quant type)`` entries,
    ``shard_tensors`` each shard's tensors by name, ``shard_of`` maps a tensor to its
    shard's shown path (called only for findings). The fast path checks shard by shard
    with C-level map/compare over whole lists (a shard's own dict is small and cache-hot);
    anything unusual is walked one weight at a time by :func:`_explain`. ``static`` is the
    fast path's answer when it was computed already (see :func:`fast_path_static`).
    """
    if static is None:
        static = _fast_path(description, weights, shard_tensors)
    if static is not None:  # only the (few) static W8A8 weights remain to be checked
        everywhere = _Everywhere(shard_tensors)
        findings = []
        for key, group in static:
            found = _explain(key, "W8A8", group, shard_of, model_dtype)
            if found:  # maybe a companion sits in another shard: look everywhere
                found = _explain(key, "W8A8", everywhere, shard_of, model_dtype)
            findings += found
        return capped(findings, "bad-quant-tensor", "tensors")
    tensors = _merged(shard_tensors)
    get = tensors.get
    findings = []
    dynamic = [k for k, v in weights if v == "W8A8_DYNAMIC" and k in tensors]
    if not _dynamic_ok(dynamic, get):
        for key in dynamic:
            findings.extend(_explain(key, "W8A8_DYNAMIC", tensors, shard_of, model_dtype))
    for key in (k for k, v in weights if v == "W8A8" and k in tensors):
        findings.extend(_explain(key, "W8A8", tensors, shard_of, model_dtype))
    floats = [k for k, v in weights if v == "FLOAT" and k in tensors]
    if "I8" in {tensors[k].dtype for k in floats}:
        for key in floats:
            if tensors[key].dtype == "I8" and needs_entry(key):
                problem = f"is I8 but the description says FLOAT for {key!r}"
                findings.append(_bad(shard_of, key, key, problem))
    return capped(findings, "bad-quant-tensor", "tensors")


def _merged(shard_tensors: Sequence[Mapping[str, TensorInfo]]) -> dict[str, TensorInfo]:
    tensors: dict[str, TensorInfo] = {}
    for group in shard_tensors:
        tensors.update(group)
    return tensors


def i8_weights(group: Mapping[str, TensorInfo]) -> list[str]:
    """The I8 ``*.weight`` tensors of one shard, in header order."""
    return [n for n, info in group.items() if info[0] == "I8" and n.endswith(".weight")]


def static_weights(
    get: Callable[[str], Any], weights: Sequence[tuple[str, Any]], i8_groups: Sequence[list[str]]
) -> list[list[str]] | None:
    """The static W8A8 weights among each shard's I8 weights (the rest is W8A8_DYNAMIC), or
    None when the fast path cannot decide: an I8 weight described otherwise, or fewer I8
    weights than quantized entries. Needs the description only (``get`` is its ``.get``).
    """
    described = sum(1 for _, v in weights if v in _QUANT_TYPES)
    found = 0
    statics: list[list[str]] = []
    for names in i8_groups:
        types = list(map(get, names))
        try:
            if not set(types) <= _QUANT_TYPES:
                return None
        except TypeError:  # an unhashable type in the description: walk one by one
            return None
        statics.append([n for n, t in zip(names, types, strict=True) if t == "W8A8"])
        found += len(names)
    return statics if found == described else None


def dynamic_ok(
    shard_tensors: Sequence[Mapping[str, TensorInfo]],
    i8_groups: Sequence[list[str]],
    statics: Sequence[list[str]] | None = None,
) -> int:
    """Every I8 weight not in ``statics`` has float [out, 1] scale and offset (looked up in
    its own shard first, then in all): 0 when not, 1 when so, 2 when so but a companion
    sits in another shard. Without ``statics`` all count as dynamic: a conservative early
    answer (1 implies 1 for any ``statics``)."""
    everywhere = _Everywhere(shard_tensors)
    for i, (group, names) in enumerate(zip(shard_tensors, i8_groups, strict=True)):
        static = set(statics[i]) if statics is not None else ()
        dynamic = [n for n in names if n not in static] if static else names
        if not _dynamic_ok(dynamic, group.get, everywhere.get):
            return 0
    return 2 if everywhere.used else 1


def fast_path_static(
    shard_tensors: Sequence[Mapping[str, TensorInfo]],
    statics: Sequence[list[str]],
    order: Sequence[str] | None = None,
) -> list[tuple[str, Mapping[str, TensorInfo]]]:
    """The static weights with their shards, as :func:`quant_tensor_findings` takes them:
    in shard order, or in ``order`` (the description's W8A8 entries), which is the order
    of the walk when :func:`dynamic_ok` said 2 (so the findings come in the same order)."""
    static = [(n, g) for g, names in zip(shard_tensors, statics, strict=True) for n in names]
    if order is not None:
        position = {name: i for i, name in enumerate(order)}
        static.sort(key=lambda item: position.get(item[0], len(position)))
    return static


def static_order(weights: Sequence[tuple[str, Any]]) -> list[str]:
    """The description's W8A8 entries, in its order (see :func:`fast_path_static`)."""
    return [k for k, v in weights if v == "W8A8"]


def _fast_path(
    description: Mapping[str, Any],
    weights: Sequence[tuple[str, Any]],
    shard_tensors: Sequence[Mapping[str, TensorInfo]],
) -> list[tuple[str, Mapping[str, TensorInfo]]] | None:
    """The static W8A8 weights left to check, or None when the fast path cannot decide.

    Decides when: every I8 ``*.weight`` tensor is described W8A8 or W8A8_DYNAMIC, the
    dynamic ones have float [out, 1] scale and offset (in their own shard, or failing that
    in any), and their number equals the description's quantized entries (so none is
    missing or not I8).
    """
    i8_groups = [i8_weights(group) for group in shard_tensors]
    statics = static_weights(description.get, weights, i8_groups)
    found = dynamic_ok(shard_tensors, i8_groups, statics) if statics is not None else 0
    if statics is None or not found:
        return None
    return fast_path_static(shard_tensors, statics, static_order(weights) if found == 2 else None)


class _Everywhere:
    """``get``/``[]`` across all shards, the last one winning as in :func:`_merged`
    (without merging ~139,000 entries for the few lookups that need it)."""

    def __init__(self, shard_tensors: Sequence[Mapping[str, TensorInfo]]) -> None:
        self._groups = list(shard_tensors)[::-1]
        self.used = False

    def get(self, name: str) -> TensorInfo | None:
        self.used = True
        for group in self._groups:
            info = group.get(name)
            if info is not None:
                return info
        return None

    def __getitem__(self, name: str) -> TensorInfo:
        info = self.get(name)
        if info is None:
            raise KeyError(name)
        return info


def _dynamic_ok(
    keys: list[str],
    get: Callable[[str], TensorInfo | None],
    fallback: Callable[[str], TensorInfo | None] | None = None,
) -> bool:
    """All weights I8 2-D, all scales/offsets float ``[out, 1]`` (no Python loop per weight).

    A companion ``get`` does not find (it sits in the next shard) is looked up by
    ``fallback``, when given.
    """
    infos: list[Any] = list(map(get, keys))
    scales: list[Any] = list(map(get, [k + "_scale" for k in keys]))
    offsets: list[Any] = list(map(get, [k + "_offset" for k in keys]))
    if fallback is not None and (None in scales or None in offsets):
        scales = [
            s if s is not None else fallback(k + "_scale")
            for k, s in zip(keys, scales, strict=True)
        ]
        offsets = [
            o if o is not None else fallback(k + "_offset")
            for k, o in zip(keys, offsets, strict=True)
        ]
    if None in scales or None in offsets:
        return False
    shapes = list(map(_SHAPE, infos))
    if not keys:
        return True
    if set(map(_DTYPE, infos)) != {"I8"} or set(map(len, shapes)) != {2}:
        return False
    if not set(map(_DTYPE, scales)) <= FLOATS or not set(map(_DTYPE, offsets)) <= FLOATS:
        return False
    expected = [(shape[0], 1) for shape in shapes]
    return expected == list(map(_SHAPE, scales)) == list(map(_SHAPE, offsets))


def _explain(
    key: str,
    quant_type: str,
    tensors: Mapping[str, TensorInfo] | _Everywhere,
    shard_of: Callable[[str], str],
    model_dtype: str,
) -> list[Finding]:
    info = tensors[key]
    shape = info.shape
    if info.dtype != "I8" or len(shape) != 2:
        problem = f"is {info.dtype} {list(shape)} but {quant_type} needs I8 [out, in]"
        return [_bad(shard_of, key, key, problem)]
    out = shape[0]
    prefix = key[:-6]
    findings: list[Finding] = []
    for suffix, dtypes, rule in _expected(quant_type, model_dtype):
        name = prefix + suffix
        companion = tensors.get(name)
        if companion is None:
            problem = f"is missing; {quant_type} weight {key!r} needs it"
            findings.append(_bad(shard_of, key, name, problem))
        elif companion.dtype not in dtypes or companion.shape != _shape(rule, out):
            problem = (
                f"is {companion.dtype} {list(companion.shape)}; {quant_type} needs "
                f"{'/'.join(sorted(dtypes))} {rule} with out={out}"
            )
            findings.append(_bad(shard_of, name, name, problem))
    return findings


def _bad(shard_of: Callable[[str], str], anchor: str, name: str, problem: str) -> Finding:
    shown = shard_of(anchor)
    return Finding(
        "bad-quant-tensor",
        shown,
        f"tensor {name!r} in {os.path.basename(shown)} {problem}",
        hint="the shard does not match its description: re-export or re-download the weights",
    )
