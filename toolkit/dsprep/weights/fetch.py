"""`dsprep fetch`: download a W8A8 repo from ModelScope, config first, refusing FP8 early.

1. Resolve one revision (the repo's default branch unless given) and pass it to every call.
2. List the repo (sizes, SHA-256) through the real client.
3. Fetch ``config.json`` and every ``*quant_model_description*.json`` into a staging folder,
   check each against the listing's SHA-256 ourselves, move it into place.
4. Run the quantization gate: FP8 → stop before a single shard is requested.
5. Fetch the other small metadata the same way, then the shards with the client's own
   parallel download (``.incomplete`` files, Range resume, SHA-256 while streaming).
6. Write ``.dsprep/manifest.json`` only once every file is verified, then run the check.
"""

from __future__ import annotations

import contextlib
import fnmatch
import os
import re
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from dsprep.errors import DiskError, InputError, NetworkError
from dsprep.family import DEFAULT_FAMILY
from dsprep.findings import JsonPayload, Result
from dsprep.profiles import Profile, profile_for
from dsprep.weights.folder import ModelDir
from dsprep.weights.hashes import sha256_file
from dsprep.weights.hubclient import (
    HubClient,
    IntegrityError,
    RemoteFile,
    preflight,
    resolve_endpoint,
)
from dsprep.weights.inspect import Inspection, inspect_folder
from dsprep.weights.manifest import STATE_DIR, Manifest, ManifestFile, manifest_path, write_manifest
from dsprep.weights.verdict import Quantization, Stage

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".gguf", ".h5", ".msgpack")
SMALL_METADATA_BYTES = 64 * 1024 * 1024
MODEL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
STAGING = "staging"


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


@dataclass(frozen=True)
class CheckBrief:
    status: str
    codes: list[str]


@dataclass(frozen=True)
class FetchSummary(JsonPayload):
    """What ``dsprep fetch`` did: ``refused`` names why no shard was downloaded."""

    repo: str
    revision: str
    endpoint: str
    local_dir: str
    profile: str
    remote_files: int
    remote_bytes: int
    verdict: str = ""  # the quantization verdict of the gate: ascend, fp8, unverified
    refused: bool = False  # the verdict stopped the download before any shard
    alternatives: list[str] = field(default_factory=list)
    downloaded: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
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
    preflight(endpoint)
    local_dir = Path(options.local_dir).resolve()
    state = local_dir / STATE_DIR
    _disk(lambda: state.mkdir(parents=True, exist_ok=True), state)
    client = HubClient(
        options.model_id,
        endpoint,
        cache_dir=options.cache_dir or state / "cache",
        config_dir=options.config_dir,
        token=options.token,
    )
    revision = options.revision or client.default_revision()
    listing = client.list_files(revision)
    if not listing:
        raise InputError(f"model {options.model_id}@{revision} lists no files at {endpoint}")
    summary = FetchSummary(
        repo=options.model_id,
        revision=revision,
        endpoint=endpoint,
        local_dir=str(local_dir),
        profile=profile.name,
        remote_files=len(listing),
        remote_bytes=sum(f.size for f in listing),
    )
    # A manifest says "complete": none may stand while this fetch changes the folder.
    _disk(lambda: manifest_path(local_dir).unlink(missing_ok=True), manifest_path(local_dir))

    gate_inputs = [f for f in listing if is_gate_input(f.path)]
    chosen = [
        f
        for f in listing
        if not is_gate_input(f.path) and selected(f.path, options.include, options.exclude)
    ]
    metadata = [f for f in chosen if is_small_metadata(f)]
    shards = [f for f in chosen if not is_small_metadata(f)]
    staging = state / STAGING
    downloaded: list[str] = []
    for remote in gate_inputs:
        if fetch_verified(client, remote, revision, local_dir, staging):
            downloaded.append(remote.path)

    found = gate(local_dir, [f.path for f in listing], profile, options.allow_unverified)
    verdict = found.verdict
    assert verdict is not None
    if verdict.refuses_download:
        family = found.config.family if found.config is not None else DEFAULT_FAMILY
        fp8 = verdict.quantization is Quantization.FP8
        summary = replace(
            summary,
            verdict=verdict.quantization.value,
            refused=True,
            downloaded=downloaded,
            alternatives=list(family.w8a8_repos) if fp8 else [],
        )
        _cleanup(staging)
        return Result("fetch", summary, found.findings)
    # Anything else the gate saw (a float16 dtype, a leftover quantization_config, ...) is
    # fixable after the download: the final check reports it with its fix.
    summary = replace(summary, verdict=verdict.quantization.value)
    findings = [verdict.finding] if verdict.finding is not None else []
    if not options.run_check:
        findings = found.findings

    for remote in metadata:
        if fetch_verified(client, remote, revision, local_dir, staging):
            downloaded.append(remote.path)
    _cleanup(staging)
    before = {f.path: _stamp(local_dir / f.path) for f in shards}
    if shards:
        client.download_many(shards, revision, local_dir, max(1, options.max_workers))
    downloaded += [f.path for f in shards if _stamp(local_dir / f.path) != before[f.path]]

    files = gate_inputs + chosen
    manifest = Manifest(
        repo=options.model_id,
        revision=revision,
        endpoint=endpoint,
        files=[ManifestFile(f.path, f.size, _verified_sha(local_dir, f)) for f in files],
    )
    written = write_manifest(local_dir, manifest)
    summary = replace(
        summary,
        files=len(files),
        bytes=sum(f.size for f in files),
        downloaded=downloaded,
        reused=sorted(set(f.path for f in files) - set(downloaded)),
        manifest=str(written),
    )
    if options.run_check:
        from dsprep.weights.check import CheckOptions, check_model_dir

        checked = check_model_dir(local_dir, CheckOptions(image=options.image))
        findings += checked.findings
        summary = replace(summary, check=CheckBrief(checked.status, checked.codes()))
    return Result("fetch", summary, findings)


def fetch_verified(
    client: HubClient, remote: RemoteFile, revision: str, local_dir: Path, staging: Path
) -> bool:
    """Put one small file in place, checked against the listing; True if it was downloaded.

    The download lands in ``staging`` and only a file whose SHA-256 matches the listing
    is moved to its final name, so a wrong or partial file never looks like the real one.
    """
    target = local_dir / remote.path
    if _same_size(target, remote.size) and (
        not remote.sha256 or sha256_file(target) == remote.sha256
    ):
        return False
    staged = client.download_one(remote, revision, staging)
    actual = sha256_file(staged)
    if remote.sha256 and actual != remote.sha256:
        staged.unlink(missing_ok=True)
        raise IntegrityError(
            f"{remote.path} from {client.repo}@{revision} has SHA-256 {actual[:16]}…, "
            f"but the hub lists {remote.sha256[:16]}…; it was not written to {local_dir}",
            hint="the hub served other bytes than it lists: run again later, or report it",
            path=remote.path,
        )

    def move() -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged, target)

    _disk(move, target)
    return True


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


def _verified_sha(local_dir: Path, remote: RemoteFile) -> str:
    """The listed SHA-256 (the client or we checked it); hashed here if the hub lists none."""
    target = local_dir / remote.path
    if not _same_size(target, remote.size):
        raise NetworkError(
            f"{target} is missing or has the wrong size after the download",
            hint="run the same command again to resume",
            path=target,
        )
    return remote.sha256 or sha256_file(target)


def _stamp(path: Path) -> tuple[int, int] | None:
    """(inode, mtime) to tell whether the client replaced a file."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns


def _same_size(path: Path, size: int) -> bool:
    try:
        return path.is_file() and path.stat().st_size == size
    except OSError:
        return False


def _disk(action: Callable[[], object], path: Path) -> None:
    try:
        action()
    except OSError as exc:
        raise DiskError(
            f"cannot write {path}: {exc.strerror or exc}",
            hint="free disk space or fix the folder's permissions, then run again",
            path=path,
        ) from exc


def _cleanup(staging: Path) -> None:
    with contextlib.suppress(OSError):
        shutil.rmtree(staging)
