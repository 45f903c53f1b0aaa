"""Inspect a model folder for one release: the one path ``check``, the ``fetch`` gate and the
hooks share.

The order keeps memory flat on a 139,000-tensor checkpoint: config.json; the description
(its own checks, then only its ``.weight`` types are kept); the index (kept as a digest);
then the shards one by one (:mod:`dsprep.weights.tensors`). The ``fetch`` gate inspects
the same way before any shard exists (``shards=False``), with the hub's file names added
to the folder's.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from pathlib import Path

import msgspec

from dsprep import catalogue as C
from dsprep.family import DEFAULT_FAMILY, ModelFamily
from dsprep.family.base import Architecture
from dsprep.findings import Finding, Severity
from dsprep.profiles import Profile
from dsprep.weights import index as idx
from dsprep.weights.config import ModelConfig, config_findings, dtype_findings, parse_config
from dsprep.weights.description import (
    Description,
    DescriptionNames,
    description_findings,
    description_names,
    name_findings,
    parse_description,
)
from dsprep.weights.folder import FolderProblem, ModelDir
from dsprep.weights.lfs import LfsPointer, read_lfs_pointer
from dsprep.weights.shards import (
    Chunk,
    HeaderError,
    ShardHeader,
    bad_header_finding,
    scan_shard,
    size_findings,
)
from dsprep.weights.tensors import ShardChecks
from dsprep.weights.verdict import QuantEvidence, Quantization, Stage, Verdict, quantization_verdict

CONFIG = "config.json"


class Inspection(msgspec.Struct):
    """What was read, and the findings by part (the quant hook reports only some parts)."""

    model: ModelDir
    profile: Profile
    names: list[str]
    descriptions: DescriptionNames
    config: ModelConfig | None = None
    description: Description | None = None
    index: idx.IndexDigest | None = None
    headers: dict[str, ShardHeader] = msgspec.field(default_factory=dict)
    checks: ShardChecks | None = None
    verdict: Verdict | None = None
    config_findings: list[Finding] = msgspec.field(default_factory=list)
    description_findings: list[Finding] = msgspec.field(default_factory=list)
    content_findings: list[Finding] = msgspec.field(
        default_factory=list
    )  # judged after the verdict
    index_findings: list[Finding] = msgspec.field(default_factory=list)
    shard_findings: list[Finding] = msgspec.field(default_factory=list)

    def shown(self, name: str) -> str:
        return self.model.display(name)

    @property
    def quantization_findings(self) -> list[Finding]:
        """The verdict, config.json and the description: what ``dsprep-check-quant`` reports."""
        verdict = [self.verdict.finding] if self.verdict and self.verdict.finding else []
        return [*verdict, *self.config_findings, *self.description_findings]

    @property
    def findings(self) -> list[Finding]:
        return [*self.quantization_findings, *self.index_findings, *self.shard_findings]

    @property
    def exported_as(self) -> str | None:
        return self.checks.exported_as[0] if self.checks is not None else None

    @property
    def export_is_mixed(self) -> bool:
        """The checkpoint's tensors say two model dtypes (deq_scale F32 and I64)."""
        return self.checks is not None and len(self.checks.export_dtypes) > 1


def inspect_folder(
    model: ModelDir,
    profile: Profile,
    *,
    shards: bool = True,
    remote_names: Iterable[str] = (),
    speculative: bool = False,
    stage: Stage = Stage.CHECK,
) -> Inspection:
    local = model.entries()
    names = sorted({*local, *(n for n in remote_names if "/" not in n)})
    found = Inspection(model, profile, names, description_names(names, profile))
    _read_config(found, local, required=shards)
    _read_description(found, local)
    _read_index(found, local)
    if shards:
        _read_shards(found, local)
    _judge(found, stage, speculative)
    return found


def _read_config(found: Inspection, local: list[str], *, required: bool) -> None:
    """config.json; its absence matters to a folder that is to be served (``required``),
    not to the gate or a hook looking at a description alone."""
    shown = found.shown(CONFIG)
    if CONFIG not in local:
        if not required:
            return
        found.config_findings.append(
            C.MISSING_CONFIG(shown, f"{CONFIG} does not exist in the folder")
        )
        return
    document = found.model.read_json_object(CONFIG, found.config_findings)
    if document is not None:
        found.config = parse_config(document, shown)


