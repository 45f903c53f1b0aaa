"""The cluster document carried to another release (see :mod:`dsprep.launch.migrate`):
only what the new release needs changes, each change with its reason, all read from the
two profiles."""

from __future__ import annotations

import copy
import json
from typing import Any

from dsprep.family import DEFAULT_FAMILY
from dsprep.launch.advice import FILE, LAUNCH, Change
from dsprep.launch.argv import compact_json
from dsprep.launch.cluster import Cluster
from dsprep.launch.graphs import captured_graphs, from_tokens, in_tokens
from dsprep.launch.release_rules import value_at
from dsprep.profiles import Profile, all_profiles


def shown(value: Any) -> str:
    if value is None:
        return "(unset)"
    if isinstance(value, str):
        return value
    return compact_json(value)


# --- dotted paths on the document -----------------------------------------------------------


def set_path(document: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    target = document
    for part in parents:
        target = target.setdefault(part, {})
    target[last] = value


def delete_path(document: dict[str, Any], path: str) -> None:
    *parents, last = path.split(".")
    target: Any = document
    for part in parents:
        target = target.get(part) if isinstance(target, dict) else None
    if isinstance(target, dict):
        target.pop(last, None)


def _as_bool(value: Any) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on")


# --- the document -------------------------------------------------------------------------------


def target_mode(mode: str, old: Profile, new: Profile) -> str:
    """The new release's mode for ``mode``: the same name, else its eager mode for an eager
    one, else its default."""
    modes = new.launch.graph_modes
    if mode in modes:
        return mode
    before = old.launch.graph_modes.get(mode)
    if before is not None and before.eager:
        eager = [name for name, m in modes.items() if m.eager]
        if eager:
            return eager[0]
    return new.launch.default_graph_mode


def _graph(doc: dict[str, Any], cluster: Cluster, old: Profile, new: Profile) -> list[Change]:
    changes: list[Change] = []
    graph = doc.get("graph")
    if not isinstance(graph, dict):
        return changes
    mode = target_mode(cluster.graph_mode, old, new)
    if "mode" in graph and graph["mode"] != mode:
        graph["mode"] = mode
        changes.append(
            Change(
                FILE,
                "graph.mode",
                cluster.graph_mode,
                mode,
                f"vllm-ascend {new.name} has no {cluster.graph_mode} mode; {mode} is its"
                + (" eager mode" if new.launch.graph_modes[mode].eager else " default"),
            )
        )
    sizes = graph.get("batch_sizes")
    before = old.launch.graph_modes.get(cluster.graph_mode)
    after = new.launch.graph_modes[mode]
    if not sizes:
        return changes
    if after.sizes is None:
        del graph["batch_sizes"]
        changes.append(
            Change(FILE, "graph.batch_sizes", shown(sizes), "(removed)", f"{mode} captures none")
        )
    elif (
        before is not None
        and before.sizes is not None
        and (before.sizes.unit, before.sizes.at) != (after.sizes.unit, after.sizes.at)
    ):
        captured = captured_graphs(list(sizes), before.sizes, cluster).captured
        tokens = in_tokens(captured, before.sizes, cluster)
        carried = from_tokens(tokens, after.sizes, cluster)
        graph["batch_sizes"] = carried
        unit = "tokens" if after.sizes.unit == "tokens" else "sequences"
        changes.append(
            Change(
                FILE if carried != list(sizes) else LAUNCH,
                "graph.batch_sizes",
                shown(sizes),
                shown(carried),
                f"the graphs {old.name} captured ({shown(tokens)} tokens), as"
                f" {'.'.join(after.sizes.at)} ({unit})",
            )
        )
    return changes


def _scheduler(doc: dict[str, Any], old: Profile, new: Profile) -> list[Change]:
    scheduler = doc.get("scheduler")
    if new.launch.scheduler is not None or not isinstance(scheduler, dict):
        return []
    if scheduler.get("ascend") is True:
        scheduler["ascend"] = False
        return [
            Change(
                FILE,
                "scheduler.ascend",
                "true",
                "false",
                f"vllm-ascend {new.name} has no Ascend scheduler (vLLM's is used)",
            )
        ]
    return []


def _features(doc: dict[str, Any], new: Profile) -> list[Change]:
    features = doc.get("features")
    if not isinstance(features, dict):
        return []
    parser = features.get("reasoning_parser")
    if parser and parser not in new.launch.reasoning_parsers:
        fits = new.launch.family_parsers[DEFAULT_FAMILY.name].reasoning
        features["reasoning_parser"] = fits
        return [
            Change(
                FILE,
                "features.reasoning_parser",
                parser,
                shown(fits),
                f"vLLM {new.launch.vllm} registers no {parser}",
            )
        ]
    return []


def _mtp_names() -> set[str]:
    names = {p.launch.mtp.method for p in all_profiles()}
    return names | {alias for p in all_profiles() for alias in p.launch.mtp.aliases}


def _extra_args(doc: dict[str, Any], new: Profile) -> list[Change]:
    args = doc.get("extra_args")
    if not isinstance(args, list):
        return []
    changes: list[Change] = []
    mtp = new.launch.mtp
    kept: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        flag, _, inline = arg.partition("=")
        value = inline if inline else (args[i + 1] if i + 1 < len(args) else None)
        width = 1 if inline or value is None or value.startswith("--") else 2
        if flag == "--speculative-config" and value is not None:
            try:
                spec = json.loads(value)
            except ValueError:
                spec = None
            method = spec.get("method") if isinstance(spec, dict) else None
            if (
                isinstance(spec, dict)
                and method in _mtp_names()
                and method != mtp.method
                and mtp.aliases.get(str(method)) != "accepted"
            ):
                spec["method"] = mtp.method
                text = compact_json(spec)
                kept += [f"{flag}={text}"] if inline else [flag, text]
                changes.append(
                    Change(
                        FILE,
                        f"extra_args[{i}] --speculative-config method",
                        str(method),
                        mtp.method,
                        f"vLLM {new.launch.vllm} "
                        + ("deprecates" if method in mtp.aliases else "does not take")
                        + f" {method}",
                    )
                )
                i += width
                continue
        if flag == "--api-server-count" and len(doc.get("nodes", [])) > 1:
            limit = new.launch.headless.max_api_server_count
            if value is None or not value.isdigit() or int(value) > limit:
                changes.append(
                    Change(
                        FILE,
                        f"extra_args[{i}] --api-server-count",
                        str(value),
                        "(removed)",
                        f"the headless nodes of vLLM {new.launch.vllm} refuse it"
                        f" ({new.launch.headless.message})",
                    )
                )
                i += width
                continue
        kept += args[i : i + width]
        i += width
    if changes:
        doc["extra_args"] = kept
    return changes


def _moved(doc: dict[str, Any], new: Profile) -> list[Change]:
    """Every setting of the file that ``new`` lists in ``launch.moved``."""
    changes: list[Change] = []
    for source, moved in new.launch.moved.items():
        root, _, rest = source.partition(".")
        if root not in ("env", "additional_config") or not rest:
            continue
        value = value_at(doc, source)
        if value is None:
            continue
        delete_path(doc, source)
        target = moved.to
        if target is not None and target.split(".")[0] in ("env", "additional_config"):
            carried: Any = value
            if moved.convert == "bool":
                carried = _as_bool(value)
            elif moved.convert == "int" and str(value).strip().lstrip("-").isdigit():
                carried = int(str(value).strip())
            if target.startswith("env."):
                carried = str(carried).lower() if isinstance(carried, bool) else carried
            set_path(doc, target, carried)
            after = f"{target} = {shown(carried)}"
        else:
            after = "(removed)" + (f"; the setting is {target}" if target else "")
        changes.append(Change(FILE, source, shown(value), after, moved.note))
    return changes


def migrate_document(
    document: dict[str, Any], cluster: Cluster, old: Profile, new: Profile, tag: str
) -> tuple[dict[str, Any], list[Change]]:
    """The document for ``tag`` and the changes made to it (the input is left alone)."""
    doc = copy.deepcopy(document)
    changes: list[Change] = []
    if doc["image"]["tag"] != tag:
        changes.append(Change(FILE, "image.tag", doc["image"]["tag"], tag, "selects the profile"))
        doc["image"]["tag"] = tag
    changes += _graph(doc, cluster, old, new)
    changes += _scheduler(doc, old, new)
    changes += _features(doc, new)
    changes += _extra_args(doc, new)
    changes += _moved(doc, new)
    return doc, changes
