"""Every client failure reads as one English sentence naming the host (issue 13, item 9).

The exceptions are the client's own classes, raised with the (Chinese, or raw transport)
messages modelscope-hub 0.5 uses; the cause chains are built as the client builds them.
"""

from __future__ import annotations

import errno

import pytest
import requests
from modelscope_hub import errors as ms
from modelscope_hub._download_control import (
    _DownloadDeadlineError,
    _DownloadDeferredError,
    _DownloadTooSlowError,
)

from dsprep.errors import DiskError, DsprepError, InputError, NetworkError
from dsprep.weights.hub_errors import CallContext, translate
from dsprep.weights.hubclient import IntegrityError, Limits

ENDPOINT = "http://127.0.0.1:8123"
SHARD = "quant_model_weight_w8a8_dynamic-00001-of-00003.safetensors"


def chained(outer: BaseException, cause: BaseException) -> BaseException:
    outer.__cause__ = cause
    return outer


def api(cls: type[ms.APIError], status: int, body: object) -> ms.APIError:
    return cls("模型不存在", status_code=status, response_body=body)


HUB_404 = {"Code": 10010205001, "Message": "模型不存在", "Success": False}
CASES = [
    (
        "deadline",
        _DownloadDeadlineError("下载总时限已耗尽；已保存可继续下载的临时文件"),
        NetworkError,
    ),
    (
        "too slow",
        chained(
            _DownloadDeferredError("File recovery budget exhausted"),
            _DownloadTooSlowError("下载速率 12 B/s 低于 1024 B/s，观察窗口 1s"),
        ),
        NetworkError,
    ),
    ("retries", ms.NetworkError("下载 x 在 5 次重试后失败：ConnectionError"), NetworkError),
    ("stream", requests.ConnectionError("下载流读取失败：ProtocolError"), NetworkError),
    (
        "read timeout",
        ms.RequestTimeoutError(
            "Request timed out: HTTPConnectionPool(host='127.0.0.1', port=8123): Read timed out."
        ),
        NetworkError,
    ),
    ("server", api(ms.ServerError, 502, {"Code": 502, "Message": "网关错误"}), NetworkError),
    ("proxy 404", api(ms.NotExistError, 404, "<html>404 Not Found</html>"), NetworkError),
    ("hub 404", api(ms.NotExistError, 404, HUB_404), InputError),
    ("hash", ms.FileIntegrityError("Hash mismatch for x: expected a..., got b..."), IntegrityError),
    (
        "no space",
        chained(ms.NetworkError("下载失败"), OSError(errno.ENOSPC, "No space left on device")),
        DiskError,
    ),
]


@pytest.mark.parametrize(("name", "exc", "kind"), CASES, ids=[c[0] for c in CASES])
def test_client_errors_become_one_english_sentence(
    name: str, exc: BaseException, kind: type[DsprepError]
) -> None:
    context = CallContext(ENDPOINT, "a/b@master", f"downloading {SHARD}", Limits(), SHARD)
    error = translate(exc, context)
    assert type(error) is kind, (name, error)
    assert error.message.isascii() and error.hint.isascii(), error.message
    assert "HTTPConnectionPool" not in error.message
    if kind is NetworkError:
        assert "127.0.0.1:8123" in error.message


def test_a_bug_is_not_dressed_up_as_a_network_error() -> None:
    context = CallContext(ENDPOINT, "a/b@master", "listing", Limits())
    with pytest.raises(KeyError):
        translate(KeyError("Path"), context)


def test_the_client_internals_the_time_bounds_rely_on_are_there() -> None:
    """dsprep passes its own per-call budget to modelscope-hub (pinned <0.6): a client that
    renames these fails here, not silently in the field with unbounded retries again."""
    import inspect

    from modelscope_hub._download import DownloadManager
    from modelscope_hub._download_control import _DownloadControl, _RecoveryBudget
    from modelscope_hub._legacy_api import LegacyClient
    from modelscope_hub.types import DownloadRetryPolicy

    wanted = {"local_dir", "file_size", "expected_sha256", "_cancel_event", "_recovery"}
    assert wanted <= set(inspect.signature(DownloadManager.download_file).parameters)
    assert {"total_timeout", "recovery"} <= set(inspect.signature(_DownloadControl).parameters)
    assert list(inspect.signature(_RecoveryBudget).parameters)[:2] == ["policy", "retries"]
    assert callable(LegacyClient.read_context)
    fields = {"max_retries", "recovery_timeout", "idle_timeout", "low_speed_window"}
    assert fields <= set(DownloadRetryPolicy.__dataclass_fields__)
