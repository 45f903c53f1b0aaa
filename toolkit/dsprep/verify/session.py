"""The connection to the deployment: the base URL, the OpenAI client, and the time bounds
(a timeout per request, a deadline for the whole run)."""

from __future__ import annotations

import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dsprep.errors import InputError, MissingExtraError, NetworkError

if TYPE_CHECKING:
    from openai import OpenAI


class RequestFailed(Exception):
    """A request the server answered with an error, or that timed out or lost its
    connection; ``status`` is the HTTP status (None: no answer)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class DeadlineReached(Exception):
    """The run's total timeout is spent: the remaining checks do not run."""


DEADLINE_SPENT = "the total timeout was spent"  # a request a worker thread could not send


def base_url(url: str) -> str:
    """``http://h:8000/v1/`` → ``http://h:8000``; an :class:`InputError` unless http(s)."""
    parsed = urllib.parse.urlsplit(url.strip())
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise InputError(
            f"{url!r} is not an http(s) URL of a server",
            hint="pass the server's base URL, e.g. http://10.0.0.1:8000",
        )
    path = parsed.path.rstrip("/")
    if path.endswith("/v1"):
        path = path[: -len("/v1")]
    return urllib.parse.urlunsplit((parsed.scheme, parsed.netloc, path, "", ""))


@dataclass
class Session:
    url: str  # the base URL, without /v1
    api_key: str
    request_timeout: float
    total_timeout: float
    started: float = field(default_factory=time.monotonic)
    _client: Any = None

    def remaining(self) -> float:
        return self.total_timeout - (time.monotonic() - self.started)

    def timeout(self) -> float:
        """The timeout of the next request: the per-request one, cut to what is left."""
        left = self.remaining()
        if left <= 0:
            raise DeadlineReached
        return min(self.request_timeout, left)

    def client(self) -> OpenAI:
        if self._client is None:
            try:
                from openai import OpenAI
            except ImportError as exc:
                raise MissingExtraError("openai", "verify") from exc
            self._client = OpenAI(
                base_url=f"{self.url}/v1",
                api_key=self.api_key,
                timeout=self.request_timeout,
                max_retries=0,
            )
        client: OpenAI = self._client
        return client

    def health(self) -> tuple[int, float]:
        """GET /health: (HTTP status, seconds). A server that does not answer at all is a
        :class:`NetworkError` (exit 3): nothing else can be checked."""
        begin = time.monotonic()
        request = urllib.request.Request(f"{self.url}/health", method="GET")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout()) as response:
                status = int(response.status)
        except urllib.error.HTTPError as error:
            status = int(error.code)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise NetworkError(
                f"{self.url}/health: the server does not answer ({reason})",
                hint="check the URL and that serve.sh runs on the head node (bash verify.sh "
                "waits for the load)",
            ) from exc
        return status, time.monotonic() - begin

    def overdue(self, begin: float, limit: float) -> None:
        """Stop a stream that has run longer than ``limit`` since ``begin``: the run's
        deadline (:class:`DeadlineReached`) or the request's (:class:`RequestFailed`)."""
        if time.monotonic() - begin <= limit:
            return
        if self.remaining() <= 0:
            raise DeadlineReached
        raise RequestFailed(f"the stream did not finish within {limit:.0f} s")

    @contextmanager
    def errors(self, limit: float) -> Iterator[None]:
        """The client's errors (also those a stream raises while it is read) as
        :class:`RequestFailed`, or :class:`DeadlineReached` once the run's time is spent."""
        import openai

        try:
            yield
        except openai.APIStatusError as error:
            raise RequestFailed(
                f"HTTP {error.status_code}: {_error_text(error)}", error.status_code
            ) from error
        except (openai.APITimeoutError, openai.APIConnectionError) as error:
            if self.remaining() <= 0:  # cut short by the run's deadline
                raise DeadlineReached from error
            if isinstance(error, openai.APITimeoutError):
                raise RequestFailed(f"no answer within {limit:.0f} s") from error
            raise RequestFailed(f"connection failed: {error}") from error

    def call(self, make: Any, *args: Any, **kwargs: Any) -> Any:
        """``make(*args, timeout=…, **kwargs)`` under :meth:`errors`."""
        limit = self.timeout()
        with self.errors(limit):
            return make(*args, timeout=limit, **kwargs)


def _error_text(error: Any) -> str:
    body = getattr(error, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return str(inner["message"])[:300]
        if isinstance(body.get("message"), str):
            return str(body["message"])[:300]
    return str(getattr(error, "message", error))[:300]
