"""The cluster file: load YAML or JSON, validate against ``cluster.schema.json`` and turn
every schema error into a finding with its key path (``nodes[1].ip``) and a human sentence.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from dsprep import catalogue as C
from dsprep.findings import Finding
from dsprep.launch.cluster_yaml import Rejected, read_document, rejected_values
from dsprep.profiles import Profile, all_profiles, find_profile
from dsprep.resources import load_schema

SCHEMA_NAME = "cluster.schema.json"

DEFAULT_MOUNTS = (
    "/usr/share/zoneinfo/Asia/Shanghai:/etc/localtime",
    "/home:/home",
    "/opt:/opt",
)


@dataclass(frozen=True)
class Node:
    index: int
    name: str
    ip: str
    nic: str
    npus: int
    npu_ips: tuple[str, ...]
    ssh_host: str | None = None  # nodes[i].ssh.host (None: the ip)
    ssh_user: str | None = None  # None: the user's ssh config decides
    ssh_port: int | None = None


@dataclass(frozen=True)
class Cluster:
    """A schema-valid cluster file with every default filled in."""

    source: str  # the file name, as findings name it
    image_repository: str
    image_tag: str
    container_name: str
    shm_size: str
    mounts: tuple[str, ...]
    model_path: str
    served_name: str
    seed: int
    device: str
    nodes: tuple[Node, ...]
    tp: int
    dp: int
    dp_local: int
    expert_parallel: bool
    max_num_seqs: int
    max_model_len: int
    max_num_batched_tokens: int
    gpu_memory_utilization: float
    prefix_caching: bool
    graph_mode: str
    graph_batch_sizes: tuple[int, ...]
    ascend_scheduler: bool
    chunked_prefill: bool
    tools: bool
    thinking_default: bool
    reasoning_parser: str | None
    mtp: bool
    mtp_tokens: int
    api_port: int
    dp_rpc_port: int
    bind_host: str
    env: dict[str, str] = field(default_factory=dict)
    # limits.weights_gib / reserve_gib: figures of a real start (None: the plan's own)
    weights_gib: float | None = None
    reserve_gib: float | None = None
    additional_config: dict[str, Any] = field(default_factory=dict)
    extra_args: tuple[str, ...] = ()
    image_file: str | None = None  # image.file: a `docker save` archive on every node
    log_dir: str | None = None  # launch.log_dir (None: the node folder's logs/)
    remote_dir: str = "dsprep-launch"  # launch.remote_dir: where `dsprep up` copies the kit
    kubernetes: dict[str, Any] = field(default_factory=dict)  # emit-launch --target k8s

    @property
    def image(self) -> str:
        return f"{self.image_repository}:{self.image_tag}"

    @property
    def head(self) -> Node:
        return self.nodes[0]

    def start_rank(self, node: Node) -> int:
        return node.index * self.dp_local


def key_path(parts: Iterable[Any]) -> str:
    """``["nodes", 1, "ip"]`` → ``nodes[1].ip``; the root is ``(top level)``."""
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "(top level)"


def _sentence(error: Any) -> str:
    """A human sentence for one jsonschema error (never the raw validator dump)."""
    validator = error.validator
    schema = error.schema if isinstance(error.schema, dict) else {}
    if validator == "required":
        missing = [name for name in error.validator_value if name not in (error.instance or {})]
        noun = "key" if len(missing) == 1 else "keys"
        return f"missing required {noun} {', '.join(repr(m) for m in missing)}"
    if validator == "additionalProperties" and isinstance(error.instance, dict):
        known = set(schema.get("properties", {}))
        extra = sorted(str(k) for k in error.instance if k not in known)
        keys = ", ".join(sorted(known))
        return f"unknown key {', '.join(repr(e) for e in extra)}; known keys: {keys}"
    if validator == "propertyNames":
        name_schema = schema.get("propertyNames", {})
        return f"key {error.instance!r} {name_schema.get('x-message', 'is not allowed')}"
    shown = json.dumps(error.instance, ensure_ascii=False)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    message = schema.get("x-message")
    if validator == "type" and not message:
        message = f"must be of type {error.validator_value}"
    if validator == "minItems":
        message = schema.get("x-message") or f"must have at least {error.validator_value} item(s)"
    if validator == "enum":
        message = f"must be one of {', '.join(str(v) for v in error.validator_value)}"
    return f"{shown} is not valid: {message or error.message}"


def graph_modes(profile: Profile | None) -> tuple[list[str], str | None]:
    """The graph modes the cluster file may name, and the default: the profile's (for an
    unknown tag, every profile's modes and no default)."""
    if profile is not None:
        return list(profile.launch.graph_modes), profile.launch.default_graph_mode
    modes = dict.fromkeys(m for p in all_profiles() for m in p.launch.graph_modes)
    return list(modes), None


