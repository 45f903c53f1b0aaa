"""Load the index and the description, and check them against the headers, on the second core.

A full DeepSeek-V3.1 W8A8 folder names ~139,000 tensors three times: in the shard headers,
in the index and in the description. json.loads holds the GIL, so threads do not help; a
forked child does. It parses the index (and sends it back without its weight_map) and the
description, and makes the checks that need them alone, while the parent validates the
headers. The parent then sends the names of the validated headers' tensors (and of their
I8 weights); the child answers with the index's consistency findings, the description's
findings, its type counts and what the quant fast path needs (:mod:`worker_pipe`). The
parent never parses the index or the description: the work is split, not repeated.

:func:`load_index` and the functions the child calls are also the sequential path (no
``os.fork``, a small folder, or a child that failed): both paths give the same findings.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import os
import threading
from typing import Any

from dsprep.findings import Finding
from dsprep.weights.description import (
    description_checks,
    early_checks,
    type_counts,
    weight_entries,
)
from dsprep.weights.index import (
    VLLM_INDEX,
    ShardIndex,
    consistency_findings,
    fp8_index_finding,
)
from dsprep.weights.quant_tensors import static_order, static_weights
from dsprep.weights.safety import JsonProblem, ModelDir, PathEscape
from dsprep.weights.worker_pipe import (
    Described,
    Request,
    WorkerResult,
    receive,
    reply,
    transmit,
    widen,
)

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
        return fp8_index_finding(shown)
    return parsed


class IndexWorker:
    """The index, its consistency with the headers and the description checks, in a forked
    child when it pays.

    The child parses the index (16 MB of JSON on DeepSeek-V3.1) and sends it back without
    its weight_map (:meth:`index`), then parses the description, while the parent
    validates the headers. The parent then sends the tensor names of the validated headers
    (:meth:`send`), and the child answers with the consistency findings and everything the
    description says (:meth:`result`): the parent never parses the index or the
    description. Only names, counts and findings travel through the pipes.
    """

    def __init__(
        self, model: ModelDir, index: str | None, description: str, *, has_description: bool
    ) -> None:
        self._pid = 0
        self._up = self._down = -1
        if index is None or _size(model, index) < MIN_FORK_BYTES or not _core_to_spare():
            return
        up_read, up_write = os.pipe()
        down_read, down_write = os.pipe()
        widen(up_write, down_write)
        try:
            pid = os.fork()
        except OSError:
            for fd in (up_read, up_write, down_read, down_write):
                os.close(fd)
            return
        if pid == 0:  # the child: compute, pickle, write, leave without any cleanup
            os.close(up_read)
            os.close(down_write)
            status = 1
            try:
                gc.disable()
                with os.fdopen(up_write, "wb") as up, os.fdopen(down_read, "rb") as down:
                    _serve(model, index, description, has_description, up, down)
                status = 0
            finally:
                os._exit(status)
        os.close(up_write)
        os.close(down_read)
        self._pid, self._up, self._down = pid, up_read, down_write

    @property
    def active(self) -> bool:
        """Whether a child is working (until :meth:`result` or :meth:`close`)."""
        return self._pid != 0

    def index(self) -> ShardIndex | Finding | None:
        """The index without its weight_map, or why it is unusable; None: load it yourself."""
        found = receive(self._up) if self._pid else None
        if not isinstance(found, (ShardIndex, Finding)):
            self.close()
            return None
        return found

    def send(self, message: object) -> bool:
        """Hand the I8 weights, then a :class:`Request`, over; False when the child is
        gone (do it yourself)."""
        if not self._pid:
            return False
        try:
            transmit(self._down, message)
        except OSError:
            self.close()
            return False
        return True

    def result(self) -> WorkerResult | None:
        """The child's answer to :meth:`send`; None when it failed: do it yourself."""
        if not self._pid:
            return None
        found = receive(self._up)
        self.close()
        return found if isinstance(found, WorkerResult) else None

    def close(self) -> None:
        """Close the pipes; the child is reaped once it has exited (also when an error
        stopped the check). Tearing its memory down takes tens of milliseconds: this
        process does not wait for that (see :func:`_reap`)."""
        if self._pid:
            for fd in (self._up, self._down):
                with contextlib.suppress(OSError):
                    os.close(fd)
            _EXITING.append(self._pid)
            self._pid = 0
            _reap(block=False)


