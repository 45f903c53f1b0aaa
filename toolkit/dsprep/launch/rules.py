"""Checks beyond the schema that do not depend on the image: topology, NPUs, ports, env.

Each check returns findings with a stable code; the message starts with the key path
(``nodes[1].ip``) and the hint says what to change. Profile pitfalls live in
:mod:`dsprep.launch.pitfalls`.
"""

from __future__ import annotations

from collections.abc import Callable

from dsprep import catalogue as C
from dsprep.catalogue import Kind
from dsprep.findings import Finding, Severity
from dsprep.launch.cluster import Cluster
from dsprep.profiles import Profile, find_profile, known_tags, unknown_tag_message

Check = Callable[[Cluster], list[Finding]]

# env keys env.sh derives from each node's ip/nic: overriding them once would give every
# node the same value
NODE_ENV_KEYS = ("HCCL_IF_IP", "GLOO_SOCKET_IFNAME", "TP_SOCKET_IFNAME", "HCCL_SOCKET_IFNAME")

# flags the cluster file sets through its own keys; extra_args must not repeat them
OWNED_FLAGS = {
    "--host": "bind_host",
    "--port": "ports.api",
    "--headless": "nodes (node 0 is the head, the others run headless)",
    "--data-parallel-size": "parallel.dp",
    "-dp": "parallel.dp",
    "--data-parallel-size-local": "parallel.dp_local",
    "--data-parallel-start-rank": "nodes (start ranks follow the node order)",
    "--data-parallel-address": "nodes[0].ip",
    "--data-parallel-rpc-port": "ports.dp_rpc",
    "--seed": "model.seed",
    "--served-model-name": "model.served_name",
    "--tensor-parallel-size": "parallel.tp",
    "-tp": "parallel.tp",
    "--enable-expert-parallel": "parallel.expert_parallel",
    "--max-num-seqs": "limits.max_num_seqs",
    "--max-model-len": "limits.max_model_len",
    "--max-num-batched-tokens": "limits.max_num_batched_tokens",
    "--gpu-memory-utilization": "limits.gpu_memory_utilization",
    "--enable-prefix-caching": "limits.prefix_caching",
    "--no-enable-prefix-caching": "limits.prefix_caching",
    "--quantization": "(always ascend)",
    "--additional-config": "additional_config (merged into the generated one)",
    "--enforce-eager": "graph.mode: eager",
    "--reasoning-parser": "features.reasoning_parser",
}


def finding(
    cluster: Cluster,
    kind: Kind,
    where: str,
    message: str,
    hint: str | None = None,
    severity: Severity | None = None,
) -> Finding:
    """A finding about the cluster file: the message starts with the key path."""
    return kind(cluster.source, f"{where}: {message}", hint=hint, severity=severity)


def check_profile(cluster: Cluster) -> tuple[Profile | None, list[Finding]]:
    profile = find_profile(cluster.image_tag)
    if profile is not None:
        return profile, []
    known = ", ".join(known_tags())
    return None, [
        finding(
            cluster,
            C.UNKNOWN_IMAGE_TAG,
            "image.tag",
            unknown_tag_message(cluster.image_tag),
            f"set image.tag to one of: {known} (or a variant such as -a3, -openeuler)",
        )
    ]


def check_nodes(cluster: Cluster) -> list[Finding]:
    found: list[Finding] = []
    for attr, code in (("name", C.DUPLICATE_NODE_NAME), ("ip", C.DUPLICATE_NODE_IP)):
        seen: dict[str, int] = {}
        for node in cluster.nodes:
            value = getattr(node, attr)
            if value in seen:
                found.append(
                    finding(
                        cluster,
                        code,
                        f"nodes[{node.index}].{attr}",
                        f"{value!r} is also nodes[{seen[value]}].{attr}",
                        f"give every node its own {attr}",
                    )
                )
            else:
                seen[value] = node.index
    for node in cluster.nodes:
        if node.npu_ips and len(node.npu_ips) != node.npus:
            found.append(
                finding(
                    cluster,
                    C.NPU_IPS_COUNT,
                    f"nodes[{node.index}].npu_ips",
                    f"lists {len(node.npu_ips)} NPU ip(s) for {node.npus} NPU(s)",
                    "list one NPU ip per NPU, in device order (hccn_tool -i N -ip -g)",
                )
            )
    if any(not node.npu_ips for node in cluster.nodes) and len(cluster.nodes) > 1:
        found.append(
            finding(
                cluster,
                C.NPU_IPS_NOT_SET,
                "nodes[*].npu_ips",
                "NPU ips are not listed, so preflight.sh skips the cross-node NPU ping",
                "add nodes[i].npu_ips (from `hccn_tool -i N -ip -g` on each node)",
            )
        )
    return found


