"""How ``dsprep fetch`` puts listed files into the folder, and what it says about the
files it finds there (see :mod:`dsprep.weights.local_files` for how they are classified)."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from dsprep import catalogue as C
from dsprep.errors import DiskError, NetworkError
from dsprep.findings import Finding, Severity
from dsprep.weights.folder import ModelDir
from dsprep.weights.hashes import sha256_file
from dsprep.weights.hubclient import HubClient, IntegrityError, RemoteFile
from dsprep.weights.local_files import Examined, Local, manifest_entry, set_aside
from dsprep.weights.manifest import ManifestFile


class Mover:
    """Puts listed files in place: what to download, backups, the manifest's entries.

    Small files (the gate's inputs, metadata) download into a staging folder, are checked
    against the listing and only then moved to their names; shards download in place with
    the client's ``.incomplete`` files. A local edit to replace (``--overwrite-local``) is
    moved aside first; dsprep's own outdated copy is simply deleted.
    """

    def __init__(
        self,
        client: HubClient,
        revision: str,
        folder: ModelDir,
        staging: Path,
        examined: dict[str, Examined],
        targets: dict[str, Path],
        *,
        max_workers: int,
        overwrite_local: bool,
    ) -> None:
        self.client = client
        self.targets = targets
        self.revision = revision
        self.folder = folder
        self.staging = staging
        self.examined = examined
        self.max_workers = max_workers
        self.overwrite_local = overwrite_local
        self.downloaded: list[str] = []
        self.backups: dict[str, str] = {}  # listed name -> where the local edit went

    def state(self, remote: RemoteFile) -> Local:
        return self.examined[remote.path].state

    def wanted(self, remote: RemoteFile) -> bool:
        """To be downloaded: missing, our outdated copy, or a local edit to overwrite."""
        state = self.state(remote)
        if state is Local.CHANGED:
            return self.overwrite_local
        return state in (Local.MISSING, Local.OUTDATED)

    def small(self, files: Sequence[RemoteFile]) -> None:
        """Download into staging, check against the listing, then move into place: a wrong
        or partial file never carries the real name."""
        wanted = [f for f in files if self.wanted(f)]
        staged = ModelDir(self.staging)
        self.client.download_many(wanted, self.revision, staged.real, self.max_workers)
        for remote in wanted:
            source = staged.real / remote.path
            actual = sha256_file(source)
            if remote.sha256 and actual != remote.sha256:
                source.unlink(missing_ok=True)
                raise IntegrityError(
                    f"{remote.path} from {self.client.repo}@{self.revision} has SHA-256 "
                    f"{actual[:16]}…, but the hub lists {remote.sha256[:16]}…; it was not "
                    f"written to {self.folder.path}",
                    hint="the hub served other bytes than it lists: run again later, or report it",
                    path=remote.path,
                )
            target = self._make_room(remote)

            def move(source: Path = source, target: Path = target) -> None:
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(source, target)

            disk(move, target)
            self.downloaded.append(remote.path)

    def large(self, files: Sequence[RemoteFile]) -> None:
        """The shards, straight into the folder with the client's resuming download."""
        wanted = [f for f in files if self.wanted(f)]
        for remote in wanted:
            self._make_room(remote)
        self.client.download_many(wanted, self.revision, self.folder.real, self.max_workers)
        self.downloaded += [f.path for f in wanted]

    def _make_room(self, remote: RemoteFile) -> Path:
        """Set a local edit aside (``--overwrite-local``); drop our own outdated copy."""
        target = self.targets[remote.path]
        state = self.state(remote)
        if state is Local.CHANGED:
            backup = target

            def keep() -> None:
                nonlocal backup
                backup = set_aside(target)

            disk(keep, target)
            self.backups[remote.path] = os.path.relpath(backup, self.folder.real)
        elif state is Local.OUTDATED:
            disk(lambda: target.unlink(missing_ok=True), target)
        return target

    def manifest_entry(self, remote: RemoteFile) -> ManifestFile | None:
        """The listed size and SHA-256; with the stat when the folder holds exactly that."""
        target = self.targets[remote.path]
        state = self.state(remote)
        listed = remote.path in self.downloaded or state.is_listed_file
        if not listed:
            if not remote.sha256:
                return None  # a kept edit of a file the hub gives no SHA-256 for
            return ManifestFile(remote.path, remote.size, remote.sha256)
        if not _same_size(target, remote.size):
            raise NetworkError(
                f"{target} is missing or has the wrong size after the download",
                hint="run the same command again to resume",
                path=target,
            )
        sha256 = remote.sha256 or sha256_file(target)
        return manifest_entry(remote, target, sha256, verified=True)

    def summary_fields(self) -> dict[str, Any]:
        """What the run did to the folder, as :class:`~dsprep.weights.fetch.FetchSummary`
        fields."""
        examined = self.examined.values()
        return {
            "downloaded": list(self.downloaded),
            "reused": sorted(e.remote.path for e in examined if e.state.is_listed_file),
            "kept": sorted(
                e.remote.path
                for e in examined
                if e.state.kept_apart and e.remote.path not in self.downloaded
            ),
            "backups": list(self.backups.values()),
            "hashed_bytes": sum(e.hashed for e in examined),
        }


def describe_changes(folder: ModelDir, examined: dict[str, Examined]) -> dict[str, str]:
    """How each changed file differs from the listing, said before anything is moved."""
    return {
        path: _difference(folder, item.remote)
        for path, item in examined.items()
        if item.state is Local.CHANGED
    }


def local_notes(
    folder: ModelDir,
    examined: dict[str, Examined],
    where: str,
    changes: dict[str, str],
    backups: dict[str, str],
) -> list[Finding]:
    """What fetch kept or replaced of the folder's own files, and why."""
    notes: list[Finding] = []
    for item in examined.values():
        name = item.remote.path
        shown = folder.display(name)
        if item.state is Local.REWRITTEN:
            notes.append(
                C.REWRITTEN_BY_DSPREP(
                    shown,
                    f"{name} differs from the file {where} lists, but {name}.dsprep-orig "
                    "beside it is exactly that file: dsprep rewrote it, so fetch keeps it",
                    hint=f"nothing to do; to undo the rewrite, move {name}.dsprep-orig back",
                )
            )
        elif item.state is Local.CHANGED and name in backups:
            notes.append(
                C.LOCAL_CHANGE(
                    shown,
                    f"{name} {changes[name]}: moved aside as {backups[name]} and downloaded "
                    "again (--overwrite-local)",
                    hint=f"compare it with {backups[name]}; delete that copy when done",
                    severity=Severity.INFO,
                )
            )
        elif item.state is Local.CHANGED:
            notes.append(
                C.LOCAL_CHANGE(
                    shown,
                    f"{name} {changes[name]}, and dsprep did not write it (a hand edit, or "
                    "damage): kept as it is, not downloaded again",
                    hint=f"keep your edit; or run again with --overwrite-local to get "
                    f"{where}'s {name} (yours is kept as {name}.dsprep-local)",
                )
            )
    return notes


def _difference(folder: ModelDir, remote: RemoteFile) -> str:
    try:
        size = os.stat(folder.resolve(remote.path)).st_size
    except OSError:
        return "is not a regular file where the hub lists one"
    if size != remote.size:
        return f"is {size} bytes, the hub lists {remote.size}"
    return "has another SHA-256 than the hub lists"


def _same_size(path: Path, size: int) -> bool:
    try:
        return path.is_file() and path.stat().st_size == size
    except OSError:
        return False


def disk(action: Callable[[], object], path: Path) -> None:
    """Run ``action``; an ``OSError`` becomes one :class:`DiskError` naming ``path``."""
    try:
        action()
    except DiskError:
        raise
    except OSError as exc:
        raise DiskError(
            f"cannot write {path}: {exc.strerror or exc}",
            hint="free disk space or fix the folder's permissions, then run again",
            path=path,
        ) from exc


def remove_staging(staging: Path) -> None:
    with contextlib.suppress(OSError):
        shutil.rmtree(staging)
