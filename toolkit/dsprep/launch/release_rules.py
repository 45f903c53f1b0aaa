"""The start-up checks a release makes on its settings, as data (``launch.rules``).

The launch's settings are viewed as one nested mapping — ``additional_config.*`` and
``compilation_config.*`` as emitted, ``args.*`` for the ``vllm serve`` arguments dsprep
writes — and each rule of the profile is judged on it (see
:class:`dsprep.profiles.Rule`): the finding quotes what the release raises.
"""

from __future__ import annotations

from typing import Any

from dsprep import catalogue as C
from dsprep.findings import Finding
from dsprep.launch.argv import EngineConfig
from dsprep.launch.cluster import Cluster
from dsprep.launch.rules import finding
from dsprep.profiles import Profile, Rule


def settings(cluster: Cluster, profile: Profile, engine: EngineConfig) -> dict[str, Any]:
    """The launch as the release sees it, for :func:`value_at`."""
    mode = profile.launch.graph_modes.get(cluster.graph_mode)
    return {
        "additional_config": engine.additional_config,
        "compilation_config": engine.compilation_config,
        "args": {
            "enforce_eager": bool(mode is not None and mode.eager),
            "tensor_parallel_size": cluster.tp,
            "data_parallel_size": cluster.dp,
            "max_num_seqs": cluster.max_num_seqs,
            "max_model_len": cluster.max_model_len,
            "max_num_batched_tokens": cluster.max_num_batched_tokens,
        },
    }


def value_at(view: dict[str, Any], path: str) -> Any:
    """The value at a dotted path, or None where any part is missing."""
    value: Any = view
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


# the cluster file's key of each ``args.*`` setting
ARG_KEYS = {
    "enforce_eager": "graph.mode",
    "tensor_parallel_size": "parallel.tp",
    "data_parallel_size": "parallel.dp",
    "max_num_seqs": "limits.max_num_seqs",
    "max_model_len": "limits.max_model_len",
    "max_num_batched_tokens": "limits.max_num_batched_tokens",
}


def _where(path: str) -> str:
    """How the cluster file names a setting: additional_config.* as is, args.* by its key."""
    if path.startswith("args."):
        return ARG_KEYS[path.removeprefix("args.")]
    return path


def _judge(rule: Rule, view: dict[str, Any]) -> list[str]:
    """The settings of ``rule.when`` that break it (empty: the rule holds)."""
    needs = value_at(view, rule.needs)
    broken: list[str] = []
    for path in rule.when:
        value = value_at(view, path)
        if not value:
            continue
        if (
            (rule.kind == "requires" and not needs)
            or (rule.kind == "excludes" and needs)
            or (rule.kind == "equals" and needs != rule.value)
        ):
            broken.append(path)
        elif rule.kind == "at_least":
            unless = value_at(view, rule.unless) if rule.unless else None
            floor = value_at(view, str(rule.value))
            if not unless and isinstance(needs, int) and isinstance(floor, int) and needs < floor:
                broken.append(path)
    return broken


def check_release_rules(cluster: Cluster, profile: Profile, engine: EngineConfig) -> list[Finding]:
    view = settings(cluster, profile, engine)
    found: list[Finding] = []
    for rule in profile.launch.rules:
        kind = C.kind(rule.code)
        for path in _judge(rule, view):
            needs = value_at(view, rule.needs)
            if rule.kind == "at_least":
                floor = str(rule.value)
                where = _where(rule.needs)
                said = (
                    f"{needs!r} < {_where(floor)} {value_at(view, floor)!r} with {path} and"
                    f" no {rule.unless}"
                )
            else:
                where = _where(path)
                said = f"set while {_where(rule.needs)} is {needs!r}"
            found.append(
                finding(
                    cluster,
                    kind,
                    where,
                    f"{said}: vllm-ascend {profile.name} stops at start with {rule.raises}",
                )
            )
    return found