def schema_for(profile: Profile | None) -> dict[str, Any]:
    """The cluster schema with the profile's graph modes and default filled in."""
    import copy

    schema = copy.deepcopy(load_schema(SCHEMA_NAME))
    modes, default = graph_modes(profile)
    mode = schema["properties"]["graph"]["properties"]["mode"]
    mode["enum"] = modes
    mode["x-message"] = f"must be one of {', '.join(modes)}" + (
        f" (the graph modes of vllm-ascend {profile.name})" if profile else ""
    )
    if default is not None:
        mode["default"] = default
    return schema


@cache
def _validator(profile_name: str | None) -> Any:
    """The cluster schema's validator for one profile, built once per process."""
    import jsonschema

    profile = next((p for p in all_profiles() if p.name == profile_name), None)
    validator_cls = jsonschema.Draft202012Validator
    return validator_cls(schema_for(profile), format_checker=validator_cls.FORMAT_CHECKER)


def document_profile(document: Any) -> Profile | None:
    """The profile the document's ``image.tag`` selects (None: none, or no usable tag)."""
    image = document.get("image") if isinstance(document, dict) else None
    tag = image.get("tag") if isinstance(image, dict) else None
    return find_profile(tag) if isinstance(tag, str) else None


def _schema_hint(where: str, source: str) -> str:
    return f"edit {where} in {source}; see `dsprep emit-launch --init` for an example"


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _without_rejected(document: Any) -> Any:
    """The document with every :class:`Rejected` marker replaced by null."""
    if isinstance(document, dict):
        return {key: _without_rejected(value) for key, value in document.items()}
    if isinstance(document, list):
        return [_without_rejected(value) for value in document]
    return None if isinstance(document, Rejected) else document


