"""The client's exceptions as dsprep's typed errors: one English ``Error:`` sentence.

The client raises many kinds (its own, ``requests``', ``urllib3``'s, ``OSError``) and some
of its messages are raw transport dumps (``HTTPConnectionPool(…): Read timed out``) or in
Chinese. Here the whole cause chain is classified and the message is written anew: what
dsprep was doing, which host, what happened, which option to turn. A hub answer that is
not the hub's JSON (a proxy's 404 page) never reads as "model does not exist".
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from dsprep.errors import DiskError, DsprepError, InputError, NetworkError
from dsprep.weights.hubclient import IntegrityError, Limits

# Always the disk; EACCES/EPERM only when they name a file (a socket's EPERM is a firewall).
DISK_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS}
PERMISSION_ERRNOS = {errno.EACCES, errno.EPERM}
HUB_KEYS = ("Code", "Success", "Data", "Message", "RequestId")
PROXY_HINT = (
    "a proxy (HTTP_PROXY/HTTPS_PROXY/ALL_PROXY) or another server answered instead of the "
    "hub: fix the proxy settings or add the hub's host to NO_PROXY, and check --endpoint"
)


@dataclass(frozen=True)
class CallContext:
    """What dsprep was doing when the client failed."""

    endpoint: str
    where: str  # repo@revision
    action: str  # "listing the files of a/b@master", "downloading config.json"
    limits: Limits
    path: str | None = None
    waited: float | None = None

    @property
    def host(self) -> str:
        return urlsplit(self.endpoint).netloc or self.endpoint


def is_hub_document(body: Any) -> bool:
    """A ModelScope API answer (``{"Code": …, "Message": …, "Success": …}``), not a proxy's."""
    return isinstance(body, dict) and any(key in body for key in HUB_KEYS)


def proxy_for(url: str) -> str | None:
    """The proxy ``requests`` (and so the client) uses for ``url``, credentials removed."""
    import requests.utils

    proxy = requests.utils.select_proxy(url, requests.utils.get_environ_proxies(url))
    if not proxy:
        return None
    parts = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    return f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")


def not_the_hub(endpoint: str, status: int | None, action: str) -> NetworkError:
    """A 404 (or any answer) that did not come from the hub: name the proxy, if one is set."""
    host = urlsplit(endpoint).netloc or endpoint
    proxy = proxy_for(endpoint)
    who = f"the proxy {proxy} answered for {host}" if proxy else f"{host} answered"
    shown = f"HTTP {status}" if status is not None else "an answer"
    return NetworkError(
        f"while {action}, {who} with {shown} that is not the ModelScope API's JSON: not "
        "the hub speaking, so not taken for a missing model",
        hint=PROXY_HINT,
    )


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def timed_out(exc: BaseException) -> bool:
    """A time-out anywhere in ``exc``'s cause chain (the client's, requests', urllib3's)."""
    import requests
    import urllib3

    timeouts = (TimeoutError, requests.Timeout, urllib3.exceptions.TimeoutError)
    return _first(list(_chain(exc)), timeouts) is not None


def _first(chain: list[BaseException], types: Any) -> Any:
    return next((e for e in chain if isinstance(e, types)), None)


def _reason(chain: list[BaseException]) -> str:
    """An OSError's own words (``Connection refused``), when there are English ones."""
    for exc in reversed(chain):
        text = getattr(exc, "strerror", None)
        if isinstance(text, str) and text and text.isascii():
            return f": {text}"
    return ""


def _disk(chain: list[BaseException], ctx: CallContext) -> DiskError | None:
    for exc in chain:
        if not isinstance(exc, OSError) or exc.errno is None:
            continue
        named = exc.filename is not None
        if exc.errno in DISK_ERRNOS or (exc.errno in PERMISSION_ERRNOS and named):
            target = exc.filename or ctx.path or "the download"
            return DiskError(
                f"cannot write {target}: {exc.strerror or errno.errorcode.get(exc.errno, '')}",
                hint="free disk space or fix the folder's permissions (or pick another "
                "--local-dir), then run again to resume",
                path=str(target),
            )
    return None


