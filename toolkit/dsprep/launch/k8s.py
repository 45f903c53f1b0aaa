"""``emit-launch --target k8s``: one LeaderWorkerSet (``leaderworkerset.x-k8s.io/v1``) and
a Service from the same cluster file.

One group of size = the number of nodes: the leader is node 0 (the head), worker i is node
i. Both run ``bash -c`` of the argv :func:`dsprep.launch.argv.serve_argv` builds for that
node, with the two values that differ per pod taken from what LWS injects:
``--data-parallel-start-rank $((LWS_WORKER_INDEX × dp_local))`` and
``--data-parallel-address $LWS_LEADER_ADDRESS``. Env is env.sh's (the profile's exports,
the timeouts, the file's ``env``) with ``{ip}`` from the pod's IP (host network: the
node's) and ``{nic}`` the nodes' common nic.

Resource names (cited in the README): ``huawei.com/Ascend910`` is what Ascend's device
plugin registers for 910 chips, 910B included (Ascend/ascend-device-plugin
pkg/common/constants.go: ``HuaweiAscend910 = ResourceNamePrefix + Ascend910``);
vllm-ascend's own nightly LWS manifests request ``huawei.com/ascend-1980`` (vllm-ascend
0.23.0.post1 tests/e2e/nightly/multi_node/scripts/lws.yaml.jinja2:59, the A3 runners on
Huawei Cloud CCE, whose plugin names it so: docs/source/user_guide/deployment_guide/
using_volcano_kthena.md:38-40).
"""

from __future__ import annotations

import re
import shlex
from typing import Any

from dsprep import catalogue as C
from dsprep.findings import Finding
from dsprep.launch.argv import DRIVER_MOUNTS, node_env, serve_argv
from dsprep.launch.cluster import Cluster, Node
from dsprep.launch.kit import StartupTimes, host_model_path, startup_env
from dsprep.profiles import Profile

LWS_API = "leaderworkerset.x-k8s.io/v1"
DEFAULT_NPU_RESOURCE = "huawei.com/Ascend910"
START_RANK = '"$((LWS_WORKER_INDEX * {dp_local}))"'
LEADER_ADDRESS = '"$LWS_LEADER_ADDRESS"'
MANIFEST_NAME = "lws.yaml"


def lws_name(cluster: Cluster) -> str:
    """``kubernetes.name``, else the served name made a DNS label (``ds-v31``)."""
    given = cluster.kubernetes.get("name")
    if given:
        return str(given)
    label = re.sub(r"[^a-z0-9-]+", "-", cluster.served_name.lower()).strip("-")
    label = re.sub(r"^[^a-z]+", "", label)[:40].rstrip("-")
    return label or "dsprep"


def k8s_findings(cluster: Cluster) -> list[Finding]:
    """What one pod template cannot express: nodes that differ in nic or NPU count, or no
    place for the weights."""
    findings = []
    for key in ("nic", "npus"):
        values = {getattr(n, key) for n in cluster.nodes}
        if len(values) > 1:
            shown = ", ".join(f"{n.name}: {getattr(n, key)}" for n in cluster.nodes)
            findings.append(
                C.K8S_NODES_DIFFER(
                    cluster.source,
                    f"nodes[*].{key} differ ({shown}); one LeaderWorkerSet template serves"
                    " every node",
                )
            )
    if not cluster.kubernetes.get("model_volume") and host_model_path(cluster) is None:
        findings.append(
            C.K8S_MODEL_VOLUME_MISSING(
                cluster.source,
                f"model.path {cluster.model_path} is under none of container.mounts and"
                " kubernetes.model_volume is not set: the pods would find no weights",
            )
        )
    return findings


def pod_command(cluster: Cluster, profile: Profile, node: Node) -> list[str]:
    """``["bash", "-c", "exec vllm serve …"]`` for the leader (node 0) or a worker."""
    argv = serve_argv(cluster, profile, node)
    words = []
    for i, element in enumerate(argv):
        flag = argv[i - 1] if i else ""
        if flag == "--data-parallel-start-rank":
            words.append(START_RANK.format(dp_local=cluster.dp_local))
        elif flag == "--data-parallel-address":
            words.append(LEADER_ADDRESS)
        else:
            words.append(shlex.quote(element))
    return ["bash", "-c", "exec " + " ".join(words)]


def pod_env(cluster: Cluster, profile: Profile, times: StartupTimes) -> list[dict[str, Any]]:
    node = cluster.head
    templated = {e.name for e in profile.launch.env if "{ip}" in e.value}
    env: list[dict[str, Any]] = []
    for name, value in node_env(cluster, profile, node, startup_env(times, profile)):
        if name in templated and name not in cluster.env:
            pod_ip = {"fieldRef": {"fieldPath": "status.podIP"}}
            env.append({"name": name, "valueFrom": pod_ip})
        else:
            env.append({"name": name, "value": value})
    return env


