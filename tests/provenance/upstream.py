"""The source cache of the provenance tier: each profiled release's real sdists, unpacked.

For a profile, the tier reads two sdists: ``vllm-ascend==<release.vllm_ascend>`` and
``vllm==<release.vllm_pip>`` (the pip vLLM whose source stands for the image's vLLM).
They live outside the repository, never committed::

    $DSPREP_UPSTREAM_CACHE (default ~/.cache/dsprep/upstream)
      dl/<sdist file>            the file as PyPI serves it, its sha256 checked
      dl/<sdist file>.sha256     the sha256 the index gave (checked again before unpacking)
      src/<name>-<version>/      the sdist unpacked, once (its PKG-INFO names it)

A missing sdist is downloaded from the PyPI simple index (``https://pypi.org/simple/<name>/``,
PEP 503 HTML; ``DSPREP_UPSTREAM_INDEX`` points elsewhere): the link's ``#sha256=`` is
checked against the bytes received. ``pip download`` is not used: vLLM's sdist builds its
metadata with torch and fails without it. Every request is bounded
(``DSPREP_UPSTREAM_TIMEOUT`` seconds per sdist, default 600; 30 s without a byte), and a
network failure is one :class:`SourceUnavailable` that says what is missing, where the
cache is and how to fill it.

``python -m tests.provenance.upstream`` fetches what the bundled profiles need and prints
the folders (``tests/provenance/run`` does this before pytest).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

CACHE_ENV = "DSPREP_UPSTREAM_CACHE"
INDEX_ENV = "DSPREP_UPSTREAM_INDEX"
TIMEOUT_ENV = "DSPREP_UPSTREAM_TIMEOUT"
DEFAULT_CACHE = Path("~/.cache/dsprep/upstream")
DEFAULT_INDEX = "https://pypi.org/simple"
DEFAULT_TIMEOUT = 600.0  # seconds for one sdist (the largest, vLLM 0.23, is 37 MB)
STALL_TIMEOUT = 30.0  # seconds without a byte (connect or read)
REPO_ROOT = Path(__file__).resolve().parents[2]


class SourceUnavailable(RuntimeError):
    """A release's source is not in the cache and could not be fetched."""


