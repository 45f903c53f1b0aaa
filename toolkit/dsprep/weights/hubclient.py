"""The real ModelScope client (``modelscope`` ≥ 1.38 → ``modelscope-hub``), behind one small class.

Everything here talks to the hub through the client's own ``HubApi``: revisions, the file
listing (with sizes and SHA-256) and the resuming, hash-checking per-file download, with
its progress bars on stderr. Two things the client leaves open are closed here:

- **time**: every call runs under the client's own per-call budget (a ``_DownloadControl``
  with a ``DownloadRetryPolicy`` recovery budget), so no answer within ``--read-timeout``,
  or a transfer slower than the client's minimum rate (1 KiB/s) for that long, is retried
  at most ``--retries`` times, then fails: exit 3 in well under a minute, not after the
  client's six minutes of retries;
- **place**: a download never lands outside its folder: every name and the partial-file
  names the client derives from it are resolved inside it first (a symlinked subfolder or
  ``.incomplete`` file pointing elsewhere is a ``path-escape``, never a write).

Files download in parallel (``max_workers``); the first failure stops the others (their
partial files stay for the next run to resume). Client exceptions become dsprep's typed
errors with one English message (:mod:`dsprep.weights.hub_errors`).
"""

from __future__ import annotations

import importlib.util
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from dsprep.errors import DsprepError, MissingExtraError
from dsprep.weights.folder import ModelDir

DEFAULT_ENDPOINT = "https://modelscope.cn"
ENDPOINT_ENV = "MODELSCOPE_ENDPOINT"
RETRY_DELAY = 2.0  # seconds between attempts (the client's recovery backoff is capped at 2)
# What the client writes beside a file while downloading it (resolved inside the folder too).
PARTIAL_SUFFIXES = (".incomplete", ".parallel_tmp")

T = TypeVar("T")


class IntegrityError(DsprepError):
    """The hub served bytes that differ from what its own listing says."""

    code = "sha256-mismatch"


@dataclass(frozen=True)
class RemoteFile:
    """One blob of the repo listing."""

    path: str
    size: int
    sha256: str  # "" when the hub lists none


@dataclass(frozen=True)
class Limits:
    """How long fetch waits on the hub before one ``Error:`` line (exit 3).

    ``connect``: seconds to open a TCP connection (dsprep's probe of the hub; the client's
    own connections wait at most 10 s and never longer than ``read``). ``read``: seconds
    without an answer, or with a transfer slower than the client's minimum rate (1 KiB/s).
    ``retries``: further attempts after such a failure. One API call attempt takes at most
    ``connect + read``, one call with its retries at most :attr:`call_budget`; one file
    gives up after ``retries`` retries of ``read`` seconds each without progress.
    """

    connect: float = 10.0
    read: float = 10.0
    retries: int = 2

    @property
    def attempts(self) -> int:
        return self.retries + 1

    @property
    def call_budget(self) -> float:
        """The most one call (or one file's recovery) may take while failing."""
        return self.connect + self.attempts * self.read + self.retries * RETRY_DELAY

    def knobs(self) -> str:
        return (
            f"--connect-timeout {self.connect:g} s, --read-timeout {self.read:g} s, "
            f"--retries {self.retries}"
        )


def resolve_endpoint(endpoint: str | None) -> str:
    """``--endpoint``, else ``MODELSCOPE_ENDPOINT`` (the client variable), else modelscope.cn."""
    value = (endpoint or os.environ.get(ENDPOINT_ENV) or DEFAULT_ENDPOINT).strip()
    if not value.lower().startswith(("http://", "https://")):
        value = f"https://{value}"
    return value.rstrip("/")


def require_client() -> None:
    """:class:`MissingExtraError` unless the ``fetch`` extra is installed (no network).

    Looked up, not imported: ``import modelscope`` alone costs a quarter of a second, and
    dsprep drives ``modelscope_hub`` (which ``modelscope`` ≥ 1.38 delegates to) directly.
    """
    for module in ("modelscope", "modelscope_hub"):
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):  # ValueError: sys.modules holds None for it
            found = False
        if not found:
            raise MissingExtraError(module, "fetch")


