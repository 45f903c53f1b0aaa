"""Exit codes and the typed errors core code raises instead of printing or exiting."""

from __future__ import annotations

from enum import IntEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path


class ExitCode(IntEnum):
    """Process exit codes shared by every command and hook (house rule 2)."""

    OK = 0
    FINDINGS = 1  # the check ran and found problems, or a hook rewrote a file
    USAGE = 2  # Click's own usage errors
    CANNOT_RUN = 3  # unreadable input, network, disk


class DsprepError(Exception):
    """An error that stops a command before it can produce a result.

    ``message`` says what went wrong (naming the file), ``hint`` what to do about it.
    """

    exit_code: ExitCode = ExitCode.CANNOT_RUN
    code: str = "cannot-run"

    def __init__(self, message: str, *, hint: str = "", path: str | Path | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.path = str(path) if path is not None else ""

    def __str__(self) -> str:
        return self.message


class InputError(DsprepError):
    """An input file or folder is missing, unreadable or not what it must be."""

    code = "bad-input"


class NetworkError(DsprepError):
    """The hub could not be reached or answered with an error."""

    code = "network"


class DiskError(DsprepError):
    """A write failed: no space, no permission, read-only file system."""

    code = "disk"


class MissingExtraError(DsprepError):
    """An optional dependency (an extra such as ``dsprep[fetch]``) is not installed."""

    code = "missing-extra"

    def __init__(self, module: str, extra: str) -> None:
        super().__init__(
            f"this command needs the Python package {module!r}, which is not installed",
            hint=f"install it with: pip install 'dsprep[{extra}]'",
        )
