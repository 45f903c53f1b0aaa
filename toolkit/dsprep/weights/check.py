"""``dsprep check DIR``: prove a weights folder is servable by one vllm-ascend release.

Reads config.json, the description, the shard index and the shard headers (never tensor
data, never a file outside DIR) through :func:`~dsprep.weights.inspect.inspect_folder` and
returns a :class:`~dsprep.findings.Result` with stable finding codes and a typed
:class:`CheckSummary`; optionally repairs what is safe and re-hashes the files.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from pathlib import Path

import msgspec

from dsprep.findings import Finding, JsonPayload, Result
from dsprep.profiles import Profile, profile_for
from dsprep.weights.folder import ModelDir
from dsprep.weights.inspect import Inspection, inspect_folder

Progress = Callable[[int, int], None]  # (bytes done, bytes in all)


class CheckOptions(msgspec.Struct, frozen=True):
    image: str | None = None  # the release's image tag; None: the newest bundled profile
    speculative: bool = False  # the MTP draft is loaded (--speculative-config)
    verify_hashes: bool = False
    sha256_file: Path | None = None
    fix: bool = False
    force: bool = False  # --fix may replace a read-only config.json
    max_workers: int | None = None
    progress: Progress | None = None


DEFAULT_OPTIONS = CheckOptions()


class HashSummary(msgspec.Struct, JsonPayload, frozen=True):
    source: str
    files: int  # listed
    verified: int  # hashed and equal
    rewritten: int  # differ, but their .dsprep-orig backup is the listed file
    failed: int  # differ, missing or unreadable


class CheckSummary(msgspec.Struct, JsonPayload, frozen=True):
    model_dir: str
    profile: str
    profile_is_default: bool
    architecture: str
    quantization: str  # ascend, fp8, unverified
    quant_types: dict[str, int]
    description: str | None
    index: str | None
    shards: int
    tensors: int
    total_bytes: int
    bytes_on_disk: int
    mtp: bool  # the checkpoint has an MTP layer
    mtp_layers: list[int]
    exported_as: str | None  # the model dtype the checkpoint's tensors say
    fixed: list[str] = msgspec.field(default_factory=list)
    hashes: HashSummary | None = None


def check_model_dir(
    model_dir: Path, options: CheckOptions = DEFAULT_OPTIONS
) -> Result[CheckSummary]:
    """Check the folder; ``InputError`` (exit 3) only when DIR or ``--image`` is unusable.

    The cyclic garbage collector is paused meanwhile: reading ~139,000 header entries
    allocates millions of objects without cycles, and collections would double the time.
    """
    profile = profile_for(options.image)
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _check(ModelDir(Path(model_dir)), profile, options)
    finally:
        if enabled:
            gc.enable()


def _check(model: ModelDir, profile: Profile, options: CheckOptions) -> Result[CheckSummary]:
    found = inspect_folder(model, profile, speculative=options.speculative)
    fixed: list[Finding] = []
    if options.fix:
        from dsprep.weights.fix import apply_fixes

        fixed = apply_fixes(found, force=options.force)
        if fixed:
            found = inspect_folder(model, profile, speculative=options.speculative)
    hashes: HashSummary | None = None
    findings = [*fixed, *found.findings]
    if options.verify_hashes or options.sha256_file is not None:
        hash_findings, hashes = _hashes(model, options)
        findings += hash_findings
    summary = _summary(found, options, [f.message for f in fixed], hashes)
    return Result("check", summary, findings)


def _hashes(model: ModelDir, options: CheckOptions) -> tuple[list[Finding], HashSummary]:
    from dsprep.weights.hashes import hash_findings, manifest_targets, sha256sum_targets

    if options.sha256_file is not None:
        targets = sha256sum_targets(options.sha256_file)
        source = str(options.sha256_file)
    else:
        targets = manifest_targets(model)
        source = model.display(".dsprep/manifest.json")
    outcome = hash_findings(
        model, targets, source=source, max_workers=options.max_workers, progress=options.progress
    )
    summary = HashSummary(source, len(targets), outcome.verified, outcome.rewritten, outcome.failed)
    return outcome.findings, summary


def _summary(
    found: Inspection, options: CheckOptions, fixed: list[str], hashes: HashSummary | None
) -> CheckSummary:
    headers = found.headers.values()
    description = found.description
    mtp_layers = found.checks.mtp_layers() if found.checks is not None else []
    return CheckSummary(
        model_dir=str(found.model.path),
        profile=found.profile.name,
        profile_is_default=options.image is None,
        architecture=found.config.architecture_names() if found.config else "unknown",
        quantization=found.verdict.quantization.value if found.verdict else "unverified",
        quant_types=description.counts if description is not None else {},
        description=description.name if description is not None else None,
        index=found.index.name if found.index is not None else None,
        shards=len(found.headers),
        tensors=sum(h.tensors for h in headers),
        total_bytes=sum(h.declared_size for h in headers),
        bytes_on_disk=sum(h.size_on_disk for h in headers),
        mtp=bool(mtp_layers),
        mtp_layers=mtp_layers,
        exported_as=found.exported_as,
        fixed=fixed,
        hashes=hashes,
    )
