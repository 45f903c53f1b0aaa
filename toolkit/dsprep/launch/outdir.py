"""The ``--out`` folder of emit-launch: replaced whole or not at all, user edits never lost.

Every file is rendered first, then written into a staging folder beside ``--out``
(``.<out>.dsprep-new-XXXXXXXX``), which is swapped in with two renames: the previous
output becomes ``<out>.dsprep-prev`` (one generation, replaced by the next run) and the
staging folder becomes ``<out>``. A failure before the swap leaves ``<out>`` untouched.

``<out>/.dsprep-emit.json`` records the SHA-256 of every file dsprep wrote. On the next run
a file that no longer matches it was edited by the user: its content is kept in the new
output as ``<file>.dsprep-user`` (``.dsprep-user-2``, … when taken) and reported. Files
dsprep did not write (notes, a ``.git`` folder, earlier ``.dsprep-user`` copies) move into
the new output unchanged; one in the way of an emitted file is kept under a
``.dsprep-user`` name too. When the folder already holds exactly what would be written,
nothing is touched.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import stat
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from dsprep.atomic import STALE_TEMP_AGE_S, fsync_folder, regular_stat
from dsprep.errors import DiskError, DsprepError, InputError

MANIFEST_NAME = ".dsprep-emit.json"
MANIFEST_FORMAT = "dsprep-emit/1"
USER_SUFFIX = ".dsprep-user"
PREVIOUS_SUFFIX = ".dsprep-prev"
STAGING_MARK = ".dsprep-new-"
MAX_MANIFEST_BYTES = 1024 * 1024
EDITED = "edited"  # a file dsprep wrote, changed since
IN_THE_WAY = "in the way"  # not dsprep's, where an emitted file or folder goes
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class KeptFile:
    """A file of the user's kept in the new output under another name."""

    file: str  # relative to --out
    kept_as: str
    reason: str  # EDITED or IN_THE_WAY


@dataclass(frozen=True)
class Published:
    up_to_date: bool  # the folder already held exactly these files: nothing was touched
    kept: list[KeptFile] = field(default_factory=list)
    previous: str | None = None  # where the previous output is now


def mode_for(relative: str) -> int:
    return 0o755 if relative.endswith(".sh") else 0o644


def manifest_bytes(files: dict[str, bytes]) -> bytes:
    """The manifest of ``files`` (deterministic: emit order, no timestamps)."""
    shas = {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}
    document = {"format": MANIFEST_FORMAT, "files": shas}
    return (json.dumps(document, indent=2) + "\n").encode("utf-8")


@dataclass
class _OldTree:
    """What the existing folder holds: leaf entries (relative path → kind) and its manifest."""

    root: Path
    entries: dict[str, str] = field(default_factory=dict)  # "file" | "dir" | "other"
    manifest: dict[str, str] = field(default_factory=dict)  # relative path → SHA-256
    manifest_raw: bytes | None = None


def _read_manifest(root: Path) -> tuple[bytes | None, dict[str, str]]:
    """The raw manifest and its files; an unusable manifest counts as none (every file that
    differs from the new output is then kept as the user's)."""
    path = root / MANIFEST_NAME
    try:
        info = regular_stat(path)
        if info is None or info.st_size > MAX_MANIFEST_BYTES:
            return None, {}
        raw = path.read_bytes()
        files = json.loads(raw).get("files", {})
    except (DsprepError, OSError, ValueError, AttributeError):
        return None, {}
    if not isinstance(files, dict):
        return raw, {}
    valid = {k: v for k, v in files.items() if isinstance(v, str) and _SHA256.match(v)}
    return raw, valid


def _parents(names: list[str]) -> set[str]:
    folders: set[str] = set()
    for name in names:
        parts = name.split("/")[:-1]
        folders.update("/".join(parts[: i + 1]) for i in range(len(parts)))
    return folders


