"""``emit-launch --target k8s``: the Service and the pod templates validate against the
Kubernetes schemas (kubernetes-validate), the LeaderWorkerSet against the CRD's
openAPIV3Schema; the pods run exactly serve.sh's argv for their node; hostile values are
refused or stay one argv element."""

from __future__ import annotations

import copy
import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from dsprep.launch.argv import serve_argv
from dsprep.launch.emit import validate
from tests.conftest import CliOutcome
from tests.launch.conftest import FakeTools, example_document, write_cluster
from tests.launch.test_seed_equivalence import serve_argv_from_script

K8S_VERSION = "1.30.0"
CRD = "reference/lws-v0.9.0-leaderworkersets.crd.yaml"


def four_nodes(tmp_path: Path) -> dict[str, Any]:
    document = example_document()
    document["nodes"] = [
        {"name": f"n{i}", "ip": f"10.1.0.{i + 1}", "nic": "eth0", "npus": 8} for i in range(4)
    ]
    document["parallel"] = {"tp": 4, "dp": 8, "dp_local": 2, "expert_parallel": True}
    return document


def emit(
    tmp_path: Path, run_cli: Callable[..., CliOutcome], document: dict[str, Any], target: str
) -> tuple[Path, CliOutcome]:
    cluster = write_cluster(tmp_path, document, f"{target}.yaml")
    out = tmp_path / f"out-{target}"
    return out, run_cli("emit-launch", str(cluster), "--target", target, "--out", str(out))


def manifests(out: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    lws, service = yaml.safe_load_all((out / "lws.yaml").read_text(encoding="utf-8"))
    return lws, service


def as_pod(template: dict[str, Any], name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, **template["metadata"]},
        "spec": template["spec"],
    }


def lws_schema(shared_dir: Path) -> dict[str, Any]:
    crd = yaml.safe_load((shared_dir / CRD).read_text(encoding="utf-8"))
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    schema: dict[str, Any] = version["schema"]["openAPIV3Schema"]
    return schema


