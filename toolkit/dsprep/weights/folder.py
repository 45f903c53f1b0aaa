"""The model folder under check: path containment and bounded reads.

``dsprep check DIR`` never opens anything outside DIR. Names come from untrusted files (an
index's weight_map, a sha256 list, a manifest) and from the folder itself (a symlinked
shard): every one is resolved here before it is opened. An absolute path, a ``..``
component, a backslash or a symlink whose target leaves DIR is a ``path-escape`` finding,
never a read. Only regular files are opened (a FIFO never blocks a check), and JSON files
are parsed with a size limit by one strict parser (msgspec: NaN, Infinity and trailing
garbage are not JSON).
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import Any, BinaryIO

from dsprep import catalogue as C
from dsprep.errors import InputError
from dsprep.findings import Finding

# config.json, a description or an index larger than this is not one (a real index is ~17 MB).
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


class FolderProblem(Exception):
    """A file of the folder cannot be used; ``finding`` says which and why."""

    def __init__(self, finding: Finding) -> None:
        super().__init__(finding.message)
        self.finding = finding


class PathEscape(FolderProblem):
    """A name or a symlink leads out of the model folder."""


class JsonProblem(FolderProblem):
    """A JSON file is unreadable, not JSON, or not an object."""


def permission_hint(shown: str) -> str:
    """The fix for a file dsprep may not read (vLLM, run by the same user, could not either)."""
    return (
        f"check the permissions of {shown}: the user running dsprep (and vLLM) must be able "
        "to read it"
    )


def json_error(raw: bytes, error: Exception) -> str:
    """msgspec's message, with the line and column of its byte offset when it names one."""
    import re

    text = str(error)
    found = re.search(r"\(byte (\d+)\)", text)
    if found is None:
        return text
    offset = int(found.group(1))
    line = raw.count(b"\n", 0, offset) + 1
    column = offset - (raw.rfind(b"\n", 0, offset) + 1) + 1
    return f"{text[: found.start()].rstrip()} at line {line}, column {column}"


def decode_json(raw: bytes) -> Any:
    """Strict JSON (no NaN/Infinity, no trailing data); ``ValueError`` with a message."""
    import msgspec

    try:
        return msgspec.json.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:  # ValidationError: 1e400
        raise ValueError(json_error(raw, exc)) from exc
    except RecursionError as exc:
        raise ValueError("nested too deeply") from exc


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
        joined = os.path.join(self.real, name)
        if "/" not in name and not os.path.islink(joined):
            return Path(joined)  # a plain entry of the (real) folder: nothing to resolve
        real = os.path.realpath(joined)
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
        return C.PATH_ESCAPE(self.display(name), message)

    def read_bytes(self, name: str, *, limit: int = MAX_JSON_BYTES) -> bytes:
        """The bytes of a regular file inside the folder; :class:`FolderProblem` if not."""
        real = self.resolve(name)
        shown = self.display(name)
        try:
            with open_regular(real) as handle:
                size = os.fstat(handle.fileno()).st_size
                if size > limit:
                    raise self._json(shown, f"is {size} bytes, too large for this file")
                return handle.read()
        except OSError as exc:
            problem = f"cannot be read: {exc.strerror or exc}"
            if isinstance(exc, PermissionError):
                finding = C.INVALID_JSON(
                    shown, f"{os.path.basename(shown)} {problem}", hint=permission_hint(shown)
                )
                raise JsonProblem(finding) from exc
            raise self._json(shown, problem) from exc

    def load_json_object(self, name: str) -> dict[str, Any]:
        """Parse ``name`` as a JSON object; :class:`FolderProblem` when it is not one."""
        raw = self.read_bytes(name)
        shown = self.display(name)
        if not raw.strip():
            raise self._json(shown, "is empty")
        try:
            document = decode_json(raw)
        except ValueError as exc:
            raise self._json(shown, f"is not valid JSON: {exc}") from exc
        if not isinstance(document, dict):
            raise self._json(shown, f"holds a JSON {_json_type(document)}, not an object")
        return document

    def read_json_object(self, name: str, findings: list[Finding]) -> dict[str, Any] | None:
        """:meth:`load_json_object`, with the problem appended to ``findings`` (and None)."""
        try:
            return self.load_json_object(name)
        except FolderProblem as problem:
            findings.append(problem.finding)
            return None

    @staticmethod
    def _json(shown: str, problem: str) -> JsonProblem:
        return JsonProblem(C.INVALID_JSON(shown, f"{os.path.basename(shown)} {problem}"))

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


def _json_type(value: Any) -> str:
    return {list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), "number"
    )
