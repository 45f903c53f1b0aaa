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
sent) and tests can inject faults: cut a file's transfer after N bytes, stall it until
released, or serve bytes that differ from the listed SHA-256.
"""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from dsprep.demo.hub_repo import (
    DEFAULT_BRANCH,
    HubFile,
    HubRepo,
    bytes_file,
    file_entry,
    folder_files,
    generated_file,
    model_document,
    ok_document,
    parse_range,
    revisions_document,
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

_API = "/api/v1/models/"
_SEND_BLOCK = 256 * 1024


class _QuietServer(ThreadingHTTPServer):
    """A client that hangs up mid-transfer (an interrupted download) is normal, not an error."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


@dataclass(frozen=True)
class HubRequest:
    """One request the hub answered (for tests and the demo's byte counts)."""

    method: str
    path: str
    query: dict[str, str]
    range: str | None
    status: int
    bytes_sent: int
    repo: str | None = None
    file_path: str | None = None


@dataclass
class _Fault:
    kind: str  # "cut", "stall" or "tamper"
    after: int = 0
    times: int = 1
    reached: threading.Event = field(default_factory=threading.Event)


class LoopbackHub:
    """A threaded ModelScope-compatible HTTP server on 127.0.0.1 (ephemeral port).

    ``repos`` maps ``owner/name`` to a folder or to a list of :class:`HubFile`::

        with LoopbackHub({"Eco-Tech/Sample-w8a8": folder}) as hub:
            snapshot_download(..., endpoint=hub.endpoint, revision="master")
            hub.requests()  # what the client asked for
    """

    def __init__(self, repos: Mapping[str, Path | Sequence[HubFile]]) -> None:
        self._repos = {rid: HubRepo(rid, src) for rid, src in repos.items()}
        self._log: list[HubRequest] = []
        self._faults: dict[tuple[str, str], _Fault] = {}
        self._lock = threading.Lock()
        self._settled = threading.Condition(self._lock)
        self._release = threading.Event()
        self._active = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------
    def start(self) -> LoopbackHub:
        handler = type("_BoundHandler", (_Handler,), {"hub": self})
        server = _QuietServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
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
        """The request log, once requests in flight have been logged (waits ``settle`` s at most).

        A client can read a whole response before the server thread logs it; waiting for the
        handlers in flight keeps the log in step with what the client saw.
        """
        with self._settled:
            self._settled.wait_for(lambda: self._active == 0, timeout=settle)
            return list(self._log)

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
            self._faults[(repo_id, path)] = _Fault("cut", nbytes, times)

    def stall_after(self, repo_id: str, path: str, nbytes: int) -> threading.Event:
        """The next transfer of ``path`` sends ``nbytes`` then hangs until :meth:`release`.

        Returns an event that is set once those bytes went out (to kill the client then).
        """
        fault = _Fault("stall", nbytes, 1)
        with self._lock:
            self._faults[(repo_id, path)] = fault
        return fault.reached

    def tamper(self, repo_id: str, path: str) -> None:
        """Serve ``path`` with its bytes changed (same size) while the listing stays."""
        with self._lock:
            self._faults[(repo_id, path)] = _Fault("tamper", times=-1)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until no request is being answered (its log entry is then written)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if self._active == 0:
                    return True
            time.sleep(0.01)
        return False

    def release(self) -> None:
        """Let stalled transfers end (their connection is then closed)."""
        self._release.set()

    def _take_fault(self, repo_id: str, path: str) -> _Fault | None:
        with self._lock:
            fault = self._faults.get((repo_id, path))
            if fault is None:
                return None
            if fault.times > 0:
                fault.times -= 1
                if fault.times == 0:
                    del self._faults[(repo_id, path)]
            return fault

    def _record(self, entry: HubRequest) -> None:
        with self._settled:
            self._log.append(entry)
            self._active -= 1
            self._settled.notify_all()

    def _repo(self, owner: str, name: str) -> HubRepo | None:
        return self._repos.get(f"{owner}/{name}")


