"""The shard-index checks of single files, as the ``dsprep-check-index`` hook passes them.

For a given ``*.safetensors.index.json``: every shard it names exists (inside the folder)
and holds the tensors the index puts there. For a given ``*.safetensors``: its header is
sound, it is not truncated, and it agrees with the folder's index. Git-LFS pointer files (an
unsmudged checkout) stand in for their shard: their ``size`` is the file size, header
checks are skipped with an ``lfs-pointer`` note — a pointer is never reported as corrupt.
Built from the pieces ``dsprep check`` uses (index, headers, safety, lfs).
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from dsprep.findings import Finding, Severity
from dsprep.weights.description import description_names
from dsprep.weights.headers import (
    HeaderError,
    ShardHeader,
    bad_header_finding,
    read_shard_header,
    size_findings,
)
from dsprep.weights.index import (
    INDEX_SUFFIX,
    SHARD_SUFFIX,
    VLLM_INDEX,
    ShardIndex,
    broken_symlink_finding,
    choose_index,
    consistency_findings,
    fp8_index_finding,
    index_names,
    missing_shard_finding,
    multiple_index_finding,
    stray_index_finding,
)
from dsprep.weights.lfs import LfsPointer, read_lfs_pointer
from dsprep.weights.safety import ModelDir, PathEscape


@dataclass
class _Folder:
    """What the hook has read of one folder so far (each shard is read once)."""

    model: ModelDir
    findings: list[Finding] = field(default_factory=list)
    headers: dict[str, ShardHeader] = field(default_factory=dict)
    pointers: dict[str, LfsPointer] = field(default_factory=dict)
    checked: set[str] = field(default_factory=set)
    totals: dict[str, int] = field(default_factory=dict)  # index name -> metadata.total_size
    indexes: dict[str, ShardIndex | None] = field(default_factory=dict)  # None: unreadable

    def shown(self, name: str) -> str:
        return self.model.display(name)


def index_findings(folder: Path, names: list[str]) -> list[Finding]:
    """Findings for the given index and shard files ``names`` of ``folder``."""
    state = _Folder(ModelDir(folder))
    entries = state.model.entries()
    all_indexes = index_names(entries)
    main, stray = choose_index(all_indexes)
    has_description = any(description_names(entries))
    for name in names:
        if not name.endswith(INDEX_SUFFIX):
            continue
        if name in stray:
            state.findings.append(stray_index_finding(state.shown(name), state.shown(main or "")))
            continue
        index = _load_index(state, name)
        if index is None:
            continue
        if has_description and name == VLLM_INDEX and index.says_fp8():
            state.findings.append(fp8_index_finding(state.shown(name)))
            continue
        if main is not None and name != main:
            state.findings.append(multiple_index_finding(state.shown(name), state.shown(main)))
        _check_index(state, index, index.shards)
    shards = [n for n in names if n.endswith(SHARD_SUFFIX) and n not in state.checked]
    if shards:
        _check_loose_shards(state, shards, main)
    return state.findings


def _load_index(state: _Folder, name: str) -> ShardIndex | None:
    """The parsed index (read once; a finding and None when it cannot be used)."""
    if name not in state.indexes:
        state.indexes[name] = _parse_index(state, name)
    return state.indexes[name]


def _parse_index(state: _Folder, name: str) -> ShardIndex | None:
    document = state.model.read_json_object(name, state.findings)
    if document is None:
        return None
    parsed = ShardIndex.parse(name, document, state.shown(name))
    if isinstance(parsed, Finding):
        state.findings.append(parsed)
        return None
    metadata = document.get("metadata")
    total = metadata.get("total_size") if isinstance(metadata, dict) else None
    if type(total) is int:
        state.totals[name] = total
    return parsed


def _check_index(state: _Folder, index: ShardIndex, shards: list[str]) -> None:
    """Every shard in ``shards`` exists and agrees with ``index``."""
    index_shown = state.shown(index.name)
    counts = Counter(index.weight_map.values())
    for shard in shards:
        _read_shard(state, shard, index_shown, counts[shard])
    headers = {s: state.headers[s].tensors for s in shards if s in state.headers}
    state.findings.extend(consistency_findings(index, index_shown, headers, state.shown))
    _pointer_size_check(state, index, index_shown)


def _check_loose_shards(state: _Folder, shards: list[str], main: str | None) -> None:
    """Shards given without their index: check each against the folder's index (if any)."""
    index = _load_index(state, main) if main is not None else None
    if index is None:
        for shard in shards:
            _read_shard(state, shard, "", 0)
        return
    indexed = set(index.shards)
    for shard in shards:
        if shard not in indexed and "/" not in shard:
            shown = state.shown(shard)
            state.findings.append(
                Finding(
                    "stray-shard",
                    shown,
                    f"{shard} is not in {index.name}; vLLM loads every *.safetensors in the "
                    "folder, so its tensors get loaded too",
                    hint=f"delete {shown} or add it to {index.name}",
                )
            )
    _check_index(state, index, [s for s in shards if s in indexed])
    for shard in shards:
        if shard not in indexed:
            _read_shard(state, shard, "", 0)


def _read_shard(state: _Folder, name: str, index_shown: str, count: int) -> None:
    """Read one shard's header (or its LFS pointer) once; findings for what is wrong."""
    if name in state.checked:
        return
    state.checked.add(name)
    try:
        real = state.model.resolve(name, source=index_shown)
    except PathEscape as escape:
        state.findings.append(escape.finding)
        return
    shown = state.shown(name)
    if not real.exists():
        state.findings.append(
            missing_shard_finding(shown, index_shown, count)
            if index_shown
            else broken_symlink_finding(name, shown)
        )
        return
    pointer = read_lfs_pointer(real) if real.is_file() else None
    if pointer is not None:
        state.pointers[name] = pointer
        state.findings.append(
            Finding(
                "lfs-pointer",
                shown,
                f"{name} is a git-lfs pointer (the shard is {pointer.size} bytes upstream): "
                "header checks skipped",
                hint="run `git lfs pull` to check the shard itself",
                severity=Severity.INFO,
            )
        )
        return
    try:
        header = read_shard_header(real)
    except HeaderError as error:
        state.findings.append(bad_header_finding(name, shown, error))
        return
    state.headers[name] = header
    state.findings += size_findings(name, shown, header)


def _pointer_size_check(state: _Folder, index: ShardIndex, index_shown: str) -> None:
    """With LFS pointers the sizes must still hold the index's ``metadata.total_size``.

    Every shard is 8 bytes + its header + its tensor data, so the shards' sizes minus 8
    each must exceed the tensor bytes the index declares; less means an upload was cut.
    """
    total = state.totals.get(index.name)
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
            Finding(
                "lfs-size-too-small",
                index_shown,
                f"the {len(sizes)} shards of {os.path.basename(index_shown)} are {sum(sizes)} "
                f"bytes together (git-lfs pointer sizes included), less than the "
                f"{total} bytes of tensor data its metadata.total_size declares",
                hint="an LFS object was uploaded incomplete: push the full shards again "
                "(git lfs push --all), or regenerate the index",
                severity=Severity.WARNING,
            )
        )
