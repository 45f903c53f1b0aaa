"""What the folder already holds, file by file, before ``dsprep fetch`` downloads anything.

Each listed file is one of:

- ``missing``: not there (a partial ``<name>.incomplete`` may be; the client resumes it);
- ``unchanged``: size, mtime, ctime and inode are what the manifest recorded when dsprep
  last verified it, so it is not read again (``--verify`` re-hashes it anyway);
- ``verified``: hashed now, exactly the listed file;
- ``outdated``: the file dsprep verified earlier (stat or SHA-256 as recorded), but the hub
  now lists another version: replaced, there is nothing of the user's in it;
- ``rewritten``: it differs, but ``<name>.dsprep-orig`` beside it (kept by ``dsprep
  template`` or ``check --fix``) is exactly the listed file: dsprep's own edit, kept;
- ``changed``: any other difference (a hand edit, damage): kept and reported, unless
  ``--overwrite-local``, which first moves it to ``<name>.dsprep-local`` (never over an
  earlier backup: ``.dsprep-local.1``, ``.2``, …).

Large files are hashed in parallel, largest first; ``progress(done, total)`` in bytes.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from dsprep.atomic import BACKUP_SUFFIX
from dsprep.weights.folder import FolderProblem, ModelDir
from dsprep.weights.hashes import ThreadedHasher, sha256_file
from dsprep.weights.hubclient import RemoteFile
from dsprep.weights.manifest import ManifestFile

LOCAL_SUFFIX = ".dsprep-local"
MAX_BACKUPS = 1000


class Local(str, Enum):
    MISSING = "missing"
    UNCHANGED = "unchanged"
    VERIFIED = "verified"
    OUTDATED = "outdated"
    REWRITTEN = "rewritten"
    CHANGED = "changed"

    @property
    def is_listed_file(self) -> bool:
        """The folder holds exactly the listed file."""
        return self in (Local.UNCHANGED, Local.VERIFIED)

    @property
    def kept_apart(self) -> bool:
        """It differs from the listing and is the user's (or dsprep's) own: never lost."""
        return self in (Local.REWRITTEN, Local.CHANGED)


@dataclass(frozen=True)
class Examined:
    remote: RemoteFile
    state: Local
    hashed: int = 0  # bytes read to decide


Stamp = tuple[int, int, int, int]


def stamp(info: os.stat_result) -> Stamp:
    return info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino


def recorded_stamp(record: ManifestFile) -> Stamp | None:
    if record.mtime_ns is None or record.ctime_ns is None or record.inode is None:
        return None
    return record.size, record.mtime_ns, record.ctime_ns, record.inode


def examine(
    folder: ModelDir,
    files: Sequence[RemoteFile],
    records: Mapping[str, ManifestFile],
    *,
    targets: Mapping[str, Path],
    verify: bool = False,
    workers: int = 8,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Examined]:
    """Every one of ``files`` classified; ``targets`` are their real paths, resolved inside
    ``folder`` already. See the module docstring."""
    found: dict[str, Examined] = {}
    jobs: list[tuple[RemoteFile, Path, os.stat_result]] = []
    for remote in files:
        target = targets[remote.path]
        try:
            info = os.stat(target)
        except FileNotFoundError:
            found[remote.path] = Examined(remote, Local.MISSING)
            continue
        record = records.get(remote.path)
        same = record is not None and (record.size, record.sha256) == (remote.size, remote.sha256)
        if not verify and same and record is not None and recorded_stamp(record) == stamp(info):
            found[remote.path] = Examined(remote, Local.UNCHANGED)
            continue
        jobs.append((remote, target, info))
    jobs.sort(key=lambda job: -job[2].st_size)
    total = sum(info.st_size for remote, _, info in jobs if info.st_size == remote.size)
    hashed = ThreadedHasher(total, progress).sha256

    def decide(job: tuple[RemoteFile, Path, os.stat_result]) -> Examined:
        remote, target, info = job
        record = records.get(remote.path)
        if not os.path.isfile(target):
            return Examined(remote, Local.CHANGED)  # a folder or a device where a file goes
        digest = ""
        read = 0
        if info.st_size == remote.size:
            if not remote.sha256:
                return Examined(remote, Local.VERIFIED)  # the hub lists no SHA-256: size only
            digest, read = hashed(target), info.st_size
            if digest == remote.sha256:
                return Examined(remote, Local.VERIFIED, read)
        if record is not None and record.sha256 != remote.sha256:
            ours = recorded_stamp(record) == stamp(info)
            if not ours and info.st_size == record.size:
                if not digest:
                    digest, read = sha256_file(target), read + info.st_size
                ours = digest == record.sha256
            if ours:
                return Examined(remote, Local.OUTDATED, read)
        if remote.sha256 and _is_download(folder, remote.path + BACKUP_SUFFIX, remote):
            return Examined(remote, Local.REWRITTEN, read + remote.size)
        return Examined(remote, Local.CHANGED, read)

    if jobs:
        with ThreadPoolExecutor(max_workers=max(1, min(workers, len(jobs)))) as pool:
            for examined in pool.map(decide, jobs):
                found[examined.remote.path] = examined
    return {remote.path: found[remote.path] for remote in files}


def _is_download(folder: ModelDir, name: str, remote: RemoteFile) -> bool:
    """``name`` (a backup beside the file) is exactly the listed file."""
    try:
        backup = folder.resolve(name)
        return os.stat(backup).st_size == remote.size and sha256_file(backup) == remote.sha256
    except (OSError, FolderProblem):
        return False


def set_aside(target: Path) -> Path:
    """Move ``target`` to the first free ``<name>.dsprep-local[.N]``; its new path.

    A hard link then an unlink (``link`` never replaces an existing name), or a rename
    after checking the name is free where hard links are not supported.
    """
    for number in range(MAX_BACKUPS):
        backup = target.with_name(target.name + LOCAL_SUFFIX + (f".{number}" if number else ""))
        try:
            os.link(target, backup, follow_symlinks=False)
        except FileExistsError:
            continue
        except OSError:
            if os.path.lexists(backup):
                continue
            os.rename(target, backup)
            return backup
        os.unlink(target)
        return backup
    raise FileExistsError(f"{target}: {MAX_BACKUPS} backups already; clean some up")


def manifest_entry(
    remote: RemoteFile, target: Path, sha256: str, *, verified: bool
) -> ManifestFile:
    """The listed size and SHA-256, plus the file's stat when it is the verified listed file."""
    if not verified:
        return ManifestFile(remote.path, remote.size, sha256)
    info = os.stat(target)
    return ManifestFile(
        remote.path,
        remote.size,
        sha256,
        mtime_ns=info.st_mtime_ns,
        ctime_ns=info.st_ctime_ns,
        inode=info.st_ino,
    )
