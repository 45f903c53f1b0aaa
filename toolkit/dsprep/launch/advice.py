"""What the release's own guide does differently from a cluster file, as advice (never
applied), and the :class:`Change` record that migration and advice share."""

from __future__ import annotations

from dataclasses import dataclass

from dsprep.family import DEFAULT_FAMILY
from dsprep.launch.cluster import Cluster
from dsprep.profiles import Profile

FILE, LAUNCH, DEFAULT, ADVICE = "file", "launch", "default", "advice"


@dataclass(frozen=True)
class Change:
    """One difference: ``scope`` file (the cluster file changes), launch (what emit-launch
    writes changes), default (a release default a launch does not set) or advice."""

    scope: str
    key: str
    before: str
    after: str
    why: str = ""

    def line(self) -> str:
        moved = f"{self.before} → {self.after}"
        return f"{self.key}: {moved}" + (f" ({self.why})" if self.why else "")


def advice(cluster: Cluster, profile: Profile) -> list[Change]:
    """What the release's guide does differently, never applied."""
    found: list[Change] = []
    layout = profile.launch.layout
    npus = {n.npus for n in cluster.nodes}
    if npus == {layout.npus_per_node} and (cluster.tp, cluster.dp_local) != (
        layout.tp,
        layout.dp_local,
    ):
        found.append(
            Change(
                ADVICE,
                "parallel",
                f"tp {cluster.tp}, dp_local {cluster.dp_local}",
                f"tp {layout.tp}, dp_local {layout.dp_local}, dp"
                f" {len(cluster.nodes) * layout.dp_local}",
                f"the layout vllm-ascend {profile.name}'s guide runs on {layout.nodes} x"
                f" {layout.hardware}; advice only, measure before you switch",
            )
        )
    fits = profile.launch.family_parsers[DEFAULT_FAMILY.name].reasoning
    if fits and cluster.reasoning_parser is None:
        found.append(
            Change(
                ADVICE,
                "features.reasoning_parser",
                "null",
                fits,
                f"vLLM {profile.launch.vllm} has a reasoning parser for"
                f" {DEFAULT_FAMILY.title} (answers then carry reasoning_content)",
            )
        )
    return found


def head_api_servers(cluster: Cluster, profile: Profile) -> int:
    """How many API server processes the head starts (without --api-server-count)."""
    return cluster.dp if profile.launch.headless.head_api_servers == "per_dp_rank" else 1
