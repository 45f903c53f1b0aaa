"""The ``--init`` example per release, and the comments dsprep's example gives each key.

The seed manual's two-node example (``templates/launch/cluster.example.yaml``) is the
default. For ``--init --image TAG`` the profile's ``launch.example`` (the release guide's
multi-node example as cluster-file keys; a null removes a key) is laid over it with
:func:`dsprep.launch.yaml_edit.edit_yaml`, so the example keeps its comments, and the
comments that describe a changed value are written for the release.
"""

from __future__ import annotations

import copy
import textwrap
from pathlib import Path
from typing import Any

from dsprep.family import DEFAULT_FAMILY
from dsprep.profiles import Profile

SEED_LINE = "# Values below are the manual's two-node Atlas A2 example. Check it with\n"
EXAMPLE_NAME = "cluster.example.yaml"


def seed_text() -> str:
    """The annotated example cluster file with the seed manual's exact values."""
    from dsprep.resources import templates_dir

    path = templates_dir() / "launch" / EXAMPLE_NAME
    return path.read_text(encoding="utf-8")


def parse(text: str, name: str = EXAMPLE_NAME) -> Any:
    from dsprep.launch.cluster_yaml import parse_yaml

    return parse_yaml(text, Path(name))


def overlay(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """``extra`` laid over a copy of ``base``: mappings merge, a null removes the key."""
    merged = copy.deepcopy(base)
    for key, value in extra.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = overlay(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def sizes_comment(profile: Profile, mode_name: str) -> str:
    mode = profile.launch.graph_modes.get(mode_name)
    if mode is None or mode.sizes is None:
        return f"unused: {mode_name} captures no graphs"
    sizes = mode.sizes
    unit = "sequences" if sizes.unit == "batch" else "tokens"
    limit = f" <= {sizes.limit}" if sizes.limit else ""
    spec = {
        "multiply": "; x (1 + mtp_tokens) with MTP",
        "round_up": "; MTP: multiples of 1 + mtp_tokens",
        "none": "",
    }[sizes.speculative]
    return f"{sizes.at[-1]} in {unit}{limit}{spec}"


def example_comments(profile: Profile, document: dict[str, Any]) -> dict[str, str]:
    """The comment dsprep's example gives each key whose meaning depends on the release."""
    launch = profile.launch
    family = launch.family_parsers[DEFAULT_FAMILY.name]
    graph = document.get("graph") or {}
    mode = graph.get("mode", launch.default_graph_mode)
    scheduler = launch.scheduler
    return {
        "graph.mode": f"{' | '.join(launch.graph_modes)} (the graph modes of {profile.name})",
        "graph.batch_sizes": sizes_comment(profile, mode),
        "scheduler.ascend": (
            f"{scheduler.config_key}.enabled"
            if scheduler
            else f"{profile.name} has no Ascend scheduler (vLLM's is used)"
        ),
        "limits.max_num_batched_tokens": (
            ">= max_model_len with the Ascend scheduler" if scheduler else "tokens per step"
        ),
        "features.tools": (f"true adds --enable-auto-tool-choice --tool-call-parser {family.tool}"),
        "features.reasoning_parser": (
            f"{family.reasoning} fits {DEFAULT_FAMILY.title} on vLLM {launch.vllm}"
            if family.reasoning
            else f"vLLM {launch.vllm} has no parser that fits {DEFAULT_FAMILY.title}"
        ),
    }


def example_document(profile: Profile | None, tag: str | None) -> dict[str, Any]:
    """The ``--init`` document: the seed's, with the release guide's keys over it."""
    document: dict[str, Any] = parse(seed_text())
    if profile is None:
        return document
    document = overlay(document, profile.launch.example.document)
    document["image"]["tag"] = tag or profile.name
    return document


def example_for(profile: Profile | None, tag: str | None) -> str:
    """The ``--init`` text for ``--image TAG`` (None: the seed manual's example)."""
    from dsprep.launch.yaml_edit import edit_yaml

    text = seed_text()
    if profile is None:
        return text
    document = example_document(profile, tag)
    example = profile.launch.example
    if example.document:
        where = profile.launch.sources["example"]
        cited = where if isinstance(where, str) else where[0]
        header = (
            f"# Values below are the multi-node DeepSeek-V3.1 example of vllm-ascend"
            f" {profile.name}'s guide\n#   ({cited})\n"
            + "".join(
                "\n".join(
                    textwrap.wrap(
                        line,
                        94,
                        initial_indent="# dsprep departs from it: ",
                        subsequent_indent="#   ",
                    )
                )
                + "\n"
                for line in example.departs
            )
            + "# Check it with\n"
        )
        text = text.replace(SEED_LINE, header)
    seed = parse(seed_text())
    comments = example_comments(profile, document)
    edited = edit_yaml(text, seed, document, parse, comments)
    return edited.text