def test_objects_validate_against_kubernetes_and_the_lws_crd(
    tmp_path: Path, run_cli: Callable[..., CliOutcome], shared_dir: Path
) -> None:
    # needs ../shared: the LWS CRD (third-party, Apache-2.0) is read from there
    out, outcome = emit(tmp_path, run_cli, four_nodes(tmp_path), "k8s")
    assert outcome.exit_code == 0, outcome.stdout
    assert sorted(p.name for p in out.iterdir()) == [".dsprep-emit.json", "lws.yaml"]
    lws, service = manifests(out)
    kubernetes_validate.validate(service, K8S_VERSION, strict=True)
    template = lws["spec"]["leaderWorkerTemplate"]
    for role in ("leaderTemplate", "workerTemplate"):
        kubernetes_validate.validate(as_pod(template[role], "ds-v31-0"), K8S_VERSION, strict=True)
    schema = lws_schema(shared_dir)
    jsonschema.Draft7Validator(schema).validate(lws)
    broken = copy.deepcopy(lws)
    broken["spec"]["leaderWorkerTemplate"]["size"] = "four"
    with pytest.raises(jsonschema.ValidationError):  # the schema can fail
        jsonschema.Draft7Validator(schema).validate(broken)
    assert lws["apiVersion"] == "leaderworkerset.x-k8s.io/v1" and template["size"] == 4
    leader = template["leaderTemplate"]["spec"]
    assert leader["hostNetwork"] is True
    (container,) = leader["containers"]
    assert container["resources"]["limits"] == {"huawei.com/Ascend910": "8"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/health", "port": 8000}
    volumes = {v["name"]: v for v in leader["volumes"]}
    assert volumes["dshm"]["emptyDir"] == {"medium": "Memory", "sizeLimit": "1000Gi"}
    assert volumes["model"]["hostPath"] == {"path": "/opt/data/weights/Deepseek/DeepSeek-V3.1-w8a8"}
    mounted = {m["mountPath"] for m in container["volumeMounts"]}
    assert {"/usr/local/dcmi", "/usr/local/bin/npu-smi", "/dev/shm"} <= mounted
    assert "/usr/local/Ascend/driver/tools/hccn_tool" in mounted
    assert service["spec"]["selector"] == {
        "leaderworkerset.sigs.k8s.io/name": "ds-v31",
        "role": "leader",
    }
    env = {e["name"]: e for e in container["env"]}
    assert env["HCCL_IF_IP"]["valueFrom"] == {"fieldRef": {"fieldPath": "status.podIP"}}
    assert env["GLOO_SOCKET_IFNAME"]["value"] == "eth0"


def pod_argv(fake_tools: FakeTools, command: list[str], index: int, leader: str) -> list[str]:
    script = fake_tools.folder / "pod.sh"
    script.write_text(command[2], encoding="utf-8")
    run = fake_tools.run(script, LWS_WORKER_INDEX=str(index), LWS_LEADER_ADDRESS=leader)
    assert run.returncode == 0, run.stderr
    (argv,) = run.argvs
    return argv


@pytest.mark.parametrize("hostile", [False, True])
def test_the_pods_run_serve_sh_argv_of_their_node(
    tmp_path: Path, run_cli: Callable[..., CliOutcome], fake_tools: FakeTools, hostile: bool
) -> None:
    document = four_nodes(tmp_path)
    if hostile:
        document["model"]["path"] = """/opt/it's "x" $HOME `id` $(touch pwned) \\n;"""
        document["extra_args"] = ["--block-size", "128", "--x=$(id)"]
        document["kubernetes"] = {"model_volume": {"pvc": "weights", "sub_path": "ds v3.1"}}
    k8s, outcome = emit(tmp_path, run_cli, document, "k8s")
    assert outcome.exit_code == 0, outcome.stdout
    docker, outcome = emit(tmp_path, run_cli, document, "docker")
    assert outcome.exit_code == 0, outcome.stdout
    lws, _ = manifests(k8s)
    template = lws["spec"]["leaderWorkerTemplate"]
    leader = template["leaderTemplate"]["spec"]["containers"][0]["command"]
    worker = template["workerTemplate"]["spec"]["containers"][0]["command"]
    outcome_ = validate(tmp_path / "k8s.yaml")
    cluster, profile = outcome_.cluster, outcome_.profile
    assert cluster is not None and profile is not None
    head_ip = cluster.head.ip
    for node in cluster.nodes:
        command = leader if node.index == 0 else worker
        argv = pod_argv(fake_tools, command, node.index, head_ip)
        assert argv == serve_argv(cluster, profile, node)
        assert argv == serve_argv_from_script(docker / node.name / "vllm.sh")
    assert not (tmp_path / "pwned").exists()


def test_env_is_env_sh_and_hostile_values_are_refused(
    tmp_path: Path, run_cli: Callable[..., CliOutcome]
) -> None:
    document = four_nodes(tmp_path)
    document["env"] = {"WEIRD": 'a\'b "c" $d `e`', "OMP_NUM_THREADS": 10}
    out, outcome = emit(tmp_path, run_cli, document, "k8s")
    assert outcome.exit_code == 0
    lws, _ = manifests(out)
    env = lws["spec"]["leaderWorkerTemplate"]["workerTemplate"]["spec"]["containers"][0]["env"]
    values = {e["name"]: e.get("value") for e in env}
    assert values["WEIRD"] == 'a\'b "c" $d `e`' and values["OMP_NUM_THREADS"] == "10"
    for key, value in (
        ("name", "Bad_Name"),
        ("name", "x" * 41),
        ("namespace", "kube system"),
        ("npu_resource", "huawei.com/Ascend 910"),
        ("model_volume", {"host_path": "/a", "pvc": "b"}),
        ("model_volume", {"pvc": "../etc"}),
        ("model_volume", {"pvc": "w", "sub_path": "../../etc"}),
    ):
        bad = copy.deepcopy(document)
        bad["kubernetes"] = {key: value}
        _, outcome = emit(tmp_path, run_cli, bad, "k8s")
        assert outcome.exit_code == 1, (key, value)
        assert f"kubernetes.{key}" in outcome.stdout and "[cluster-schema]" in outcome.stdout
        assert outcome.stdout.startswith("nothing written")


def test_a_served_name_becomes_a_valid_dns_name(
    tmp_path: Path, run_cli: Callable[..., CliOutcome]
) -> None:
    document = four_nodes(tmp_path)
    document["model"]["served_name"] = "9DeepSeek/V3.1:latest"
    out, outcome = emit(tmp_path, run_cli, document, "k8s")
    assert outcome.exit_code == 0
    lws, service = manifests(out)
    assert lws["metadata"]["name"] == "deepseek-v3-1-latest"
    assert service["metadata"]["name"] == "deepseek-v3-1-latest-leader"
    kubernetes_validate.validate(service, K8S_VERSION, strict=True)


def test_what_one_template_cannot_express_is_an_error(
    tmp_path: Path, run_cli: Callable[..., CliOutcome]
) -> None:
    document = four_nodes(tmp_path)
    document["nodes"][2]["nic"] = "eth1"
    document["container"] = {"mounts": ["/home:/home"]}  # the weights are under none
    out, outcome = emit(tmp_path, run_cli, document, "k8s")
    assert outcome.exit_code == 1
    assert "nodes[*].nic differ (n0: eth0, n1: eth0, n2: eth1, n3: eth0)" in outcome.stdout
    assert "[k8s-nodes-differ]" in outcome.stdout and "[k8s-model-volume-missing]" in outcome.stdout
    assert not out.exists()
    document["kubernetes"] = {"model_volume": {"host_path": "/data/ds"}}
    document["nodes"][2]["nic"] = "eth0"
    out, outcome = emit(tmp_path, run_cli, document, "k8s")
    assert outcome.exit_code == 0, outcome.stdout
    text = json.dumps(manifests(out)[0])
    assert '"hostPath": {"path": "/data/ds"}' in text


def test_the_manifest_is_deterministic(tmp_path: Path, run_cli: Callable[..., CliOutcome]) -> None:
    first, _ = emit(tmp_path, run_cli, four_nodes(tmp_path), "k8s")
    text = (first / "lws.yaml").read_bytes()
    again = subprocess.run(["cat", str(first / "lws.yaml")], capture_output=True, check=True)
    assert again.stdout == text
    second, outcome = emit(tmp_path, run_cli, four_nodes(tmp_path), "k8s")
    assert "holds these 1 files already (nothing written)" in outcome.stdout
    assert (second / "lws.yaml").read_bytes() == text