def _volumes(cluster: Cluster) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    volumes: list[dict[str, Any]] = []
    mounts: list[dict[str, Any]] = []
    for i, mount in enumerate(DRIVER_MOUNTS):
        host, inside = mount.split(":")[:2]
        volumes.append({"name": f"driver-{i}", "hostPath": {"path": host}})
        mounts.append({"name": f"driver-{i}", "mountPath": inside, "readOnly": True})
    shm = cluster.shm_size.lower()
    size = (
        shm[:-1] + {"g": "Gi", "m": "Mi", "k": "Ki", "b": ""}[shm[-1]] if shm[-1] in "gmkb" else shm
    )
    volumes.append({"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": size}})
    mounts.append({"name": "dshm", "mountPath": "/dev/shm"})
    wanted = cluster.kubernetes.get("model_volume") or {"host_path": host_model_path(cluster)}
    if wanted.get("pvc"):
        volumes.append({"name": "model", "persistentVolumeClaim": {"claimName": wanted["pvc"]}})
    else:
        volumes.append({"name": "model", "hostPath": {"path": wanted["host_path"]}})
    model: dict[str, Any] = {"name": "model", "mountPath": cluster.model_path, "readOnly": True}
    if wanted.get("sub_path"):
        model["subPath"] = wanted["sub_path"]
    mounts.append(model)
    return volumes, mounts


def _pod(
    cluster: Cluster, profile: Profile, node: Node, times: StartupTimes, role: str
) -> dict[str, Any]:
    resource = cluster.kubernetes.get("npu_resource", DEFAULT_NPU_RESOURCE)
    volumes, mounts = _volumes(cluster)
    container: dict[str, Any] = {
        "name": f"vllm-{role}",
        "image": cluster.image,
        "imagePullPolicy": "IfNotPresent",
        "command": pod_command(cluster, profile, node),
        "env": pod_env(cluster, profile, times),
        "resources": {
            "limits": {resource: str(node.npus)},
            "requests": {resource: str(node.npus)},
        },
        "volumeMounts": mounts,
    }
    if role == "leader":
        container["ports"] = [{"name": "http", "containerPort": cluster.api_port}]
        container["readinessProbe"] = {
            "httpGet": {"path": "/health", "port": cluster.api_port},
            "initialDelaySeconds": 60,
            "periodSeconds": 10,
            "failureThreshold": max(1, -(-times.health_s // 10)),
        }
    return {
        "metadata": {"labels": {"app.kubernetes.io/name": lws_name(cluster), "role": role}},
        "spec": {
            "hostNetwork": True,
            "dnsPolicy": "ClusterFirstWithHostNet",
            "containers": [container],
            "volumes": volumes,
        },
    }


def lws_documents(cluster: Cluster, profile: Profile, times: StartupTimes) -> list[dict[str, Any]]:
    """The LeaderWorkerSet and its Service."""
    name = lws_name(cluster)
    namespace = cluster.kubernetes.get("namespace", "default")
    labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/managed-by": "dsprep"}
    worker = cluster.nodes[1] if len(cluster.nodes) > 1 else cluster.head
    lws = {
        "apiVersion": LWS_API,
        "kind": "LeaderWorkerSet",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "replicas": 1,
            "startupPolicy": "LeaderCreated",
            "leaderWorkerTemplate": {
                "size": len(cluster.nodes),
                "restartPolicy": "RecreateGroupOnPodRestart",
                "leaderTemplate": _pod(cluster, profile, cluster.head, times, "leader"),
                "workerTemplate": _pod(cluster, profile, worker, times, "worker"),
            },
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": f"{name}-leader", "namespace": namespace, "labels": labels},
        "spec": {
            "type": cluster.kubernetes.get("service_type", "ClusterIP"),
            "selector": {"leaderworkerset.sigs.k8s.io/name": name, "role": "leader"},
            "ports": [{"name": "http", "port": cluster.api_port, "targetPort": cluster.api_port}],
        },
    }
    return [lws, service]


def manifest_text(cluster: Cluster, profile: Profile, times: StartupTimes) -> str:
    import yaml

    head = (
        f"# LeaderWorkerSet + Service for {cluster.served_name}, written by dsprep emit-launch"
        f" --target k8s from {cluster.source}\n# (profile {profile.name}). Apply: kubectl apply"
        f" -f {MANIFEST_NAME}\n"
    )
    body = yaml.safe_dump_all(lws_documents(cluster, profile, times), sort_keys=False, width=1000)
    return head + body