def check_parallel(cluster: Cluster) -> list[Finding]:
    found: list[Finding] = []
    expected = len(cluster.nodes) * cluster.dp_local
    if cluster.dp != expected:
        found.append(
            finding(
                cluster,
                C.DP_MISMATCH,
                "parallel.dp",
                f"is {cluster.dp}, but {len(cluster.nodes)} node(s) × dp_local {cluster.dp_local}"
                f" = {expected}",
                f"set parallel.dp to {expected}, or change parallel.dp_local or the node list",
            )
        )
    per_node = cluster.tp * cluster.dp_local
    for node in cluster.nodes:
        if per_node > node.npus:
            found.append(
                finding(
                    cluster,
                    C.NPUS_INSUFFICIENT,
                    f"nodes[{node.index}].npus",
                    f"node {node.name} has {node.npus} NPU(s) but tp {cluster.tp} × dp_local"
                    f" {cluster.dp_local} needs {per_node}",
                    "lower parallel.tp or parallel.dp_local, or use nodes with more NPUs",
                )
            )
        elif per_node < node.npus:
            found.append(
                finding(
                    cluster,
                    C.NPUS_IDLE,
                    f"nodes[{node.index}].npus",
                    f"node {node.name} has {node.npus} NPU(s); tp × dp_local uses {per_node}",
                    "raise parallel.dp_local or parallel.tp to use every NPU",
                )
            )
    return found


def check_ports(cluster: Cluster) -> list[Finding]:
    found: list[Finding] = []
    if cluster.api_port == cluster.dp_rpc_port:
        found.append(
            finding(
                cluster,
                C.PORT_CONFLICT,
                "ports.dp_rpc",
                f"is the same port as ports.api ({cluster.api_port})",
                "use two different ports, e.g. api 8000 and dp_rpc 13389",
            )
        )
    for key, port in (("ports.api", cluster.api_port), ("ports.dp_rpc", cluster.dp_rpc_port)):
        if port < 1024:
            found.append(
                finding(
                    cluster,
                    C.PORT_PRIVILEGED,
                    key,
                    f"{port} is below 1024 and needs root to bind",
                    "use a port from 1024 to 65535",
                )
            )
    return found


def check_env(cluster: Cluster) -> list[Finding]:
    return [
        finding(
            cluster,
            C.ENV_OVERRIDE_NODE_KEY,
            f"env.{name}",
            f"{name} is derived per node from nodes[i].ip/nic; one value would be wrong on"
            " every other node",
            f"remove env.{name}; set nodes[i].ip and nodes[i].nic instead",
        )
        for name in cluster.env
        if name in NODE_ENV_KEYS
    ]


def flag_of(arg: str) -> str:
    return arg.split("=", 1)[0]


def check_extra_args(cluster: Cluster) -> list[Finding]:
    found: list[Finding] = []
    for i, arg in enumerate(cluster.extra_args):
        owner = OWNED_FLAGS.get(flag_of(arg))
        if owner:
            found.append(
                finding(
                    cluster,
                    C.EXTRA_ARG_CONFLICT,
                    f"extra_args[{i}]",
                    f"{flag_of(arg)} is set by the cluster file's {owner}; vLLM keeps the"
                    " last value it parses, so this one silently replaces the key's and the"
                    " plan no longer describes the launch",
                    f"remove it from extra_args and set {owner} instead",
                )
            )
    return found


GENERAL_CHECKS: tuple[Check, ...] = (
    check_nodes,
    check_parallel,
    check_ports,
    check_env,
    check_extra_args,
)
