"""Read what ``dsprep check`` needs from a model folder, and nothing outside it.

config.json, the description, the shard index and every shard header (never tensor data);
each read goes through :class:`~dsprep.weights.safety.ModelDir`, and what cannot be read
becomes a finding (``invalid-json``, ``bad-header``, ``path-escape``, ``missing-shard``…).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dsprep.findings import Finding
from dsprep.weights import config as cfg
from dsprep.weights.description import description_names
from dsprep.weights.headers import (
    HeaderError,
    ShardHeader,
    TensorInfo,
    bad_header_finding,
    read_shard_header,
)
from dsprep.weights.index import (
    SHARD_SUFFIX,
    ShardIndex,
    broken_symlink_finding,
    choose_index,
    consistency_findings,
    index_names,
    missing_shard_finding,
    multiple_index_finding,
    stray_index_finding,
)
from dsprep.weights.index_worker import IndexWorker, load_index
from dsprep.weights.quant_tensors import dynamic_ok, fast_path_static, i8_weights
from dsprep.weights.safety import ModelDir, PathEscape
from dsprep.weights.worker_pipe import Described, Request, WorkerResult


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
    described: Described | None = None  # the description's checks, made by the child
    quant_static: list[tuple[str, Any]] | None = None  # the quant fast path's answer, ditto

    @property
    def has_description(self) -> bool:
        return bool(self.valid_descriptions or self.misnamed_descriptions)

    def shown(self, name: str) -> str:
        return self.model.display(name)


def scan_model_dir(model: ModelDir) -> Scan:
    """Read the folder: config, shard headers, index (checked against them), description.

    On a big folder a forked child (:class:`IndexWorker`) parses the index and the
    description and checks them against the header names while this process validates
    the headers; the findings are the same either way.
    """
    scan = Scan(model, model.entries())
    valid, misnamed = description_names(scan.names)
    scan.valid_descriptions, scan.misnamed_descriptions = valid, misnamed
    main, stray = choose_index(index_names(scan.names))
    chosen = (valid or misnamed or [""])[0]
    _scan_config(scan)
    local = [n for n in scan.names if n.endswith(SHARD_SUFFIX)]
    worker = IndexWorker(model, main, chosen, has_description=scan.has_description)
    try:
        _read_shards(scan, local, {}, "")
        index = _scan_index(scan, main, stray, worker, set(local)) if main is not None else None
        from_worker = _ask(scan, worker)
        if index is not None:
            _check_index(scan, index, from_worker)
        if from_worker is not None:
            scan.description_name = chosen or None
            if from_worker.problem is not None:
                scan.findings.append(from_worker.problem)
        _scan_description(scan, chosen, from_worker)
        indexed = scan.index.shards if scan.index is not None else []
        scan.shard_names = list(dict.fromkeys([*indexed, *local]))
    finally:
        worker.close()
    return scan


def _ask(scan: Scan, worker: IndexWorker) -> WorkerResult | None:
    """Send the validated header names to the child, and take its answer (None: no child,
    or it failed). Meanwhile, check the dynamic weights' companions (cf. quant_tensors)."""
    if not worker.active:
        return None
    groups = [header.tensors for header in scan.headers.values()]
    i8 = [i8_weights(group) for group in groups]
    packed_i8 = list(map(Request.pack, i8))
    if None in packed_i8 or not worker.send(packed_i8):  # None: a NUL in a name
        worker.close()
        return None
    config = scan.config or {}
    names = {name: Request.pack(list(header.tensors)) for name, header in scan.headers.items()}
    request = Request(
        names,  # type: ignore[arg-type]
        cfg.int_key(config, "num_hidden_layers", 1 << 30),
        cfg.int_key(config, "num_nextn_predict_layers"),
    )
    if None in names.values() or not worker.send(request):
        worker.close()
        return None
    early = dynamic_ok(groups, i8)  # all as dynamic: 1 holds for any static ones
    result = worker.result()
    described = result.described if result is not None else None
    if described is not None and described.statics is not None:
        found = early if early == 1 else dynamic_ok(groups, i8, described.statics)
        if found:
            order = described.order if found == 2 else None
            scan.quant_static = fast_path_static(groups, described.statics, order)
    return result


def _scan_description(scan: Scan, name: str, from_worker: WorkerResult | None) -> None:
    if from_worker is not None:
        scan.described = from_worker.described
    elif name and scan.description_name is None:
        scan.description_name = name
        scan.description = scan.model.read_json_object(name, scan.findings)


def _scan_config(scan: Scan) -> None:
    if "config.json" in scan.names:
        scan.config = scan.model.read_json_object("config.json", scan.findings)
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
    scan: Scan, main: str, stray: list[str], worker: IndexWorker, read: set[str]
) -> ShardIndex | None:
    """Stray and extra indexes, the index (from the child when there is one) and the
    indexed shards not ``read`` yet (each shard is read, and reported, once); the index,
    or None when it is unusable."""
    main_shown = scan.shown(main)
    for name in stray:
        scan.findings.append(stray_index_finding(scan.shown(name), main_shown))
    others = [n for n in index_names(scan.names) if n not in stray and n != main]
    scan.findings.extend(multiple_index_finding(scan.shown(n), main_shown) for n in others)
    index = worker.index() if worker.active else None
    if index is None:
        index = load_index(scan.model, main, has_description=scan.has_description)
    if isinstance(index, Finding):
        scan.findings.append(index)
        return None
    scan.index = index
    extra = [n for n in index.shards if n not in read]
    _read_shards(scan, extra, index.counts, main_shown)
    return index


def _check_index(scan: Scan, index: ShardIndex, from_worker: WorkerResult | None) -> None:
    """tensor-not-in-shard / tensor-not-in-index (computed by the child when there is one)."""
    if from_worker is not None:
        scan.findings.extend(from_worker.consistency)
        return
    if not index.weight_map:  # the child sent it without its weight_map, then failed
        reloaded = load_index(scan.model, index.name, has_description=scan.has_description)
        if not isinstance(reloaded, ShardIndex):
            return
        index.weight_map = reloaded.weight_map
    names = {name: header.tensors for name, header in scan.headers.items()}
    main_shown = scan.shown(index.name)
    scan.findings.extend(consistency_findings(index, main_shown, names, scan.shown))
    index.weight_map = {}  # checked: free it


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
                else broken_symlink_finding(name, shown)
            )
            continue
        try:
            scan.headers[name] = read_shard_header(real)
        except HeaderError as error:
            scan.findings.append(_unreadable_shard(scan, name, real, error))


def _unreadable_shard(scan: Scan, name: str, real: Path, error: HeaderError) -> Finding:
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
    return bad_header_finding(name, shown, error)
