"""Path containment: ``dsprep check DIR`` never opens anything outside DIR.

Names come from untrusted files (an index's weight_map, a sha256 list, a manifest) and from
the folder itself (a symlinked shard). Every one is resolved here before it is opened: an
absolute path, a ``..`` component, a backslash or a symlink whose target leaves DIR is a
``path-escape`` finding, never a read.
"""

from __future__ import annotations

import errno
import json
import os
import stat
from pathlib import Path
from typing import Any, BinaryIO

from dsprep.errors import InputError
from dsprep.findings import Finding

# config.json, a description or an index larger than this is not one (a real index is ~10 MB).
MAX_JSON_BYTES = 512 * 1024 * 1024


def open_regular(path: Path | str, buffering: int = -1) -> BinaryIO:
    """Open a regular file for reading; ``OSError("not a regular file")`` for anything else.

    O_NONBLOCK keeps a FIFO from blocking the open; the type is checked on the descriptor.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        return os.fdopen(fd, "rb", buffering=buffering)
    except BaseException:
        os.close(fd)
        raise


class PathEscape(Exception):
    """A name or a symlink leads out of the model folder; ``finding`` says which."""

    def __init__(self, finding: Finding) -> None:
        super().__init__(finding.message)
        self.finding = finding


class JsonProblem(Exception):
    """A JSON file is unreadable, not JSON, or not an object; ``finding`` says which."""

    def __init__(self, finding: Finding) -> None:
        super().__init__(finding.message)
        self.finding = finding


class ModelDir:
    """The folder under check: its path as the user gave it and its resolved real path."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise InputError(
                f"{self.path} does not exist",
                hint="pass the folder that holds config.json and the shards",
                path=self.path,
            )
        if not self.path.is_dir():
            raise InputError(
                f"{self.path} is not a folder",
                hint="pass the folder that holds config.json and the shards",
                path=self.path,
            )
        self.real = Path(os.path.realpath(self.path))

    def display(self, name: str) -> str:
        """How messages name a file of this folder: the user's path joined with ``name``."""
        return str(self.path / name)

    def contains(self, real: str) -> bool:
        root = str(self.real)
        return real == root or real.startswith(root + os.sep)

    def resolve(self, name: str, *, source: str = "") -> Path:
        """The real path of ``name`` inside the folder; :class:`PathEscape` if it leaves it."""
        where = f" (named in {source})" if source else ""
        problem = ""
        if not isinstance(name, str) or not name or "\x00" in name:
            problem = f"{name!r} is not a file name"
        elif name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
            problem = f"{name!r} is an absolute path"
        elif "\\" in name or ".." in name.split("/"):
            problem = f"{name!r} points outside the model folder"
        if problem:
            raise PathEscape(self._escape(source or name, f"{problem}{where}; it was not read"))
        real = os.path.realpath(self.real / name)
        if not self.contains(real):
            raise PathEscape(
                self._escape(
                    name,
                    f"{name} is a symlink to {real}, outside the model folder"
                    f"{where}; it was not read",
                )
            )
        return Path(real)

    def _escape(self, name: str, message: str) -> Finding:
        return Finding(
            "path-escape",
            self.display(name),
            message,
            hint="keep every file of the checkpoint inside the folder (copy the real file in, "
            "or fix the name)",
        )

    def load_json_object(self, name: str, *, code: str = "invalid-json") -> dict[str, Any]:
        """Parse ``name`` as a JSON object; :class:`JsonProblem` or :class:`PathEscape` if not."""
        real = self.resolve(name)
        shown = self.display(name)
        try:
            with open_regular(real) as handle:
                st = os.fstat(handle.fileno())
                if st.st_size > MAX_JSON_BYTES:
                    raise self._json(code, shown, f"is {st.st_size} bytes, too large for JSON")
                raw = handle.read()
        except OSError as exc:
            raise self._json(code, shown, f"cannot be read: {exc.strerror or exc}") from exc
        if not raw.strip():
            raise self._json(code, shown, "is empty")
        try:
            document = json.loads(raw)
        except (ValueError, RecursionError) as exc:
            raise self._json(code, shown, f"is not valid JSON: {exc}") from exc
        if not isinstance(document, dict):
            raise self._json(code, shown, f"holds a JSON {type(document).__name__}, not an object")
        return document

    def read_json_object(self, name: str, findings: list[Finding]) -> dict[str, Any] | None:
        """:meth:`load_json_object`, with the problem appended to ``findings`` (and None)."""
        try:
            return self.load_json_object(name)
        except (JsonProblem, PathEscape) as problem:
            findings.append(problem.finding)
            return None

    @staticmethod
    def _json(code: str, shown: str, problem: str) -> JsonProblem:
        return JsonProblem(
            Finding(
                code,
                shown,
                f"{os.path.basename(shown)} {problem}",
                hint="download the file again or repair it by hand",
            )
        )

    def entries(self) -> list[str]:
        """Names of the folder's top-level entries (sorted), as vLLM sees them."""
        try:
            return sorted(os.listdir(self.real))
        except OSError as exc:
            raise InputError(
                f"cannot list {self.path}: {exc.strerror or exc}",
                hint="check the folder's permissions",
                path=self.path,
            ) from exc
