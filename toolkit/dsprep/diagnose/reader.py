"""The lines of the logs ``dsprep diagnose`` reads, streamed: a plain log file, a
``dsprep logs`` stream (``[node=NAME] `` prefixed lines, :mod:`dsprep.diagnose.nodelog`) or a
folder of per-node logs (the file name names the node).

Memory stays constant whatever the size: files are read line by line through a fixed
buffer, and a line longer than :data:`MAX_LINE` bytes is cut (the rest of it is skipped,
never held).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from dsprep.diagnose.nodelog import node_from_path, parse_line
from dsprep.errors import InputError

MAX_LINE = 64 * 1024  # bytes of one line that are looked at


@dataclass(frozen=True)
class Line:
    node: str
    path: str
    number: int
    text: str


def log_files(inputs: Iterable[Path]) -> list[Path]:
    """The files to read, in order: each file given, each folder's regular files (sorted by
    name, hidden ones left out). Raises :class:`InputError` for anything unreadable."""
    files: list[Path] = []
    for path in inputs:
        try:
            mode = path.stat().st_mode
        except OSError as exc:
            raise InputError(
                f"{path}: cannot read it ({exc.strerror or exc})",
                hint="pass log files or folders of per-node logs",
                path=path,
            ) from exc
        if stat.S_ISDIR(mode):
            found = sorted(p for p in path.iterdir() if not p.name.startswith(".") and p.is_file())
            if not found:
                raise InputError(
                    f"{path}: the folder holds no log files",
                    hint="pass the folder with one log per node (node0.log, node1.log, …)",
                    path=path,
                )
            files.extend(found)
        elif stat.S_ISREG(mode):
            files.append(path)
        else:
            raise InputError(
                f"{path}: not a regular file or folder",
                hint="save the log to a file first (e.g. dsprep logs … > run.log)",
                path=path,
            )
    return files


def _raw_lines(handle: object) -> Iterator[bytes]:
    readline = handle.readline  # type: ignore[attr-defined]
    while chunk := readline(MAX_LINE):
        if not chunk.endswith(b"\n") and len(chunk) == MAX_LINE:
            while (rest := readline(MAX_LINE)) and not rest.endswith(b"\n"):
                pass  # the rest of an overlong line is skipped
        yield chunk


def lines(files: Iterable[Path]) -> Iterator[Line]:
    """Every line of ``files`` with the node it comes from: a ``[node=NAME] `` prefix names
    it, else the file's name (``node1.log`` → ``node1``)."""
    for path in files:
        default = node_from_path(path)
        try:
            handle = open(path, "rb", buffering=1 << 20)  # noqa: SIM115 - closed below
        except OSError as exc:
            raise InputError(
                f"{path}: cannot open it ({exc.strerror or exc})",
                hint="check the permissions",
                path=path,
            ) from exc
        with handle:
            if hasattr(os, "posix_fadvise"):  # Linux: read ahead, a log is read once
                os.posix_fadvise(handle.fileno(), 0, 0, os.POSIX_FADV_SEQUENTIAL)
            try:
                for number, raw in enumerate(_raw_lines(handle), 1):
                    text = raw.decode("utf-8", "replace").rstrip("\r\n")
                    node, line = parse_line(text)
                    yield Line(node or default, str(path), number, line)
            except OSError as exc:
                raise InputError(
                    f"{path}: reading failed ({exc.strerror or exc})", path=path
                ) from exc
