"""`dsprep fetch` with the real modelscope client against the loopback hub."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from dsprep.demo.hub import LoopbackHub
from dsprep.weights.manifest import manifest_path, validation_errors
from tests.conftest import CliOutcome
from tests.fetch.conftest import FLOAT16, FP8, NODESC, W8A8

Run = Callable[..., CliOutcome]
SHARD_2 = "quant_model_weight_w8a8_dynamic-00002-of-00003.safetensors"
SHARD_3 = "quant_model_weight_w8a8_dynamic-00003-of-00003.safetensors"


def fetch_args(hub: LoopbackHub, repo: str, dest: Path, *extra: str) -> list[str]:
    return ["fetch", repo, "--local-dir", str(dest), "--endpoint", hub.endpoint, *extra]


def shard_requests(hub: LoopbackHub) -> list[str]:
    return [r.file_path for r in hub.downloads() if (r.file_path or "").endswith(".safetensors")]


def assert_one_error_line(outcome: CliOutcome) -> str:
    assert outcome.exit_code == 3, outcome.stdout + outcome.stderr
    assert "Traceback" not in outcome.stderr
    errors = [line for line in outcome.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, outcome.stderr
    return errors[0]


def test_happy_path_writes_a_valid_manifest_of_identical_files(
    run_cli: Run, hub: LoopbackHub, sample_repos: dict[str, Path], tmp_path: Path
) -> None:
    dest = tmp_path / "model"
    outcome = run_cli(*fetch_args(hub, W8A8, dest))
    assert outcome.exit_code == 0, outcome.stdout + outcome.stderr
    assert "OK: fetch found no problems" in outcome.stdout
    assert "manifest:" in outcome.stdout
    document = json.loads(manifest_path(dest).read_text(encoding="utf-8"))
    assert validation_errors(document) == []
    assert (document["repo"], document["revision"]) == (W8A8, "master")
    assert document["endpoint"] == hub.endpoint
    listing = hub.listing(W8A8)
    assert {f["path"]: (f["size"], f["sha256"]) for f in document["files"]} == {
        path: (f.size, f.sha256) for path, f in listing.items()
    }
    for path in listing:
        assert (dest / path).read_bytes() == (sample_repos[W8A8] / path).read_bytes(), path
    assert not (dest / ".dsprep" / "staging").exists()
    assert not list(dest.rglob("*.incomplete"))
    # one revision resolved once, then passed explicitly to every listing and download
    log = hub.requests()
    assert sum(r.path.endswith("/revisions") for r in log) == 1
    assert all(r.query.get("Revision") == "master" for r in log if "/repo" in r.path)
    # config and description were read before any shard was asked for
    order = [r.file_path for r in hub.downloads()]
    first_shard = min(i for i, p in enumerate(order) if (p or "").endswith(".safetensors"))
    assert {"config.json", "quant_model_description.json"} <= set(order[:first_shard])
    # nothing of the client landed in the (temporary) HOME's cache
    assert not (tmp_path / "home" / ".cache").exists()


def test_fp8_repo_is_refused_before_any_shard(
    run_cli: Run, hub: LoopbackHub, tmp_path: Path
) -> None:
    dest = tmp_path / "fp8"
    outcome = run_cli(*fetch_args(hub, FP8, dest))
    assert outcome.exit_code == 1, outcome.stdout + outcome.stderr
    assert "[fp8-weights]" in outcome.stdout
    assert "Eco-Tech/DeepSeek-V3.1-w8a8-mtp-QuaRot" in outcome.stdout
    assert shard_requests(hub) == []
    assert hub.bytes_sent() < 1_000_000
    assert not manifest_path(dest).exists()


def test_fp8_refusal_as_json_is_one_document(
    run_cli: Run, hub: LoopbackHub, tmp_path: Path
) -> None:
    outcome = run_cli(*fetch_args(hub, FP8, tmp_path / "fp8", "--format", "json"))
    assert outcome.exit_code == 1
    document = outcome.json()
    assert document["status"] == "fail"
    assert document["command"] == "fetch"
    fp8 = [f for f in document["findings"] if f["code"] == "fp8-weights"]
    assert fp8 and "vllm-ascend/DeepSeek-V3.1-W8A8" in fp8[0]["hint"]
    assert document["data"]["refused"] is True


def test_repo_without_description_needs_allow_unverified(
    run_cli: Run, hub: LoopbackHub, tmp_path: Path
) -> None:
    dest = tmp_path / "nodesc"
    refused = run_cli(*fetch_args(hub, NODESC, dest, "--format", "json"))
    assert refused.exit_code == 1
    codes = [f["code"] for f in refused.json()["findings"]]
    assert "unverified-quantization" in codes
    assert shard_requests(hub) == []
    assert not manifest_path(dest).exists()

    allowed = run_cli(*fetch_args(hub, NODESC, dest, "--allow-unverified", "--format", "json"))
    document = allowed.json()
    gate = [f for f in document["findings"] if "--allow-unverified" in f["message"]]
    assert [(f["code"], f["severity"]) for f in gate] == [("unverified-quantization", "warning")]
    assert len(set(shard_requests(hub))) == 3
    assert manifest_path(dest).exists()
    # the check that follows still says what vllm-ascend will do with such a folder
    assert document["data"]["check"]["status"] in ("ok", "fail")


def test_a_fixable_config_problem_does_not_stop_the_download(
    run_cli: Run, hub: LoopbackHub, tmp_path: Path
) -> None:
    dest = tmp_path / "f16"
    outcome = run_cli(*fetch_args(hub, FLOAT16, dest, "--format", "json"))
    document = outcome.json()
    assert outcome.exit_code == 1  # the final check reports it, with its fix
    assert len(set(shard_requests(hub))) == 3
    assert manifest_path(dest).exists()
    dtype = [f for f in document["findings"] if f["code"] == "torch-dtype"]
    assert len(dtype) == 1 and "--fix" in dtype[0]["hint"]
    assert document["data"]["refused"] is False


def test_metadata_whose_bytes_differ_from_the_listing_is_an_error(
    run_cli: Run, hub: LoopbackHub, tmp_path: Path
) -> None:
    hub.tamper(W8A8, "config.json")
    dest = tmp_path / "model"
    line = assert_one_error_line(run_cli(*fetch_args(hub, W8A8, dest)))
    assert "config.json" in line and "SHA-256" in line
    assert not (dest / "config.json").exists()
    assert shard_requests(hub) == []
    assert not manifest_path(dest).exists()


def test_cut_transfer_resumes_with_range_in_the_same_run(
    run_cli: Run, hub: LoopbackHub, sample_repos: dict[str, Path], tmp_path: Path
) -> None:
    hub.cut_after(W8A8, SHARD_3, 40_000)
    dest = tmp_path / "model"
    outcome = run_cli(*fetch_args(hub, W8A8, dest))
    assert outcome.exit_code == 0, outcome.stdout + outcome.stderr
    asked = [r for r in hub.downloads() if r.file_path == SHARD_3]
    assert [r.range for r in asked] == [None, "bytes=40000-"]
    assert [r.status for r in asked] == [200, 206]
    assert (dest / SHARD_3).read_bytes() == (sample_repos[W8A8] / SHARD_3).read_bytes()


def test_interrupted_download_then_rerun_fetches_only_the_rest(
    run_cli: Run, hub: LoopbackHub, sample_repos: dict[str, Path], tmp_path: Path
) -> None:
    dest = tmp_path / "model"
    reached = hub.stall_after(W8A8, SHARD_2, 30_000)
    command = "from dsprep.cli.main import main; main()"
    args = fetch_args(hub, W8A8, dest)
    proc = subprocess.Popen(
        [sys.executable, "-c", command, *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    partial = dest / (SHARD_2 + ".incomplete")
    try:
        assert reached.wait(30), "the client never got to the stalled shard"
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if partial.exists() and partial.stat().st_size == 30_000:
                break
            time.sleep(0.05)
    finally:
        proc.kill()  # the interruption: Ctrl-C, a crash, a lost session
        proc.wait(10)
        hub.release()
        assert hub.wait_idle()
    assert partial.stat().st_size == 30_000
    assert not (dest / SHARD_2).exists()
    assert not manifest_path(dest).exists()

    hub.clear_log()
    outcome = run_cli(*fetch_args(hub, W8A8, dest))
    assert outcome.exit_code == 0, outcome.stdout + outcome.stderr
    asked = hub.downloads()
    assert [(r.file_path, r.range, r.status) for r in asked] == [(SHARD_2, "bytes=30000-", 206)]
    assert asked[0].bytes_sent == (sample_repos[W8A8] / SHARD_2).stat().st_size - 30_000
    assert (dest / SHARD_2).read_bytes() == (sample_repos[W8A8] / SHARD_2).read_bytes()
    assert manifest_path(dest).exists()


def test_unknown_repo_is_one_error_line(run_cli: Run, hub: LoopbackHub, tmp_path: Path) -> None:
    line = assert_one_error_line(run_cli(*fetch_args(hub, "nobody/Missing", tmp_path / "m")))
    assert "nobody/Missing" in line and "does not exist" in line


def test_unknown_repo_as_json_is_an_error_document(
    run_cli: Run, hub: LoopbackHub, tmp_path: Path
) -> None:
    outcome = run_cli(*fetch_args(hub, "nobody/Missing", tmp_path / "m", "--format", "json"))
    assert outcome.exit_code == 3
    document = outcome.json()
    assert document["status"] == "error"
    assert document["findings"][0]["code"] == "bad-input"


def test_unknown_revision_is_one_error_line(run_cli: Run, hub: LoopbackHub, tmp_path: Path) -> None:
    line = assert_one_error_line(
        run_cli(*fetch_args(hub, W8A8, tmp_path / "m", "--revision", "v9"))
    )
    assert "v9" in line


def test_unreachable_endpoint_fails_fast(run_cli: Run, tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    started = time.monotonic()
    outcome = run_cli(
        "fetch", W8A8, "--local-dir", str(tmp_path / "m"), "--endpoint", f"http://127.0.0.1:{port}"
    )
    line = assert_one_error_line(outcome)
    assert "cannot reach" in line and str(port) in line
    assert time.monotonic() - started < 10


def test_endpoint_from_the_clients_own_variable(
    run_cli: Run, hub: LoopbackHub, tmp_path: Path
) -> None:
    dest = tmp_path / "model"
    outcome = run_cli(
        "fetch", W8A8, "--local-dir", str(dest), env={"MODELSCOPE_ENDPOINT": hub.endpoint}
    )
    assert outcome.exit_code == 0, outcome.stdout + outcome.stderr
    document = json.loads(manifest_path(dest).read_text(encoding="utf-8"))
    assert document["endpoint"] == hub.endpoint


def test_exclude_and_include_globs(run_cli: Run, hub: LoopbackHub, tmp_path: Path) -> None:
    excluded = tmp_path / "excluded"
    outcome = run_cli(*fetch_args(hub, W8A8, excluded, "--exclude", "*-00002-of-*"))
    assert SHARD_2 not in shard_requests(hub)
    assert len(set(shard_requests(hub))) == 2
    assert not (excluded / SHARD_2).exists()
    listed = {f["path"] for f in json.loads(manifest_path(excluded).read_text())["files"]}
    assert SHARD_2 not in listed and "config.json" in listed
    assert outcome.exit_code in (0, 1)  # the check may flag the shard the index misses

    hub.clear_log()
    included = tmp_path / "included"
    run_cli(*fetch_args(hub, W8A8, included, "--include", "*-00003-of-*"))
    assert shard_requests(hub) == [SHARD_3]
    assert (included / "config.json").exists()  # the gate's inputs always come first


def test_second_run_transfers_nothing(run_cli: Run, hub: LoopbackHub, tmp_path: Path) -> None:
    dest = tmp_path / "model"
    assert run_cli(*fetch_args(hub, W8A8, dest)).exit_code == 0
    hub.clear_log()
    again = run_cli(*fetch_args(hub, W8A8, dest, "--format", "json"))
    assert again.exit_code == 0
    assert hub.downloads() == []
    assert again.json()["data"]["downloaded"] == []


def test_invalid_model_id_is_refused(run_cli: Run, tmp_path: Path) -> None:
    line = assert_one_error_line(run_cli("fetch", "not-a-repo", "--local-dir", str(tmp_path)))
    assert "owner/name" in line or "not a ModelScope model id" in line


def test_help_shows_an_example_and_the_format_option(run_cli: Run) -> None:
    for command in ("fetch", "demo"):
        outcome = run_cli(command, "--help")
        assert outcome.exit_code == 0
        assert "Example:" in outcome.stdout
        assert "--format [text|json]" in outcome.stdout
