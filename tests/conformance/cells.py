"""The cluster files of the conformance matrix, built from dsprep's own ``--init`` example.

Every cell is the example (``dsprep.launch.emit.example_text``) with edits: the profile's
image tag, a topology, a feature set and one of the profile's graph modes. Node ips are
moved into 127.0.0.0/8 (no test may name another host, even one nothing connects to) and
the model path to the tiny config-only folder. The argv of every node comes from dsprep's
own builder (``dsprep.launch.argv.serve_argv``) and the env from ``node_env``: exactly what
``serve.sh`` would ``exec`` after sourcing ``env.sh``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dsprep.family import DEFAULT_FAMILY
from dsprep.findings import Finding, Severity
from dsprep.launch.argv import node_env, serve_argv
from dsprep.launch.cluster import Cluster
from dsprep.launch.emit import example_text, validate
from dsprep.profiles import Profile

Document = dict[str, Any]


@dataclass(frozen=True)
class Topology:
    name: str
    nodes: int
    tp: int
    dp_local: int


TOPOLOGIES = (
    Topology("2n-tp8", 2, 8, 1),
    Topology("2n-tp4dl2", 2, 4, 2),
    Topology("4n-tp8", 4, 8, 1),
    Topology("4n-tp4dl2", 4, 4, 2),
)
FEATURES = ("plain", "tools-thinking-mtp")


def base_document(profile: Profile, model_dir: Path) -> Document:
    """The ``--init`` example for ``profile``: its tag, its default graph mode and sizes,
    the Ascend scheduler only where the release has one, loopback ips, the tiny model."""
    document: Document = yaml.safe_load(example_text())
    document["image"]["tag"] = profile.tags[0]
    document["model"]["path"] = str(model_dir)
    for i, node in enumerate(document["nodes"]):
        node["ip"] = f"127.0.0.{11 + i}"
    document.pop("graph", None)  # the profile's default mode
    document.pop("scheduler", None)  # the profile's default (ascend where it has one)
    set_graph(document, profile, profile.launch.default_graph_mode)
    return document


def set_graph(document: Document, profile: Profile, mode_name: str) -> None:
    """graph.mode and sizes the mode takes: batch sizes up to max_num_seqs, token counts up
    to max_num_batched_tokens (multiples of 1 + MTP tokens)."""
    mode = profile.launch.graph_modes[mode_name]
    graph: Document = {"mode": mode_name}
    if mode.sizes is not None:
        seqs = document["limits"]["max_num_seqs"]
        graph["batch_sizes"] = [seqs] if mode.sizes.unit == "batch" else [4, 8, 16]
    document["graph"] = graph


def set_topology(document: Document, topology: Topology) -> None:
    nodes = document["nodes"]
    while len(nodes) < topology.nodes:
        extra = copy.deepcopy(nodes[-1])
        extra["name"] = f"node{len(nodes)}"
        extra["ip"] = f"127.0.0.{11 + len(nodes)}"
        nodes.append(extra)
    del nodes[topology.nodes :]
    document["parallel"].update(
        tp=topology.tp, dp_local=topology.dp_local, dp=topology.nodes * topology.dp_local
    )


def set_features(document: Document, profile: Profile, features: str) -> None:
    if features == "plain":
        return
    family = profile.launch.family_parsers[DEFAULT_FAMILY.name]
    # thinking on by default only where it holds together (the server's default kwargs reach
    # the reasoning parser: the argv then carries --default-chat-template-kwargs); elsewhere
    # dsprep reports thinking-mismatch, which tests/conformance/negatives.py covers
    coherent = bool(family.reasoning) and profile.chat.reasoning_parser_kwargs == (
        "request+defaults"
    )
    document["features"].update(
        tools=True, thinking_default=coherent, reasoning_parser=family.reasoning, mtp=True
    )


@dataclass
class Cell:
    """One cluster file, what dsprep says of it, and the argv + env of every node."""

    id: str
    document: Document
    cluster: Cluster | None = None
    findings: list[Finding] = field(default_factory=list)
    nodes: list[dict[str, Any]] = field(default_factory=list)  # {"name", "argv", "env"}

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity is Severity.ERROR]

    def codes(self, severity: Severity | None = Severity.ERROR) -> set[str]:
        return {f.code for f in self.findings if severity is None or f.severity is severity}


def evaluate(cell_id: str, document: Document, folder: Path) -> Cell:
    """Write the cluster file, run dsprep's validation and, when the schema passed, build
    every node's argv (also for a file with errors: that is what the negative cells feed
    to vLLM — exactly what dsprep would have emitted without its check)."""
    path = folder / f"{cell_id}.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    outcome = validate(path)
    cell = Cell(cell_id, document, outcome.cluster, list(outcome.findings))
    if outcome.cluster is not None and outcome.profile is not None:
        cell.nodes = node_runs(outcome.cluster, outcome.profile)
    return cell


def node_runs(cluster: Cluster, profile: Profile) -> list[dict[str, Any]]:
    return [
        {
            "name": node.name,
            "argv": serve_argv(cluster, profile, node),
            "env": dict(node_env(cluster, profile, node)),
        }
        for node in cluster.nodes
    ]


def matrix_ids(profile: Profile) -> list[str]:
    """``<topology>-<features>-<graph mode>`` for every cell of the profile."""
    return [
        f"{t.name}-{f}-{mode}"
        for t in TOPOLOGIES
        for f in FEATURES
        for mode in profile.launch.graph_modes
    ]


def matrix(profile: Profile, model_dir: Path, folder: Path) -> list[Cell]:
    cells: list[Cell] = []
    for topology in TOPOLOGIES:
        for features in FEATURES:
            for mode in profile.launch.graph_modes:
                document = base_document(profile, model_dir)
                set_topology(document, topology)
                set_features(document, profile, features)
                set_graph(document, profile, mode)
                cell_id = f"{topology.name}-{features}-{mode}"
                cells.append(evaluate(cell_id, document, folder))
    return cells
