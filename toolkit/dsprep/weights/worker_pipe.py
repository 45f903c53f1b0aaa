"""What the index worker and the parent say to each other, and how (pickles through pipes).

Only names, counts and findings travel: the index without its weight_map, the tensor names
of the validated headers (each shard's joined by NUL: one string, cheap to pickle), and
the findings. See :mod:`dsprep.weights.index_worker`.
"""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass
from typing import Any

from dsprep.findings import Finding


@dataclass
class Described:
    """What the description says about the shards (computed where the description is)."""

    findings: list[Finding]  # unknown-quant-type, missing-description-entry, mtp, gate-up
    counts: dict[str, int]  # quant types of the .weight entries, for the summary
    statics: list[list[str]] | None  # see quant_tensors.static_weights
    order: list[str]  # see quant_tensors.static_order


@dataclass
class WorkerResult:
    """What the child computed besides the index: consistency, and the description's part.

    ``problem`` is the finding that says why the description could not be loaded;
    ``described`` is None when it was not (or there is none).
    """

    consistency: list[Finding]
    problem: Finding | None = None
    described: Described | None = None


@dataclass
class Request:
    """What the parent sends once the headers are validated: their tensor names (each
    shard's names joined by NUL, with their count) and what the description checks need.
    It follows a first message: each shard's I8 ``*.weight`` tensors, packed alike."""

    names: dict[str, tuple[int, str]]
    num_hidden_layers: int
    num_nextn_predict_layers: int

    @staticmethod
    def pack(names: list[str]) -> tuple[int, str] | None:
        joined = "\0".join(names)
        return (len(names), joined) if joined.count("\0") == max(len(names) - 1, 0) else None

    @staticmethod
    def unpack(packed: tuple[int, str]) -> list[str]:
        return packed[1].split("\0") if packed[0] else []


def widen(*pipes: int) -> None:
    """1 MB pipe buffers (Linux): megabytes of names go through in fewer round trips."""
    try:
        import fcntl

        for fd in pipes:
            fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, 1 << 20)
    except (ImportError, AttributeError, OSError):
        pass


def _frame(value: object) -> bytes:
    """One message: its pickle's length (8 bytes, little-endian), then the pickle."""
    payload = pickle.dumps(value, protocol=5)
    return len(payload).to_bytes(8, "little") + payload


def transmit(fd: int, value: object) -> None:
    view = memoryview(_frame(value))
    while view:
        view = view[os.write(fd, view) :]


def receive(fd: int) -> object:
    try:
        length = int.from_bytes(_read_exact(fd, 8), "little")
        payload = _read_exact(fd, length)
        return pickle.loads(payload) if length else None
    except Exception:  # a dead child or a damaged payload: the caller does the work itself
        return None


def _read_exact(fd: int, length: int) -> bytes:
    chunks: list[bytes] = []
    while length:
        chunk = os.read(fd, min(length, 1 << 20))
        if not chunk:
            raise EOFError("the pipe closed early")
        chunks.append(chunk)
        length -= len(chunk)
    return b"".join(chunks)


def reply(up: Any, value: object) -> None:
    up.write(_frame(value))
    up.flush()
