"""The source cache: index pages are read as pip reads them, a download is checked against
the index's sha256 before it is kept, an archive is unpacked once and only when it is safe,
a slow or absent index fails within its bounds with a message that says what to do, and
the cache never lives inside the repository. Everything runs against a local HTTP server."""

from __future__ import annotations

import hashlib
import io
import tarfile
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.provenance import upstream
from tests.provenance.upstream import Link, Sdist, SourceUnavailable

PKG = Sdist("vllm-ascend", "0.11.0rc0")


def sdist_bytes(top: str = "vllm_ascend-0.11.0rc0", extra: tarfile.TarInfo | None = None) -> bytes:
    """A tiny sdist: PKG-INFO and one module under one top folder."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, text in (
            (f"{top}/PKG-INFO", "Metadata-Version: 2.1\nName: vllm_ascend\nVersion: 0.11.0rc0\n"),
            (f"{top}/vllm_ascend/__init__.py", "x = 1\n"),
        ):
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        if extra is not None:
            archive.addfile(extra, io.BytesIO(b"" if not extra.size else b"x" * extra.size))
    return buffer.getvalue()


class Index:
    """A PEP 503 index on 127.0.0.1 serving one sdist; records the paths requested."""

    def __init__(self, payload: bytes, digest: str | None = None, delay: float = 0.0) -> None:
        self.payload, self.delay = payload, delay
        self.requests: list[str] = []
        self.digest = digest or hashlib.sha256(payload).hexdigest()
        index = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                index.requests.append(self.path)
                if self.path == "/simple/vllm-ascend/":
                    body = (
                        '<html><body><a href="../../files/vllm_ascend-0.11.0rc0-py3-none-any.whl'
                        '#sha256=00">wheel</a><br/>'
                        f'<a href="../../files/vllm_ascend-0.11.0rc0.tar.gz#sha256={index.digest}">'
                        "vllm_ascend-0.11.0rc0.tar.gz</a></body></html>"
                    ).encode()
                elif self.path == "/files/vllm_ascend-0.11.0rc0.tar.gz":
                    body = index.payload
                else:
                    self.send_response(404)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                for start in range(0, len(body), 64):
                    self.wfile.write(body[start : start + 64])
                    time.sleep(index.delay)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/simple"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv(upstream.CACHE_ENV, str(folder))
    return folder


@pytest.fixture
def index(monkeypatch: pytest.MonkeyPatch) -> Iterator[Index]:
    served = Index(sdist_bytes())
    monkeypatch.setenv(upstream.INDEX_ENV, served.url)
    yield served
    served.close()


def test_an_index_page_gives_the_sdist_link_and_its_sha256() -> None:
    html = (
        '<a href="https://files/x/vllm_ascend-0.11.0rc0.tar.gz#sha256=AB12">v</a>'
        '<a href="https://files/x/vllm_ascend-0.11.0.tar.gz#sha256=cd34">v</a>'
        '<a href="https://files/x/vllm_ascend-0.11.0rc0-cp311-manylinux.whl#sha256=ef">w</a>'
        '<a href="https://files/x/vllm_ascend-0.11.0rc1.tar.gz">no digest</a>'
    )
    links = upstream.sdist_links(html, "https://pypi.org/simple/vllm-ascend/")
    assert [link.filename for link in links] == [
        "vllm_ascend-0.11.0rc0.tar.gz",
        "vllm_ascend-0.11.0.tar.gz",
    ]
    assert upstream.pick_sdist(links, PKG) == Link(
        "vllm_ascend-0.11.0rc0.tar.gz", "https://files/x/vllm_ascend-0.11.0rc0.tar.gz", "ab12"
    )
    assert upstream.pick_sdist(links, Sdist("vllm_ascend", "0.11.0")) is not None  # any spelling
    assert upstream.pick_sdist(links, Sdist("vllm-ascend", "0.12.0")) is None


def test_a_missing_source_is_downloaded_checked_unpacked_and_then_reused(
    cache: Path, index: Index
) -> None:
    folder = upstream.source(PKG)
    assert folder == cache / "src" / "vllm_ascend-0.11.0rc0"
    assert (folder / "vllm_ascend" / "__init__.py").read_text() == "x = 1\n"
    archive = cache / "dl" / "vllm_ascend-0.11.0rc0.tar.gz"
    assert (
        cache / "dl" / "vllm_ascend-0.11.0rc0.tar.gz.sha256"
    ).read_text().strip() == index.digest
    assert hashlib.sha256(archive.read_bytes()).hexdigest() == index.digest
    assert not [
        p for p in cache.rglob("*") if p.name.endswith(".part") or p.name.startswith(".vllm")
    ]
    requests = len(index.requests)
    index.close()  # offline from here on
    assert upstream.source(PKG) == folder
    assert len(index.requests) == requests


def test_an_unpacked_source_lost_is_unpacked_again_from_its_checked_download_offline(
    cache: Path, index: Index
) -> None:
    folder = upstream.source(PKG)
    index.close()
    for path in sorted(folder.rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    folder.rmdir()
    assert upstream.source(PKG) == folder


def test_a_download_whose_sha256_differs_is_not_kept(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    served = Index(sdist_bytes(), digest="0" * 64)
    monkeypatch.setenv(upstream.INDEX_ENV, served.url)
    try:
        with pytest.raises(SourceUnavailable, match=r"sha256 \w+ is not the index's 0000"):
            upstream.source(PKG)
    finally:
        served.close()
    assert list((cache / "dl").iterdir()) == []
    assert not (cache / "src" / "vllm_ascend-0.11.0rc0").exists()


def test_offline_the_message_names_what_is_missing_the_cache_and_the_fix(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    served = Index(b"")
    url = served.url
    served.close()  # nothing listens there any more
    monkeypatch.setenv(upstream.INDEX_ENV, url)
    with pytest.raises(SourceUnavailable) as raised:
        upstream.source(PKG)
    message = str(raised.value)
    assert "needs the source of vllm-ascend==0.11.0rc0" in message
    assert f"not in {cache}/src" in message
    assert f"{url}/vllm-ascend/" in message
    assert "network access" in message and upstream.CACHE_ENV in message


def test_a_transfer_slower_than_its_budget_fails_in_time(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    served = Index(sdist_bytes() + b"\0" * 4096, delay=0.02)  # ~70 chunks of 64 bytes: > 1 s
    monkeypatch.setenv(upstream.INDEX_ENV, served.url)
    monkeypatch.setenv(upstream.TIMEOUT_ENV, "0.3")
    started = time.monotonic()
    try:
        with pytest.raises(SourceUnavailable, match="still downloading after 0 s"):
            upstream.source(PKG)
    finally:
        served.close()
    assert time.monotonic() - started < 5
    assert list((cache / "dl").iterdir()) == []


def test_an_archive_with_an_unsafe_member_is_refused(tmp_path: Path) -> None:
    escape = tarfile.TarInfo("vllm_ascend-0.11.0rc0/../../escaped.py")
    escape.size = 1
    archive = tmp_path / "bad.tar.gz"
    archive.write_bytes(sdist_bytes(extra=escape))
    (tmp_path / "src").mkdir()
    with pytest.raises(SourceUnavailable, match="unsafe member"):
        upstream.unpack(archive, tmp_path / "src")
    link = tarfile.TarInfo("vllm_ascend-0.11.0rc0/link")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    archive.write_bytes(sdist_bytes(extra=link))
    with pytest.raises(SourceUnavailable, match="is not a file or folder"):
        upstream.unpack(archive, tmp_path / "src")
    assert not (tmp_path / "escaped.py").exists() and list((tmp_path / "src").iterdir()) == []


def test_a_cache_inside_the_repository_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(upstream.CACHE_ENV, str(upstream.REPO_ROOT / "upstream-cache"))
    with pytest.raises(SourceUnavailable, match="inside the repository"):
        upstream.cache_dir()


def test_a_cached_folder_must_name_the_sdist_in_its_pkg_info(cache: Path) -> None:
    wrong = cache / "src" / "vllm_ascend-0.11.0rc0"
    wrong.mkdir(parents=True)
    (wrong / "PKG-INFO").write_text("Name: vllm_ascend\nVersion: 0.11.0\n")
    assert upstream.cached_source(PKG, cache) is None
    (wrong / "PKG-INFO").write_text("Name: vllm_ascend\nVersion: 0.11.0rc0\n")
    assert upstream.cached_source(PKG, cache) == wrong
