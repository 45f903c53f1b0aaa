"""Fixtures for `dsprep fetch` and `dsprep demo`: sample repos and a loopback hub.

Every test here runs the real modelscope client against a :class:`LoopbackHub` on
127.0.0.1, with HOME and the client's cache in a temp folder and intra-cloud probing off,
so nothing can reach modelscope.cn.
"""

from __future__ import annotations

import shutil
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dsprep.demo.checkpoint import write_fp8_checkpoint, write_w8a8_checkpoint
from dsprep.demo.hub import LoopbackHub

W8A8 = "Eco-Tech/Sample-w8a8"
FP8 = "deepseek-ai/Sample-fp8"
NODESC = "someone/Sample-nodesc"
FLOAT16 = "Eco-Tech/Sample-w8a8-float16"


@pytest.fixture(scope="session")
def sample_repos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("hub-repos")
    write_w8a8_checkpoint(root / "w8a8")
    write_fp8_checkpoint(root / "fp8")
    shutil.copytree(root / "w8a8", root / "nodesc")
    (root / "nodesc" / "quant_model_description.json").unlink()
    shutil.copytree(root / "w8a8", root / "float16")
    config = root / "float16" / "config.json"
    config.write_text(config.read_text().replace('"bfloat16"', '"float16"'))
    return {
        W8A8: root / "w8a8",
        FP8: root / "fp8",
        NODESC: root / "nodesc",
        FLOAT16: root / "float16",
    }


@pytest.fixture(autouse=True)
def isolated_client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """HOME, cache and credentials in tmp; no intra-cloud probe; no endpoint from outside."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MODELSCOPE_CACHE", str(tmp_path / "home" / ".cache" / "modelscope"))
    monkeypatch.setenv("MODELSCOPE_HOME", str(tmp_path / "home" / ".modelscope"))
    monkeypatch.setenv("INTRA_CLOUD_ACCELERATION", "false")
    monkeypatch.setenv("MODELSCOPE_DOWNLOAD_INTRA_CLOUD", "false")
    monkeypatch.setenv("MODELSCOPE_API_TOKEN", "")
    for name in (
        "MODELSCOPE_ENDPOINT",
        "MODELSCOPE_DOMAIN",
        "MODELSCOPE_DOWNLOAD_INTER_CLOUD_REGIONS",
    ):
        monkeypatch.delenv(name, raising=False)


LOOPBACK = ("127.0.0.1", "localhost", "::1")


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to resolve or connect to a host other than 127.0.0.1 fails the test."""
    real_getaddrinfo = socket.getaddrinfo
    real_connect = socket.socket.connect

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in LOOPBACK:
            raise AssertionError(f"a test tried to resolve {host!r}: only 127.0.0.1 is allowed")
        return real_getaddrinfo(host, *args, **kwargs)

    def connect(self: socket.socket, address: Any) -> None:
        if isinstance(address, tuple) and address[0] not in LOOPBACK:
            raise AssertionError(f"a test tried to connect to {address!r}")
        real_connect(self, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)


@pytest.fixture
def hub(sample_repos: dict[str, Path]) -> Iterator[LoopbackHub]:
    with LoopbackHub(sample_repos) as running:
        yield running