def _read_description(found: Inspection, local: list[str]) -> None:
    names = found.descriptions
    display = {n: found.shown(n) for n in (*names.found, *names.misnamed)}
    found.description_findings += name_findings(names, display, found.profile)
    chosen = names.chosen
    if chosen is None or chosen not in local:
        return
    document = found.model.read_json_object(chosen, found.description_findings)
    if document is None:
        return
    description = parse_description(document, chosen, found.shown(chosen))
    family, arch = _family(found)
    found.content_findings = description_findings(
        document, description, found.profile, family, arch
    )
    found.description = description


def _family(found: Inspection) -> tuple[ModelFamily, Architecture]:
    """The config's family and architecture, or the default family's published ones."""
    if found.config is not None:
        return found.config.family, found.config.arch
    return DEFAULT_FAMILY, DEFAULT_FAMILY.published


def _read_index(found: Inspection, local: list[str]) -> None:
    indexes = idx.index_names(found.names)
    main, stray = idx.choose_index(indexes)
    main_shown = found.shown(main) if main else None
    for name in stray:
        found.index_findings.append(idx.stray_index_finding(found.shown(name), main_shown))
    for name in indexes:
        if name != main and name not in stray:
            assert main_shown is not None
            found.index_findings.append(idx.multiple_index_finding(found.shown(name), main_shown))
    if main is None or main not in local:
        return
    family, _ = _family(found)
    try:
        shards = tuple(n for n in local if n.endswith(idx.SHARD_SUFFIX))
        digest = idx.read_index(found.model, main, family.fp8_scale_suffix, shards)
    except FolderProblem as problem:
        found.index_findings.append(problem.finding)
        return
    if digest.fp8_scales and found.descriptions.present and main == idx.VLLM_INDEX:
        found.index_findings.append(idx.fp8_index_finding(found.shown(main)))
        return
    found.index = digest


def _read_shards(found: Inspection, local: list[str]) -> None:
    family, arch = _family(found)
    index = found.index
    loose = [n for n in local if n.endswith(idx.SHARD_SUFFIX)]
    keep_names = index is None and len(loose) > 1  # for duplicate tensors across shards
    checks = ShardChecks(
        found.description, found.profile, family, arch, keep_names=lambda _: keep_names
    )
    found.checks = checks
    indexed = index.shards if index is not None else []
    index_shown = found.shown(index.name) if index is not None else ""
    for name in dict.fromkeys([*indexed, *loose]):
        count = index.counts.get(name, 0) if index is not None else 0
        header = read_shard(
            found.model,
            name,
            found.shard_findings,
            index_shown=index_shown if count else "",
            count=count,
            checks=checks,
        )
        if header is not None:
            found.headers[name] = header
    if index is not None:
        found.shard_findings += index_agreement(found.model, index, checks)
        for name in loose:
            if name not in index.counts and name in found.headers:
                _stray(found, name, index)
    elif keep_names:
        found.shard_findings += _duplicates(found, checks)


def read_shard(
    model: ModelDir,
    name: str,
    findings: list[Finding],
    *,
    index_shown: str = "",
    count: int = 0,
    checks: ShardChecks | None = None,
    pointers: dict[str, LfsPointer] | None = None,
) -> ShardHeader | None:
    """One shard, as every reader of a folder reads it: inside the folder, present, a real
    shard, a valid header, the declared size. A git-lfs pointer is an error, or, when
    ``pointers`` collects them (a repository checkout), a note and no header check."""
    try:
        real = model.resolve(name, source=index_shown)
    except FolderProblem as escape:
        findings.append(escape.finding)
        return None
    shown = model.display(name)
    if not real.exists():
        findings.append(
            idx.missing_shard_finding(shown, index_shown, count)
            if count
            else idx.broken_symlink_finding(name, shown)
        )
        return None
    if checks is not None:
        checks.begin(name, shown)
    try:
        header = scan_shard(
            real,
            checks.visit if checks is not None else None,
            checks.entries if checks is not None else None,
        )
    except HeaderError as error:
        if checks is not None:
            checks.end(ok=False)
        findings.append(_unreadable(name, shown, real, error, pointers))
        return None
    if checks is not None:
        checks.end(ok=True)
    findings += size_findings(name, shown, header)
    return header


