"""The shard index (``*.safetensors.index.json``): which index counts, and does it agree?

vLLM follows only ``model.safetensors.index.json``; with msmodelslim's own index name it
loads every ``*.safetensors`` in the folder. So a stray ``model.safetensors.index.json``
(left from the FP8 original) beside the W8A8 index makes vLLM follow the wrong map, and a
stray shard is loaded too.

An index names ~139,000 tensors. It is read once and kept as a digest: per shard the
number of tensors, and for the whole map the sum of the hashes of its (tensor, shard)
pairs, which the shards' headers must reproduce (:func:`pair_digest`, summed over the
shards). Only when they do not is the index read again: per-shard digests say which shard
disagrees (:func:`shard_digests`), and its tensors are named (:func:`disagreements`).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from itertools import repeat
from typing import Any, Literal

import msgspec

from dsprep import catalogue as C
from dsprep.findings import Finding
from dsprep.weights.folder import FolderProblem, ModelDir, json_error

SHARD_SUFFIX = ".safetensors"
INDEX_SUFFIX = SHARD_SUFFIX + ".index.json"
VLLM_INDEX = "model.safetensors.index.json"
MAX_PER_CODE = 20  # findings of one code beyond this are summed up in one more finding


class _IndexFile(msgspec.Struct):
    weight_map: dict[str, str]
    metadata: dict[str, object] | None = None


class IndexDigest(msgspec.Struct):
    """What the index says: tensors per shard, and the digest of the whole weight map."""

    name: str
    shards: list[str]  # first-seen order
    counts: dict[str, int]
    digest: int  # pair_digest of every (tensor, shard) of the weight map
    fp8_scales: bool  # lists the FP8 original's block scales (``*_scale_inv``)
    total_size: int | None = None


def pair_digest(names: Iterable[str], shards: Iterable[str]) -> int:
    """The order-independent digest of (tensor, shard) pairs: a C-level sum of the pairs'
    hashes. Summed over a folder's shards it equals the index's when every tensor is
    where the index puts it (and nothing else is there)."""
    return sum(map(hash, zip(names, shards, strict=False)))  # shards may be repeat()


def index_names(names: list[str]) -> list[str]:
    return sorted(n for n in names if n.endswith(INDEX_SUFFIX) and "/" not in n)


def choose_index(indexes: list[str]) -> tuple[str | None, list[str]]:
    """(the index that describes the W8A8 shards, the stray ones).

    ``model.safetensors.index.json`` beside another index is stray (vLLM would follow it
    instead of the W8A8 index); with several other indexes the first one counts.
    """
    if not indexes:
        return None, []
    others = [n for n in indexes if n != VLLM_INDEX]
    if others and VLLM_INDEX in indexes:
        return others[0], [VLLM_INDEX]
    return indexes[0], []


def _decoder(shards: tuple[str, ...]) -> msgspec.json.Decoder[Any]:
    """An index decoder whose shard names are the folder's own (as literals, each decoded
    value is one shared string: 139,000 fewer strings on DeepSeek-V3.1)."""
    if not shards:
        return msgspec.json.Decoder(_IndexFile)
    known = Literal[shards]  # type: ignore[valid-type]
    typed = msgspec.defstruct(
        "KnownShardsIndex",
        [("weight_map", dict[str, known]), ("metadata", dict[str, object] | None, None)],
    )
    return msgspec.json.Decoder(typed)


def _read(model: ModelDir, name: str, shards: tuple[str, ...] = ()) -> _IndexFile:
    """The index file, typed; :class:`FolderProblem` (invalid-json / invalid-index).

    Decoded with the folder's shard names first; an index that names another shard (a
    missing one: reported) is decoded again with plain strings."""
    shown = model.display(name)
    raw = model.read_bytes(name)
    if shards:
        try:
            known = _decoder(shards).decode(raw)
            return _IndexFile(known.weight_map, known.metadata)
        except (msgspec.ValidationError, msgspec.DecodeError, RecursionError):
            pass
    try:
        return msgspec.json.decode(raw, type=_IndexFile)
    except msgspec.ValidationError as exc:
        try:
            msgspec.json.decode(raw)  # is it JSON at all?
        except (msgspec.DecodeError, RecursionError) as not_json:
            problem = f"is not valid JSON: {json_error(raw, not_json)}"
            raise FolderProblem(
                C.INVALID_JSON(shown, f"{os.path.basename(shown)} {problem}")
            ) from exc
        if "weight_map" in str(exc) or "Expected `object`" in str(exc):
            raise FolderProblem(
                C.INVALID_INDEX(
                    shown,
                    f"key 'weight_map' in {os.path.basename(shown)} is missing or not an "
                    f"object of tensor → shard names ({exc})",
                )
            ) from exc
        raise FolderProblem(
            C.INVALID_INDEX(shown, f"{os.path.basename(shown)} is not a shard index: {exc}")
        ) from exc
    except (msgspec.DecodeError, RecursionError) as exc:
        problem = "is empty" if not raw.strip() else f"is not valid JSON: {json_error(raw, exc)}"
        raise FolderProblem(C.INVALID_JSON(shown, f"{os.path.basename(shown)} {problem}")) from exc


def read_index(
    model: ModelDir, name: str, fp8_suffix: str, shards: tuple[str, ...] = ()
) -> IndexDigest:
    """The digest of the index ``name`` (``shards``: the folder's shard file names);
    :class:`FolderProblem` when it is unusable."""
    document = _read(model, name, shards)
    weight_map = document.weight_map
    counts = dict(Counter(weight_map.values()))
    fp8 = any(map(str.endswith, weight_map, repeat(fp8_suffix)))
    total = (document.metadata or {}).get("total_size")
    return IndexDigest(
        name,
        list(counts),
        counts,
        pair_digest(weight_map, weight_map.values()),
        fp8,
        total if type(total) is int else None,
    )


def shard_digests(model: ModelDir, index: IndexDigest) -> dict[str, int]:
    """Per shard, the digest of its (tensor, shard) pairs: the index read again, when the
    folder's sum disagrees and the shard that does must be found."""
    try:
        weight_map = _read(model, index.name).weight_map
    except FolderProblem:
        return {}  # it changed under us; the next check reports it
    digests = dict.fromkeys(index.counts, 0)
    for digest, shard in zip(map(hash, weight_map.items()), weight_map.values(), strict=True):
        digests[shard] = digests.get(shard, 0) + digest
    return digests


class Disagreement(msgspec.Struct):
    """A shard whose header does not reproduce the index's digest."""

    shard: str
    names: set[str] = msgspec.field(default_factory=set)


def disagreements(
    model: ModelDir,
    index: IndexDigest,
    found: Mapping[str, set[str]],
    shown: Callable[[str], str],
) -> list[Finding]:
    """tensor-not-in-shard / tensor-not-in-index for the shards whose names (``found``)
    disagree with the index, which is read again for this."""
    try:
        weight_map = _read(model, index.name).weight_map
    except FolderProblem:
        return []  # it changed under us; the next check reports it
    expected: dict[str, set[str]] = {shard: set() for shard in found}
    for tensor, shard in weight_map.items():
        if shard in expected:
            expected[shard].add(tensor)
    not_in_shard: list[Finding] = []
    not_in_index: list[Finding] = []
    index_base = os.path.basename(shown(index.name))
    for shard, names in found.items():
        path = shown(shard)
        base = os.path.basename(path)
        for tensor in sorted(expected[shard] - names):
            not_in_shard.append(
                C.TENSOR_NOT_IN_SHARD(
                    path, f"tensor {tensor!r} is missing from {base}; {index_base} puts it there"
                )
            )
        for tensor in sorted(names - expected[shard]):
            elsewhere = weight_map.get(tensor)
            where = f" (it puts it in {elsewhere})" if elsewhere else ""
            not_in_index.append(
                C.TENSOR_NOT_IN_INDEX(
                    path, f"tensor {tensor!r} in {base} is not in {index_base}'s weight_map{where}"
                )
            )
    return capped(not_in_shard, "tensors") + capped(not_in_index, "tensors")


def capped(findings: list[Finding], what: str) -> list[Finding]:
    """At most :data:`MAX_PER_CODE` findings, plus one that counts the rest."""
    if len(findings) <= MAX_PER_CODE:
        return findings
    rest = len(findings) - MAX_PER_CODE
    last = findings[MAX_PER_CODE]
    kind = C.kind(last.code)
    more = kind(
        last.path,
        f"… and {rest} more {what} like the ones above",
        hint=last.hint,
        severity=last.severity,
    )
    return [*findings[:MAX_PER_CODE], more]


def stray_index_finding(shown: str, main_shown: str | None, reason: str = "") -> Finding:
    beside = f" beside {os.path.basename(main_shown)}" if main_shown else ""
    return C.STRAY_INDEX(
        shown,
        f"{os.path.basename(shown)} is a stray index{beside}{reason}: vLLM follows "
        "model.safetensors.index.json and loads the wrong shards",
        hint=f"delete {shown} (it belongs to the FP8 original)",
    )


def fp8_index_finding(shown: str) -> Finding:
    """The FP8 original's model.safetensors.index.json beside a W8A8 description."""
    return stray_index_finding(shown, None, " (it lists the FP8 original's *_scale_inv tensors)")


def missing_shard_finding(shard_shown: str, index_shown: str, count: int) -> Finding:
    return C.MISSING_SHARD(
        shard_shown,
        f"{os.path.basename(shard_shown)} does not exist; {os.path.basename(index_shown)} "
        f"puts {count} tensors in it",
    )


def broken_symlink_finding(name: str, shown: str) -> Finding:
    return C.MISSING_SHARD(
        shown, f"{name} is a broken symlink", hint="delete it or download the shard again"
    )


def multiple_index_finding(shown: str, main_shown: str) -> Finding:
    return C.MULTIPLE_INDEXES(
        shown,
        f"{os.path.basename(shown)} is a second shard index beside "
        f"{os.path.basename(main_shown)}; only one is used",
        hint=f"delete {shown} if it does not belong to these shards",
    )


def stray_shard_finding(name: str, shown: str, index_name: str) -> Finding:
    return C.STRAY_SHARD(
        shown,
        f"{name} is not in {index_name}; vLLM loads every *.safetensors in the folder, so its "
        "tensors get loaded too",
        hint=f"delete {shown} or move it out of the folder",
    )
