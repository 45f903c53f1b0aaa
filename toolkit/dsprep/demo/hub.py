"""A loopback ModelScope-compatible hub: model repos served from folders, on 127.0.0.1 only.

It answers exactly the ``/api/v1`` requests the real ``modelscope`` client (1.38+, which
delegates to ``modelscope-hub``) makes for a download, in the shapes that client parses:

- ``GET /api/v1/models/{owner}/{name}/revisions`` →
  ``{"Code": 200, "Data": {"RevisionMap": {"Branches": [...], "Tags": [...]}}}``
- ``GET /api/v1/models/{owner}/{name}/repo/files?Revision=R&Recursive=True[&Root=D]`` →
  ``{"Code": 200, "Data": {"Files": [{"Name", "Path", "Type", "Size", "Sha256", "Revision"}]}}``
- ``GET|HEAD /api/v1/models/{owner}/{name}/repo?Revision=R&FilePath=P`` → the raw bytes,
  ``Range: bytes=a-[b]`` answered with 206 and ``Content-Range``, 416 past the end
- ``GET /api/v1/models/{owner}/{name}`` → the model's metadata
- anything else, an unknown repo, revision or file → 404 with
  ``{"Code": 404, "Message": …, "Success": false}`` (the client raises ``NotExistError``)

Every request lands in a thread-safe log (method, path, query, Range, status, body bytes
sent, when it started and ended) and tests can inject faults: cut a file's transfer after N
bytes, stall it until released, serve bytes that differ from the listed SHA-256, trickle
it at a few bytes per second (a slow-loris server), answer it only after a delay, or never
answer a file or an API call at all (a server that accepts and then hangs).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from http.server import ThreadingHTTPServer
from pathlib import Path
from types import TracebackType

from dsprep.demo.hub_handler import Fault, HubHandler, HubRequest, QuietServer
from dsprep.demo.hub_repo import (
    DEFAULT_BRANCH,
    HubFile,
    HubRepo,
    bytes_file,
    folder_files,
    generated_file,
)

__all__ = [
    "DEFAULT_BRANCH",
    "HubFile",
    "HubRequest",
    "LoopbackHub",
    "bytes_file",
    "folder_files",
    "generated_file",
]


class LoopbackHub:
    """A threaded ModelScope-compatible HTTP server on 127.0.0.1 (ephemeral port).

    ``repos`` maps ``owner/name`` to a folder or to a list of :class:`HubFile`::

        with LoopbackHub({"Eco-Tech/Sample-w8a8": folder}) as hub:
            snapshot_download(..., endpoint=hub.endpoint, revision="master")
            hub.requests()  # what the client asked for
    """

    def __init__(self, repos: Mapping[str, Path | Sequence[HubFile]], port: int = 0) -> None:
        self._port = port  # 0: an ephemeral port; a fixed one gives reproducible transcripts
        self._repos = {rid: HubRepo(rid, src) for rid, src in repos.items()}
        self._log: list[HubRequest] = []
        self._faults: dict[tuple[str, str], Fault] = {}
        self._api_faults: dict[tuple[str, str], Fault] = {}
        self._lock = threading.Lock()
        self._settled = threading.Condition(self._lock)
        self._release = threading.Event()
        self._active = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------
    def start(self) -> LoopbackHub:
        handler = type("_BoundHandler", (HubHandler,), {"hub": self})
        server = QuietServer(("127.0.0.1", self._port), handler)
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="loopback-hub")
        self._thread.daemon = True
        self._thread.start()
        return self

    def close(self) -> None:
        self._release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> LoopbackHub:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the hub is not running")
        return int(self._server.server_address[1])

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- repos, log and faults ---------------------------------------------------------
    def listing(self, repo_id: str) -> dict[str, HubFile]:
        return dict(self._repos[repo_id].files())

    def add_branch(self, repo_id: str, branch: str) -> None:
        self._repos[repo_id].branches.append(branch)

    def requests(self, settle: float = 2.0) -> list[HubRequest]:
        """The request log in the order the requests arrived, once requests in flight have
        been logged (waits ``settle`` s at most).

        A client can read a whole response (and send its next request) before the server
        thread logs it; waiting for the handlers in flight, and ordering by arrival, keeps
        the log in step with what the client did.
        """
        with self._settled:
            self._settled.wait_for(self._idle, timeout=settle)
            return sorted(self._log, key=lambda entry: entry.started)

    def clear_log(self) -> None:
        with self._lock:
            self._log.clear()

    def bytes_sent(self) -> int:
        return sum(r.bytes_sent for r in self.requests())

    def downloads(self) -> list[HubRequest]:
        """The file-content requests (``…/repo?FilePath=``) in order."""
        return [r for r in self.requests() if r.file_path is not None]

    def cut_after(self, repo_id: str, path: str, nbytes: int, times: int = 1) -> None:
        """The next ``times`` transfers of ``path`` drop the connection after ``nbytes``."""
        with self._lock:
            self._faults[(repo_id, path)] = Fault("cut", nbytes, times)

    def stall_after(self, repo_id: str, path: str, nbytes: int) -> threading.Event:
        """The next transfer of ``path`` sends ``nbytes`` then hangs until :meth:`release`.

        Returns an event that is set once those bytes went out (to kill the client then).
        """
        fault = Fault("stall", nbytes, 1)
        with self._lock:
            self._faults[(repo_id, path)] = fault
        return fault.reached

    def tamper(self, repo_id: str, path: str) -> None:
        """Serve ``path`` with its bytes changed (same size) while the listing stays."""
        with self._lock:
            self._faults[(repo_id, path)] = Fault("tamper", times=-1)

    def hang(self, repo_id: str, path: str, times: int = -1) -> threading.Event:
        """Requests for ``path`` are accepted and never answered (until :meth:`release`)."""
        return self._add(repo_id, path, Fault("hang", times=times))

    def hang_api(self, repo_id: str, route: str, times: int = -1) -> threading.Event:
        """API calls ``…/{repo_id}/{route}`` (``revisions``, ``repo/files``, ``""`` for the
        model itself) are accepted and never answered (until :meth:`release`)."""
        fault = Fault("hang", times=times)
        with self._lock:
            self._api_faults[(repo_id, route)] = fault
        return fault.reached

    def trickle(self, repo_id: str, path: str, bytes_per_second: int, times: int = -1) -> None:
        """Transfers of ``path`` send their body at ``bytes_per_second`` (slow-loris)."""
        self._add(repo_id, path, Fault("trickle", after=bytes_per_second, times=times))

    def delay(self, repo_id: str, path: str, seconds: float, times: int = -1) -> None:
        """Transfers of ``path`` start only after ``seconds``."""
        self._add(repo_id, path, Fault("delay", times=times, seconds=seconds))

    def _add(self, repo_id: str, path: str, fault: Fault) -> threading.Event:
        with self._lock:
            self._faults[(repo_id, path)] = fault
        return fault.reached

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until no request is being answered (its log entry is then written)."""
        with self._settled:
            return self._settled.wait_for(self._idle, timeout=timeout)

    def release(self) -> None:
        """Let stalled transfers end (their connection is then closed)."""
        self._release.set()

    def _idle(self) -> bool:
        return self._active == 0

    # -- what the handler (hub_handler.HubHandler) calls -------------------------------
    def repo(self, repo_id: str) -> HubRepo | None:
        return self._repos.get(repo_id)

    def begin_request(self) -> None:
        with self._lock:
            self._active += 1

    def record(self, entry: HubRequest) -> None:
        """Log an answered request (every :meth:`begin_request` ends here)."""
        with self._settled:
            self._log.append(entry)
            self._active -= 1
            self._settled.notify_all()

    def take_fault(self, repo_id: str, path: str) -> Fault | None:
        return self._take(self._faults, (repo_id, path))

    def take_api_fault(self, repo_id: str, route: str) -> Fault | None:
        return self._take(self._api_faults, (repo_id, route))

    def _take(self, faults: dict[tuple[str, str], Fault], key: tuple[str, str]) -> Fault | None:
        with self._lock:
            fault = faults.get(key)
            if fault is None:
                return None
            if fault.times > 0:
                fault.times -= 1
                if fault.times == 0:
                    del faults[key]
            return fault

    def wait_released(self, timeout: float) -> bool:
        """Block a stalled transfer until :meth:`release` (or ``timeout`` s); True if released."""
        return self._release.wait(timeout=timeout)
