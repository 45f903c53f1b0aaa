"""`dsprep fetch` against hubs that hang, trickle, or are not hubs at all (issue 13, item 9).

Every failure is one English ``Error:`` line naming the host and what to check, exit 3,
within the time-outs; nothing is left that looks complete.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from dsprep.demo.hub import LoopbackHub
from dsprep.errors import NetworkError
from dsprep.weights.hubclient import HubClient, Limits
from dsprep.weights.manifest import manifest_path
from tests.conftest import CliOutcome
from tests.fetch.conftest import W8A8
from tests.fetch.servers import NotFoundProxy, SilentServer, closed_port
from tests.fetch.test_fetch import SHARD_3, assert_one_error_line, fetch_args

Run = Callable[..., CliOutcome]
FAST = ("--connect-timeout", "1", "--read-timeout", "1", "--retries", "1")


def timed(run_cli: Run, *args: str, env: dict[str, str] | None = None) -> tuple[CliOutcome, float]:
    started = time.monotonic()
    outcome = run_cli(*args, env=env)
    return outcome, time.monotonic() - started


def test_a_hub_that_accepts_and_never_answers_fails_within_the_read_timeout(
    run_cli: Run, tmp_path: Path
) -> None:
    dest = tmp_path / "new" / "model"
    with SilentServer() as silent:
        outcome, took = timed(
            run_cli, "fetch", W8A8, "--local-dir", str(dest), "--endpoint", silent.endpoint, *FAST
        )
        assert silent.accepted >= 1
    line = assert_one_error_line(outcome)
    assert took < 8, took
    host = silent.endpoint.removeprefix("http://")
    assert host in line and "no answer within 1 s" in line and line.isascii()
    assert "HTTPConnectionPool" not in outcome.stderr and "Read timed out" not in outcome.stderr
    assert "--read-timeout" in outcome.stderr  # the hint names the option to turn
    assert not (tmp_path / "new").exists()


def test_with_the_default_timeouts_a_silent_hub_fails_within_a_minute(
    run_cli: Run, tmp_path: Path
) -> None:
    # a silent host fails the probe (connect + read); one that answers the probe and then
    # stalls fails the stalled call or file within its budget: under a minute either way
    assert Limits().connect + Limits().read < Limits().call_budget < 50
    with SilentServer() as silent:
        outcome, took = timed(
            run_cli,
            "fetch",
            W8A8,
            "--local-dir",
            str(tmp_path / "m"),
            "--endpoint",
            silent.endpoint,
        )
    assert_one_error_line(outcome)
    assert took < 20, took  # the probe waits --read-timeout (10 s), not the client's 376 s


def test_the_timeouts_come_from_the_environment_too(run_cli: Run, tmp_path: Path) -> None:
    env = {"DSPREP_READ_TIMEOUT": "0.5", "DSPREP_RETRIES": "0"}
    with SilentServer() as silent:
        args = ("fetch", W8A8, "--local-dir", str(tmp_path / "m"), "--endpoint", silent.endpoint)
        outcome, took = timed(run_cli, *args, env=env)
    line = assert_one_error_line(outcome)
    assert "within 0.5 s" in line and took < 5


def test_a_listing_that_never_comes_is_bounded_by_the_client_budget(
    run_cli: Run, hub: LoopbackHub, tmp_path: Path
) -> None:
    """The probe passes; then the client's listing call hangs: the client's own time budget
    (a --read-timeout per attempt, --retries more) ends it, not its 60 s × 4 page retries."""
    hub.hang_api(W8A8, "repo/files")
    dest = tmp_path / "model"
    outcome, took = timed(run_cli, *fetch_args(hub, W8A8, dest, *FAST))
    hub.release()
    line = assert_one_error_line(outcome)
    assert took < Limits(1, 1, 1).call_budget + 4, took
    assert "listing the files of" in line and "did not answer" in line and line.isascii()
    assert not dest.exists()


def test_a_slow_loris_shard_fails_fast_and_keeps_its_partial_file(
    run_cli: Run, hub: LoopbackHub, tmp_path: Path
) -> None:
    hub.trickle(W8A8, SHARD_3, bytes_per_second=200)  # under the client's 1 KiB/s floor
    dest = tmp_path / "model"
    outcome, took = timed(run_cli, *fetch_args(hub, W8A8, dest, *FAST))
    hub.release()
    line = assert_one_error_line(outcome)
    assert took < 12, took
    assert SHARD_3 in line and "slower than" in line and line.isascii()
    assert "--read-timeout" in line
    assert (dest / f"{SHARD_3}.incomplete").exists()  # the next run resumes from it
    assert not (dest / SHARD_3).exists() and not manifest_path(dest).exists()


def test_a_stalled_shard_body_is_a_timeout_naming_the_file(
    run_cli: Run, hub: LoopbackHub, tmp_path: Path
) -> None:
    hub.hang(W8A8, SHARD_3)
    outcome, took = timed(
        run_cli, *fetch_args(hub, W8A8, tmp_path / "m", *FAST, "--format", "json")
    )
    hub.release()
    assert outcome.exit_code == 3 and took < 12, took
    document = outcome.json()
    (error,) = document["findings"]
    assert error["code"] == "network" and SHARD_3 in error["message"]
    assert error["message"].isascii() and error["hint"].isascii()


def no_proxy_bypass() -> dict[str, str]:
    return {"NO_PROXY": "", "no_proxy": ""}


def test_a_proxy_answering_404_for_every_host_is_not_a_missing_model(
    run_cli: Run, tmp_path: Path
) -> None:
    endpoint = f"http://127.0.0.1:{closed_port()}"  # never reached: the proxy answers
    dest = tmp_path / "model"
    with NotFoundProxy() as proxy:
        env = {"HTTP_PROXY": proxy.url, "http_proxy": proxy.url, **no_proxy_bypass()}
        outcome = run_cli("fetch", W8A8, "--local-dir", str(dest), "--endpoint", endpoint, env=env)
        assert proxy.seen  # the request went through the proxy
    line = assert_one_error_line(outcome)
    assert "does not exist" not in outcome.stderr
    assert "404" in line and "proxy" in line and proxy.url.removeprefix("http://") in line
    assert "NO_PROXY" in outcome.stderr
    assert not dest.exists()


def test_the_client_too_tells_a_proxy_404_from_a_missing_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the probe, a non-hub 404 on a client call is still not "does not exist"."""
    with NotFoundProxy() as proxy:
        for name, value in {"HTTP_PROXY": proxy.url, "http_proxy": proxy.url}.items():
            monkeypatch.setenv(name, value)
        for name, value in no_proxy_bypass().items():
            monkeypatch.setenv(name, value)
        client = HubClient(
            W8A8,
            f"http://127.0.0.1:{closed_port()}",
            cache_dir=tmp_path / "cache",
            token="",
            limits=Limits(1, 1, 0),
        )
        with pytest.raises(NetworkError) as failed:
            client.list_files("master")
    assert "not the ModelScope API" in failed.value.message
    assert "does not exist" not in failed.value.message