class _Handler(BaseHTTPRequestHandler):
    hub: LoopbackHub
    protocol_version = "HTTP/1.1"
    server_version = "dsprep-loopback-hub/1"

    def log_message(self, format: str, *args: Any) -> None:
        return  # the hub keeps its own log; stay quiet on stderr

    def do_GET(self) -> None:
        self._serve(head=False)

    def do_HEAD(self) -> None:
        self._serve(head=True)

    # -- routing -----------------------------------------------------------------------
    def _serve(self, *, head: bool) -> None:
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        with self.hub._lock:
            self.hub._active += 1
        self._sent = 0
        self._status = 0
        self._repo_id: str | None = None
        self._file_path: str | None = None
        try:
            self._route(unquote(url.path), query, head=head)
        finally:
            self.hub._record(
                HubRequest(
                    self.command,
                    url.path,
                    query,
                    self.headers.get("Range"),
                    self._status,
                    self._sent,
                    self._repo_id,
                    self._file_path,
                )
            )

    def _route(self, path: str, query: dict[str, str], *, head: bool) -> None:
        parts = path[len(_API) :].strip("/").split("/") if path.startswith(_API) else []
        if len(parts) < 2:
            self._not_found(f"no such API: {path}")
            return
        owner, name, rest = parts[0], parts[1], "/".join(parts[2:])
        self._repo_id = f"{owner}/{name}"
        repo = self.hub._repo(owner, name)
        if repo is None:
            self._not_found(f"model {owner}/{name} does not exist")
            return
        if rest == "":
            self._json(200, ok_document(model_document(repo)))
        elif rest == "revisions":
            self._json(200, ok_document(revisions_document(repo)))
        elif rest == "repo/files":
            self._list_files(repo, query)
        elif rest == "repo":
            self._file_path = query.get("FilePath", "")
            self._send_file(repo, query, head=head)
        else:
            self._not_found(f"no such API: {path}")

    def _revisionok_document(self, repo: HubRepo, query: dict[str, str]) -> bool:
        revision = query.get("Revision") or DEFAULT_BRANCH
        if revision in repo.branches or revision == repo.commit():
            return True
        self._not_found(f"model {repo.repo_id} has no revision {revision}")
        return False

    def _list_files(self, repo: HubRepo, query: dict[str, str]) -> None:
        if not self._revisionok_document(repo, query):
            return
        root = query.get("Root", "").strip("/")
        recursive = query.get("Recursive", "False").lower() == "true"
        commit = repo.commit()
        entries: list[dict[str, Any]] = []
        dirs: set[str] = set()
        for f in repo.files().values():
            if root and not f.path.startswith(root + "/"):
                continue
            rel = f.path[len(root) + 1 :] if root else f.path
            if not recursive and "/" in rel:
                dirs.add((f"{root}/" if root else "") + rel.split("/")[0])
                continue
            entries.append(file_entry(f.path, "blob", f.size, f.sha256, commit))
        entries += [file_entry(d, "tree", 0, "", commit) for d in sorted(dirs)]
        self._json(200, ok_document({"Files": entries}))

    def _send_file(self, repo: HubRepo, query: dict[str, str], *, head: bool) -> None:
        if not self._revisionok_document(repo, query):
            return
        hub_file = repo.files().get(self._file_path or "")
        if hub_file is None:
            self._not_found(f"file {self._file_path} does not exist in {repo.repo_id}")
            return
        size = hub_file.size
        start, end = 0, size - 1
        status = 200
        range_header = self.headers.get("Range")
        if range_header:
            parsed = parse_range(range_header, size)
            if parsed is None:
                self._status = 416
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{size}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            start, end = parsed
            status = 206
        length = max(0, end - start + 1)
        self._status = status
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(length))
        self.send_header("Accept-Ranges", "bytes")
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.end_headers()
        if head or length == 0:
            return
        fault = self.hub._take_fault(repo.repo_id, hub_file.path)
        limit = length
        if fault is not None and fault.kind in ("cut", "stall"):
            limit = min(length, max(0, fault.after - start))
        offset = start
        while offset < start + limit:
            block = hub_file.read(offset, min(_SEND_BLOCK, start + limit - offset))
            if fault is not None and fault.kind == "tamper":
                block = bytes(b ^ 0x5A for b in block)
            try:
                self.wfile.write(block)
                self.wfile.flush()
            except OSError:
                self.close_connection = True
                return
            self._sent += len(block)
            offset += len(block)
        if limit < length:  # an injected interruption: drop the connection mid-body
            assert fault is not None
            fault.reached.set()
            if fault.kind == "stall":
                self.hub._release.wait(timeout=60)
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)

    # -- responses ---------------------------------------------------------------------
    def _json(self, status: int, document: dict[str, Any]) -> None:
        body = json.dumps(document, ensure_ascii=False).encode("utf-8")
        self._status = status
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=UTF-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Request-Id", uuid.uuid4().hex)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
            self._sent += len(body)

    def _not_found(self, message: str) -> None:
        self._json(
            404,
            {"Code": 404, "Message": message, "RequestId": uuid.uuid4().hex, "Success": False},
        )