def _survey(root: Path, descend: set[str]) -> _OldTree:
    """The folder's leaf entries; only folders in ``descend`` are entered (any other folder,
    such as ``.git``, is one entry that moves as a whole)."""
    tree = _OldTree(root)
    tree.manifest_raw, tree.manifest = _read_manifest(root)
    descend = descend | _parents(list(tree.manifest))
    pending = [""]
    while pending:
        folder = pending.pop()
        with os.scandir(root / folder if folder else root) as listing:
            for entry in sorted(listing, key=lambda e: e.name):
                name = f"{folder}/{entry.name}" if folder else entry.name
                if entry.is_dir(follow_symlinks=False):
                    if name in descend:
                        pending.append(name)
                    else:
                        tree.entries[name] = "dir"
                elif entry.is_file(follow_symlinks=False):
                    tree.entries[name] = "file"
                else:
                    tree.entries[name] = "other"
    tree.entries.pop(MANIFEST_NAME, None)
    return tree


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _up_to_date(tree: _OldTree, files: dict[str, bytes], manifest: bytes) -> bool:
    if tree.manifest_raw != manifest:
        return False
    for name, data in files.items():
        path = tree.root / name
        if tree.entries.get(name) != "file":
            return False
        if stat.S_IMODE(path.lstat().st_mode) != mode_for(name) or path.read_bytes() != data:
            return False
    return True


@dataclass
class _Plan:
    """What moves into the staging folder besides the new files."""

    copies: list[tuple[str, str]] = field(default_factory=list)  # (old name, new name)
    moves: list[tuple[str, str]] = field(default_factory=list)
    kept: list[KeptFile] = field(default_factory=list)


def _plan(tree: _OldTree, files: dict[str, bytes]) -> _Plan:
    plan = _Plan()
    folders = _parents(list(files))
    taken = set(files) | folders | {MANIFEST_NAME}
    kept: list[tuple[str, str, str]] = []  # (name, kind, reason) to place after the moves
    for name, kind in tree.entries.items():
        emitted = name in files or name in folders
        if name in tree.manifest and kind == "file":
            if _sha256(tree.root / name) != tree.manifest[name]:
                kept.append((name, kind, EDITED))
            continue  # dsprep's own unedited file: it stays in the previous output
        if not emitted:
            plan.moves.append((name, name))
            taken.add(name)
            continue
        same = kind == "file" and name in files and (tree.root / name).read_bytes() == files[name]
        if not same:
            kept.append((name, kind, IN_THE_WAY))
    for name, kind, reason in kept:
        new_name = _free_name(name + USER_SUFFIX, taken)
        taken.add(new_name)
        (plan.copies if kind == "file" else plan.moves).append((name, new_name))
        plan.kept.append(KeptFile(name, new_name, reason))
    return plan


def _free_name(wanted: str, taken: set[str]) -> str:
    if wanted not in taken:
        return wanted
    number = 2
    while f"{wanted}-{number}" in taken:
        number += 1
    return f"{wanted}-{number}"


