"""``--verify-hashes``: re-hash the folder's files against the manifest or a sha256sum list.

Files are hashed in parallel by a thread pool (hashlib releases the GIL while it hashes),
each thread reading large blocks into its own reused buffer, largest files first so the
threads finish together. Progress is reported as bytes hashed so far.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import cast

from dsprep import catalogue as C
from dsprep.atomic import BACKUP_SUFFIX
from dsprep.errors import InputError
from dsprep.findings import Finding
from dsprep.weights.folder import ModelDir, PathEscape, open_regular

BLOCK_BYTES = 1024 * 1024  # small enough that the copy is still in cache when hashed
_SHA256SUM_LINE = re.compile(r"^\\?([0-9a-fA-F]{64}) [ *](.+)$")


@dataclass(frozen=True)
class HashTarget:
    """One file to verify: its name inside the folder, expected SHA-256 and size if known."""

    name: str
    sha256: str
    size: int | None = None


_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_MANIFEST_KEYS = {"format", "repo", "revision", "endpoint", "files"}


def manifest_targets(model: ModelDir) -> list[HashTarget]:
    """The files of ``.dsprep/manifest.json`` (InputError naming it when absent or invalid).

    A well-formed manifest is checked structurally here; anything unusual goes to the
    schema validator of :func:`dsprep.weights.manifest.load_manifest` for the exact error.
    (Importing jsonschema with its format checkers costs ~2 s, longer than hashing 2 GB.)
    """
    from dsprep.weights.manifest import (
        MANIFEST_FORMAT,
        load_manifest,
        manifest_path,
        well_typed_entry,
    )

    path = manifest_path(model.path)
    try:
        document = json.loads(path.read_bytes())
        targets = [
            HashTarget(f["path"], f["sha256"], f["size"])
            for f in document["files"]
            if well_typed_entry(f)  # the optional stat keys are fetch's, not needed here
        ]
        well_formed = (
            document["format"] == MANIFEST_FORMAT
            and _MANIFEST_KEYS <= set(document) <= _MANIFEST_KEYS | {"tool"}
            and len(targets) == len(document["files"])
            and all(_plain_entry(t) for t in targets)
        )
    except (OSError, ValueError, KeyError, TypeError):
        well_formed = False
    if not well_formed:
        manifest = load_manifest(path)  # raises InputError with the schema's message
        return [HashTarget(f.path, f.sha256, f.size) for f in manifest.files]
    return targets


def _plain_entry(target: HashTarget) -> bool:
    name = target.name
    return (
        isinstance(name, str)
        and bool(name)
        and not name.startswith("/")
        and "\\" not in name
        and ".." not in name.split("/")
        and type(target.size) is int
        and target.size >= 0
        and isinstance(target.sha256, str)
        and _HEX64.match(target.sha256) is not None
    )


def sha256sum_targets(path: Path) -> list[HashTarget]:
    """Parse a ``sha256sum`` list (``<hex>  <name>`` or ``<hex> *<name>`` per line)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {path}: {exc}", path=path) from exc
    targets: list[HashTarget] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        match = _SHA256SUM_LINE.match(line)
        if match is None:
            raise InputError(
                f"{path}:{number}: not a sha256sum line: {line[:80]!r}",
                hint="write it with `sha256sum FILE… > SHA256SUMS` inside the model folder",
                path=path,
            )
        name = match.group(2)
        targets.append(HashTarget(name[2:] if name.startswith("./") else name, match.group(1)))
    return targets


class FileCheck(Enum):
    VERIFIED = "verified"  # hashed and equal to the list
    REWRITTEN = "rewritten"  # differs, but its backup is the listed file (a note)
    FAILED = "failed"  # missing, unreadable, of another size or SHA-256


@dataclass(frozen=True)
class HashOutcome:
    findings: list[Finding]
    verified: int
    rewritten: int
    failed: int


def sha256_file(
    path: Path,
    buffer: bytearray | None = None,
    progress: Callable[[int], None] | None = None,
) -> str:
    """SHA-256 of a regular file, read block by block into ``buffer`` (a new one if None)."""
    digest = hashlib.sha256()
    view = memoryview(buffer if buffer is not None else bytearray(BLOCK_BYTES))
    with open_regular(path, buffering=0) as handle:
        raw = cast(io.RawIOBase, handle)
        while True:
            count = raw.readinto(view)
            if not count:
                break
            digest.update(view[:count])
            if progress is not None:
                progress(count)
    return digest.hexdigest()


class ThreadedHasher:
    """SHA-256 of files hashed by a pool of threads: one read buffer per thread, and the
    bytes hashed so far reported as ``progress(done, total)``."""

    def __init__(self, total: int, progress: Callable[[int, int], None] | None) -> None:
        self.total = total
        self.progress = progress
        self._done = 0
        self._lock = threading.Lock()
        self._local = threading.local()

    def _report(self, count: int) -> None:
        if self.progress is not None:
            with self._lock:
                self._done += count
                self.progress(self._done, self.total)

    def sha256(self, path: Path) -> str:
        buffer = getattr(self._local, "buffer", None)
        if buffer is None:
            buffer = self._local.buffer = bytearray(BLOCK_BYTES)
        return sha256_file(path, buffer, self._report)


def hash_findings(
    model: ModelDir,
    targets: list[HashTarget],
    *,
    source: str,
    max_workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> HashOutcome:
    """hash-mismatch / missing-file / path-escape findings; ``progress(done, total)`` in
    bytes while hashing."""
    findings: list[Finding] = []
    checked: list[FileCheck] = []
    jobs: list[tuple[HashTarget, Path, int]] = []
    for target in targets:
        shown = model.display(target.name)
        try:
            real = model.resolve(target.name, source=source)
        except PathEscape as escape:
            findings.append(escape.finding)
            checked.append(FileCheck.FAILED)
            continue
        try:
            size = real.stat().st_size
        except OSError:
            checked.append(FileCheck.FAILED)
            findings.append(
                C.MISSING_FILE(
                    shown, f"{target.name} does not exist; {os.path.basename(source)} lists it"
                )
            )
            continue
        if target.size is not None and size != target.size:
            problem = f"is {size} bytes, {target.size} expected"
            outcome, finding = _mismatch_or_rewrite(model, target, shown, source, problem)
            checked.append(outcome)
            findings.append(finding)
            continue
        jobs.append((target, real, size))
    jobs.sort(key=lambda job: -job[2])
    hasher = ThreadedHasher(sum(job[2] for job in jobs), progress)

    def work(job: tuple[HashTarget, Path, int]) -> tuple[FileCheck, Finding | None]:
        target, real, _ = job
        shown = model.display(target.name)
        try:
            actual = hasher.sha256(real)
        except OSError as exc:
            return FileCheck.FAILED, _mismatch(shown, source, f"cannot be read: {exc}")
        if actual != target.sha256.lower():
            problem = f"has SHA-256 {actual}, {target.sha256} expected"
            return _mismatch_or_rewrite(model, target, shown, source, problem)
        return FileCheck.VERIFIED, None

    workers = max_workers or min(32, os.cpu_count() or 1)
    if jobs:
        with ThreadPoolExecutor(max_workers=min(workers, len(jobs))) as pool:
            for outcome, hashed in pool.map(work, jobs):
                checked.append(outcome)
                if hashed is not None:
                    findings.append(hashed)
    return HashOutcome(
        findings,
        checked.count(FileCheck.VERIFIED),
        checked.count(FileCheck.REWRITTEN),
        checked.count(FileCheck.FAILED),
    )


def _mismatch_or_rewrite(
    model: ModelDir, target: HashTarget, shown: str, source: str, problem: str
) -> tuple[FileCheck, Finding]:
    """A mismatch, unless dsprep rewrote the file and kept the downloaded original.

    ``dsprep template`` and ``dsprep check --fix`` keep the file they rewrite once as
    ``<name>.dsprep-orig``: when that backup is exactly what the manifest lists, the
    difference is the user's own deliberate edit, reported as a note, not as corruption.
    """
    backup_name = target.name + BACKUP_SUFFIX
    try:
        backup = model.resolve(backup_name, source=source)
        same_size = target.size is None or backup.stat().st_size == target.size
        matches = same_size and sha256_file(backup) == target.sha256.lower()
    except (OSError, PathEscape):
        matches = False
    if not matches:
        return FileCheck.FAILED, _mismatch(shown, source, problem)
    return FileCheck.REWRITTEN, C.REWRITTEN_BY_DSPREP(
        shown,
        f"{os.path.basename(shown)} {problem} (per {os.path.basename(source)}), but "
        f"{backup_name} beside it is the downloaded original: dsprep rewrote this file",
        hint=f"nothing to do; to undo the rewrite, move {backup_name} back",
    )


def _mismatch(shown: str, source: str, problem: str) -> Finding:
    return C.HASH_MISMATCH(
        shown, f"{os.path.basename(shown)} {problem} (per {os.path.basename(source)})"
    )
