"""Atomic writes: backup once, idempotent, original intact when the write fails."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from dsprep.atomic import atomic_write_bytes, backup_path
from dsprep.errors import DiskError


def test_new_file_gets_umask_mode(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        target = tmp_path / "new.json"
        assert atomic_write_bytes(target, b"{}") is None
        assert stat.S_IMODE(target.stat().st_mode) == 0o644
        assert target.read_bytes() == b"{}"
    finally:
        os.umask(old)


def test_backup_once_and_idempotent(tmp_path: Path) -> None:
    target = tmp_path / "config.json"
    target.write_bytes(b"original")
    target.chmod(0o640)
    made = atomic_write_bytes(target, b"first")
    assert made == backup_path(target)
    assert made.read_bytes() == b"original"
    mtime = target.stat().st_mtime_ns
    assert atomic_write_bytes(target, b"first") is None
    assert target.stat().st_mtime_ns == mtime
    assert atomic_write_bytes(target, b"second") is None  # the backup keeps the user's original
    assert backup_path(target).read_bytes() == b"original"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


def test_failing_replace_keeps_original(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "tokenizer_config.json"
    target.write_bytes(b"original")

    def broken_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(DiskError, match=r"tokenizer_config\.json"):
        atomic_write_bytes(target, b"new", backup=False)
    assert target.read_bytes() == b"original"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tokenizer_config.json"]