def translate(exc: BaseException, ctx: CallContext) -> DsprepError:
    """``exc`` (raised by the client during ``ctx``) as one dsprep error; a bug re-raises."""
    import requests
    import urllib3
    from modelscope_hub import errors as ms
    from modelscope_hub._download_control import _DownloadTooSlowError

    if isinstance(exc, DsprepError):
        return exc
    chain = list(_chain(exc))
    disk = _disk(chain, ctx)
    if disk is not None:
        return disk
    path = ctx.path or "a file"
    if _first(chain, ms.FileSizeMismatchError) is not None:
        return IntegrityError(
            f"{path} from {ctx.where}: {ctx.host} sent another size than its listing says; "
            "it was not written",
            hint="the hub's copy is out of date or truncated: run again later, or report it",
            path=ctx.path,
        )
    if _first(chain, ms.FileIntegrityError) is not None:
        return IntegrityError(
            f"{path} from {ctx.where} has another SHA-256 than the hub lists for it; it was "
            "not written",
            hint="the hub served other bytes than it lists: run again later, or report it",
            path=ctx.path,
        )
    limits = ctx.limits
    if (missing := _first(chain, ms.NotExistError)) is not None:
        if not is_hub_document(missing.response_body):
            return not_the_hub(ctx.endpoint, missing.status_code, ctx.action)
        if ctx.path is not None:
            return InputError(
                f"{ctx.path} is listed in {ctx.where} but {ctx.host} has no such file",
                hint="run again later; if it persists, the repo is broken: report it",
                path=ctx.path,
            )
        return InputError(
            f"model {ctx.where} does not exist at {ctx.endpoint}",
            hint="check the model id (owner/name, e.g. Eco-Tech/DeepSeek-V3.1-w8a8-mtp-QuaRot),"
            " --revision and --endpoint",
        )
    if _first(chain, (ms.AuthenticationError, ms.PermissionDeniedError)) is not None:
        return NetworkError(
            f"{ctx.host} refused access to {ctx.where} while {ctx.action}",
            hint="log in with `modelscope login` or set MODELSCOPE_API_TOKEN",
        )
    if _first(chain, _DownloadTooSlowError) is not None:
        from modelscope_hub.constants import DOWNLOAD_MIN_BYTES_PER_SECOND as min_rate

        return NetworkError(
            f"{ctx.host} sent {path} slower than {min_rate} bytes/s for {limits.read:g} s on "
            f"every attempt ({limits.knobs()})",
            hint="the hub or the link is stalling: run again later (the download resumes), "
            "or raise --read-timeout on a very slow link",
            path=ctx.path,
        )
    if timed_out(exc):
        if ctx.waited is not None:
            what = f"did not answer while {ctx.action}: gave up after {ctx.waited:.0f} s"
        else:
            what = f"sent nothing for {limits.read:g} s while {ctx.action}, on every attempt"
        return NetworkError(
            f"{ctx.host} {what} ({limits.knobs()})",
            hint=f"check that {ctx.endpoint} is the ModelScope hub and that nothing (a proxy, "
            "a firewall) holds the connection; raise --read-timeout on a slow link, then run "
            "again (downloads resume)",
            path=ctx.path,
        )
    if (limited := _first(chain, ms.RateLimitError)) is not None:
        after = getattr(limited, "retry_after", None)
        wait = f" (it asks to wait {after} s)" if after else ""
        return NetworkError(
            f"{ctx.host} is rate-limiting requests while {ctx.action}{wait}",
            hint="wait a few minutes, then run again (downloads resume)",
            path=ctx.path,
        )
    if (answer := _first(chain, ms.APIError)) is not None:
        status = answer.status_code
        if not is_hub_document(answer.response_body):
            return not_the_hub(ctx.endpoint, status, ctx.action)
        said = str(getattr(answer, "message", "") or "").splitlines()[:1]
        words = f": {said[0]}" if said and said[0].isascii() else ""
        server = status is not None and status >= 500
        return NetworkError(
            f"{ctx.host} answered HTTP {status} while {ctx.action}{words}",
            hint="the hub is failing: run again later (downloads resume)"
            if server
            else "check the model id, --revision and --endpoint, then run again",
            path=ctx.path,
        )
    transport = (ConnectionError, requests.RequestException, urllib3.exceptions.HTTPError)
    if _first(chain, (*transport, ms.HubError, OSError)) is None:
        raise exc  # a bug, not the network: the CLI reports it as an internal error
    return NetworkError(
        f"the connection to {ctx.host} failed or was cut while {ctx.action}{_reason(chain)} "
        f"({limits.knobs()})",
        hint=f"check the network and --endpoint {ctx.endpoint}, then run again "
        "(finished files are kept, partial ones resume)",
        path=ctx.path,
    )
