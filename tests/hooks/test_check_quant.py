"""dsprep-check-quant on real config.json / description files written by the generators."""

from __future__ import annotations

import json
from pathlib import Path

from dsprep.demo.checkpoint import write_fp8_checkpoint
from dsprep.hooks.check_quant import main
from tests.hooks.conftest import RunHook
from tests.hooks.precommit_repo import edit_json

DESCRIPTION = "quant_model_description.json"


def test_w8a8_config_and_description_pass(model_repo: Path, run_hook_main: RunHook) -> None:
    outcome = run_hook_main(main, ["config.json", DESCRIPTION])
    assert outcome.exit_code == 0, outcome.stdout
    assert outcome.codes("error") == []


def test_fp8_original_is_refused(tmp_path: Path, run_hook_main: RunHook, monkeypatch) -> None:
    write_fp8_checkpoint(tmp_path / "fp8")
    monkeypatch.chdir(tmp_path)
    outcome = run_hook_main(main, ["fp8/config.json"])
    assert outcome.exit_code == 1
    assert ("fp8/config.json", "error", "fp8-weights") in outcome.lines()
    assert "Ascend W8A8 conversion" in outcome.stdout


def test_leftover_quantization_config_beside_description(
    model_repo: Path, run_hook_main: RunHook
) -> None:
    edit_json(model_repo / "config.json", quantization_config={"quant_method": "fp8"})
    outcome = run_hook_main(main, ["config.json"])
    assert outcome.exit_code == 1
    assert outcome.lines()[0] == ("config.json", "error", "leftover-quantization-config")
    assert "delete quantization_config" in outcome.stdout


def test_torch_dtype_the_release_does_not_run(model_repo: Path, run_hook_main: RunHook) -> None:
    edit_json(model_repo / "config.json", torch_dtype="float32")
    outcome = run_hook_main(main, ["config.json"])
    assert outcome.exit_code == 1
    assert ("config.json", "error", "torch-dtype") in outcome.lines()


def test_float16_is_judged_by_the_shards_not_the_hook(
    model_repo: Path, run_hook_main: RunHook
) -> None:
    """float16 is a model dtype vllm-ascend runs W8A8 in (for a float16 export, I64
    deq_scale); without the shards the hook cannot tell the export, so it says nothing:
    `dsprep check` compares with the deq_scale tensors."""
    edit_json(model_repo / "config.json", torch_dtype="float16")
    outcome = run_hook_main(main, ["config.json"])
    assert outcome.exit_code == 0, outcome.stdout


def test_description_with_unknown_type(model_repo: Path, run_hook_main: RunHook) -> None:
    edit_json(model_repo / DESCRIPTION, **{"lm_head.weight": "INT3"})
    outcome = run_hook_main(main, [DESCRIPTION])
    assert outcome.exit_code == 1
    assert outcome.lines() == [(DESCRIPTION, "error", "unknown-quant-type")]
    assert "'INT3'" in outcome.stdout


def test_mindie_description_name_is_misnamed(model_repo: Path, run_hook_main: RunHook) -> None:
    misnamed = "quant_model_description_w8a8_dynamic.json"
    (model_repo / DESCRIPTION).rename(model_repo / misnamed)
    outcome = run_hook_main(main, [misnamed])
    assert outcome.exit_code == 1
    assert (misnamed, "error", "misnamed-description") in outcome.lines()
    assert f"rename it to {DESCRIPTION}" in outcome.stdout


def test_broken_json_is_a_finding_not_a_crash(model_repo: Path, run_hook_main: RunHook) -> None:
    (model_repo / "config.json").write_text('{"architectures": [', encoding="utf-8")
    outcome = run_hook_main(main, ["config.json"])
    assert outcome.exit_code == 1
    assert outcome.lines() == [("config.json", "error", "invalid-json")]


def test_config_json_of_something_else_is_skipped(
    tmp_path: Path, run_hook_main: RunHook, monkeypatch
) -> None:
    (tmp_path / ".vscode").mkdir()
    (tmp_path / ".vscode" / "config.json").write_text(json.dumps({"editor.tabSize": 4}))
    monkeypatch.chdir(tmp_path)
    outcome = run_hook_main(main, [".vscode/config.json"])
    assert (outcome.exit_code, outcome.stdout) == (0, "")


def test_index_problems_are_left_to_the_index_hook(
    model_repo: Path, run_hook_main: RunHook
) -> None:
    (model_repo / "model.safetensors.index.json").write_text("not json", encoding="utf-8")
    outcome = run_hook_main(main, ["config.json", DESCRIPTION])
    assert outcome.exit_code == 0, outcome.stdout


def test_a_look_alike_beside_the_description_is_judged_per_release(
    model_repo: Path, run_hook_main: RunHook, monkeypatch
) -> None:
    """Two files ending in quant_model_description.json stop the releases that glob for it
    (up to 0.13); from 0.18 only the exact name is opened and the look-alike is harmless."""
    look_alike = "old_quant_model_description.json"
    (model_repo / look_alike).write_bytes((model_repo / DESCRIPTION).read_bytes())
    monkeypatch.setenv("DSPREP_IMAGE", "v0.13.0")
    globbing = run_hook_main(main, [DESCRIPTION, look_alike])
    assert globbing.exit_code == 1
    assert [code for _, severity, code in globbing.lines() if severity == "error"] == [
        "duplicate-description"
    ]
    monkeypatch.setenv("DSPREP_IMAGE", "v0.18.0")
    exact = run_hook_main(main, [DESCRIPTION, look_alike])
    assert exact.exit_code == 0, exact.stdout
    assert (look_alike, "warning", "misnamed-description") in exact.lines()
