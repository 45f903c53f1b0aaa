"""Load the shard index and check it against the headers on the second core.

A full DeepSeek-V3.1 W8A8 folder names ~139,000 tensors three times: in the shard headers,
in the index and in the description. json.loads holds the GIL, so threads do not help; a
forked child does. It parses the index, reads the tensor names of every indexed shard
(header JSON only, never data) and returns the index without its weight_map plus the
consistency findings: a few kilobytes through a pipe. Meanwhile the parent validates the
headers and parses the description.

:func:`load_index` is also the sequential path (no ``os.fork``, a small folder, or a
child that failed): both paths give the same findings.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import pickle
import threading
from dataclasses import dataclass

from dsprep.findings import Finding
from dsprep.weights.headers import MAX_HEADER_BYTES
from dsprep.weights.index import (
    VLLM_INDEX,
    ShardIndex,
    consistency_findings,
    stray_index_finding,
)
from dsprep.weights.safety import JsonProblem, ModelDir, PathEscape, open_regular

MIN_FORK_BYTES = 4 * 1024 * 1024  # an index smaller than this is parsed faster than a fork


def load_index(model: ModelDir, name: str, *, has_description: bool) -> ShardIndex | Finding:
    """The parsed index, or the one finding that says why it cannot be used."""
    shown = model.display(name)
    try:
        document = model.load_json_object(name)
    except (JsonProblem, PathEscape) as problem:
        return problem.finding
    parsed = ShardIndex.parse(name, document, shown)
    fp8_beside_description = has_description and name == VLLM_INDEX
    if isinstance(parsed, ShardIndex) and fp8_beside_description and parsed.says_fp8():
        reason = " (it lists the FP8 original's *_scale_inv tensors)"
        return stray_index_finding(shown, None, reason)
    return parsed


def header_names(model: ModelDir, name: str) -> list[str] | None:
    """Tensor names of one shard's header (None when it cannot be read: reported elsewhere)."""
    try:
        with open_regular(model.resolve(name)) as handle:
            length = int.from_bytes(handle.read(8), "little")
            if length > MAX_HEADER_BYTES:
                return None
            document = json.loads(handle.read(length))
    except (OSError, ValueError, RecursionError, PathEscape):
        return None
    if not isinstance(document, dict):
        return None
    document.pop("__metadata__", None)
    return list(document)


@dataclass
class WorkerResult:
    """What the child computed: the index (or the finding that says why not), its findings."""

    index: ShardIndex | Finding | None
    consistency: list[Finding]


class IndexWorker:
    """The index and its consistency with the headers, in a forked child when it pays.

    The child reads the header JSON of the indexed shards itself (it needs names only)
    while the parent validates the headers and parses the description; only the index
    without its weight_map and the findings travel back through the pipe. (Measured: also
    moving the description checks to the child made both processes slower, memory-bound,
    and raised the peak RSS above 150 MB.)
    """

    def __init__(
        self,
        model: ModelDir,
        index: str | None,
        *,
        has_description: bool,
    ) -> None:
        self._pid = 0
        self._fd = -1
        if index is None or _size(model, index) < MIN_FORK_BYTES or not _core_to_spare():
            return
        read_end, write_end = os.pipe()
        try:
            pid = os.fork()
        except OSError:
            os.close(read_end)
            os.close(write_end)
            return
        if pid == 0:  # the child: compute, pickle, write, leave without any cleanup
            os.close(read_end)
            status = 1
            try:
                gc.disable()
                result = _work(model, index, has_description)
                with os.fdopen(write_end, "wb") as pipe:
                    pipe.write(pickle.dumps(result, protocol=5))
                status = 0
            finally:
                os._exit(status)
        os.close(write_end)
        self._pid, self._fd = pid, read_end

    @property
    def active(self) -> bool:
        """Whether a child is working (until :meth:`result` collected it)."""
        return self._pid != 0

    def result(self) -> WorkerResult | None:
        """The child's result; None when there is no child (or it failed): do it yourself."""
        if not self._pid:
            return None
        with os.fdopen(self._fd, "rb") as pipe:
            payload = pipe.read()
        _, status = os.waitpid(self._pid, 0)
        self._pid = 0
        if os.waitstatus_to_exitcode(status) != 0:
            return None
        try:
            result = pickle.loads(payload)
        except Exception:  # a damaged payload: the caller does the work itself
            return None
        return result if isinstance(result, WorkerResult) else None

    def close(self) -> None:
        """Reap the child if nobody asked for its result (an error stopped the check)."""
        if self._pid:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self._pid, 0)
            self._pid = 0


def _work(model: ModelDir, index_name: str, has_description: bool) -> WorkerResult:
    index = load_index(model, index_name, has_description=has_description)
    if isinstance(index, Finding):
        return WorkerResult(index, [])
    names = {}
    for shard in index.shards:
        found = header_names(model, shard)
        if found is not None:
            names[shard] = found
    shown = model.display(index_name)
    consistency = consistency_findings(index, shown, names, model.display)
    index.weight_map = {}
    return WorkerResult(index, consistency)


def _core_to_spare() -> bool:
    """Fork only when a second core is idle: on a busy machine the child's extra parsing
    (it re-reads the header JSON) would compete with this process and cost time."""
    if not hasattr(os, "fork") or threading.active_count() > 1:
        return False  # forking a threaded process risks a child stuck on a copied lock
    try:
        load = os.getloadavg()[0]
    except OSError:
        return False
    return load <= (os.cpu_count() or 1) - 1


def _size(model: ModelDir, name: str | None) -> int:
    if not name:
        return 0
    try:
        return (model.real / name).stat().st_size
    except OSError:
        return 0