def _unreadable(
    name: str, shown: str, real: Path, error: HeaderError, pointers: dict[str, LfsPointer] | None
) -> Finding:
    """A header that does not parse: a git-lfs pointer (a note where ``pointers`` collects
    them, an error otherwise), or a bad header."""
    pointer = read_lfs_pointer(real) if real.is_file() else None
    if pointer is None:
        return bad_header_finding(name, shown, error)
    if pointers is not None:
        pointers[name] = pointer
        return C.LFS_POINTER(
            shown,
            f"{name} is a git-lfs pointer (the shard is {pointer.size} bytes upstream): "
            "header checks skipped",
            hint="run `git lfs pull` to check the shard itself",
            severity=Severity.INFO,
        )
    return C.LFS_POINTER(
        shown, f"{name} is a git-lfs pointer ({pointer.size} bytes upstream), not the shard"
    )


def _collect(into: set[str], chunk: Chunk) -> None:
    into.update(chunk.names)


def index_agreement(model: ModelDir, index: idx.IndexDigest, checks: ShardChecks) -> list[Finding]:
    """The shards reproduce the index: per shard its count, together its digest. When they
    do not, per-shard digests (the index read again) say which shards disagree, and those
    are read again to name the tensors."""
    read = {n: s for n, s in checks.shards.items() if n in index.counts}
    miscounted = [n for n, s in read.items() if index.counts[n] != s.tensors]
    whole = not miscounted and len(read) == len(index.counts)
    if whole and sum(s.digest for s in read.values()) == index.digest:
        return []
    digests = idx.shard_digests(model, index)
    disagreeing = [n for n, s in read.items() if n in miscounted or digests.get(n) != s.digest]
    names: dict[str, set[str]] = {}
    for shard in disagreeing:
        collected: set[str] = set()
        try:
            scan_shard(model.resolve(shard), partial(_collect, collected))
        except (HeaderError, FolderProblem):
            continue  # it changed since: reported on the next run
        names[shard] = collected
    return idx.disagreements(model, index, names, model.display) if names else []


def _stray(found: Inspection, name: str, index: idx.IndexDigest) -> None:
    shown = found.shown(name)
    if "/" in name:
        return
    if found.headers[name].has_fp8 and found.descriptions.present:
        found.shard_findings.append(
            C.STRAY_FP8_SHARD(
                shown,
                f"{name} holds FP8 tensors and is not in {index.name}; vLLM loads every "
                "*.safetensors in the folder",
                hint=f"delete {shown} (a leftover of the FP8 original)",
            )
        )
        return
    found.shard_findings.append(idx.stray_shard_finding(name, shown, index.name))


def _duplicates(found: Inspection, checks: ShardChecks) -> list[Finding]:
    """A tensor in two shards of a folder without an index."""
    seen: dict[str, str] = {}
    duplicates: list[Finding] = []
    for shard in checks.shards.values():
        for tensor in sorted(shard.names or ()):
            if tensor in seen:
                duplicates.append(
                    C.DUPLICATE_TENSOR(
                        shard.shown, f"tensor {tensor!r} in {shard.name} is also in {seen[tensor]}"
                    )
                )
            else:
                seen[tensor] = shard.name
    return idx.capped(duplicates, "tensors")


def _judge(found: Inspection, stage: Stage, speculative: bool) -> None:
    """The verdict, then what follows from it: for FP8 weights the description's checks do
    not apply; config.json's dtype is judged against the export."""
    config = found.config
    family, _ = _family(found)
    checks = found.checks
    model_shards: set[str] | None = None
    if found.descriptions.present and found.index is not None:
        model_shards = set(found.index.counts)
    fp8_index = None
    if found.index is not None and found.index.fp8_scales:
        fp8_index = found.shown(found.index.name)
    evidence = QuantEvidence(
        description=found.descriptions.present,
        description_shown=found.shown(
            found.descriptions.chosen or found.profile.weights.description.file
        ),
        config=config,
        fp8_index=fp8_index,
        fp8_named=[found.shown(n) for n in found.names if family.fp8_shard_name.match(n)],
        fp8_tensors=checks.fp8_tensors(model_shards) if checks is not None else [],
    )
    found.verdict = quantization_verdict(evidence, family, found.profile, stage)
    ascend = found.verdict.quantization is not Quantization.FP8
    if ascend:
        found.description_findings += found.content_findings
    if config is not None:
        found.config_findings += config_findings(
            config, found.profile, has_description=found.descriptions.present and ascend
        )
        if ascend:  # judged against the export the shards say, when they were read
            exported, because = checks.exported_as if checks is not None else (None, "")
            found.config_findings += dtype_findings(
                config, found.profile, exported, because, mixed=found.export_is_mixed
            )
    if checks is not None:
        found.shard_findings += checks.findings(speculative=speculative, described=ascend)
