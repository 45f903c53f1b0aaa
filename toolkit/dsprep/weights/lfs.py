"""Git LFS pointer files: what an unsmudged checkout of a model repository holds.

A pointer stands in for a shard: its ``size`` is the real file's size, its ``oid`` the
real file's SHA-256. Header checks are impossible on a pointer and must be skipped, not
reported as corruption.
"""

from __future__ import annotations

import re
from pathlib import Path

import msgspec

POINTER_MAX_BYTES = 1024  # git-lfs never writes larger pointers
_VERSION_PREFIX = b"version https://git-lfs.github.com/spec/"
_OID = re.compile(r"^oid sha256:([0-9a-f]{64})$")
_SIZE = re.compile(r"^size (\d+)$")


class LfsPointer(msgspec.Struct, frozen=True):
    oid_sha256: str
    size: int


def parse_lfs_pointer(raw: bytes) -> LfsPointer | None:
    """The pointer in ``raw``, or None when ``raw`` is not a valid git-lfs pointer."""
    if len(raw) > POINTER_MAX_BYTES or not raw.startswith(_VERSION_PREFIX):
        return None
    try:
        lines = raw.decode("ascii").splitlines()
    except UnicodeDecodeError:
        return None
    oid = size = None
    for line in lines[1:]:
        if match := _OID.match(line):
            oid = match.group(1)
        elif match := _SIZE.match(line):
            size = int(match.group(1))
    if oid is None or size is None:
        return None
    return LfsPointer(oid, size)


def read_lfs_pointer(path: Path) -> LfsPointer | None:
    """The pointer stored at ``path`` (read at most 1 KiB), or None for a real file."""
    try:
        with Path(path).open("rb") as handle:
            raw = handle.read(POINTER_MAX_BYTES + 1)
    except OSError:
        return None
    return parse_lfs_pointer(raw)
