"""The cluster file: schema errors all at once with key paths and human sentences,
hostile values rejected, YAML/JSON both read, unknown image tags listed."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dsprep.launch.cluster import load_cluster, schema_for
from dsprep.profiles import known_tags
from tests.conftest import CliOutcome
from tests.launch.conftest import example_document, write_cluster


def test_example_is_schema_valid_as_yaml_and_json(tmp_path: Path) -> None:
    document = example_document()
    for name in ("cluster.yaml", "cluster.json"):
        loaded = load_cluster(write_cluster(tmp_path, document, name))
        assert loaded.findings == []
        assert loaded.cluster is not None
        assert [n.ip for n in loaded.cluster.nodes] == ["71.10.29.114", "71.10.29.116"]


def test_every_schema_error_at_once_with_paths(
    tmp_path: Path, run_cli: Callable[..., CliOutcome]
) -> None:
    document = example_document()
    document["nodes"][1]["ip"] = "71.10.29.999"
    document["nodes"][0]["nic"] = "eth0; rm -rf /"
    document["limits"]["gpu_memory_utilization"] = 1.5
    document["parallel"]["tpp"] = 8
    del document["model"]["served_name"]
    cluster = write_cluster(tmp_path, document)
    outcome = run_cli(
        "emit-launch", str(cluster), "--out", str(tmp_path / "out"), "--format", "json"
    )
    assert outcome.exit_code == 1
    report = outcome.json()
    assert report["status"] == "fail"
    messages = {f["message"].split(":", 1)[0]: f for f in report["findings"]}
    assert set(messages) == {
        "nodes[1].ip",
        "nodes[0].nic",
        "limits.gpu_memory_utilization",
        "parallel",
        "model",
    }
    assert {f["code"] for f in report["findings"]} == {"cluster-schema"}
    assert all(f["path"] == str(cluster) for f in report["findings"])
    assert "IPv4 address" in messages["nodes[1].ip"]["message"]
    assert "Linux interface name" in messages["nodes[0].nic"]["message"]
    assert "unknown key 'tpp'" in messages["parallel"]["message"]
    assert "missing required key 'served_name'" in messages["model"]["message"]
    assert "fraction" in messages["limits.gpu_memory_utilization"]["message"]
    for finding in report["findings"]:
        assert "Failed validating" not in finding["message"]  # no raw jsonschema dump
        assert str(cluster) in finding["hint"]
    assert not (tmp_path / "out").exists()  # nothing written


@pytest.mark.parametrize(
    ("where", "value", "path", "sentence"),
    [
        (("nodes", 0, "nic"), "eth0; rm -rf /", "nodes[0].nic", "Linux interface name"),
        (("nodes", 1, "ip"), "1.2.3.4 && x", "nodes[1].ip", "IPv4 address"),
        (("nodes", 1, "name"), "node$(reboot)", "nodes[1].name", "node name"),
        (("container", "name"), "x`id`", "container.name", "docker container name"),
        (("model", "served_name"), "ds v31'", "model.served_name", "model name"),
        (("model", "path"), "/opt/x\ny", "model.path", "absolute path"),
        (("env",), {"A;B": "1"}, "env", "environment variable name"),
    ],
)
def test_hostile_values_are_rejected(
    tmp_path: Path, where: tuple[Any, ...], value: Any, path: str, sentence: str
) -> None:
    document = example_document()
    target = document
    for key in where[:-1]:
        target = target[key]
    target[where[-1]] = value
    loaded = load_cluster(write_cluster(tmp_path, document))
    assert loaded.cluster is None
    assert len(loaded.findings) == 1, loaded.findings
    (finding,) = loaded.findings
    assert finding.code == "cluster-schema"
    assert finding.message.startswith(f"{path}: ")
    assert sentence in finding.message


def test_model_path_with_spaces_quotes_and_dollar_is_accepted(tmp_path: Path) -> None:
    document = example_document()
    document["model"]["path"] = """/opt/my models/it's "v3.1" $HOME $(id)"""
    loaded = load_cluster(write_cluster(tmp_path, document))
    assert loaded.findings == []
    assert loaded.cluster is not None
    assert loaded.cluster.model_path == """/opt/my models/it's "v3.1" $HOME $(id)"""


def test_unknown_image_tag_lists_known_tags(
    tmp_path: Path, run_cli: Callable[..., CliOutcome]
) -> None:
    document = example_document()
    document["image"]["tag"] = "v0.9.9"
    outcome = run_cli("plan", str(write_cluster(tmp_path, document)), "--format", "json")
    assert outcome.exit_code == 1
    (finding,) = [f for f in outcome.json()["findings"] if f["severity"] == "error"]
    assert finding["code"] == "unknown-image-tag"
    assert finding["message"].startswith("image.tag: ")
    assert set(known_tags()) >= {"v0.11.0rc0", "v0.12.0rc1"}
    for tag in known_tags():
        assert tag in finding["message"]


