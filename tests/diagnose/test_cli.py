"""`dsprep diagnose` as a user meets it: text and JSON, exit 0 / 1 / 3."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from dsprep.diagnose.nodelog import format_line
from tests.conftest import CliOutcome
from tests.diagnose.excerpts import MESSAGES, process, vllm_line


def _line(when: str, message: str) -> str:
    return process("EngineCore_DP0", 812, vllm_line("ERROR", when, "core.py:700", message))


def test_a_failed_start_is_exit_1_with_cause_fix_and_first_failure(
    tmp_path: Path, run_cli: Callable[..., CliOutcome]
) -> None:
    log = tmp_path / "run.log"
    lines = [
        format_line("node1", _line("08-14 11:00:00", MESSAGES["fp8-vs-ascend"])),
        format_line("node0", _line("08-14 11:10:00", MESSAGES["front-end-handshake-timeout"])),
    ]
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    outcome = run_cli("diagnose", str(log))
    assert outcome.exit_code == 1, outcome.stderr
    out = outcome.stdout
    assert "first failure: node1 DP0 at 08-14 11:00:00: log-fp8-vs-ascend" in out
    assert (
        "config.json's quantization_config says fp8, the command line --quantization ascend" in out
    )
    assert "fix: delete quantization_config from config.json" in out
    assert "warning: node0 DP0 at 08-14 11:10:00: an engine waited 5 minutes" in out
    assert out.rstrip().endswith("FAIL: diagnose found 1 problem and 1 warning")
    document = run_cli("diagnose", str(log), "--format", "json").json()
    assert document["status"] == "fail" and document["command"] == "diagnose"
    assert [f["code"] for f in document["findings"]] == [
        "log-first-failure",
        "log-fp8-vs-ascend",
        "log-engine-ready-timeout",
    ]
    failure = document["data"]["failures"][0]
    assert failure["caught_by"] == ["leftover-quantization-config", "fp8-weights"]
    assert failure["releases"] == ["v0.12.0rc1", "v0.13.0", "v0.18.0", "v0.23.0"]
    assert document["data"]["failures"][1]["consequence_of"].startswith(
        "log-fp8-vs-ascend on node1"
    )


def test_clean_logs_are_exit_0_and_unreadable_ones_exit_3(
    tmp_path: Path, run_cli: Callable[..., CliOutcome]
) -> None:
    log = tmp_path / "node0.log"
    log.write_text(vllm_line("INFO", "08-14 11:00:00", "api_server.py:1", "started") + "\n")
    outcome = run_cli("diagnose", str(log))
    assert outcome.exit_code == 0 and "no known failure in the logs" in outcome.stdout
    missing = run_cli("diagnose", str(tmp_path / "nope.log"), "--format", "json")
    assert missing.exit_code == 3
    assert missing.json()["status"] == "error"
    assert missing.json()["findings"][0]["code"] == "bad-input"
    assert run_cli("diagnose").exit_code == 2
