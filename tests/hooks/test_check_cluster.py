"""dsprep-check-cluster on the example cluster file of `dsprep emit-launch --init`."""

from __future__ import annotations

from pathlib import Path

import pytest

from dsprep.hooks.check_cluster import main
from dsprep.launch.emit import write_example
from tests.hooks.conftest import RunHook


@pytest.fixture
def cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    write_example(tmp_path / "cluster.yaml")
    return tmp_path / "cluster.yaml"


def test_example_passes(cluster: Path, run_hook_main: RunHook) -> None:
    outcome = run_hook_main(main, ["cluster.yaml"])
    assert outcome.exit_code == 0, outcome.stdout
    assert outcome.codes("error") == []


def test_launch_rule_violation(cluster: Path, run_hook_main: RunHook) -> None:
    text = cluster.read_text(encoding="utf-8")
    cluster.write_text(text.replace("dp: 2 ", "dp: 3 "), encoding="utf-8")
    outcome = run_hook_main(main, ["cluster.yaml"])
    assert outcome.exit_code == 1
    assert ("cluster.yaml", "error", "dp-mismatch") in outcome.lines()


def test_schema_error_names_the_key(cluster: Path, run_hook_main: RunHook) -> None:
    text = cluster.read_text(encoding="utf-8")
    cluster.write_text(text.replace("ip: 71.10.29.116", "ip: node-1"), encoding="utf-8")
    outcome = run_hook_main(main, ["cluster.yaml"])
    assert outcome.exit_code == 1
    assert outcome.lines() == [("cluster.yaml", "error", "cluster-schema")]
    assert "nodes[1].ip" in outcome.stdout


def test_malformed_yaml_is_a_finding(cluster: Path, run_hook_main: RunHook) -> None:
    cluster.write_text("nodes: [\n  - name: a\n", encoding="utf-8")
    outcome = run_hook_main(main, ["cluster.yaml"])
    assert outcome.exit_code == 1
    assert outcome.lines() == [("cluster.yaml", "error", "bad-input")]
    assert "not valid YAML" in outcome.stdout
