"""What the shard headers must agree with: the index's digest, the description's entries,
and the tensors each quant method creates.

:class:`ShardChecks` follows :func:`~dsprep.weights.shards.scan_shard` shard by shard and
chunk by chunk (``visit``: the chunk's quantized weights and the companions the chunk
itself holds, from the entries the reader already decoded), then looks the companions
that were not in the weight's chunk up by name in the whole shard (``entries``), and keeps
a shard's results only when its header is valid (``end``). Work is done in whole lists
(C-level map, set and list comparisons); only what disagrees is walked one by one to name
it.

Per quant method the release creates, beside ``P.weight`` (``weights.methods`` of the
profile), companions such as ``P.weight_scale`` [out, 1] or ``P.deq_scale`` [out]: each
must exist with a dtype the release can load and its exact shape (the loader asserts
shapes; it casts floats; a scalar per-tensor scale where the release's loader takes one:
:mod:`dsprep.weights.companions`). A static W8A8 export stores ``deq_scale`` as F32 (bfloat16
model) or I64 (float16 model); the dtype the checkpoint's ``deq_scale`` tensors share is
the export's model dtype (:attr:`ShardChecks.exported_as`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from itertools import compress, repeat
from operator import add, attrgetter, eq, is_not, itemgetter, not_

import msgspec

from dsprep import catalogue as C
from dsprep.family import ModelFamily
from dsprep.family.base import Architecture
from dsprep.findings import Finding, Severity
from dsprep.profiles import Companion, Profile
from dsprep.weights.companions import CompanionRules, shapes_of
from dsprep.weights.coverage import coverage_findings
from dsprep.weights.description import FLOAT, Description
from dsprep.weights.index import capped, pair_digest
from dsprep.weights.shards import (
    FP8_DTYPES,
    Chunk,
    ShardEntries,
    TensorInfo,
)
from dsprep.weights.verdict import FP8Tensor

WEIGHT = ".weight"
_DTYPE = attrgetter("dtype")
_SHAPE = attrgetter("shape")
_FIRST = itemgetter(0)
_NONE = repeat(None)
_WEIGHT_LEAF = repeat(WEIGHT[1:])


class _Shard(msgspec.Struct):
    """What one shard's header said (kept only when the header is valid)."""

    name: str
    shown: str
    digest: int = 0  # index.pair_digest of its (tensor, this shard) pairs
    tensors: int = 0
    missing: list[str] = msgspec.field(default_factory=list)  # .weight tensors without an entry
    bad: list[Finding] = msgspec.field(default_factory=list)
    # (quant type, companion suffix) -> (its weights, their out sizes) whose companion was
    # not in the weight's chunk: looked up in the whole shard by ``entries``
    deferred: dict[tuple[str, str], tuple[list[str], list[int]]] = msgspec.field(
        default_factory=dict
    )
    # tensors other than weights, not (yet) claimed as a companion by a weight here
    unclaimed: set[str] = msgspec.field(default_factory=set)
    evidence: dict[str, str] = msgspec.field(
        default_factory=dict
    )  # model-dtype evidence: dtype -> tensor
    fp8: list[FP8Tensor] = msgspec.field(default_factory=list)
    mtp_layers: set[int] = msgspec.field(default_factory=set)
    names: set[str] | None = None  # kept only to explain a disagreement with the index


class _Pending(msgspec.Struct):
    """A companion not in its weight's shard: looked for in the shards that follow."""

    weight: str
    quant_type: str
    companion: Companion
    out: int
    shown: str