def normalize(name: str) -> str:
    """PEP 503 project name: ``vllm_ascend`` → ``vllm-ascend``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def cache_dir() -> Path:
    """The cache folder (``$DSPREP_UPSTREAM_CACHE`` or ``~/.cache/dsprep/upstream``); never
    inside this repository, so the sources cannot be committed by accident."""
    raw = os.environ.get(CACHE_ENV, "")
    path = Path(raw).expanduser() if raw else DEFAULT_CACHE.expanduser()
    path = path.resolve()
    if path == REPO_ROOT or REPO_ROOT in path.parents:
        raise SourceUnavailable(
            f"{CACHE_ENV}={raw} is inside the repository ({REPO_ROOT}); the release sources "
            "must stay outside it (they are never committed): point it elsewhere"
        )
    return path


def index_url() -> str:
    return os.environ.get(INDEX_ENV, "") or DEFAULT_INDEX


def time_budget() -> float:
    raw = os.environ.get(TIMEOUT_ENV, "")
    try:
        return float(raw) if raw else DEFAULT_TIMEOUT
    except ValueError:
        raise SourceUnavailable(f"{TIMEOUT_ENV}={raw!r} is not a number of seconds") from None


@dataclass(frozen=True)
class Sdist:
    """One requirement ``name==version``."""

    name: str
    version: str

    def __str__(self) -> str:
        return f"{self.name}=={self.version}"

    def folder_names(self) -> tuple[str, ...]:
        """Names the unpacked sdist may have (its archive's top folder)."""
        under = normalize(self.name).replace("-", "_")
        return (f"{under}-{self.version}", f"{self.name}-{self.version}")


@dataclass(frozen=True)
class Link:
    filename: str
    url: str
    sha256: str


class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[tuple[str, str]] = []
        self._href: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._href = dict(attrs).get("href") or ""
            self._text = []

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href is not None:
            self.hrefs.append((self._href, "".join(self._text).strip()))
            self._href = None


def sdist_links(html: str, base_url: str) -> list[Link]:
    """Every ``.tar.gz`` link of a PEP 503 project page that carries a sha256."""
    parser = _Anchors()
    parser.feed(html)
    links = []
    for href, text in parser.hrefs:
        url, _, fragment = urllib.parse.urljoin(base_url, href).partition("#")
        filename = urllib.parse.unquote(url.rsplit("/", 1)[-1]) or text
        digest = dict(p.partition("=")[::2] for p in fragment.split("&") if p).get("sha256")
        if filename.endswith(".tar.gz") and digest:
            links.append(Link(filename, url, digest.lower()))
    return links


def pick_sdist(links: list[Link], sdist: Sdist) -> Link | None:
    """The link whose file is ``<name>-<version>.tar.gz`` (any PEP 503 spelling of name)."""
    for link in links:
        stem = link.filename[: -len(".tar.gz")]
        name, _, version = stem.rpartition("-")
        if normalize(name) == normalize(sdist.name) and version == sdist.version:
            return link
    return None


def _open(url: str) -> Any:
    """``urlopen`` bounded by :data:`STALL_TIMEOUT` (connect and each read)."""
    request = urllib.request.Request(url, headers={"User-Agent": "dsprep-provenance-tier"})
    return urllib.request.urlopen(request, timeout=STALL_TIMEOUT)


def _unavailable(sdist: Sdist, url: str, reason: object, cache: Path) -> SourceUnavailable:
    return SourceUnavailable(
        f"the provenance tier needs the source of {sdist}, which is not in {cache}/src, and "
        f"fetching it from {url} failed: {reason}. Run the tier once with network access "
        f"(it downloads each sdist once), or set {CACHE_ENV} to a folder whose src/ holds "
        f"{sdist.folder_names()[0]}/ (the sdist unpacked)"
    )


def find_link(sdist: Sdist, cache: Path) -> Link:
    """The sdist's link on the index page of its project."""
    url = f"{index_url().rstrip('/')}/{normalize(sdist.name)}/"
    try:
        with _open(url) as response:
            html = response.read().decode("utf-8", "replace")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise _unavailable(sdist, url, exc, cache) from exc
    link = pick_sdist(sdist_links(html, url), sdist)
    if link is None:
        raise SourceUnavailable(
            f"{url} lists no sdist {normalize(sdist.name)}-{sdist.version}.tar.gz with a sha256"
            f" (is {sdist.version} a release of {sdist.name} on PyPI?)"
        )
    return link


def download(link: Link, target: Path, sdist: Sdist, cache: Path) -> None:
    """``link`` to ``target``: streamed into a temporary sibling, sha256 checked, renamed.
    Bounded by :func:`time_budget` as a whole and by 30 s without a byte."""
    deadline = time.monotonic() + time_budget()
    digest = hashlib.sha256()
    fd, partial = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out, _open(link.url) as response:
            read = getattr(response, "read1", response.read)  # what has arrived, not 1 MiB
            while chunk := read(1 << 16):
                digest.update(chunk)
                out.write(chunk)
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"still downloading after {time_budget():.0f} s ({TIMEOUT_ENV} raises it)"
                    )
        if digest.hexdigest() != link.sha256:
            raise SourceUnavailable(
                f"{link.url}: sha256 {digest.hexdigest()} is not the index's {link.sha256}"
            )
        os.replace(partial, target)
        target.with_name(target.name + ".sha256").write_text(link.sha256 + "\n")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise _unavailable(sdist, link.url, exc, cache) from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(partial)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _safe_members(archive: tarfile.TarFile, origin: Path) -> tuple[str, list[tarfile.TarInfo]]:
    """The archive's single top folder and its members, refusing absolute paths, ``..``,
    links and special files (an sdist has none)."""
    members = archive.getmembers()
    tops = set()
    for member in members:
        parts = Path(member.name).parts
        if member.name.startswith("/") or ".." in parts or not parts:
            raise SourceUnavailable(f"{origin}: unsafe member {member.name!r}")
        if not (member.isfile() or member.isdir()):
            raise SourceUnavailable(f"{origin}: {member.name!r} is not a file or folder")
        tops.add(parts[0])
    if len(tops) != 1:
        raise SourceUnavailable(f"{origin}: expected one top folder, found {sorted(tops)}")
    return tops.pop(), members


