"""dsprep-check-cluster on the example cluster file of `dsprep emit-launch --init`, and on
hostile ones: alias bombs, duplicate keys, octal ports, FIFOs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dsprep.hooks.check_cluster import main
from dsprep.launch.emit import write_example
from tests.deadline import deadline
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


def test_alias_bomb_is_a_finding_at_once(cluster: Path, run_hook_main: RunHook) -> None:
    from tests.launch.test_cluster_yaml import bomb_text

    cluster.write_text(bomb_text(), encoding="utf-8")
    with deadline(20):
        outcome = run_hook_main(main, ["cluster.yaml"])
    assert outcome.exit_code == 1
    assert outcome.lines() == [("cluster.yaml", "error", "bad-input")]
    assert "YAML aliases (*a) are not accepted" in outcome.stdout


def test_duplicate_key_is_a_finding(cluster: Path, run_hook_main: RunHook) -> None:
    text = cluster.read_text(encoding="utf-8") + "additional_config: {enable_prefetch: true}\n"
    cluster.write_text(text, encoding="utf-8")
    outcome = run_hook_main(main, ["cluster.yaml"])
    assert outcome.exit_code == 1
    assert outcome.lines() == [("cluster.yaml", "error", "cluster-schema")]
    assert "additional_config: the key 'additional_config' is given twice" in outcome.stdout


def test_octal_port_is_a_finding(cluster: Path, run_hook_main: RunHook) -> None:
    text = cluster.read_text(encoding="utf-8").replace("api: 8000", "api: 017777")
    cluster.write_text(text, encoding="utf-8")
    outcome = run_hook_main(main, ["cluster.yaml"])
    assert outcome.exit_code == 1
    assert outcome.lines() == [("cluster.yaml", "error", "cluster-schema")]
    assert "ports.api: 017777: octal" in outcome.stdout


def test_fifo_is_a_finding_not_a_hang(cluster: Path, run_hook_main: RunHook) -> None:
    cluster.unlink()
    os.mkfifo(cluster)
    with deadline(10):
        outcome = run_hook_main(main, ["cluster.yaml"])
    assert outcome.exit_code == 1
    assert outcome.lines() == [("cluster.yaml", "error", "bad-input")]
    assert "not a regular file" in outcome.stdout
