"""`dsprep fetch`: download a W8A8 repo from ModelScope, config first, refusing FP8 early.

0. Before any network: the ``modelscope`` extra is installed, ``--local-dir`` is writable;
   then one bounded probe tells the hub from a silent host or a proxy's 404 page.
1. Resolve one revision (the repo's default branch unless given) and pass it to every call.
2. List the repo (sizes, SHA-256) through the real client; every listed name must be a plain
   relative path inside the folder (:mod:`dsprep.weights.listing`), or nothing is fetched.
3. Look at what the folder already holds (:mod:`dsprep.weights.local_files`): files whose
   stat the manifest recorded are not read again; dsprep's own rewrites and the user's
   edits are kept (``--overwrite-local`` backs edits up, then replaces them).
4. Fetch ``config.json`` and every ``*quant_model_description*.json`` into a staging folder,
   check each against the listing's SHA-256, move it into place.
5. Run the quantization gate: FP8 → stop before a single shard is requested; so does a
   config.json or description that is not a JSON object (an array, NaN, 200k-deep nesting).
6. Fetch the other small metadata the same way, in parallel, then the shards with the
   client's download (``.incomplete`` files, Range resume, SHA-256 while streaming).
7. Write ``.dsprep/manifest.json`` (with each verified file's stat) once every file is in
   place, then run the check.

A run that fails or is refused before any file landed removes the folder it created.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from dsprep.errors import InputError
from dsprep.family import DEFAULT_FAMILY
from dsprep.findings import JsonPayload, Result
from dsprep.profiles import Profile, profile_for
from dsprep.weights.fetch_files import (
    Mover,
    describe_changes,
    disk,
    local_notes,
    remove_staging,
)
from dsprep.weights.fetch_target import CACHE, STAGING, MadeFolder, check_target
from dsprep.weights.folder import ModelDir, PathEscape
from dsprep.weights.hub_probe import probe_hub
from dsprep.weights.hubclient import (
    HubClient,
    Limits,
    RemoteFile,
    contained,
    require_client,
    resolve_endpoint,
)
from dsprep.weights.inspect import CONFIG, Inspection, inspect_folder
from dsprep.weights.listing import listing_findings
from dsprep.weights.local_files import examine
from dsprep.weights.manifest import (
    STATE_DIR,
    Manifest,
    manifest_path,
    recorded_files,
    write_manifest,
)
from dsprep.weights.verdict import Quantization, Stage

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".gguf", ".h5", ".msgpack")
SMALL_METADATA_BYTES = 64 * 1024 * 1024
MODEL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
# why nothing (or no shard) was downloaded: FetchSummary.refused_by
BY_LISTING, BY_QUANTIZATION, BY_METADATA = "listing", "quantization", "metadata"


@dataclass(frozen=True)
class FetchOptions:
    """What to fetch and how; ``cache_dir``/``config_dir``/``token`` isolate the client."""

    model_id: str
    local_dir: Path
    revision: str | None = None
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    max_workers: int = 4
    endpoint: str | None = None
    allow_unverified: bool = False
    cache_dir: Path | None = None  # the client's lock files; default DIR/.dsprep/cache
    config_dir: Path | None = None  # the client's credentials; default ~/.modelscope
    token: str | None = None
    run_check: bool = True
    image: str | None = None  # the release the gate and the final check judge for
    limits: Limits = field(default_factory=Limits)
    verify: bool = False  # re-hash files the manifest says are unchanged
    overwrite_local: bool = False  # replace local edits (backed up as <name>.dsprep-local)
    progress: Callable[[int, int], None] | None = None  # (done, total) bytes re-hashed


@dataclass(frozen=True)
class CheckBrief:
    status: str
    codes: list[str]


@dataclass(frozen=True)
class FetchSummary(JsonPayload):
    """What ``dsprep fetch`` did: ``refused_by`` names why no shard was downloaded."""

    repo: str
    revision: str
    endpoint: str
    local_dir: str
    profile: str
    remote_files: int
    remote_bytes: int
    verdict: str = ""  # the quantization verdict of the gate: ascend, fp8, unverified
    refused: bool = False  # stopped before any shard was requested
    refused_by: str = ""  # listing (a name outside the folder), quantization, metadata
    alternatives: list[str] = field(default_factory=list)
    downloaded: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)  # present, exactly the listed file
    kept: list[str] = field(default_factory=list)  # differ from the hub, kept as they are
    backups: list[str] = field(default_factory=list)  # --overwrite-local: the user's copies
    hashed_bytes: int = 0  # bytes re-read to tell whether present files are the listed ones
    files: int = 0
    bytes: int = 0
    manifest: str | None = None
    check: CheckBrief | None = None  # the final dsprep check of the folder


def is_gate_input(path: str) -> bool:
    """What the quantization gate reads: the root config.json and the descriptions."""
    name = path.rsplit("/", 1)[-1]
    return path == "config.json" or fnmatch.fnmatch(name, "*quant_model_description*.json")


def is_small_metadata(remote: RemoteFile) -> bool:
    return not remote.path.endswith(WEIGHT_SUFFIXES) and remote.size <= SMALL_METADATA_BYTES


def selected(path: str, include: Sequence[str], exclude: Sequence[str]) -> bool:
    """The client's own glob rule: fnmatch on the repo path."""
    if include and not any(fnmatch.fnmatch(path, pattern) for pattern in include):
        return False
    return not any(fnmatch.fnmatch(path, pattern) for pattern in exclude)


