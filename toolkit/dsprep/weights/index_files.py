"""The shard-index checks of single files, as the ``dsprep-check-index`` hook passes them.

For every ``*.safetensors.index.json`` of a folder a given file is in: every shard it names
exists (inside the folder) and holds the tensors the index puts there. For a given
``*.safetensors``: its header is sound, it is not truncated, and it agrees with the
folder's index. Git-LFS pointer files
(an unsmudged checkout) stand in for their shard: their ``size`` is the file size, header
checks are skipped with an ``lfs-pointer`` note — a pointer is never reported as corrupt.
Every shard is read by :func:`~dsprep.weights.inspect.read_shard`, the reader ``check``
uses, and compared with the index by the same digest.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from dsprep import catalogue as C
from dsprep.family import DEFAULT_FAMILY
from dsprep.findings import Finding
from dsprep.profiles import Profile
from dsprep.weights import index as idx
from dsprep.weights.description import description_names
from dsprep.weights.folder import FolderProblem, ModelDir
from dsprep.weights.inspect import index_agreement, read_shard
from dsprep.weights.lfs import LfsPointer
from dsprep.weights.shards import ShardHeader
from dsprep.weights.tensors import ShardChecks


@dataclass
class _Folder:
    """What the hook has read of one folder so far (each shard is read once)."""

    model: ModelDir
    profile: Profile
    findings: list[Finding] = field(default_factory=list)
    headers: dict[str, ShardHeader] = field(default_factory=dict)
    pointers: dict[str, LfsPointer] = field(default_factory=dict)
    checked: set[str] = field(default_factory=set)
    indexes: dict[str, idx.IndexDigest | None] = field(default_factory=dict)  # None: unusable

    def shown(self, name: str) -> str:
        return self.model.display(name)

    def checks(self) -> ShardChecks:
        family = DEFAULT_FAMILY
        return ShardChecks(None, self.profile, family, family.published)


def index_findings(folder: Path, names: list[str], profile: Profile) -> list[Finding]:
    """Findings for the given shard files ``names`` of ``folder`` and for every index there.

    Every index of the folder is checked whatever was given (a changed or deleted shard
    matters to the index that names it); ``names`` may be empty (a commit that only
    deletes a shard: the hook learns the folder from git).
    """
    state = _Folder(ModelDir(folder), profile)
    entries = state.model.entries()
    indexes = idx.index_names(entries)
    main, stray = idx.choose_index(indexes)
    names = [*indexes, *(name for name in names if name not in indexes)]
    has_description = description_names(entries, profile).present
    for name in names:
        if not name.endswith(idx.INDEX_SUFFIX):
            continue
        if name in stray:
            state.findings.append(
                idx.stray_index_finding(state.shown(name), state.shown(main or ""))
            )
            continue
        index = _load_index(state, name)
        if index is None:
            continue
        if has_description and name == idx.VLLM_INDEX and index.fp8_scales:
            state.findings.append(idx.fp8_index_finding(state.shown(name)))
            continue
        if main is not None and name != main:
            state.findings.append(idx.multiple_index_finding(state.shown(name), state.shown(main)))
        _check_index(state, index, index.shards)
    shards = [n for n in names if n.endswith(idx.SHARD_SUFFIX) and n not in state.checked]
    if shards:
        _check_loose_shards(state, shards, main)
    return state.findings


def _load_index(state: _Folder, name: str) -> idx.IndexDigest | None:
    """The index digest (read once; a finding and None when it cannot be used)."""
    if name not in state.indexes:
        try:
            state.indexes[name] = idx.read_index(state.model, name, DEFAULT_FAMILY.fp8_scale_suffix)
        except FolderProblem as problem:
            state.findings.append(problem.finding)
            state.indexes[name] = None
    return state.indexes[name]


def _check_index(state: _Folder, index: idx.IndexDigest, shards: list[str]) -> None:
    """Every shard in ``shards`` exists and agrees with ``index``."""
    index_shown = state.shown(index.name)
    checks = state.checks()
    for shard in shards:
        _read(state, shard, index_shown, index.counts.get(shard, 0), checks)
    state.findings += index_agreement(state.model, index, checks)
    _pointer_size_check(state, index, index_shown)


def _check_loose_shards(state: _Folder, shards: list[str], main: str | None) -> None:
    """Shards given without their index: check each against the folder's index (if any)."""
    index = _load_index(state, main) if main is not None else None
    if index is None:
        for shard in shards:
            _read(state, shard, "", 0, None)
        return
    indexed = [s for s in shards if s in index.counts]
    for shard in shards:
        if shard not in index.counts and "/" not in shard:
            state.findings.append(idx.stray_shard_finding(shard, state.shown(shard), index.name))
    _check_index(state, index, indexed)
    for shard in shards:
        if shard not in index.counts:
            _read(state, shard, "", 0, None)


def _read(
    state: _Folder, name: str, index_shown: str, count: int, checks: ShardChecks | None
) -> None:
    """Read one shard's header (or its LFS pointer) once."""
    if name in state.checked:
        return
    state.checked.add(name)
    header = read_shard(
        state.model,
        name,
        state.findings,
        index_shown=index_shown,
        count=count,
        checks=checks,
        pointers=state.pointers,
    )
    if header is not None:
        state.headers[name] = header


def _pointer_size_check(state: _Folder, index: idx.IndexDigest, index_shown: str) -> None:
    """With LFS pointers the sizes must still hold the index's ``metadata.total_size``.

    Every shard is 8 bytes + its header + its tensor data, so the shards' sizes minus 8
    each must exceed the tensor bytes the index declares; less means an upload was cut.
    """
    total = index.total_size
    if total is None or not any(s in state.pointers for s in index.shards):
        return
    sizes: list[int] = []
    for shard in index.shards:
        if shard in state.pointers:
            sizes.append(state.pointers[shard].size)
        elif shard in state.headers:
            sizes.append(state.headers[shard].size_on_disk)
        else:
            return  # a missing or unreadable shard is already reported
    room = sum(sizes) - 8 * len(sizes)
    if room < total:
        state.findings.append(
            C.LFS_SIZE_TOO_SMALL(
                index_shown,
                f"the {len(sizes)} shards of {os.path.basename(index_shown)} are {sum(sizes)} "
                f"bytes together (git-lfs pointer sizes included), less than the "
                f"{total} bytes of tensor data its metadata.total_size declares",
            )
        )
