"""Shared calls of the weights tests."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from dsprep.findings import Finding
from dsprep.profiles import profile_for
from dsprep.weights.folder import ModelDir
from dsprep.weights.inspect import inspect_folder


def quantization_gate(
    folder: Path, remote_files: Sequence[str] = (), image: str | None = None
) -> list[Finding]:
    """What the fetch gate finds in ``folder`` (metadata only) with the hub's file names."""
    found = inspect_folder(
        ModelDir(folder), profile_for(image), shards=False, remote_names=remote_files
    )
    return found.findings