def fetch_model(options: FetchOptions) -> Result[FetchSummary]:
    """Download ``options.model_id`` into ``options.local_dir``; see the module docstring."""
    if not MODEL_ID.match(options.model_id):
        raise InputError(
            f"{options.model_id!r} is not a ModelScope model id",
            hint="write it as owner/name, e.g. Eco-Tech/DeepSeek-V3.1-w8a8-mtp-QuaRot",
        )
    profile = profile_for(options.image)
    endpoint = resolve_endpoint(options.endpoint)
    local_dir = Path(options.local_dir).resolve()
    require_client()
    check_target(local_dir)
    probe_hub(endpoint, options.model_id, options.limits)
    made = MadeFolder(local_dir)
    try:
        result = _fetch(options, profile, endpoint, local_dir)
    except BaseException:
        made.undo()
        raise
    if result.payload.refused:
        made.undo()
    return result


def _fetch(
    options: FetchOptions, profile: Profile, endpoint: str, local_dir: Path
) -> Result[FetchSummary]:
    state = local_dir / STATE_DIR
    client = HubClient(
        options.model_id,
        endpoint,
        cache_dir=options.cache_dir or state / CACHE,
        config_dir=options.config_dir,
        token=options.token,
        limits=options.limits,
    )
    revision = options.revision or client.default_revision()
    listing = client.list_files(revision)
    where = f"{options.model_id}@{revision}"
    if not listing:
        raise InputError(f"model {where} lists no files at {endpoint}")
    summary = FetchSummary(
        repo=options.model_id,
        revision=revision,
        endpoint=endpoint,
        local_dir=str(local_dir),
        profile=profile.name,
        remote_files=len(listing),
        remote_bytes=sum(f.size for f in listing),
    )
    escapes = listing_findings(listing, where)
    if escapes:
        return Result("fetch", replace(summary, refused=True, refused_by=BY_LISTING), escapes)
    staging = state / STAGING
    disk(lambda: staging.mkdir(parents=True, exist_ok=True), staging)
    gate_inputs = [f for f in listing if is_gate_input(f.path)]
    chosen = [
        f
        for f in listing
        if not is_gate_input(f.path) and selected(f.path, options.include, options.exclude)
    ]
    files = gate_inputs + chosen
    folder = ModelDir(local_dir)
    try:
        targets = {remote.path: contained(folder, remote.path) for remote in files}
    except PathEscape as escape:  # e.g. a subfolder that is a symlink to elsewhere
        remove_staging(staging)
        refused = replace(summary, refused=True, refused_by=BY_LISTING)
        return Result("fetch", refused, [escape.finding])
    examined = examine(
        folder,
        files,
        recorded_files(local_dir),
        targets=targets,
        verify=options.verify,
        workers=max(options.max_workers, 8),
        progress=options.progress,
    )
    mover = Mover(
        client,
        revision,
        folder,
        staging,
        examined,
        targets,
        max_workers=options.max_workers,
        overwrite_local=options.overwrite_local,
    )
    if any(mover.wanted(f) for f in files):
        # A manifest says "complete": none may stand while this fetch changes the folder.
        disk(lambda: manifest_path(local_dir).unlink(missing_ok=True), manifest_path(local_dir))
    changes = describe_changes(folder, examined)

    mover.small(gate_inputs)
    found = gate(local_dir, [f.path for f in listing], profile, options.allow_unverified)
    verdict = found.verdict
    assert verdict is not None
    summary = replace(summary, verdict=verdict.quantization.value)
    refused_by = BY_QUANTIZATION if verdict.refuses_download else ""
    if not refused_by and unreadable_metadata(found):
        refused_by = BY_METADATA  # config.json or the description is not a JSON object
    if refused_by:
        family = found.config.family if found.config is not None else DEFAULT_FAMILY
        fp8 = verdict.quantization is Quantization.FP8
        summary = replace(summary, **mover.summary_fields())
        summary = replace(
            summary,
            refused=True,
            refused_by=refused_by,
            alternatives=list(family.w8a8_repos) if fp8 else [],
        )
        remove_staging(staging)
        notes = local_notes(folder, examined, where, changes, mover.backups)
        return Result("fetch", summary, [*notes, *found.findings])
    # Anything else the gate saw (a float16 dtype, a leftover quantization_config, ...) is
    # fixable after the download: the final check reports it with its fix.
    findings = [verdict.finding] if verdict.finding is not None else []
    if not options.run_check:
        findings = found.findings

    mover.small([f for f in chosen if is_small_metadata(f)])
    remove_staging(staging)
    mover.large([f for f in chosen if not is_small_metadata(f)])
    findings = [*local_notes(folder, examined, where, changes, mover.backups), *findings]

    entries = [e for e in (mover.manifest_entry(f) for f in files) if e is not None]
    manifest = Manifest(repo=options.model_id, revision=revision, endpoint=endpoint, files=entries)
    written = manifest_path(local_dir)
    disk(lambda: write_manifest(local_dir, manifest), written)
    summary = replace(
        summary,
        **mover.summary_fields(),
        files=len(files),
        bytes=sum(f.size for f in files),
        manifest=str(written),
    )
    if options.run_check:
        from dsprep.weights.check import CheckOptions, check_model_dir

        checked = check_model_dir(local_dir, CheckOptions(image=options.image))
        findings += checked.findings
        summary = replace(summary, check=CheckBrief(checked.status, checked.codes()))
    return Result("fetch", summary, findings)


def gate(
    model_dir: Path, remote_files: Sequence[str], profile: Profile, allow_unverified: bool
) -> Inspection:
    """The quantization gate: ``check``'s inspection of the metadata fetched so far, with
    every file the hub lists, before any shard; ``--allow-unverified`` downloads a repo
    without a description anyway."""
    stage = Stage.FETCH_ALLOWING_UNVERIFIED if allow_unverified else Stage.FETCH
    return inspect_folder(
        ModelDir(Path(model_dir)), profile, shards=False, remote_names=remote_files, stage=stage
    )


def unreadable_metadata(found: Inspection) -> bool:
    """config.json or the chosen description is present but not a JSON object (its
    ``invalid-json`` finding is among the gate's): nothing to judge the shards by."""
    local = set(found.model.entries())
    chosen = found.descriptions.chosen
    bad_config = CONFIG in local and found.config is None
    bad_description = chosen is not None and chosen in local and found.description is None
    return bad_config or bad_description
