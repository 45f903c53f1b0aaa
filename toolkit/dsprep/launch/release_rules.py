"""The start-up checks a release makes on its settings, as data (``launch.rules``).

The launch's settings are viewed as one nested mapping — ``additional_config.*`` and
``compilation_config.*`` as emitted, ``args.*`` for the ``vllm serve`` arguments dsprep
writes (and a few read from ``extra_args``), ``env.*`` for the head node's exports — and
each rule of the profile is judged on it (see :class:`dsprep.profiles.Rule`): the finding
names the cluster-file key and quotes what the release raises.
"""

from __future__ import annotations

import json
from typing import Any

from dsprep import catalogue as C
from dsprep.findings import Finding
from dsprep.launch.argv import EngineConfig, node_env
from dsprep.launch.cluster import Cluster
from dsprep.launch.rules import finding
from dsprep.profiles import Profile, Rule


def _flag_json(args: tuple[str, ...], flag: str) -> dict[str, Any]:
    """The JSON object after the last ``flag`` (``flag VALUE`` or ``flag=VALUE``), or {}."""
    found: Any = {}
    for i, arg in enumerate(args):
        text = None
        if arg == flag and i + 1 < len(args):
            text = args[i + 1]
        elif arg.startswith(flag + "="):
            text = arg.split("=", 1)[1]
        if text is not None:
            try:
                found = json.loads(text)
            except ValueError:
                found = {}
    return found if isinstance(found, dict) else {}


def settings(cluster: Cluster, profile: Profile, engine: EngineConfig) -> dict[str, Any]:
    """The launch as the release sees it, for :func:`value_at`: the JSON-valued flags
    (``speculative_config`` and ``kv_transfer_config`` also from extra_args), the flags
    dsprep writes as ``args``, the head node's exports as ``env``."""
    mode = profile.launch.graph_modes.get(cluster.graph_mode)
    speculative = engine.speculative_config or _flag_json(
        cluster.extra_args, "--speculative-config"
    )
    return {
        "additional_config": engine.additional_config,
        "compilation_config": engine.compilation_config,
        "speculative_config": speculative or None,
        "kv_transfer_config": _flag_json(cluster.extra_args, "--kv-transfer-config") or None,
        "args": {
            "enforce_eager": bool(mode is not None and mode.eager),
            "tensor_parallel_size": cluster.tp,
            "data_parallel_size": cluster.dp,
            "max_num_seqs": cluster.max_num_seqs,
            "max_model_len": cluster.max_model_len,
            "max_num_batched_tokens": cluster.max_num_batched_tokens,
        },
        "env": dict(node_env(cluster, profile, cluster.head)),
    }


def value_at(view: dict[str, Any], path: str) -> Any:
    """The value at a dotted path, or None where any part is missing."""
    value: Any = view
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


# the cluster file's key of each ``args.*`` setting, and of the JSON flags read
ARG_KEYS = {
    "enforce_eager": "graph.mode",
    "tensor_parallel_size": "parallel.tp",
    "data_parallel_size": "parallel.dp",
    "max_num_seqs": "limits.max_num_seqs",
    "max_model_len": "limits.max_model_len",
    "max_num_batched_tokens": "limits.max_num_batched_tokens",
}
FLAG_KEYS = {
    "speculative_config": "features.mtp / extra_args --speculative-config",
    "kv_transfer_config": "extra_args --kv-transfer-config",
}


def where(path: str) -> str:
    """How the cluster file names a setting: additional_config.* and env.* as they are,
    args.* by the key that sets it."""
    if path.startswith("args."):
        return ARG_KEYS[path.removeprefix("args.")]
    root, _, rest = path.partition(".")
    if root in FLAG_KEYS:
        return f"{FLAG_KEYS[root]}" + (f" ({rest})" if rest else "")
    return path


def _is_set(rule: Rule, value: Any) -> bool:
    return value is not None if rule.when_set == "present" else bool(value)


def _broken(rule: Rule, view: dict[str, Any], value: Any) -> bool:
    """Whether a ``when`` path set to ``value`` breaks the rule."""
    needs = value_at(view, rule.needs) if rule.needs else None
    if rule.kind == "requires":
        return not needs
    if rule.kind == "excludes":
        return bool(needs)
    if rule.kind == "equals":
        return bool(needs != rule.value)
    if rule.kind == "one_of":
        return needs not in (rule.value or [])
    if rule.kind == "divides":
        return (
            isinstance(value, int) and value > 0 and isinstance(needs, int) and needs % value != 0
        )
    if rule.kind == "at_least":
        unless = value_at(view, rule.unless) if rule.unless else None
        floor = value_at(view, str(rule.value))
        return bool(
            not unless and isinstance(needs, int) and isinstance(floor, int) and needs < floor
        )
    return True  # forbidden


def _said(rule: Rule, view: dict[str, Any], path: str, value: Any) -> tuple[str, str]:
    """(the key the finding names, what is wrong) for a broken rule."""
    needs = value_at(view, rule.needs) if rule.needs else None
    shown = where(rule.needs) if rule.needs else ""
    if rule.kind == "at_least":
        floor = str(rule.value)
        return shown, (
            f"{needs!r} < {where(floor)} {value_at(view, floor)!r} with {where(path)} and"
            f" no {rule.unless}"
        )
    if rule.kind == "requires":
        return where(path), f"set while {shown} is {needs!r}"
    if rule.kind == "excludes":
        return where(path), f"set together with {shown} ({needs!r})"
    if rule.kind == "equals":
        return where(path), f"needs {shown} == {rule.value!r}; it is {needs!r}"
    if rule.kind == "one_of":
        return where(path), f"needs {shown} to be one of {rule.value}; it is {needs!r}"
    if rule.kind == "divides":
        return where(path), f"{value!r} does not divide {shown} {needs!r}"
    return where(path), f"{value!r} is not accepted"


def check_release_rules(cluster: Cluster, profile: Profile, engine: EngineConfig) -> list[Finding]:
    view = settings(cluster, profile, engine)
    found: list[Finding] = []
    for rule in profile.launch.rules:
        kind = C.kind(rule.code)
        for path in rule.when:
            value = value_at(view, path)
            if not _is_set(rule, value) or not _broken(rule, view, value):
                continue
            key, said = _said(rule, view, path, value)
            found.append(
                finding(
                    cluster,
                    kind,
                    key,
                    f"{said}: vllm-ascend {profile.name} stops at start with {rule.raises}",
                )
            )
    return found