def test_a_missing_repo_leaves_no_folder_behind(
    run_cli: Run, hub: LoopbackHub, tmp_path: Path
) -> None:
    dest = tmp_path / "new" / "deeper" / "model"
    line = assert_one_error_line(run_cli(*fetch_args(hub, "nobody/Missing", dest)))
    assert "does not exist" in line
    assert not (tmp_path / "new").exists()


BLOCK_MODELSCOPE = (
    "import sys\n"
    "sys.modules['modelscope'] = None\n"
    "sys.modules['modelscope_hub'] = None\n"
    "from dsprep.cli.main import run\n"
    "run()\n"
)


def test_a_missing_modelscope_extra_is_reported_before_any_network(tmp_path: Path) -> None:
    dest = tmp_path / "model"
    with SilentServer() as server:
        args = ["fetch", W8A8, "--local-dir", str(dest), "--endpoint", server.endpoint]
        proc = subprocess.run(
            [sys.executable, "-c", BLOCK_MODELSCOPE, *args],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "HOME": str(tmp_path / "home")},
        )
        time.sleep(0.2)
        assert server.accepted == 0  # not even a TCP connection
    assert proc.returncode == 3, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "'modelscope'" in errors[0]
    assert "pip install 'dsprep[fetch]'" in proc.stderr
    assert not dest.exists()
