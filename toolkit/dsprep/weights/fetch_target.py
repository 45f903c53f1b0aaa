"""The folder ``dsprep fetch`` downloads into: writable before any network, and removed
again when a run fails or is refused before any file of the model landed in it."""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

from dsprep.errors import DiskError, InputError
from dsprep.weights.manifest import STATE_DIR

CACHE = "cache"  # DIR/.dsprep/cache: the client's lock files
STAGING = "staging"  # DIR/.dsprep/staging: small files until they are verified


def check_target(local_dir: Path) -> None:
    """``--local-dir`` (or the folder it would be made in) is a folder dsprep can write."""
    if local_dir.exists() and not local_dir.is_dir():
        raise InputError(
            f"{local_dir} is not a folder", hint="pass a folder for --local-dir", path=local_dir
        )
    probe = local_dir
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent  # the folder --local-dir will be created in
    for folder in (probe, probe / STATE_DIR) if probe == local_dir else (probe,):
        if folder.is_dir() and not os.access(folder, os.W_OK | os.X_OK):
            mode = f"{folder.stat().st_mode & 0o7777:04o}"
            raise DiskError(
                f"cannot write into {folder}: permission denied (mode {mode}); nothing "
                "was downloaded",
                hint=f"make it writable (chmod u+w {folder}) or pick another --local-dir",
                path=folder,
            )


class MadeFolder:
    """The folders a run creates for ``local_dir``; :meth:`undo` removes them again when
    they hold nothing but dsprep's own state (no file of the model, no partial download)."""

    def __init__(self, local_dir: Path) -> None:
        self.local_dir = local_dir
        top: Path | None = None
        probe = local_dir
        while not probe.exists() and probe != probe.parent:
            top, probe = probe, probe.parent
        self.top = top

    def undo(self) -> None:
        if self.top is None or not self.local_dir.is_dir():
            return
        state = self.local_dir / STATE_DIR
        with contextlib.suppress(OSError):
            if set(os.listdir(self.local_dir)) - {STATE_DIR}:
                return
            if state.is_dir() and set(os.listdir(state)) - {CACHE, STAGING}:
                return
            shutil.rmtree(self.local_dir)
            folder = self.local_dir.parent
            while folder != self.top.parent and not os.listdir(folder):
                folder.rmdir()
                folder = folder.parent
