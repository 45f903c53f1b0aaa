"""The loopback hub answers in the shapes the modelscope client parses."""

from __future__ import annotations

import hashlib
import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from dsprep.demo.hub import LoopbackHub, generated_file
from tests.fetch.conftest import W8A8


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_listing_revisions_and_ranges(hub: LoopbackHub, sample_repos: dict[str, Path]) -> None:
    base = f"{hub.endpoint}/api/v1/models/{W8A8}"
    status, _, body = get(f"{base}/repo/files?Revision=master&Recursive=True")
    assert status == 200
    files = json.loads(body)["Data"]["Files"]
    config = next(f for f in files if f["Path"] == "config.json")
    raw = (sample_repos[W8A8] / "config.json").read_bytes()
    assert config["Type"] == "blob" and config["Size"] == len(raw)
    assert config["Sha256"] == hashlib.sha256(raw).hexdigest()
    status, _, body = get(f"{base}/revisions")
    assert json.loads(body)["Data"]["RevisionMap"]["Branches"][0]["Revision"] == "master"

    url = f"{base}/repo?Revision=master&FilePath=config.json"
    status, headers, body = get(url, {"Range": "bytes=10-19"})
    assert (status, body) == (206, raw[10:20])
    assert headers["Content-Range"] == f"bytes 10-19/{len(raw)}"
    status, headers, _ = get(url, {"Range": f"bytes={len(raw)}-"})
    assert status == 416 and headers["Content-Range"] == f"bytes */{len(raw)}"
    log = hub.requests()
    assert [r.range for r in log[-2:]] == ["bytes=10-19", f"bytes={len(raw)}-"]
    assert log[-2].bytes_sent == 10


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/models/nobody/missing/repo/files?Revision=master",
        f"/api/v1/models/{W8A8}/repo?Revision=master&FilePath=nope.json",
        f"/api/v1/models/{W8A8}/repo/files?Revision=v9",
    ],
)
def test_unknown_things_are_404_json(hub: LoopbackHub, path: str) -> None:
    status, _, body = get(hub.endpoint + path)
    document = json.loads(body)
    assert status == 404
    assert document["Success"] is False and document["Code"] == 404 and document["Message"]


def test_generated_files_list_any_size_and_serve_their_pattern() -> None:
    shard = generated_file("model-00001-of-000163.safetensors", 4_300_000_000, b"ab")
    with LoopbackHub({"deepseek-ai/Big": [shard]}) as hub:
        base = f"{hub.endpoint}/api/v1/models/deepseek-ai/Big"
        _, _, body = get(f"{base}/repo/files?Revision=master&Recursive=True")
        assert json.loads(body)["Data"]["Files"][0]["Size"] == 4_300_000_000
        url = f"{base}/repo?Revision=master&FilePath={shard.path}"
        status, _, data = get(url, {"Range": "bytes=4299999995-"})
        assert (status, data) == (206, b"babab")