def unpack(archive_path: Path, src: Path) -> Path:
    """Unpack ``archive_path`` into ``src`` (through a temporary folder, then one rename)."""
    with tarfile.open(archive_path, "r:gz") as archive:
        top, members = _safe_members(archive, archive_path)
        final = src / top
        if final.is_dir():
            return final
        scratch = Path(tempfile.mkdtemp(prefix=f".{top}.", dir=src))
        try:
            if hasattr(tarfile, "data_filter"):
                archive.extractall(scratch, members=members, filter="data")
            else:  # pragma: no cover - Python without PEP 706 (members were checked above)
                archive.extractall(scratch, members=members)
            os.replace(scratch / top, final)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    return final


def _pkg_info(folder: Path) -> tuple[str, str] | None:
    try:
        text = (folder / "PKG-INFO").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    fields = dict(
        line.split(": ", 1) for line in text.splitlines()[:20] if ": " in line and line[0] != " "
    )
    return fields.get("Name", ""), fields.get("Version", "")


def cached_source(sdist: Sdist, cache: Path) -> Path | None:
    """The unpacked sdist, when the cache holds it (its PKG-INFO must name it)."""
    for name in sdist.folder_names():
        folder = cache / "src" / name
        info = _pkg_info(folder)
        if info and normalize(info[0]) == normalize(sdist.name) and info[1] == sdist.version:
            return folder
    return None


def _verified_download(sdist: Sdist, cache: Path) -> Path | None:
    """An earlier download of the sdist whose bytes still match the sha256 recorded beside
    it (unpacking it again needs no network)."""
    for name in sdist.folder_names():
        archive = cache / "dl" / f"{name}.tar.gz"
        recorded = archive.with_name(archive.name + ".sha256")
        try:
            expected = recorded.read_text().strip()
        except OSError:
            continue
        if archive.is_file() and sha256_of(archive) == expected:
            return archive
    return None


@contextlib.contextmanager
def _locked(cache: Path) -> Iterator[None]:
    """One fetcher at a time per cache (two runs side by side must not clobber a file)."""
    cache.mkdir(parents=True, exist_ok=True)
    with (cache / ".lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def source(sdist: Sdist, *, log: bool = False) -> Path:
    """The unpacked source of ``sdist``: from the cache, else downloaded and unpacked."""
    cache = cache_dir()
    found = cached_source(sdist, cache)
    if found is not None:
        return found
    with _locked(cache):
        found = cached_source(sdist, cache)
        if found is not None:
            return found
        (cache / "dl").mkdir(exist_ok=True)
        (cache / "src").mkdir(exist_ok=True)
        archive = _verified_download(sdist, cache)
        if archive is None:
            link = find_link(sdist, cache)
            archive = cache / "dl" / link.filename
            if not archive.is_file() or sha256_of(archive) != link.sha256:
                if log:
                    print(f"downloading {link.url}", file=sys.stderr, flush=True)
                download(link, archive, sdist, cache)
        folder = unpack(archive, cache / "src")
    found = cached_source(sdist, cache)
    if found is None:
        raise SourceUnavailable(f"{folder}: its PKG-INFO does not name {sdist}")
    return found


def sdists_of_profiles() -> list[Sdist]:
    """Both sdists of every bundled profile (each once), oldest release first."""
    from dsprep.profiles import all_profiles

    wanted: list[Sdist] = []
    for profile in all_profiles():
        for sdist in (
            Sdist("vllm-ascend", profile.release.vllm_ascend),
            Sdist("vllm", profile.release.vllm_pip),
        ):
            if sdist not in wanted:
                wanted.append(sdist)
    return wanted


def main() -> int:
    """Fetch what the bundled profiles need; print each folder. Exit 3 when one is
    unavailable (the message says why and what to do), 1 when the profiles do not load."""
    from dsprep.errors import InputError

    try:
        wanted = sdists_of_profiles()
    except InputError as exc:
        print(f"Error: the bundled profiles do not load: {exc}", file=sys.stderr)
        return 1
    try:
        for sdist in wanted:
            print(f"{sdist}: {source(sdist, log=True)}")
    except SourceUnavailable as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
