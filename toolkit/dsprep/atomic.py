"""Atomic, backed-up writes to a user's files (house rule 6).

A write goes to a temporary file in the same folder, is fsynced, then ``os.replace``d over
the target, so a crash or a full disk leaves either the old file or the new one, never half
of either. The first rewrite keeps the original as a backup; later rewrites never
overwrite that backup, so it always holds the user's own file.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

from dsprep.errors import DiskError

BACKUP_SUFFIX = ".dsprep-orig"


def backup_path(path: Path) -> Path:
    return path.with_name(path.name + BACKUP_SUFFIX)


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not every file system lets a folder be fsynced
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: Path, data: bytes, *, backup: bool = True) -> Path | None:
    """Replace ``path`` with ``data`` atomically; return the backup's path if one was made now.

    Does nothing (and returns None) when the file already holds exactly ``data``.
    Raises :class:`DiskError` naming the file when the write fails; the original stays intact.
    """
    path = Path(path)
    try:
        if path.exists() and path.read_bytes() == data:
            return None
    except OSError as exc:
        raise DiskError(f"cannot read {path}: {exc.strerror or exc}", path=path) from exc
    made_backup: Path | None = None
    folder = path.parent
    tmp_name = ""
    try:
        if backup and path.exists():
            bak = backup_path(path)
            if not bak.exists():
                _copy_atomic(path, bak)
                made_backup = bak
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if path.exists():
            shutil.copymode(path, tmp_name)
        else:  # mkstemp makes 0600; a new file gets the usual mode the umask allows
            os.chmod(tmp_name, 0o666 & ~_umask())
        os.replace(tmp_name, path)
        tmp_name = ""
        _fsync_dir(folder)
    except OSError as exc:
        raise DiskError(
            f"cannot write {path}: {exc.strerror or exc}; the original file is unchanged",
            hint="free disk space or fix the folder's permissions, then run again",
            path=path,
        ) from exc
    finally:
        if tmp_name:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)
    return made_backup


def atomic_write_text(path: Path, text: str, *, backup: bool = True) -> Path | None:
    return atomic_write_bytes(path, text.encode("utf-8"), backup=backup)


def _copy_atomic(source: Path, target: Path) -> None:
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle, source.open("rb") as original:
            shutil.copyfileobj(original, handle)
            handle.flush()
            os.fsync(handle.fileno())
        shutil.copymode(source, tmp_name)
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise
