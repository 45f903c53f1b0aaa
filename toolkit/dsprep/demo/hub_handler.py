"""The HTTP side of :class:`~dsprep.demo.hub.LoopbackHub`: routing, listings, file bytes.

One :class:`HubHandler` answers the ``/api/v1/models/…`` requests the modelscope client
makes (see :mod:`dsprep.demo.hub` for the list), in the JSON shapes of
:mod:`dsprep.demo.hub_repo`, honouring ``Range`` and the faults a test injected; every
answered request is handed to the hub's log as a :class:`HubRequest`.
"""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

from dsprep.demo.hub_repo import (
    DEFAULT_BRANCH,
    HubRepo,
    file_entry,
    model_document,
    ok_document,
    parse_range,
    revisions_document,
)

if TYPE_CHECKING:
    from dsprep.demo.hub import LoopbackHub

_API = "/api/v1/models/"
_SEND_BLOCK = 256 * 1024


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
    started: float = 0.0  # time.monotonic() when the request arrived
    ended: float = 0.0  # … and when its answer was sent (or the connection dropped)


@dataclass
class Fault:
    """An injected fault (see ``LoopbackHub.cut_after``, ``stall_after``, ``tamper``,
    ``hang``, ``trickle``, ``delay``)."""

    kind: str  # "cut", "stall", "tamper", "hang", "trickle" or "delay"
    after: int = 0  # cut/stall: bytes sent first; trickle: bytes per second
    times: int = 1
    reached: threading.Event = field(default_factory=threading.Event)
    seconds: float = 0.0  # delay: how long to wait before answering


class QuietServer(ThreadingHTTPServer):
    """A client that hangs up mid-transfer (an interrupted download) is normal, not an error."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class HubHandler(BaseHTTPRequestHandler):
    """Answers one connection's requests from :attr:`hub`'s repos (bound in ``start``)."""

    hub: LoopbackHub
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out at once, no 40 ms ACK wait
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
        self.hub.begin_request()
        started = time.monotonic()
        self._sent = 0
        self._status = 0
        self._repo_id: str | None = None
        self._file_path: str | None = None
        try:
            self._route(unquote(url.path), query, head=head)
        finally:
            self.hub.record(
                HubRequest(
                    self.command,
                    url.path,
                    query,
                    self.headers.get("Range"),
                    self._status,
                    self._sent,
                    self._repo_id,
                    self._file_path,
                    started,
                    time.monotonic(),
                )
            )

    def _route(self, path: str, query: dict[str, str], *, head: bool) -> None:
        parts = path[len(_API) :].strip("/").split("/") if path.startswith(_API) else []
        if len(parts) < 2:
            self._not_found(f"no such API: {path}")
            return
        owner, name, rest = parts[0], parts[1], "/".join(parts[2:])
        self._repo_id = f"{owner}/{name}"
        repo = self.hub.repo(self._repo_id)
        if rest != "repo" and not self._before_answer(self.hub.take_api_fault(self._repo_id, rest)):
            return
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

    def _revision_ok(self, repo: HubRepo, query: dict[str, str]) -> bool:
        revision = query.get("Revision") or DEFAULT_BRANCH
        if revision in repo.branches or revision == repo.commit():
            return True
        self._not_found(f"model {repo.repo_id} has no revision {revision}")
        return False

    def _list_files(self, repo: HubRepo, query: dict[str, str]) -> None:
        if not self._revision_ok(repo, query):
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
        if not self._revision_ok(repo, query):
            return
        hub_file = repo.files().get(self._file_path or "")
        if hub_file is None:
            self._not_found(f"file {self._file_path} does not exist in {repo.repo_id}")
            return
        fault = None if head else self.hub.take_fault(repo.repo_id, hub_file.path)
        if not self._before_answer(fault):
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
        if fault is not None and fault.kind == "trickle":
            self._trickle(hub_file.read, start, length, fault)
            return
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
                self.hub.wait_released(timeout=60)
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)

    def _before_answer(self, fault: Fault | None) -> bool:
        """Apply a ``hang`` (never answer: False) or ``delay`` fault; True to answer now."""
        if fault is None:
            return True
        if fault.kind == "delay":
            time.sleep(fault.seconds)
            return True
        if fault.kind != "hang":
            return True
        fault.reached.set()
        self.hub.wait_released(timeout=120)
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)
        return False

    def _trickle(
        self, read: Callable[[int, int], bytes], start: int, length: int, fault: Fault
    ) -> None:
        """Send the body at ``fault.after`` bytes per second (a slow-loris server) until the
        client gives up or the hub releases it, then drop the connection."""
        fault.reached.set()
        step = max(1, fault.after // 10)  # ten sends a second
        offset = start
        while offset < start + length and not self.hub.wait_released(timeout=0.1):
            block = read(offset, min(step, start + length - offset))
            try:
                self.wfile.write(block)
                self.wfile.flush()
            except OSError:
                break
            self._sent += len(block)
            offset += len(block)
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