_EXITING: list[int] = []  # children that were told to finish, not reaped yet


def _reap(*, block: bool) -> None:
    """Reap the children that have exited (all of them with ``block``, as at exit)."""
    for pid in list(_EXITING):
        try:
            done, _ = os.waitpid(pid, 0 if block else os.WNOHANG)
        except ChildProcessError:
            done = pid
        if done:
            _EXITING.remove(pid)


atexit.register(_reap, block=True)


def _serve(
    model: ModelDir, index_name: str, description: str, has_description: bool, up: Any, down: Any
) -> None:
    """The child: index → parent; meanwhile parse the description and prepare; then the
    I8 weights' types, then the checks that need the parent's header names."""
    index = load_index(model, index_name, has_description=has_description)
    if isinstance(index, ShardIndex):
        reply(up, ShardIndex(index.name, {}, index.shards, index.counts))
        grouped = index.names_by_shard()
    else:
        reply(up, index)
    problem, loaded = None, None
    if description:
        try:
            loaded = model.load_json_object(description)
        except (JsonProblem, PathEscape) as error:
            problem = error.finding
    shown = model.display(description)
    covered: dict[str, bool] = {}  # per indexed shard: all its tensors have an entry
    if loaded is not None:
        weights = weight_entries(loaded)
        early = early_checks(loaded, shown, weights)
        counts = type_counts(weights)
        if isinstance(index, ShardIndex):
            keys = loaded.keys()
            covered = {shard: keys >= tensors for shard, tensors in grouped.items()}
    i8 = receive(down.fileno())  # read it whatever comes next: the parent writes it
    assert isinstance(i8, list)
    if loaded is not None:
        statics = static_weights(loaded.get, weights, list(map(Request.unpack, i8)))
    request = receive(down.fileno())
    assert isinstance(request, Request)
    names = {shard: Request.unpack(packed) for shard, packed in request.names.items()}
    consistency: list[Finding] = []
    if isinstance(index, ShardIndex):
        consistency = consistency_findings(
            index, model.display(index_name), names, model.display, grouped
        )
    described = None
    if loaded is not None:
        # The headers hold what the index says (no consistency finding): its coverage holds.
        known = isinstance(index, ShardIndex) and not consistency
        findings = description_checks(
            loaded,
            names.values(),
            shown,
            weights=weights,
            num_hidden_layers=request.num_hidden_layers,
            num_nextn_predict_layers=request.num_nextn_predict_layers,
            early=early,
            covered=known and all(covered.get(shard, False) for shard in names),
        )
        described = Described(findings, counts, statics, static_order(weights))
    reply(up, WorkerResult(consistency, problem, described))


def _core_to_spare() -> bool:
    """Fork only when a second core is usable and idle now.

    "Now" is the kernel's count of runnable tasks (``/proc/loadavg``, this process
    included), not the one-minute load average, which still counts work that ended (a
    previous check run a second ago). Elsewhere the load average decides. The child
    repeats no work of the parent's, so a wrong guess costs little.
    """
    if not hasattr(os, "fork") or threading.active_count() > 1:
        return False  # forking a threaded process risks a child stuck on a copied lock
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    if cores < 2:
        return False
    try:
        with open("/proc/loadavg", encoding="ascii") as handle:
            running = int(handle.read().split()[3].split("/")[0])
        return running - 1 < cores
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.getloadavg()[0] <= cores - 1
    except OSError:
        return False


def _size(model: ModelDir, name: str | None) -> int:
    if not name:
        return 0
    try:
        return (model.real / name).stat().st_size
    except OSError:
        return 0
