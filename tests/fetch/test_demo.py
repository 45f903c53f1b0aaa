"""`dsprep demo` end to end: the bundled sample through the loopback hub, no network."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from dsprep.weights.manifest import manifest_path, validation_errors
from tests.conftest import CliOutcome

Run = Callable[..., CliOutcome]


def test_demo_runs_every_step_and_exits_zero(run_cli: Run, tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    outcome = run_cli("demo", str(folder), "--format", "json")
    assert outcome.exit_code == 0, outcome.stdout + outcome.stderr
    document = outcome.json()
    assert document["status"] == "ok"
    steps = {step["name"]: step for step in document["data"]["steps"]}
    assert list(steps) == [
        "build-samples",
        "start-hub",
        "fetch-w8a8",
        "refuse-fp8",
        "check",
        "template-check",
        "template-rewrite",
        "render-self-test",
        "emit-launch",
        "migrate-launch",
    ]
    assert all(step["status"] == "ok" for step in steps.values())
    assert steps["start-hub"]["data"]["endpoint"].startswith("http://127.0.0.1:")
    fp8 = steps["refuse-fp8"]["data"]
    assert fp8["codes"][:1] == ["fp8-weights"] or "fp8-weights" in fp8["codes"]
    assert fp8["shards"] == [] and fp8["bytes_sent"] < 1_000_000
    fetched = steps["fetch-w8a8"]["data"]
    assert any(p.endswith(".safetensors") for p in fetched["requested"])
    model_dir = Path(document["data"]["model_dir"])
    assert model_dir.is_relative_to(folder)
    assert validation_errors(json.loads(manifest_path(model_dir).read_text())) == []
    assert "ascii-bar-token" in steps["template-check"]["data"]["codes"]
    assert steps["render-self-test"]["summary"].count("parsed back") == 1
    tokenizer_config = json.loads((model_dir / "tokenizer_config.json").read_text())
    assert "dsprep-chat-template: deepseek-v3.1" in tokenizer_config["chat_template"]
    # thinking off with tools: what the example cluster file says, and what the model card does
    assert "thinking=off; tools=on" in tokenizer_config["chat_template"]
    assert "agrees with features.thinking_default" in steps["emit-launch"]["summary"]
    launch = Path(steps["emit-launch"]["data"]["out"])
    assert sorted(p.name for p in launch.iterdir() if p.is_dir()) == ["node0", "node1"]
    assert (launch / "node1" / "vllm.sh").read_text().count("--headless") == 1
    # the manual's cluster, carried to the newest bundled release: a copy rewritten (the
    # manual's file untouched), its scripts emitted, every change listed
    from dsprep.profiles import newest_profile

    newest = newest_profile()
    migrated = steps["migrate-launch"]["data"]
    copy = Path(migrated["cluster"])
    assert copy.name == f"cluster-{newest.name}.yaml"
    assert f"tag: {newest.name}" in copy.read_text()
    assert "tag: v0.11.0rc0" in (folder / "cluster.yaml").read_text()
    assert (copy.parent / f"{copy.name}.dsprep-orig").read_text() == (
        folder / "cluster.yaml"
    ).read_text()
    changes = {(c["scope"], c["key"]) for c in migrated["changes"]}
    assert {("file", "image.tag"), ("file", "graph.mode"), ("file", "scheduler.ascend")} <= changes
    serve = (Path(migrated["out"]) / "node0" / "vllm.sh").read_text()
    assert "--compilation-config" in serve and "torchair_graph_config" not in serve
    assert any("graph.mode: torchair → " in line for line in steps["migrate-launch"]["details"])
    # the client's cache and credentials stayed inside DIR, not in HOME
    assert (folder / "client").is_dir()
    assert not (tmp_path / "home" / ".cache").exists()


def test_demo_text_output_says_where_the_files_are(run_cli: Run, tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    outcome = run_cli("demo", str(folder))
    assert outcome.exit_code == 0, outcome.stdout + outcome.stderr
    lines = outcome.stdout.splitlines()
    assert lines[0] == f"dsprep demo in {folder.resolve()}"
    assert any(line.startswith("[4/10] refuse-fp8: ok") for line in lines)
    step = next(i for i, line in enumerate(lines) if line.startswith("[10/10] migrate-launch: ok"))
    assert lines[step + 1].startswith("      file: image.tag: v0.11.0rc0 → ")
    assert f"W8A8 model: {folder.resolve() / 'models'}" in outcome.stdout
    assert lines[-1] == "OK: demo found no problems"
    assert f"launch scripts: {folder.resolve() / 'launch'}" in outcome.stdout
    # a second run in the same folder reuses every file and still passes: the demo puts the
    # template step's backup back, so the folder holds exactly the hub's files again, and
    # the manifest's stat record spares even reading the shards
    again = run_cli("demo", str(folder), "--format", "json")
    assert again.exit_code == 0
    fetched = next(s for s in again.json()["data"]["steps"] if s["name"] == "fetch-w8a8")
    assert fetched["data"]["requested"] == []
    assert "tokenizer_config.json" in fetched["data"]["reused"]


def test_demo_without_dir_uses_a_new_temporary_folder(
    run_cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    outcome = run_cli("demo")
    assert outcome.exit_code == 0, outcome.stdout + outcome.stderr
    first = outcome.stdout.splitlines()[0]
    assert first.endswith("(a new temporary folder)")
    assert str(tmp_path) in first
