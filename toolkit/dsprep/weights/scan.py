"""Read what ``dsprep check`` needs from a model folder, and nothing outside it.

config.json, the description, the shard index and every shard header (never tensor data);
each read goes through :class:`~dsprep.weights.safety.ModelDir`, and what cannot be read
becomes a finding (``invalid-json``, ``bad-header``, ``path-escape``, ``missing-shard``…).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dsprep.findings import Finding
from dsprep.weights.description import description_names
from dsprep.weights.headers import HeaderError, ShardHeader, TensorInfo, read_shard_header
from dsprep.weights.index import (
    ShardIndex,
    choose_index,
    consistency_findings,
    index_names,
    missing_shard_finding,
    multiple_index_finding,
    stray_index_finding,
)
from dsprep.weights.index_worker import IndexWorker, WorkerResult, load_index
from dsprep.weights.safety import JsonProblem, ModelDir, PathEscape

SHARD_SUFFIX = ".safetensors"


@dataclass
class Scan:
    """Everything read from one model folder, plus the findings reading it produced."""

    model: ModelDir
    names: list[str]
    config: dict[str, Any] | None = None
    valid_descriptions: list[str] = field(default_factory=list)
    misnamed_descriptions: list[str] = field(default_factory=list)
    description_name: str | None = None
    description: dict[str, Any] | None = None
    index: ShardIndex | None = None
    shard_names: list[str] = field(default_factory=list)
    headers: dict[str, ShardHeader] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    merged: dict[str, TensorInfo] | None = None  # all tensors by name, see analyse.all_tensors
    weights: list[tuple[str, Any]] | None = None  # the description's .weight entries

    @property
    def has_description(self) -> bool:
        return bool(self.valid_descriptions or self.misnamed_descriptions)

    def shown(self, name: str) -> str:
        return self.model.display(name)

    def load_json(self, name: str) -> dict[str, Any] | None:
        try:
            return self.model.load_json_object(name)
        except (JsonProblem, PathEscape) as problem:
            self.findings.append(problem.finding)
            return None


def scan_model_dir(model: ModelDir) -> Scan:
    """Read the folder: config, shard headers, index (checked against them), description.

    On a big folder the index is loaded and checked by :class:`IndexWorker` (a forked
    child) while this process validates the headers and parses the description.
    """
    scan = Scan(model, model.entries())
    valid, misnamed = description_names(scan.names)
    scan.valid_descriptions, scan.misnamed_descriptions = valid, misnamed
    main, stray = choose_index(index_names(scan.names))
    chosen = (valid or misnamed or [""])[0]
    _scan_config(scan)
    local = [n for n in scan.names if n.endswith(SHARD_SUFFIX)]
    worker = IndexWorker(model, main, has_description=scan.has_description)
    try:
        _read_shards(scan, local, {}, "")
        if worker.active:  # the child has the index: parse the description meanwhile
            _scan_description(scan, chosen)
        if main is not None:
            _scan_index(scan, main, stray, worker.result())
        if not worker.active:  # index checked and freed first: a lower peak of memory
            _scan_description(scan, chosen)
        indexed = scan.index.shards if scan.index is not None else []
        scan.shard_names = list(dict.fromkeys([*indexed, *local]))
    finally:
        worker.close()
    return scan


def _scan_description(scan: Scan, name: str) -> None:
    if name and scan.description_name is None:
        scan.description_name = name
        scan.description = scan.load_json(name)


def _scan_config(scan: Scan) -> None:
    if "config.json" in scan.names:
        scan.config = scan.load_json("config.json")
        return
    scan.findings.append(
        Finding(
            "missing-config",
            scan.shown("config.json"),
            "config.json does not exist in the folder",
            hint="download config.json of the model into the folder",
        )
    )


def _scan_index(
    scan: Scan,
    main: str,
    stray: list[str],
    from_worker: WorkerResult | None,
) -> None:
    main_shown = scan.shown(main)
    for name in stray:
        scan.findings.append(stray_index_finding(scan.shown(name), main_shown))
    others = [n for n in index_names(scan.names) if n not in stray and n != main]
    scan.findings.extend(multiple_index_finding(scan.shown(n), main_shown) for n in others)
    if from_worker is None or from_worker.index is None:
        index = load_index(scan.model, main, has_description=scan.has_description)
        from_worker = None
    else:
        index = from_worker.index
    if isinstance(index, Finding):
        scan.findings.append(index)
        return
    scan.index = index
    extra = [n for n in index.shards if n not in scan.headers]
    _read_shards(scan, extra, index.counts, main_shown)
    if from_worker is None:
        names = {name: header.tensors for name, header in scan.headers.items()}
        found = consistency_findings(index, main_shown, names, scan.shown)
        index.weight_map = {}  # checked: free it
    else:  # the child saw every readable header; keep what concerns shards that validated
        parsed = {scan.shown(name) for name in scan.headers}
        found = [f for f in from_worker.consistency if f.path in parsed]
    scan.findings.extend(found)


def _read_shards(scan: Scan, names: list[str], counts: dict[str, int], index_shown: str) -> None:
    for name in names:
        source = index_shown if name in counts else ""
        try:
            real = scan.model.resolve(name, source=source)
        except PathEscape as escape:
            scan.findings.append(escape.finding)
            continue
        if not real.exists():
            shown = scan.shown(name)
            scan.findings.append(
                missing_shard_finding(shown, index_shown, counts[name])
                if name in counts
                else Finding(
                    "missing-shard",
                    shown,
                    f"{name} is a broken symlink",
                    hint="delete it or download the shard again",
                )
            )
            continue
        try:
            scan.headers[name] = read_shard_header(real)
        except HeaderError as error:
            scan.findings.append(_unreadable_shard(scan, name, real, error))


def _unreadable_shard(scan: Scan, name: str, real: Any, error: HeaderError) -> Finding:
    from dsprep.weights.lfs import read_lfs_pointer

    shown = scan.shown(name)
    pointer = read_lfs_pointer(real) if real.is_file() else None
    if pointer is not None:
        return Finding(
            "lfs-pointer",
            shown,
            f"{name} is a git-lfs pointer ({pointer.size} bytes upstream), not the shard",
            hint="run `git lfs pull` in the folder, or download with dsprep fetch",
        )
    return Finding(
        "bad-header", shown, f"{name} has a bad header: {error.problem}", hint=error.hint
    )