def schema_findings(document: Any, source: str, profile: Profile | None = None) -> list[Finding]:
    """Every schema violation at once, each a ``cluster-schema`` finding.

    A value the file may not hold (a duplicate key, an octal number, NaN, a !!binary tag …)
    is reported with its line instead of what the schema says about it.
    """
    findings: dict[tuple[str, str], Finding] = {}
    rejected = dict(rejected_values(document))
    for parts, marker in rejected.items():
        where = key_path(parts)
        line = f" (line {marker.line})" if marker.line else ""
        sentence = f"{marker.problem}{line}"
        findings[(where, sentence)] = C.CLUSTER_SCHEMA(
            source, f"{where}: {sentence}", hint=_schema_hint(where, source)
        )
    validator = _validator(profile.name if profile is not None else None)
    for error in validator.iter_errors(_without_rejected(document) if rejected else document):
        parts = tuple(error.absolute_path)
        if any(parts[: len(marked)] == marked for marked in rejected):
            continue
        where = key_path(parts)
        sentence = _sentence(error)
        # format and pattern both reject a hostile ip: say it once
        finding = C.CLUSTER_SCHEMA(source, f"{where}: {sentence}", hint=_schema_hint(where, source))
        findings.setdefault((where, sentence), finding)
    return [findings[key] for key in sorted(findings)]


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def build_cluster(document: dict[str, Any], source: str, profile: Profile | None) -> Cluster:
    """A :class:`Cluster` from a schema-valid document, defaults filled in (the graph mode
    and the Ascend scheduler from the profile)."""
    image = document["image"]
    container = document.get("container", {})
    model = document["model"]
    parallel = document["parallel"]
    limits = document["limits"]
    graph = document.get("graph", {})
    scheduler = document.get("scheduler", {})
    features = document.get("features", {})
    nodes = tuple(
        Node(
            index=i,
            name=n["name"],
            ip=n["ip"],
            nic=n["nic"],
            npus=int(n.get("npus", 8)),
            npu_ips=tuple(n.get("npu_ips", [])),
            ssh_host=n.get("ssh", {}).get("host"),
            ssh_user=n.get("ssh", {}).get("user"),
            ssh_port=n.get("ssh", {}).get("port"),
        )
        for i, n in enumerate(document["nodes"])
    )
    return Cluster(
        source=source,
        image_repository=image.get("repository", "quay.io/ascend/vllm-ascend"),
        image_tag=image["tag"],
        container_name=container.get("name", "deepseek-v31-w8a8"),
        shm_size=container.get("shm_size", "1000g"),
        mounts=tuple(container.get("mounts", DEFAULT_MOUNTS)),
        model_path=model["path"],
        served_name=model["served_name"],
        seed=int(model.get("seed", 1024)),
        device=document.get("device", "910B"),
        nodes=nodes,
        tp=int(parallel["tp"]),
        dp=int(parallel["dp"]),
        dp_local=int(parallel["dp_local"]),
        expert_parallel=bool(parallel.get("expert_parallel", True)),
        max_num_seqs=int(limits["max_num_seqs"]),
        max_model_len=int(limits["max_model_len"]),
        max_num_batched_tokens=int(limits["max_num_batched_tokens"]),
        gpu_memory_utilization=float(limits["gpu_memory_utilization"]),
        prefix_caching=bool(limits.get("prefix_caching", False)),
        weights_gib=_optional_float(limits.get("weights_gib")),
        reserve_gib=_optional_float(limits.get("reserve_gib")),
        graph_mode=graph.get("mode", graph_modes(profile)[1] or ""),
        graph_batch_sizes=tuple(graph.get("batch_sizes", [])),
        ascend_scheduler=bool(
            scheduler.get("ascend", profile is not None and profile.launch.scheduler is not None)
        ),
        chunked_prefill=bool(scheduler.get("chunked_prefill", False)),
        tools=bool(features.get("tools", False)),
        thinking_default=bool(features.get("thinking_default", False)),
        reasoning_parser=features.get("reasoning_parser"),
        mtp=bool(features.get("mtp", False)),
        mtp_tokens=int(features.get("mtp_tokens", 1)),
        api_port=int(document["ports"]["api"]),
        dp_rpc_port=int(document["ports"]["dp_rpc"]),
        bind_host=document.get("bind_host", "0.0.0.0"),
        env={k: _text(v) for k, v in document.get("env", {}).items()},
        additional_config=dict(document.get("additional_config", {})),
        extra_args=tuple(document.get("extra_args", [])),
        image_file=image.get("file"),
        log_dir=document.get("launch", {}).get("log_dir"),
        remote_dir=document.get("launch", {}).get("remote_dir", "dsprep-launch"),
        kubernetes=dict(document.get("kubernetes", {})),
    )


@dataclass
class Loaded:
    """The outcome of loading: a cluster when the schema passed, findings otherwise; the
    profile its image tag selects (None when the tag is unknown)."""

    cluster: Cluster | None
    findings: list[Finding]
    profile: Profile | None = None


def load_cluster(path: Path, *, display: str | None = None) -> Loaded:
    """Read and validate ``path``; schema errors become findings (all of them at once)."""
    path = Path(path)
    return load_document(read_document(path), display or str(path))


def load_document(document: Any, source: str) -> Loaded:
    """Validate a document read from the cluster file ``source`` (see :func:`load_cluster`)."""
    profile = document_profile(document)
    findings = schema_findings(document, source, profile)
    if findings or not isinstance(document, dict):
        return Loaded(None, findings, profile)
    return Loaded(build_cluster(document, source, profile), [], profile)
