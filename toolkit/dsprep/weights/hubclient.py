"""The real ModelScope client (``modelscope`` ≥ 1.38 → ``modelscope-hub``), behind one small class.

Everything here talks to the hub through the client's own public ``HubApi``: revisions,
the file listing (with sizes and SHA-256), single-file downloads and the parallel,
resuming, hash-checking repo download with its progress bars on stderr. Client
exceptions become dsprep's typed errors with one clear message and a hint.
"""

from __future__ import annotations

import errno
import os
import socket
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from dsprep.errors import DiskError, DsprepError, InputError, MissingExtraError, NetworkError

DEFAULT_ENDPOINT = "https://modelscope.cn"
ENDPOINT_ENV = "MODELSCOPE_ENDPOINT"


class IntegrityError(DsprepError):
    """The hub served bytes that differ from what its own listing says."""

    code = "sha256-mismatch"


@dataclass(frozen=True)
class RemoteFile:
    """One blob of the repo listing."""

    path: str
    size: int
    sha256: str  # "" when the hub lists none


def resolve_endpoint(endpoint: str | None) -> str:
    """``--endpoint``, else ``MODELSCOPE_ENDPOINT`` (the client variable), else modelscope.cn."""
    value = (endpoint or os.environ.get(ENDPOINT_ENV) or DEFAULT_ENDPOINT).strip()
    if not value.lower().startswith(("http://", "https://")):
        value = f"https://{value}"
    return value.rstrip("/")


def preflight(endpoint: str, timeout: float = 5.0) -> None:
    """Fail in seconds, not after the client's minute of retries, when nothing listens there.

    Skipped when a proxy handles the endpoint (then only the client can tell).
    """
    url = urlsplit(endpoint)
    host = url.hostname or ""
    port = url.port or (443 if url.scheme == "https" else 80)
    if url.scheme in urllib.request.getproxies() and not urllib.request.proxy_bypass(host):
        return
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise NetworkError(
            f"cannot reach the ModelScope hub at {endpoint}: {reason}",
            hint="check the network, or --endpoint / MODELSCOPE_ENDPOINT; then run again",
        ) from exc


class HubClient:
    """One repo at one endpoint, through ``modelscope_hub.HubApi`` with an explicit config."""

    def __init__(
        self,
        repo: str,
        endpoint: str,
        *,
        cache_dir: Path,
        config_dir: Path | None = None,
        token: str | None = None,
    ) -> None:
        try:
            import modelscope  # noqa: F401 - the extra users install
            from modelscope_hub import HubApi
            from modelscope_hub.config import HubConfig
        except ImportError as exc:
            raise MissingExtraError("modelscope", "fetch") from exc
        kwargs: dict[str, Any] = {"endpoint": endpoint, "cache_dir": cache_dir, "token": token}
        if config_dir is not None:
            kwargs["config_dir"] = config_dir
        self.repo = repo
        self.endpoint = endpoint
        self._api = HubApi(config=HubConfig(**kwargs))

    def default_revision(self) -> str:
        """The repo's default branch (``master`` on ModelScope), resolved once."""
        try:
            branches, _tags = self._api.legacy.list_revisions_detail(self.repo, "model")
        except Exception as exc:
            raise self.translate(exc) from exc
        names = [str(b.get("Revision", "")) for b in branches if b.get("Revision")]
        if not names or "master" in names:
            return "master"
        return names[0]

    def list_files(self, revision: str) -> list[RemoteFile]:
        try:
            infos = self._api.list_repo_files(self.repo, "model", revision=revision)
        except Exception as exc:
            raise self.translate(exc, revision=revision) from exc
        return [
            RemoteFile(info.path, int(info.size or 0), (info.sha256 or "").lower())
            for info in infos
            if info.type != "tree" and info.path
        ]

    def download_one(self, remote: RemoteFile, revision: str, staging: Path) -> Path:
        """One file into ``staging`` (the client checks the size, not the hash)."""
        try:
            path = self._api.download_file(
                self.repo,
                "model",
                remote.path,
                revision=revision,
                local_dir=staging,
                file_size=remote.size,
            )
        except Exception as exc:
            raise self.translate(exc, revision=revision, path=remote.path) from exc
        return Path(path)

    def download_many(
        self, files: Sequence[RemoteFile], revision: str, local_dir: Path, max_workers: int
    ) -> None:
        """The client download: ``.incomplete`` + Range resume, SHA-256 checked on the fly."""
        file_list = [
            {"Path": f.path, "Size": f.size, **({"Sha256": f.sha256} if f.sha256 else {})}
            for f in files
        ]
        try:
            self._api.download_repo(
                self.repo,
                "model",
                revision=revision,
                local_dir=local_dir,
                max_workers=max_workers,
                file_list=file_list,
            )
        except Exception as exc:
            raise self.translate(exc, revision=revision) from exc

    def translate(
        self, exc: BaseException, *, revision: str | None = None, path: str | None = None
    ) -> DsprepError:
        """A client exception as one dsprep error naming the repo, file and fix."""
        from modelscope_hub import errors as ms

        where = f"{self.repo}@{revision}" if revision else self.repo
        if isinstance(exc, DsprepError):
            return exc
        if isinstance(exc, ms.FileDownloadError) and exc.failed_files:
            first_path, first = next(iter(exc.failed_files.items()))
            inner = self.translate(first, revision=revision, path=first_path)
            if isinstance(inner, (DiskError, IntegrityError, InputError)):
                return inner
            n = len(exc.failed_files)
            return NetworkError(
                f"{n} file(s) of {where} failed to download, first {first_path}: {inner.message}",
                hint="run the same command again: finished files are kept, partial ones resume",
                path=first_path,
            )
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS):
            return DiskError(
                f"cannot write {exc.filename or path or 'the download'}: {exc.strerror}",
                hint="free disk space (or pick another --local-dir), then run again to resume",
                path=str(exc.filename or path or ""),
            )
        import requests

        if not isinstance(exc, (ms.HubError, requests.RequestException, OSError)):
            raise exc  # a bug, not the network: let the CLI report it as internal
        message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
        message = str(message).splitlines()[0]
        if isinstance(exc, ms.FileIntegrityError):
            return IntegrityError(
                f"{path or 'a file'} from {where} does not match the hub's listing: {message}",
                hint="the hub served other bytes than it lists; run again later or report it",
                path=path,
            )
        if isinstance(exc, ms.NotExistError):
            if path is not None:
                return InputError(
                    f"{path} is listed in {where} but the hub has no such file ({message})",
                    hint="run again later; if it persists, the repo is broken: report it",
                    path=path,
                )
            detail = "" if self.repo in message else f" ({message})"
            return InputError(
                f"model {where} does not exist at {self.endpoint}{detail}",
                hint="check the model id (owner/name, e.g. Eco-Tech/DeepSeek-V3.1-w8a8-mtp-QuaRot),"
                " --revision and --endpoint",
            )
        if isinstance(exc, (ms.AuthenticationError, ms.PermissionDeniedError)):
            return NetworkError(
                f"the hub refused access to {where}: {message}",
                hint="log in with `modelscope login` or set MODELSCOPE_API_TOKEN",
            )
        return NetworkError(
            f"talking to {self.endpoint} about {where} failed: {message}",
            hint="check the network and --endpoint, then run again (downloads resume)",
            path=path,
        )