def _write_file(path: Path, data: bytes, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "xb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(path, mode)


def _fsync_tree(root: Path) -> None:
    for folder, _dirs, _files in os.walk(root):
        fsync_folder(folder)


def _clean_stale_staging(parent: Path, name: str) -> None:
    """Remove staging folders a killed run left beside ``--out`` (dsprep's naming only)."""
    pattern = re.compile(rf"^\.{re.escape(name)}{re.escape(STAGING_MARK)}[a-z0-9_]{{8}}$")
    now = time.time()
    with contextlib.suppress(OSError), os.scandir(parent) as listing:
        for entry in listing:
            if not pattern.match(entry.name) or not entry.is_dir(follow_symlinks=False):
                continue
            if now - entry.stat(follow_symlinks=False).st_mtime > STALE_TEMP_AGE_S:
                shutil.rmtree(entry.path, ignore_errors=True)


def _refuse_unusable(given: Path, out: Path) -> None:
    hint = "pass a folder of its own for the scripts, e.g. --out launch/"
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {given} is not a folder", hint=hint, path=given)
    if out.is_dir() and os.path.ismount(out):
        raise InputError(
            f"--out {given} is a mount point; emit-launch replaces the folder as a whole",
            hint=f"use a folder inside it, e.g. --out {given / 'launch'}",
            path=given,
        )
    cwd = os.path.realpath(os.getcwd())
    if cwd == str(out) or cwd.startswith(str(out) + os.sep):
        raise InputError(
            f"--out {given} holds the current folder; emit-launch replaces the folder as a"
            " whole, which would leave your shell in the previous output",
            hint="run it from outside that folder, e.g. from its parent",
            path=given,
        )


def _swap(out: Path, staging: Path) -> Path | None:
    """Put ``staging`` in place of ``out``; the previous output's new path (None: none)."""
    if not out.exists():
        os.rename(staging, out)
        return None
    previous = out.with_name(out.name + PREVIOUS_SUFFIX)
    if previous.is_dir() and not previous.is_symlink():
        shutil.rmtree(previous)
    elif os.path.lexists(previous):
        os.unlink(previous)
    os.rename(out, previous)
    try:
        os.rename(staging, out)
    except OSError:
        os.rename(previous, out)
        raise
    return previous


def _fill(staging: Path, tree: _OldTree | None, plan: _Plan, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        _write_file(staging / name, data, mode_for(name))
    _write_file(staging / MANIFEST_NAME, manifest_bytes(files), 0o644)
    if tree is not None:
        for old, new in plan.copies:
            source = tree.root / old
            _write_file(staging / new, source.read_bytes(), stat.S_IMODE(source.stat().st_mode))
        info = tree.root.stat()
        if os.geteuid() == 0:
            os.chown(staging, info.st_uid, info.st_gid)
        os.chmod(staging, stat.S_IMODE(info.st_mode))
    else:
        mask = os.umask(0o022)
        os.umask(mask)
        os.chmod(staging, 0o777 & ~mask)
    _fsync_tree(staging)


def publish(out_dir: Path, texts: dict[str, str | bytes]) -> Published:
    """Make ``out_dir`` hold exactly ``texts`` (relative path → text or bytes) plus the
    manifest and whatever of the user's was there; see the module doc."""
    files = {
        name: text if isinstance(text, bytes) else text.encode("utf-8")
        for name, text in texts.items()
    }
    out = Path(os.path.realpath(out_dir))
    _refuse_unusable(Path(out_dir), out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(
            f"cannot create {out.parent}: {exc.strerror or exc}",
            hint="choose an --out folder you can write to",
            path=out.parent,
        ) from exc
    try:
        tree = _survey(out, _parents(list(files))) if out.is_dir() else None
        if tree is not None and _up_to_date(tree, files, manifest_bytes(files)):
            return Published(True)
        plan = _plan(tree, files) if tree is not None else _Plan()
    except OSError as exc:
        raise InputError(
            f"cannot read --out {out_dir}: {exc.strerror or exc}",
            hint=f"fix the permissions of {out_dir}, or choose another --out folder",
            path=out_dir,
        ) from exc
    moved: list[tuple[Path, Path]] = []
    staging: Path | None = None
    try:
        _clean_stale_staging(out.parent, out.name)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}{STAGING_MARK}", dir=out.parent))
        _fill(staging, tree, plan, files)
        for old, new in plan.moves:  # renames in one file system: the user's files move
            target = staging / new
            target.parent.mkdir(parents=True, exist_ok=True)
            os.rename(out / old, target)
            moved.append((out / old, target))
        previous = _swap(out, staging)
        staging = None
    except BaseException as exc:
        for source, target in reversed(moved):
            with contextlib.suppress(OSError):
                os.rename(target, source)
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        if isinstance(exc, OSError):
            raise DiskError(
                f"cannot write the scripts to {out_dir}: {exc.strerror or exc}; "
                f"{out_dir} is unchanged",
                hint=f"free disk space or fix the permissions of {out.parent} (emit-launch"
                " writes the new folder beside --out and swaps it in)",
                path=out_dir,
            ) from exc
        raise
    fsync_folder(out.parent)
    if previous is None:
        return Published(False, plan.kept)
    given = Path(out_dir)
    same_place = os.path.realpath(given.parent) == str(out.parent) and given.name == out.name
    shown = given.parent / previous.name if same_place else previous
    return Published(False, plan.kept, str(shown))
