"""``dsprep check`` through Click: exit codes 0/1/3, one JSON document, text summary."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from dsprep.cli.check import check_summary, human_bytes
from tests.conftest import CliOutcome
from tests.weights import broken
from tests.weights.test_hashes import write_good_manifest

RunCli = Callable[..., CliOutcome]


def test_clean_folder_text(run_cli: RunCli, w8a8_dir: Path) -> None:
    outcome = run_cli("check", str(w8a8_dir))
    assert outcome.exit_code == 0
    assert "architecture: DeepseekV3ForCausalLM" in outcome.stdout
    assert "quant types:  FLOAT ×32, W8A8 ×16, W8A8_DYNAMIC ×48" in outcome.stdout
    assert "shards:       3 (291 tensors)" in outcome.stdout
    assert "MTP:          yes (layer 3)" in outcome.stdout
    assert outcome.stdout.rstrip().endswith("OK: check found no problems")
    assert outcome.stderr == ""


def test_clean_folder_json(run_cli: RunCli, w8a8_dir: Path) -> None:
    outcome = run_cli("check", str(w8a8_dir), "--format", "json")
    assert outcome.exit_code == 0
    document = outcome.json()
    assert document["status"] == "ok" and document["command"] == "check"
    assert document["findings"] == []
    assert document["data"]["shards"] == 3 and document["data"]["mtp"] is True


def test_findings_exit_1_with_every_finding_in_json(run_cli: RunCli, w8a8_dir: Path) -> None:
    broken.break_torch_dtype(w8a8_dir)
    broken.break_missing_shard(w8a8_dir)
    outcome = run_cli("check", str(w8a8_dir), "--format", "json")
    assert outcome.exit_code == 1
    document = outcome.json()
    assert document["status"] == "fail"
    codes = [f["code"] for f in document["findings"]]
    assert "torch-dtype" in codes and "missing-shard" in codes
    first = document["findings"][0]
    assert set(first) == {"code", "severity", "path", "message", "hint"}


def test_findings_in_text_name_the_file(run_cli: RunCli, w8a8_dir: Path) -> None:
    broken.break_truncated(w8a8_dir)
    outcome = run_cli("check", str(w8a8_dir))
    assert outcome.exit_code == 1
    line = next(x for x in outcome.stdout.splitlines() if "[truncated-shard]" in x)
    assert line.startswith(str(w8a8_dir / broken.shard(2)))
    assert "fix: the download was interrupted" in outcome.stdout
    assert "FAIL: check found 1 problem" in outcome.stdout


def test_missing_folder_is_exit_3(run_cli: RunCli, tmp_path: Path) -> None:
    outcome = run_cli("check", str(tmp_path / "nope"))
    assert outcome.exit_code == 3
    assert outcome.stderr.startswith("Error: ") and "does not exist" in outcome.stderr
    assert "Traceback" not in outcome.stderr + outcome.stdout
    outcome = run_cli("check", str(tmp_path / "nope"), "--format", "json")
    assert outcome.exit_code == 3
    document = outcome.json()
    assert document["status"] == "error" and document["findings"][0]["code"] == "bad-input"


def test_file_instead_of_folder_is_exit_3(run_cli: RunCli, w8a8_dir: Path) -> None:
    outcome = run_cli("check", str(w8a8_dir / "config.json"))
    assert outcome.exit_code == 3 and "is not a folder" in outcome.stderr


def test_verify_hashes_json_stays_one_document(run_cli: RunCli, w8a8_dir: Path) -> None:
    write_good_manifest(w8a8_dir)
    outcome = run_cli("check", str(w8a8_dir), "--verify-hashes", "--jobs", "2", "--format", "json")
    assert outcome.exit_code == 0, outcome.stdout
    document = json.loads(outcome.stdout)  # exactly one document, nothing else on stdout
    assert document["data"]["hashes"]["verified"] == document["data"]["hashes"]["files"]
    assert "hashing" not in outcome.stdout


def test_verify_hashes_without_manifest_is_exit_3(run_cli: RunCli, w8a8_dir: Path) -> None:
    outcome = run_cli("check", str(w8a8_dir), "--verify-hashes")
    assert outcome.exit_code == 3
    assert "Error:" in outcome.stderr and "manifest.json" in outcome.stderr


def test_fix_through_the_cli(run_cli: RunCli, w8a8_dir: Path) -> None:
    broken.break_leftover_quantization_config(w8a8_dir)
    assert run_cli("check", str(w8a8_dir)).exit_code == 1
    outcome = run_cli("check", str(w8a8_dir), "--fix")
    assert outcome.exit_code == 0
    assert "[fixed]" in outcome.stdout and "config.json.dsprep-orig" in outcome.stdout
    assert run_cli("check", str(w8a8_dir)).exit_code == 0


def test_help_has_an_example(run_cli: RunCli) -> None:
    outcome = run_cli("check", "--help")
    assert outcome.exit_code == 0
    assert "Example: dsprep check" in outcome.stdout
    for option in ("--verify-hashes", "--sha256-file", "--fix", "--format"):
        assert option in outcome.stdout


def test_summary_lines() -> None:
    from dsprep.weights.check import CheckSummary, HashSummary

    summary = CheckSummary(
        model_dir="/m",
        profile="v0.11.0rc0",
        profile_is_default=False,
        architecture="DeepseekV3ForCausalLM",
        quantization="ascend",
        quant_types={"W8A8_DYNAMIC": 2},
        description="quant_model_description.json",
        index=None,
        shards=163,
        tensors=9,
        total_bytes=690 * 1024**3,
        bytes_on_disk=690 * 1024**3,
        mtp=False,
        mtp_layers=[],
        exported_as="bfloat16",
        hashes=HashSummary("m", files=9, verified=8, rewritten=0, failed=1),
    )
    lines = check_summary(summary)
    assert "total bytes:  690.0 GiB" in lines and "MTP:          no" in lines
    assert "release:      vllm-ascend v0.11.0rc0" in lines
    assert "hashes:       8 of 9 files verified, 1 failed" in lines
    assert human_bytes(512) == "512 B" and human_bytes(1536) == "1.5 KiB"


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_goes_to_a_terminal_stderr_only(
    w8a8_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from dsprep.cli.common import progress_bar

    write_good_manifest(w8a8_dir)
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    total = sum(p.stat().st_size for p in w8a8_dir.iterdir() if p.is_file())
    with progress_bar("hashing", True) as advance:
        assert advance is not None
        advance(total // 2, total)
        advance(total, total)
    assert "hashing" in terminal.getvalue() and "100%" in terminal.getvalue()
    assert capsys.readouterr().out == ""
    with progress_bar("hashing", False) as nothing:
        assert nothing is None


@pytest.mark.parametrize("image", ["v0.11.0rc0", "v0.23.0"])
def test_speculative_makes_an_uncovered_mtp_layer_an_error(
    run_cli: RunCli, w8a8_dir: Path, image: str
) -> None:
    broken.break_mtp_not_covered(w8a8_dir)
    plain = run_cli("check", str(w8a8_dir), "--image", image, "--format", "json")
    assert plain.exit_code == 0
    assert [f["severity"] for f in plain.json()["findings"]] == ["info"]
    drafted = run_cli("check", str(w8a8_dir), "--image", image, "--speculative", "--format", "json")
    assert drafted.exit_code == 1
    (finding,) = drafted.json()["findings"]
    assert (finding["code"], finding["severity"]) == ("mtp-not-covered", "error")