def contained(folder: ModelDir, name: str) -> Path:
    """The real path of ``name`` inside ``folder``, having checked the partial-file names
    the client writes beside it; :class:`~dsprep.weights.folder.PathEscape` otherwise."""
    source = "the hub's listing"
    real = folder.resolve(name, source=source)
    for suffix in PARTIAL_SUFFIXES:  # in a folder resolved inside: only a symlink leads away
        if os.path.islink(os.path.join(folder.real, name + suffix)):
            folder.resolve(name + suffix, source=source)
    return real


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
        limits: Limits | None = None,
    ) -> None:
        require_client()
        try:
            from modelscope_hub import HubApi
            from modelscope_hub.config import HubConfig
            from modelscope_hub.types import DownloadRetryPolicy
        except ImportError as exc:
            raise MissingExtraError("modelscope", "fetch") from exc

        kwargs: dict[str, Any] = {"endpoint": endpoint, "cache_dir": cache_dir, "token": token}
        if config_dir is not None:
            kwargs["config_dir"] = config_dir
        self.repo = repo
        self.endpoint = endpoint
        self.limits = limits or Limits()
        self._api = HubApi(config=HubConfig(**kwargs))
        self._policy = DownloadRetryPolicy(
            max_retries=self.limits.retries,
            recovery_timeout=self.limits.call_budget,
            idle_timeout=self.limits.read,
            low_speed_window=self.limits.read,
            max_retry_delay=2 * RETRY_DELAY,
        )

    # -- API calls ---------------------------------------------------------------------
    def default_revision(self) -> str:
        """The repo's default branch (``master`` on ModelScope), resolved once."""
        branches, _tags = self._call(
            f"resolving the default branch of {self.repo}",
            lambda: self._api.legacy.list_revisions_detail(self.repo, "model"),
        )
        names = [str(b.get("Revision", "")) for b in branches if b.get("Revision")]
        if not names or "master" in names:
            return "master"
        return names[0]

    def list_files(self, revision: str) -> list[RemoteFile]:
        infos = self._call(
            f"listing the files of {self.repo}@{revision}",
            lambda: self._api.list_repo_files(self.repo, "model", revision=revision),
            revision=revision,
        )
        return [
            RemoteFile(info.path, int(info.size or 0), (info.sha256 or "").lower())
            for info in infos
            if info.type != "tree" and info.path
        ]

    def _recovery(self) -> Any:
        from modelscope_hub._download_control import _RecoveryBudget

        return _RecoveryBudget(self._policy, 0, 0.0, lambda _retries, _seconds: None)

    def _call(self, action: str, call: Callable[[], T], *, revision: str | None = None) -> T:
        """``call()``, each attempt within ``connect + read`` seconds, retried on a time-out
        or what the client calls retryable, all within :attr:`Limits.call_budget`."""
        from modelscope_hub._download_control import _DownloadControl

        from dsprep.weights.hub_errors import timed_out

        limits = self.limits
        started = time.monotonic()
        deadline = started + limits.call_budget
        attempt = 0
        while True:
            attempt += 1
            budget = max(0.001, min(limits.connect + limits.read, deadline - time.monotonic()))
            try:
                with (
                    _DownloadControl(total_timeout=budget, recovery=self._recovery()) as control,
                    self._api.legacy.read_context(control),
                ):
                    return call()
            except Exception as exc:
                transient = getattr(exc, "retryable", False) or timed_out(exc)
                room = deadline - time.monotonic() > RETRY_DELAY + 0.5
                if attempt < limits.attempts and transient and room:
                    time.sleep(RETRY_DELAY)
                    continue
                raise self.translate(
                    exc, action=action, revision=revision, waited=time.monotonic() - started
                ) from exc

    # -- downloads ---------------------------------------------------------------------
    def download_many(
        self, files: Sequence[RemoteFile], revision: str, local_dir: Path, max_workers: int
    ) -> None:
        """Download ``files`` into ``local_dir``: ``.incomplete`` + Range resume, SHA-256
        checked while streaming, ``max_workers`` at a time; the first failure stops the rest.
        """
        if not files:
            return
        folder = ModelDir(local_dir)
        for remote in files:
            contained(folder, remote.path)
        stop = threading.Event()
        failed: tuple[RemoteFile, BaseException] | None = None
        workers = max(1, min(max_workers, len(files)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dsprep-fetch") as pool:
            futures = {
                pool.submit(self._download, remote, revision, folder.real, stop): remote
                for remote in files
            }
            try:
                for future in as_completed(futures):
                    if future.cancelled() or future.exception() is None or stop.is_set():
                        continue
                    failed = (futures[future], future.exception() or RuntimeError())
                    stop.set()  # the others stop now; their partial files stay to resume
                    for pending in futures:
                        pending.cancel()
            except BaseException:
                stop.set()
                for pending in futures:
                    pending.cancel()
                raise
        if failed is not None:
            remote, exc = failed
            raise self.translate(
                exc, action=f"downloading {remote.path}", revision=revision, path=remote.path
            ) from exc

    def _download(
        self, remote: RemoteFile, revision: str, dest: Path, stop: threading.Event
    ) -> None:
        self._api.downloader.download_file(
            self.repo,
            "model",
            remote.path,
            revision=revision,
            local_dir=dest,
            file_size=remote.size,
            expected_sha256=remote.sha256 or None,
            _cancel_event=stop,
            _recovery=self._recovery(),
        )

    def translate(
        self,
        exc: BaseException,
        *,
        action: str,
        revision: str | None = None,
        path: str | None = None,
        waited: float | None = None,
    ) -> DsprepError:
        """A client exception as one dsprep error naming the host, repo, file and fix."""
        from dsprep.weights.hub_errors import CallContext, translate

        where = f"{self.repo}@{revision}" if revision else self.repo
        context = CallContext(self.endpoint, where, action, self.limits, path, waited)
        return translate(exc, context)
