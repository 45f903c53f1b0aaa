"""Atomic writes: backup once, idempotent, original intact when the write fails; owner,
group and mode kept; read-only and special files refused; stale temp files cleaned."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dsprep.atomic import STALE_TEMP_AGE_S, atomic_write_bytes, backup_path
from dsprep.errors import DiskError, InputError
from tests.deadline import deadline


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


# --- owner, group and mode; read-only files; special files; stale temp files -------------

OTHER_UID = OTHER_GID = 65534  # nobody/nogroup: not the user the tests run as
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="chown to another user needs root")


@needs_root
def test_rewrite_as_root_keeps_owner_group_and_mode(tmp_path: Path) -> None:
    """A service user's tokenizer_config.json stays theirs (and 0640) after a root rewrite."""
    target = tmp_path / "tokenizer_config.json"
    target.write_bytes(b"original")
    os.chown(target, OTHER_UID, OTHER_GID)
    target.chmod(0o640)
    backup = atomic_write_bytes(target, b"rewritten")
    info = target.stat()
    assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (OTHER_UID, OTHER_GID, 0o640)
    assert target.read_bytes() == b"rewritten"
    assert backup is not None
    kept = backup.stat()
    assert (kept.st_uid, kept.st_gid, stat.S_IMODE(kept.st_mode)) == (OTHER_UID, OTHER_GID, 0o640)


@needs_root
def test_new_file_takes_owner_and_mode_of_like(tmp_path: Path) -> None:
    source = tmp_path / "quant_model_description_w8a8.json"
    source.write_bytes(b"{}")
    os.chown(source, OTHER_UID, OTHER_GID)
    source.chmod(0o600)
    target = tmp_path / "quant_model_description.json"
    atomic_write_bytes(target, b"{}", backup=False, like=source)
    info = target.stat()
    assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (OTHER_UID, OTHER_GID, 0o600)


def test_read_only_file_is_refused_unless_forced(tmp_path: Path) -> None:
    target = tmp_path / "config.json"
    target.write_bytes(b"original")
    target.chmod(0o444)
    with pytest.raises(DiskError) as refused:
        atomic_write_bytes(target, b"new")
    assert str(target) in refused.value.message and "read-only (mode 0444)" in refused.value.message
    assert f"chmod u+w {target}" in refused.value.hint and "--force" in refused.value.hint
    assert target.read_bytes() == b"original"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json"]  # no backup, no temp
    assert atomic_write_bytes(target, b"original") is None  # nothing to change: no refusal
    atomic_write_bytes(target, b"new", force=True)
    assert target.read_bytes() == b"new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o444  # forced, and still read-only
    assert backup_path(target).read_bytes() == b"original"


@pytest.mark.parametrize("kind", ["fifo", "folder"])
def test_special_file_is_refused_before_it_is_read(tmp_path: Path, kind: str) -> None:
    target = tmp_path / "tokenizer_config.json"
    if kind == "fifo":
        os.mkfifo(target)
    else:
        target.mkdir()
    with deadline(10), pytest.raises(InputError, match="is not a regular file"):
        atomic_write_bytes(target, b"{}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tokenizer_config.json"]


def _age(path: Path, seconds: float) -> None:
    past = time.time() - seconds
    os.utime(path, (past, past), follow_symlinks=False)


def test_stale_temp_files_of_dsprep_are_cleaned_and_nothing_else(tmp_path: Path) -> None:
    target = tmp_path / "config.json"
    target.write_bytes(b"original")
    stale = [
        ".config.json.dsprep-k2j3h4g5.tmp",  # this version's temp of the file
        ".tokenizer_config.json.dsprep-abcd_123.tmp",  # this version's, another file
        ".config.json.x8y7z6w5.tmp",  # an earlier version's temp of the file
        ".config.json.dsprep-orig.q1w2e3r4.tmp",  # an earlier version's backup temp
    ]
    kept = [
        ".config.json.dsprep-fresh123.tmp",  # a write running now (young)
        ".notes.txt.x8y7z6w5.tmp",  # an earlier version's pattern, but not for this file
        ".config.json.abc.tmp",  # not tempfile's 8 characters
        "config.json.dsprep-k2j3h4g5.tmp",  # not hidden
        "notes.tmp",
    ]
    for name in stale + kept:
        (tmp_path / name).write_bytes(b"x")
    for name in stale + kept[1:]:
        _age(tmp_path / name, 3600)
    (tmp_path / "elsewhere.txt").write_bytes(b"x")
    link = tmp_path / ".link.dsprep-abcdefgh.tmp"  # a symlink is never followed or removed
    link.symlink_to(tmp_path / "elsewhere.txt")
    _age(link, 3600)
    folder = tmp_path / ".dir.dsprep-abcdefgh.tmp"
    folder.mkdir()
    _age(folder, 3600)
    atomic_write_bytes(target, b"new", backup=False)
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == sorted(["config.json", "elsewhere.txt", link.name, folder.name, *kept])


def test_temp_left_by_a_killed_rewrite_is_cleaned_by_the_next_write(tmp_path: Path) -> None:
    target = tmp_path / "config.json"
    target.write_bytes(b"original")
    killed = (
        "import os, signal, sys; from pathlib import Path; from dsprep import atomic;"
        "os.replace = lambda a, b: os.kill(os.getpid(), signal.SIGKILL);"
        "atomic.atomic_write_bytes(Path(sys.argv[1]), b'half', backup=False)"
    )
    done = subprocess.run([sys.executable, "-c", killed, str(target)], timeout=60, check=False)
    assert done.returncode == -signal.SIGKILL
    (leftover,) = [p for p in tmp_path.iterdir() if p.name != "config.json"]
    assert leftover.name.startswith(".config.json.dsprep-") and leftover.name.endswith(".tmp")
    assert target.read_bytes() == b"original"
    atomic_write_bytes(target, b"next", backup=False)  # young: a write may be running
    assert leftover.exists()
    _age(leftover, STALE_TEMP_AGE_S + 60)
    atomic_write_bytes(target, b"after", backup=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json"]
