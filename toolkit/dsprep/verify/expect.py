"""What the deployment must be: the served model name, the thinking default, tools on or
off, and the parsers the fixes name — from ``--cluster FILE`` or from the options."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dsprep.errors import InputError
from dsprep.profiles import Profile, newest_profile


@dataclass(frozen=True)
class Expectation:
    """``served_name`` None: any name /v1/models lists (the first is used);
    ``thinking_default`` None: the default is measured but not compared."""

    source: str  # the cluster file, or "the command line"
    served_name: str | None
    thinking_default: bool | None
    tools: bool
    tool_parser: str  # the release's tool parser, named in fixes
    reasoning_parser: str | None  # the one the release should run, named in fixes
    defaults_flag: str | None  # the serve flag for chat-template defaults (None: none)
    where_name: str  # where the served name is set, for the fix
    where_thinking: str  # where the thinking default is set, for the fix


def _parsers(profile: Profile) -> tuple[str, str | None]:
    from dsprep.family import DEFAULT_FAMILY
    from dsprep.launch.argv import tool_parser

    reasoning = profile.launch.family_parsers[DEFAULT_FAMILY.name].reasoning
    return tool_parser(profile), reasoning


def from_cluster(path: Path, served_name: str | None = None) -> Expectation:
    """The expectation the cluster file states (``--model`` overrides its served name)."""
    from dsprep.launch.cluster import load_cluster

    loaded = load_cluster(path)
    if loaded.cluster is None:
        first = loaded.findings[0].message if loaded.findings else "not a cluster file"
        raise InputError(
            f"{path}: {first}",
            path=path,
            hint=f"run `dsprep emit-launch {path}` to see every problem of the cluster file",
        )
    cluster = loaded.cluster
    profile = loaded.profile or newest_profile()
    tool, reasoning = _parsers(profile)
    return Expectation(
        source=str(path),
        served_name=served_name or cluster.served_name,
        thinking_default=cluster.thinking_default,
        tools=cluster.tools,
        tool_parser=tool,
        reasoning_parser=cluster.reasoning_parser or reasoning,
        defaults_flag=profile.chat.template_defaults_flag,
        where_name=f"model.served_name in {path} (vllm serve --served-model-name)",
        where_thinking=f"features.thinking_default in {path}",
    )


def from_options(
    served_name: str | None, thinking_default: bool | None, tools: bool
) -> Expectation:
    """The expectation of ``--model``/``--thinking-default``/``--tools`` alone (the parsers
    named in fixes are the newest bundled release's)."""
    profile = newest_profile()
    tool, reasoning = _parsers(profile)
    return Expectation(
        source="the command line",
        served_name=served_name,
        thinking_default=thinking_default,
        tools=tools,
        tool_parser=tool,
        reasoning_parser=reasoning,
        defaults_flag=profile.chat.template_defaults_flag,
        where_name="vllm serve --served-model-name (or pass --model with the served name)",
        where_thinking="--thinking-default",
    )