class ShardChecks:
    """Follows a folder's shards; :meth:`findings` gives what they disagree with."""

    def __init__(
        self,
        description: Description | None,
        profile: Profile,
        family: ModelFamily,
        arch: Architecture,
        *,
        keep_names: Callable[[str], bool] = lambda shard: False,
    ) -> None:
        self.description = description
        self.profile = profile
        self.family = family
        self.arch = arch
        self.keep_names = keep_names
        self.shards: dict[str, _Shard] = {}
        self._current: _Shard | None = None
        self._pending: dict[str, list[_Pending]] = {}
        self._orphans: dict[str, tuple[TensorInfo, str]] = {}  # companion -> (info, shown)
        self._weights = description.weight_types if description is not None else {}
        self._methods = profile.weights.methods
        suffixes = {c.suffix for m in self._methods.values() for c in m.companions}
        self._companion_suffixes = tuple("." + s for s in sorted(suffixes))
        # companions whose dtype says the model dtype (deq_scale: F32 bfloat16, I64 float16)
        self._evidence = [
            c for m in self._methods.values() for c in m.companions if "*" not in c.dtypes
        ]
        self._evidence_suffixes = tuple(sorted({"." + c.suffix for c in self._evidence}))
        self._mtp_markers = tuple("." + m for m in family.mtp_markers)
        self._rules = CompanionRules(profile)

    # --- following scan_shard ------------------------------------------------------------

    def begin(self, shard: str, shown: str) -> None:
        self._current = _Shard(shard, shown, names=set() if self.keep_names(shard) else None)

    def visit(self, chunk: Chunk) -> None:
        shard = self._current
        assert shard is not None
        names, infos, dtypes = chunk.names, chunk.infos, chunk.dtypes
        shard.digest += pair_digest(names, repeat(shard.name))
        shard.tensors += len(names)
        if shard.names is not None:
            shard.names.update(names)
        if not FP8_DTYPES.isdisjoint(dtypes):
            at = next(i for i, d in enumerate(dtypes) if d in FP8_DTYPES)
            shard.fp8.append(FP8Tensor(shard.name, shard.shown, names[at], dtypes[at]))
        is_weight = list(map(str.endswith, names, repeat(WEIGHT)))
        shard.unclaimed.update(compress(names, map(not_, is_weight)))  # companions among them
        weights = list(compress(names, is_weight))
        for name in compress(weights, map(str.endswith, weights, repeat(self._mtp_markers))):
            layer = self.family.layer_index(name)
            if layer >= self.arch.num_hidden_layers:
                shard.mtp_layers.add(layer)
        if self.description is None:
            return
        weight_infos = list(compress(infos, is_weight))
        types = list(map(self._weights.get, weights))
        if None in types:
            shard.missing += [n for n, t in zip(weights, types, strict=True) if t is None]
        local: Callable[[str], TensorInfo | None] | None = None
        for quant_type in set(types):
            if quant_type is None:
                continue
            chosen = self._weights_of(shard, quant_type, weights, weight_infos, types)
            if chosen is None:
                continue
            if local is None:
                local = dict(zip(names, infos, strict=True)).get
            some, outs = chosen
            prefixes = list(map(str.removesuffix, some, _WEIGHT_LEAF))  # "P." of "P.weight"
            for companion in self._methods[quant_type].companions:
                companions = list(map(add, prefixes, repeat(companion.suffix)))
                found = list(map(local, companions))
                self._check_companions(
                    shard, quant_type, companion, some, outs, companions, found, defer=True
                )

    def _weights_of(
        self,
        shard: _Shard,
        quant_type: str,
        weights: list[str],
        infos: list[TensorInfo],
        types: list[str | None],
    ) -> tuple[list[str], list[int]] | None:
        """The chunk's weights of one type: FLOAT ones must not be I8; quantized ones
        must be the method's dtype, 2-D. (the quantized ones, their out sizes), or None."""
        chosen = list(map(eq, types, repeat(quant_type)))
        names = list(compress(weights, chosen))
        chosen_infos = list(compress(infos, chosen))
        if quant_type == FLOAT:
            if "I8" in map(_DTYPE, chosen_infos):
                shard.bad += [
                    self._bad(shard.shown, n, f"is I8 but the description says FLOAT for {n!r}")
                    for n, i in zip(names, chosen_infos, strict=True)
                    if i.dtype == "I8"
                ]
            return None
        method = self._methods.get(quant_type)
        if method is None:
            return None  # an unknown type: the description's own finding
        shapes = list(map(_SHAPE, chosen_infos))
        dtypes_ok = set(map(_DTYPE, chosen_infos)) == {method.weight_dtype}
        if not dtypes_ok or set(map(len, shapes)) != {2}:
            kept = []
            for n, i in zip(names, chosen_infos, strict=True):
                if i.dtype == method.weight_dtype and len(i.shape) == 2:
                    kept.append((n, i.shape))
                    continue
                problem = (
                    f"is {i.dtype} {list(i.shape)} but {quant_type} needs "
                    f"{method.weight_dtype} [out, in]"
                )
                shard.bad.append(self._bad(shard.shown, n, problem))
            names = [n for n, _ in kept]
            shapes = [sh for _, sh in kept]
        return names, list(map(_FIRST, shapes))

    def entries(self, entries: ShardEntries) -> None:
        """Every chunk was valid: look up, in the whole shard, the companions that were not
        in their weight's chunk; those not in the shard either wait for the shards that
        follow, and the shard's companions no weight claimed are kept for them."""
        shard = self._current
        assert shard is not None
        for (quant_type, suffix), (weights, outs) in shard.deferred.items():
            companion = next(c for c in self._methods[quant_type].companions if c.suffix == suffix)
            prefixes = list(map(str.removesuffix, weights, _WEIGHT_LEAF))
            names = list(map(add, prefixes, repeat(suffix)))
            found = list(map(entries.info, names))
            self._check_companions(shard, quant_type, companion, weights, outs, names, found)
        shard.deferred = {}
        for name in shard.unclaimed:  # their weight may be in another shard: kept for it
            if name.endswith(self._companion_suffixes):
                info = entries.info(name)
                assert info is not None
                self._orphans[name] = (info, shard.shown)
                if name.endswith(self._evidence_suffixes):
                    self._note_evidence(shard, name, info.dtype)
        shard.unclaimed = set()

    def end(self, ok: bool) -> None:
        """Keep the shard's results when its header is valid; then resolve what waited."""
        shard, self._current = self._current, None
        if shard is None or not ok:
            return
        self.shards[shard.name] = shard

    # --- companions ------------------------------------------------------------------------

    def _check_companions(
        self,
        shard: _Shard,
        quant_type: str,
        companion: Companion,
        weights: list[str],
        outs: list[int],
        names: list[str],
        infos: list[TensorInfo | None],
        *,
        defer: bool = False,
    ) -> None:
        """One companion of every weight of one type: whole-list comparisons; only the
        ones that disagree are walked. One not found is ``defer``-red to the whole shard's
        lookup (``entries``), or else waits for the shards that follow."""
        allowed = self._rules.allowed(companion)
        if None in infos:
            if defer:
                later = shard.deferred.setdefault((quant_type, companion.suffix), ([], []))
            for weight, out, name, info in zip(weights, outs, names, infos, strict=True):
                if info is not None:
                    continue
                if defer:
                    later[0].append(weight)
                    later[1].append(out)
                else:
                    pending = _Pending(weight, quant_type, companion, out, shard.shown)
                    self._pending.setdefault(name, []).append(pending)
            present = list(map(is_not, infos, _NONE))
            outs = list(compress(outs, present))
            names = list(compress(names, present))
            infos = list(compress(infos, present))
        shard.unclaimed.difference_update(names)
        found: list[TensorInfo] = infos  # type: ignore[assignment]  # no None left
        if companion in self._evidence:
            dtypes = list(map(_DTYPE, found))
            for dtype in set(dtypes):
                self._note_evidence(shard, names[dtypes.index(dtype)], dtype)
        expected = shapes_of(companion.shape, outs)
        if set(map(_DTYPE, found)) <= allowed and list(map(_SHAPE, found)) == expected:
            return
        for out, name, info in zip(outs, names, found, strict=True):
            problem, severity = self._companion_problem(companion, quant_type, out, name, info)
            if problem:
                shard.bad.append(self._bad(shard.shown, name, problem, severity))

    def _note_evidence(self, shard: _Shard, name: str, dtype: str) -> None:
        """A tensor whose dtype says the export's model dtype (deq_scale): the first of each."""
        shard.evidence.setdefault(dtype, name)

    def _companion_problem(
        self, companion: Companion, quant_type: str, out: int, name: str, info: TensorInfo
    ) -> tuple[str, Severity]:
        return self._rules.problem(companion, quant_type, out, name, info)

    def _bad(
        self, shown: str, name: str, problem: str, severity: Severity = Severity.ERROR
    ) -> Finding:
        return C.BAD_QUANT_TENSOR(
            shown, f"tensor {name!r} in {os.path.basename(shown)} {problem}", severity=severity
        )

    # --- results ---------------------------------------------------------------------------

    def _evidenced(self) -> dict[str, str]:
        """Model dtype -> the first tensor whose dtype says it (deq_scale F32: bfloat16)."""
        said: dict[str, str] = {}
        for shard in self.shards.values():
            for dtype, name in shard.evidence.items():
                for companion in self._evidence:
                    if not name.endswith("." + companion.suffix):
                        continue
                    for model_dtype, allowed in companion.dtypes.items():
                        if dtype in allowed:
                            said.setdefault(model_dtype, f"{name} is {dtype}")
        return said

    @property
    def exported_as(self) -> tuple[str | None, str]:
        """(the model dtype the checkpoint's deq_scale tensors say, the tensor that says it);
        (None, "") without static W8A8 weights, or when they disagree."""
        said = self._evidenced()
        if len(said) != 1:
            return None, ""
        ((model_dtype, because),) = said.items()
        return model_dtype, because

    @property
    def export_dtypes(self) -> list[str]:
        """Every model dtype some tensor of the checkpoint says (two: a mixed export)."""
        return sorted(self._evidenced())

    def fp8_tensors(self, model_shards: set[str] | None) -> list[FP8Tensor]:
        """FP8 tensors of the shards that make up the model (``None``: all of them)."""
        return [
            t
            for shard in self.shards.values()
            if model_shards is None or shard.name in model_shards
            for t in shard.fp8
        ]

    def mtp_layers(self) -> list[int]:
        return sorted({layer for shard in self.shards.values() for layer in shard.mtp_layers})

    def findings(self, *, speculative: bool, described: bool = True) -> list[Finding]:
        """Coverage, bad quantized tensors, companions never found, mixed deq_scale dtypes
        (none of these when the description does not apply: ``described`` false)."""
        findings: list[Finding] = []
        if not described:
            return findings
        bad = [f for shard in self.shards.values() for f in shard.bad]
        for name, waiting in self._pending.items():
            orphan = self._orphans.get(name)
            for item in waiting:
                if orphan is None:
                    problem = f"is missing; {item.quant_type} weight {item.weight!r} needs it"
                    bad.append(self._bad(item.shown, name, problem))
                    continue
                info, shown = orphan
                problem, severity = self._companion_problem(
                    item.companion, item.quant_type, item.out, name, info
                )
                if problem:
                    bad.append(self._bad(shown, name, problem, severity))
        bad += self._mixed_deq_scale()
        if self.description is not None:
            missing = sorted({n for shard in self.shards.values() for n in shard.missing})
            findings += coverage_findings(
                missing,
                self.description,
                self.profile,
                self.family,
                self.arch,
                speculative=speculative,
            )
        return findings + capped(bad, "tensors")

    def _mixed_deq_scale(self) -> list[Finding]:
        first: dict[str, tuple[str, str]] = {}
        for shard in self.shards.values():
            for dtype, name in shard.evidence.items():
                first.setdefault(dtype, (name, shard.shown))
        if len(first) < 2:
            return []
        (usual, _), *others = sorted(first.items(), key=lambda item: item[0] != "F32")
        return [
            self._bad(
                shown,
                name,
                f"is {dtype} while other deq_scale tensors are {usual}: one export has one "
                "model dtype (F32 for bfloat16, I64 for float16)",
            )
            for dtype, (name, shown) in others
        ]