def test_image_variant_tags_select_the_profile(tmp_path: Path) -> None:
    from dsprep.profiles import find_profile

    profile = find_profile("v0.11.0rc0-openeuler")
    assert profile is not None and profile.name == "v0.11.0rc0"
    assert find_profile("v0.11.0rc01") is None


def test_bad_yaml_is_an_error_not_a_traceback(
    tmp_path: Path, run_cli: Callable[..., CliOutcome]
) -> None:
    cluster = tmp_path / "cluster.yaml"
    cluster.write_text("image:\n  tag: [v0.11\n", encoding="utf-8")
    outcome = run_cli("plan", str(cluster))
    assert outcome.exit_code == 3
    assert outcome.stderr.startswith(f"Error: {cluster} is not valid YAML at line")
    assert "Traceback" not in outcome.stderr + outcome.stdout


def test_missing_file_is_an_error(tmp_path: Path, run_cli: Callable[..., CliOutcome]) -> None:
    outcome = run_cli("plan", str(tmp_path / "nope.yaml"), "--format", "json")
    assert outcome.exit_code == 3
    assert outcome.json()["status"] == "error"
    assert "cannot read cluster file" in outcome.json()["findings"][0]["message"]


def test_top_level_not_a_mapping(tmp_path: Path) -> None:
    cluster = tmp_path / "cluster.yaml"
    cluster.write_text("- just\n- a list\n", encoding="utf-8")
    loaded = load_cluster(cluster)
    assert loaded.cluster is None
    assert loaded.findings[0].message.startswith("(top level): ")


def test_example_document_is_not_mutated_between_calls() -> None:
    first = example_document()
    second = copy.deepcopy(first)
    first["nodes"].append({})
    assert example_document() == second


def _schema_defaults(schema: dict[str, Any], path: tuple[str, ...] = ()) -> dict[str, Any]:
    """``{"container.name": "deepseek-v31-w8a8", …}``: every ``default`` the schema states."""
    found: dict[str, Any] = {}
    if "default" in schema:
        found[".".join(path)] = schema["default"]
    for name, sub in schema.get("properties", {}).items():
        found.update(_schema_defaults(sub, (*path, name)))
    if isinstance(schema.get("items"), dict):
        found.update(_schema_defaults(schema["items"], (*path, "[]")))
    return found


def test_schema_defaults_are_the_defaults_dsprep_fills_in(tmp_path: Path) -> None:
    """The schema's ``default`` keywords (what editors show) and build_cluster's fallbacks
    are written twice; they must not drift apart."""
    from dsprep.resources import load_schema

    document = example_document()
    minimal = {key: document[key] for key in ("image", "model", "parallel", "limits", "ports")}
    minimal["image"] = {"tag": document["image"]["tag"]}
    minimal["model"] = {k: document["model"][k] for k in ("path", "served_name")}
    minimal["limits"] = {k: v for k, v in document["limits"].items() if k != "prefix_caching"}
    minimal["parallel"] = {k: document["parallel"][k] for k in ("tp", "dp", "dp_local")}
    minimal["nodes"] = [{k: n[k] for k in ("name", "ip", "nic")} for n in document["nodes"]]
    loaded = load_cluster(write_cluster(tmp_path, minimal))
    assert loaded.findings == [] and loaded.cluster is not None
    cluster = loaded.cluster
    filled = {
        "image.repository": cluster.image_repository,
        "container.name": cluster.container_name,
        "launch.remote_dir": cluster.remote_dir,
        "container.shm_size": cluster.shm_size,
        "model.seed": cluster.seed,
        "device": cluster.device,
        "nodes.[].npus": cluster.nodes[0].npus,
        "parallel.expert_parallel": cluster.expert_parallel,
        "limits.prefix_caching": cluster.prefix_caching,
        "scheduler.chunked_prefill": cluster.chunked_prefill,
        "features.tools": cluster.tools,
        "features.thinking_default": cluster.thinking_default,
        "features.reasoning_parser": cluster.reasoning_parser,
        "features.mtp": cluster.mtp,
        "features.mtp_tokens": cluster.mtp_tokens,
        "bind_host": cluster.bind_host,
    }
    assert _schema_defaults(load_schema("cluster.schema.json")) == filled
    # the graph mode and the Ascend scheduler default to what the image's release offers
    assert loaded.profile is not None
    schema = schema_for(loaded.profile)
    mode = schema["properties"]["graph"]["properties"]["mode"]
    assert cluster.graph_mode == mode["default"] == loaded.profile.launch.default_graph_mode
    assert mode["enum"] == list(loaded.profile.launch.graph_modes)
    assert cluster.ascend_scheduler is (loaded.profile.launch.scheduler is not None)
