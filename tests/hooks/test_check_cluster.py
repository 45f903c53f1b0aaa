"""dsprep-check-cluster on the example cluster file of `dsprep emit-launch --init`, and on
hostile ones: alias bombs, duplicate keys, octal ports, FIFOs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

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


@pytest.mark.parametrize(
    ("tag", "count", "code"),
    [("v0.13.0", "1", None), ("v0.13.0", "2", "headless-api-server-count"),
     ("v0.18.0", "1", "headless-api-server-count"), ("v0.23.0", "1", "headless-api-server-count")],
)  # fmt: skip
def test_api_server_count_by_the_release(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_hook_main: RunHook, tag: str,
    count: str, code: str | None,
) -> None:  # fmt: skip
    """vLLM up to 0.13 refuses more than one API server on a headless node; from 0.18 any."""
    monkeypatch.chdir(tmp_path)
    write_example(tmp_path / "cluster.yaml", tag)
    path = tmp_path / "cluster.yaml"
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    document["extra_args"] += ["--api-server-count", count]
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    outcome = run_hook_main(main, ["cluster.yaml"])
    if code is None:
        assert outcome.exit_code == 0, outcome.stdout
        assert outcome.codes("error") == []
    else:
        assert outcome.exit_code == 1
        assert ("cluster.yaml", "error", code) in outcome.lines()
        assert f"vLLM {tag.removeprefix('v')}" in outcome.stdout


def test_a_key_the_release_ignores_warns_and_passes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_hook_main: RunHook
) -> None:
    monkeypatch.chdir(tmp_path)
    write_example(tmp_path / "cluster.yaml", "v0.12.0rc1")
    path = tmp_path / "cluster.yaml"
    text = path.read_text(encoding="utf-8").replace(
        "additional_config: {}", "additional_config: {lmhead_tensor_parallel_size: 2}"
    )
    path.write_text(text, encoding="utf-8")
    outcome = run_hook_main(main, ["cluster.yaml"])
    assert outcome.exit_code == 0, outcome.stdout
    assert ("cluster.yaml", "warning", "additional-config-ignored") in outcome.lines()
    assert "finegrained_tp_config.lmhead_tensor_parallel_size" in outcome.stdout
