"""Atomic, backed-up writes to a user's files (house rule 6).

A write goes to a temporary file in the same folder, is fsynced, then ``os.replace``d over
the target, so a crash or a full disk leaves either the old file or the new one, never half
of either. The first rewrite keeps the original as a backup; later rewrites never
overwrite that backup, so it always holds the user's own file.

The new file keeps the owner, group and mode of the one it replaces (the owner only when
running as root, which may give a file away), so a rewrite as root never leaves a
service user's file unreadable. A read-only file (no write bit for its owner) is refused
unless ``force``; anything but a regular file (a FIFO, a device, a folder) is refused
before it is opened. Temporary files are named ``.<name>.dsprep-XXXXXXXX.tmp``; ones a
killed run left behind (older than :data:`STALE_TEMP_AGE_S`) are deleted on the next write
into that folder, and nothing else is.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
import tempfile
import time
from pathlib import Path

from dsprep.errors import DiskError, InputError

BACKUP_SUFFIX = ".dsprep-orig"
TEMP_SUFFIX = ".tmp"
STALE_TEMP_AGE_S = 600  # a write takes milliseconds; a temp file this old was left by a kill
# tempfile's names: 8 characters of this alphabet
_RANDOM = r"[a-z0-9_]{8}"
_TEMP_NAME = re.compile(rf"^\..+\.dsprep-{_RANDOM}\.tmp$")


def backup_path(path: Path) -> Path:
    return path.with_name(path.name + BACKUP_SUFFIX)


def temp_prefix(name: str) -> str:
    """The prefix of dsprep's temporary files for ``name`` (``.<name>.dsprep-``)."""
    return f".{name}.dsprep-"


def _is_stale_temp(name: str, target: str) -> bool:
    """dsprep's temp pattern; or, for ``target`` only, the pattern of earlier versions
    (``.<target>.XXXXXXXX.tmp`` and ``.<target>.dsprep-orig.XXXXXXXX.tmp``)."""
    if _TEMP_NAME.match(name):
        return True
    legacy = rf"^\.{re.escape(target)}(?:{re.escape(BACKUP_SUFFIX)})?\.{_RANDOM}\.tmp$"
    return re.match(legacy, name) is not None


def clean_stale_temps(folder: Path, target: str, *, now: float | None = None) -> list[Path]:
    """Delete temporary files a killed write left in ``folder``; the paths deleted.

    Only regular files (never symlinks) of dsprep's temp naming, last modified more than
    :data:`STALE_TEMP_AGE_S` ago, so a write running now is never disturbed.
    """
    moment = time.time() if now is None else now
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        if not _is_stale_temp(entry.name, target):
            continue
        with contextlib.suppress(OSError):
            info = entry.stat(follow_symlinks=False)
            if stat.S_ISREG(info.st_mode) and moment - info.st_mtime > STALE_TEMP_AGE_S:
                os.unlink(entry.path)
                removed.append(Path(entry.path))
    return removed


def fsync_folder(folder: str | Path) -> None:
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


def regular_stat(path: Path) -> os.stat_result | None:
    """``os.stat(path)``, None when nothing is there; an :class:`InputError` naming the file
    when it is not a regular file (a FIFO would block the read for ever)."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise DiskError(f"cannot read {path}: {exc.strerror or exc}", path=path) from exc
    if not stat.S_ISREG(info.st_mode):
        raise InputError(
            f"{path} is not a regular file ({_file_type(info.st_mode)}); dsprep only reads"
            " and replaces regular files",
            hint=f"remove {path} or pass a regular file",
            path=path,
        )
    return info


def _file_type(mode: int) -> str:
    kinds = (
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    )
    return next((name for test, name in kinds if test(mode)), "not a regular file")


def _take_over(tmp_name: str, like: os.stat_result | None) -> None:
    """Give the temp file the owner, group and mode of ``like`` (the file it replaces);
    a new file gets the mode the umask allows. chown first: it may clear mode bits."""
    if like is None:  # mkstemp makes 0600
        os.chmod(tmp_name, 0o666 & ~_umask())
        return
    if hasattr(os, "chown"):
        if os.geteuid() == 0:
            os.chown(tmp_name, like.st_uid, like.st_gid)
        elif like.st_gid != os.getegid():  # a group we belong to keeps the file
            with contextlib.suppress(PermissionError):
                os.chown(tmp_name, -1, like.st_gid)
    os.chmod(tmp_name, stat.S_IMODE(like.st_mode))


def _refuse_read_only(path: Path, info: os.stat_result) -> None:
    if info.st_mode & stat.S_IWUSR:
        return
    mode = f"{stat.S_IMODE(info.st_mode):04o}"
    raise DiskError(
        f"{path} is read-only (mode {mode}); not replacing it",
        hint=f"make it writable (chmod u+w {path}) if dsprep may change it,"
        " or run again with --force",
        path=path,
    )


def atomic_write_bytes(
    path: Path,
    data: bytes,
    *,
    backup: bool = True,
    force: bool = False,
    like: Path | None = None,
) -> Path | None:
    """Replace ``path`` with ``data`` atomically; return the backup's path if one was made now.

    Does nothing (and returns None) when the file already holds exactly ``data``. The new
    file keeps the replaced file's owner, group and mode (a new file takes those of
    ``like`` when given). A read-only file is refused unless ``force``. Raises
    :class:`DiskError` naming the file when the write fails; the original stays intact.
    """
    path = Path(path)
    current = regular_stat(path)
    try:
        if current is not None and path.read_bytes() == data:
            return None
    except OSError as exc:
        raise DiskError(f"cannot read {path}: {exc.strerror or exc}", path=path) from exc
    if current is not None and not force:
        _refuse_read_only(path, current)
    model = current if current is not None else (regular_stat(like) if like else None)
    made_backup: Path | None = None
    folder = path.parent
    tmp_name = ""
    try:
        clean_stale_temps(folder, path.name)
        if backup and current is not None:
            bak = backup_path(path)
            if not bak.exists():
                _copy_atomic(path, bak, current)
                made_backup = bak
        fd, tmp_name = tempfile.mkstemp(
            prefix=temp_prefix(path.name), suffix=TEMP_SUFFIX, dir=folder
        )
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        _take_over(tmp_name, model)
        os.replace(tmp_name, path)
        tmp_name = ""
        fsync_folder(folder)
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


def atomic_write_text(
    path: Path, text: str, *, backup: bool = True, force: bool = False, like: Path | None = None
) -> Path | None:
    return atomic_write_bytes(path, text.encode("utf-8"), backup=backup, force=force, like=like)


def _copy_atomic(source: Path, target: Path, info: os.stat_result) -> None:
    """Copy ``source`` (whose stat is ``info``) to ``target`` atomically, same owner and mode."""
    fd, tmp_name = tempfile.mkstemp(
        prefix=temp_prefix(target.name), suffix=TEMP_SUFFIX, dir=target.parent
    )
    try:
        with os.fdopen(fd, "wb") as handle, source.open("rb") as original:
            shutil.copyfileobj(original, handle)
            handle.flush()
            os.fsync(handle.fileno())
        _take_over(tmp_name, info)
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise
