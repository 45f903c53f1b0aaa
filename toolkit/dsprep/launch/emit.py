"""Validate a cluster file and write every node's scripts, verify.sh and PLAN.md.

``validate`` runs the schema, the general rules, the profile pitfalls and the memory plan;
``emit_launch`` writes only when no error was found (warnings are written into PLAN.md).
Output is deterministic: no timestamps, files in a fixed order; --out is replaced as a whole
(:mod:`dsprep.launch.outdir`).
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dsprep import catalogue as C
from dsprep.atomic import atomic_write_text, regular_stat
from dsprep.errors import InputError
from dsprep.findings import Finding, JsonPayload, NoPayload, Result
from dsprep.launch.advice import advice, head_api_servers
from dsprep.launch.argv import CONTAINER_SCRIPTS_DIR, serve_argv
from dsprep.launch.cluster import Cluster, Loaded, load_cluster
from dsprep.launch.examples import example_for, seed_text
from dsprep.launch.kit import (
    WEIGHTS_LIST,
    StartupTimes,
    WeightFile,
    manifest_weights,
    startup_times,
    weights_tsv,
)
from dsprep.launch.outdir import EDITED, MANIFEST_NAME, KeptFile, publish
from dsprep.launch.pitfalls import PROFILE_CHECKS
from dsprep.launch.plan import MemoryPlan, memory_plan, plan_findings, plan_lines
from dsprep.launch.rules import GENERAL_CHECKS, check_profile
from dsprep.launch.scripts import KitFiles, node_scripts, render, role, verify_script
from dsprep.launch.thinking import check_template_default, client_lines
from dsprep.profiles import Profile, profile_for

VERIFY_NAME = "verify.sh"
PLAN_NAME = "PLAN.md"
TOP_LEVEL_FILES = (VERIFY_NAME, PLAN_NAME)


@dataclass
class Validation:
    cluster: Cluster | None = None
    profile: Profile | None = None
    plan: MemoryPlan | None = None
    findings: list[Finding] = field(default_factory=list)
    weights: list[WeightFile] = field(default_factory=list)  # the manifest of --model-dir

    @property
    def times(self) -> StartupTimes:
        return startup_times(self.plan, self.weights)


def validate(path: Path, model_dir: Path | None = None) -> Validation:
    """Every check on the cluster file; stops after the schema when the schema fails."""
    return validate_loaded(load_cluster(path), model_dir)


def validate_loaded(loaded: Loaded, model_dir: Path | None = None) -> Validation:
    """Every check on a loaded cluster document (see :func:`validate`)."""
    outcome = Validation(findings=list(loaded.findings))
    cluster = loaded.cluster
    if cluster is None:
        return outcome
    outcome.cluster = cluster
    for check in GENERAL_CHECKS:
        outcome.findings.extend(check(cluster))
    profile, profile_findings = check_profile(cluster)
    outcome.findings.extend(profile_findings)
    if profile is None:
        return outcome
    outcome.profile = profile
    for profile_check in PROFILE_CHECKS:
        outcome.findings.extend(profile_check(cluster, profile))
    if model_dir is not None:
        outcome.findings.extend(check_template_default(cluster, model_dir))
    outcome.plan = memory_plan(cluster, profile, model_dir)
    outcome.weights = manifest_weights(model_dir)
    outcome.findings.extend(plan_findings(outcome.plan, cluster))
    return outcome


def devices(npus: int) -> str:
    return "/dev/davinci0" if npus == 1 else f"/dev/davinci0-{npus - 1}"


def plan_markdown(outcome: Validation) -> str:
    cluster, profile, plan = outcome.cluster, outcome.profile, outcome.plan
    assert cluster is not None and profile is not None and plan is not None
    topology: list[dict[str, Any]] = []
    for node in cluster.nodes:
        first = cluster.start_rank(node)
        ranks = ", ".join(str(r) for r in range(first, first + cluster.dp_local))
        topology.append(
            {
                "name": node.name,
                "ip": node.ip,
                "nic": node.nic,
                "npus": node.npus,
                "devices": devices(node.npus),
                "ranks": ranks,
                "role": role(cluster, node),
                "serve": shlex.join(serve_argv(cluster, profile, node)),
            }
        )
    return render(
        "PLAN.md.j2",
        cluster=cluster,
        profile=profile,
        topology=topology,
        scripts_dir=CONTAINER_SCRIPTS_DIR,
        added_env=[(e.name, e.value, e.added) for e in profile.launch.env if e.added],
        findings=outcome.findings,
        memory=plan_lines(plan, cluster),
        mode=profile.launch.graph_modes[cluster.graph_mode],
        api_servers=head_api_servers(cluster, profile),
        advice=advice_lines(cluster, profile),
        thinking=client_lines(cluster, profile),
        timeouts=outcome.times.lines(profile),
        weights_listed=bool(outcome.weights),
    )


def advice_lines(cluster: Cluster, profile: Profile) -> list[str]:
    """What the release's own guide does differently (advice, never applied)."""
    return [change.line() for change in advice(cluster, profile)]


