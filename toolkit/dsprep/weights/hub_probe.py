"""One bounded request before the client's first: fail in seconds, and tell a hub from a proxy.

Before the modelscope client makes a call, dsprep

1. opens a TCP connection to the endpoint within ``--connect-timeout`` (unless a proxy
   handles it: then the proxy is the first hop);
2. asks ``GET /api/v1/models/{owner}/{name}`` through the same proxies the client uses
   (``HTTP_PROXY``, ``HTTPS_PROXY``, ``NO_PROXY``, as ``requests`` reads them) and waits at
   most ``--read-timeout`` for the answer (and ``connect + read`` in all, headers and body);
3. takes any answer in the hub's JSON shape (a private or missing model is the client's to
   report) and refuses anything else, such as a proxy's 404 page for every host, naming
   the proxy: that must not read as "model does not exist".
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from dsprep.errors import NetworkError
from dsprep.weights.hub_errors import PROXY_HINT, is_hub_document, not_the_hub, proxy_for
from dsprep.weights.hubclient import Limits

MAX_PROBE_BYTES = 64 * 1024
T = TypeVar("T")


def probe_hub(endpoint: str, repo: str, limits: Limits) -> None:
    """:class:`NetworkError` unless ``endpoint`` answers like a ModelScope hub, in time."""
    import requests

    url = f"{endpoint}/api/v1/models/{repo}"
    host = urlsplit(endpoint).netloc or endpoint
    proxy = proxy_for(url)
    if proxy is None:
        connect(endpoint, limits.connect)
    via = f" through the proxy {proxy}" if proxy else ""
    slow_hint = (
        f"check that {endpoint} is the ModelScope hub and that nothing (a proxy, a firewall) "
        "holds the connection; raise --read-timeout on a slow link"
    )

    def get() -> tuple[int, bytes]:
        headers = {"Accept": "application/json"}
        timeout = (limits.connect, limits.read)
        with requests.get(url, headers=headers, timeout=timeout, stream=True) as response:
            body = response.raw.read(MAX_PROBE_BYTES, decode_content=True) or b""
            return response.status_code, body

    no_answer = NetworkError(
        f"{host} accepted the connection{via} but sent no answer within {limits.read:g} s "
        f"(--read-timeout)",
        hint=slow_hint,
    )
    try:
        status, body = bounded(get, limits.connect + limits.read + 1.0, no_answer)
    except requests.exceptions.ProxyError as exc:
        raise NetworkError(
            f"the proxy {proxy} did not pass the request on to {host}", hint=PROXY_HINT
        ) from exc
    except requests.exceptions.ConnectTimeout as exc:
        raise NetworkError(
            f"no connection to {host}{via} within {limits.connect:g} s (--connect-timeout)",
            hint="check the network and --endpoint, or raise --connect-timeout",
        ) from exc
    except requests.Timeout as exc:
        raise no_answer from exc
    except requests.exceptions.SSLError as exc:
        raise NetworkError(
            f"the TLS handshake with {host}{via} failed",
            hint="check --endpoint (http:// or https://) and the system's CA certificates",
        ) from exc
    except requests.RequestException as exc:
        raise NetworkError(
            f"cannot talk to the ModelScope hub at {endpoint}{via}: the connection failed",
            hint="check the network, or --endpoint / MODELSCOPE_ENDPOINT; then run again",
        ) from exc
    try:
        document: Any = json.loads(body)
    except ValueError:
        document = None
    if not is_hub_document(document):
        raise not_the_hub(endpoint, status, f"asking for model {repo}")


def connect(endpoint: str, timeout: float) -> None:
    """Fail in seconds, not after the client's retries, when nothing listens there."""
    url = urlsplit(endpoint)
    host = url.hostname or ""
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as exc:
        reason = exc.strerror or ("timed out" if isinstance(exc, TimeoutError) else "")
        raise NetworkError(
            f"cannot reach the ModelScope hub at {endpoint}: {reason or type(exc).__name__}",
            hint="check the network, or --endpoint / MODELSCOPE_ENDPOINT (and "
            "--connect-timeout); then run again",
        ) from exc


def bounded(call: Callable[[], T], seconds: float, late: Exception) -> T:
    """``call()`` in a helper thread; ``late`` is raised if it has not ended in ``seconds``
    (a server trickling its headers defeats a per-read time-out, not this)."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = call()
        except BaseException as exc:  # handed to the caller's thread
            outcome["error"] = exc

    worker = threading.Thread(target=run, name="dsprep-hub-probe", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise late
    if "error" in outcome:
        raise outcome["error"]
    value: T = outcome["value"]
    return value