def rendered_files(outcome: Validation) -> dict[str, str | bytes]:
    """``{relative path: text or bytes}`` of everything emit-launch writes, in write order:
    each node's scripts, its weights list (with a manifest) and the wheel of this dsprep."""
    from dsprep import __version__
    from dsprep.launch.wheel import wheel_bytes, wheel_name

    cluster, profile = outcome.cluster, outcome.profile
    assert cluster is not None and profile is not None
    times = outcome.times
    kit = KitFiles(times, wheel_name(), __version__, bool(outcome.weights))
    wheel = wheel_bytes()
    files: dict[str, str | bytes] = {}
    for node in cluster.nodes:
        for name, text in node_scripts(cluster, profile, node, kit).items():
            files[f"{node.name}/{name}"] = text
        if outcome.weights:
            files[f"{node.name}/{WEIGHTS_LIST}"] = weights_tsv(outcome.weights)
        files[f"{node.name}/{kit.wheel}"] = wheel
    files[VERIFY_NAME] = verify_script(cluster, times)
    files[PLAN_NAME] = plan_markdown(outcome)
    return files


def k8s_files(outcome: Validation) -> dict[str, str | bytes]:
    from dsprep.launch.k8s import MANIFEST_NAME as LWS_FILE
    from dsprep.launch.k8s import manifest_text

    assert outcome.cluster is not None and outcome.profile is not None
    return {LWS_FILE: manifest_text(outcome.cluster, outcome.profile, outcome.times)}


def reserved_names() -> tuple[str, ...]:
    """The top-level names of --out that are not node folders (the schema refuses them as
    node names)."""
    return (*TOP_LEVEL_FILES, MANIFEST_NAME)


@dataclass(frozen=True)
class EmitSummary(JsonPayload):
    """What emit-launch wrote. ``written``: every file --out now holds from this run (empty:
    nothing written); ``up_to_date``: they were all there already, nothing was touched;
    ``kept``: the user's files kept under a ``.dsprep-user`` name; ``previous``: where the
    previous output went."""

    out: str
    written: list[str]
    profile: str = ""
    nodes: list[str] = field(default_factory=list)
    memory: dict[str, Any] = field(default_factory=dict)
    manifest: str = ""
    up_to_date: bool = False
    kept: list[dict[str, str]] = field(default_factory=list)
    previous: str | None = None


@dataclass(frozen=True)
class InitSummary(JsonPayload):
    """``--init``: the example written (``written`` empty: it was there already)."""

    target: str
    written: list[str]
    tag: str = ""  # --image: that release's documented defaults ("": the seed manual's)
    init: bool = True


@dataclass(frozen=True)
class PlanSummary(JsonPayload):
    memory: dict[str, Any] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)
    measured: dict[str, Any] = field(default_factory=dict)  # --from-log: the logs' figures


def emit_launch(
    path: Path, out_dir: Path, model_dir: Path | None = None, target: str = "docker"
) -> Result[EmitSummary]:
    """Validate ``path``; when no error is found, replace ``out_dir`` with the scripts (see
    :mod:`dsprep.launch.outdir`: all or nothing, the user's edits kept and reported).
    ``target="k8s"``: the LeaderWorkerSet and Service (:mod:`dsprep.launch.k8s`) instead."""
    outcome = validate(path, model_dir)
    findings = list(outcome.findings)
    if target == "k8s" and outcome.cluster is not None and outcome.profile is not None:
        from dsprep.launch.k8s import k8s_findings

        findings += k8s_findings(outcome.cluster)
    if not Result("emit-launch", NoPayload(), findings).ok or outcome.cluster is None:
        return Result("emit-launch", EmitSummary(str(out_dir), []), findings)
    files = rendered_files(outcome) if target == "docker" else k8s_files(outcome)
    published = publish(Path(out_dir), files)
    for kept in published.kept:
        findings.append(_kept_finding(Path(out_dir), kept))
    summary = EmitSummary(
        out=str(out_dir),
        written=list(files),
        profile=outcome.profile.name if outcome.profile else "",
        nodes=[n.name for n in outcome.cluster.nodes],
        memory=outcome.plan.to_json() if outcome.plan else {},
        manifest=MANIFEST_NAME,
        up_to_date=published.up_to_date,
        kept=[{"file": k.file, "kept_as": k.kept_as, "reason": k.reason} for k in published.kept],
        previous=published.previous,
    )
    return Result("emit-launch", summary, findings)


def _kept_finding(out_dir: Path, kept: KeptFile) -> Finding:
    why = (
        "differed from what dsprep wrote last (your edit)"
        if kept.reason == EDITED
        else "was not written by dsprep and stood where an emitted file goes"
    )
    return C.USER_EDIT_KEPT(
        str(out_dir / kept.file),
        f"{kept.file} {why}; it is kept as {kept.kept_as} beside the new {kept.file}",
    )


def plan_result(
    path: Path, model_dir: Path | None = None, logs: tuple[Path, ...] = ()
) -> Result[PlanSummary]:
    """``dsprep plan``: the memory fit plus every finding of the cluster file; with
    ``logs``, vLLM's own memory lines per node beside it."""
    nodes = None
    if logs:
        from dsprep.launch.measured import read_figures

        nodes = read_figures(logs)
    outcome = validate(path, model_dir)
    summary = PlanSummary()
    if outcome.plan is not None and outcome.cluster is not None:
        lines = plan_lines(outcome.plan, outcome.cluster)
        if outcome.profile is not None:
            hints = advice_lines(outcome.cluster, outcome.profile)
            if hints:
                lines += [
                    "",
                    f"Advice from vllm-ascend {outcome.profile.name}'s own guide (never applied):",
                ]
                lines += [f"- {line}" for line in hints]
        measured: dict[str, Any] = {}
        if nodes is not None:
            from dsprep.launch.calibration import comparison_lines, measured_json

            lines += comparison_lines(outcome.plan, outcome.cluster, nodes)
            measured = measured_json(outcome.plan, outcome.cluster, nodes)
        summary = PlanSummary(outcome.plan.to_json(), lines, measured)
    return Result("plan", summary, list(outcome.findings))


def example_text() -> str:
    """The annotated example cluster file with the seed manual's exact values."""
    return seed_text()


def write_example(target: Path, tag: str | None = None) -> Result[InitSummary]:
    """``--init``: write the example (with ``tag``: that release's documented multi-node
    defaults over it); an existing different file is left alone."""
    profile = profile_for(tag) if tag is not None else None
    text = example_for(profile, tag)
    if regular_stat(target) is not None:  # a FIFO or a folder is refused here
        try:
            same = target.read_text(encoding="utf-8") == text
        except (OSError, UnicodeDecodeError):
            same = False
        if not same:
            raise InputError(
                f"{target} already exists and differs from the example; not overwriting it",
                hint="pass another file name to --init, or delete the file first",
                path=target,
            )
        return Result("emit-launch", InitSummary(str(target), [], tag or ""))
    atomic_write_text(target, text, backup=False)
    os.chmod(target, 0o644)
    return Result("emit-launch", InitSummary(str(target), [str(target)], tag or ""))
