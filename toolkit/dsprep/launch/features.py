"""Profile checks of the feature flags: reasoning and tool-call parsers, the MTP method
name, ``--api-server-count`` with headless nodes (domain notes §2)."""

from __future__ import annotations

import json

from dsprep.findings import Finding, Severity
from dsprep.launch.cluster import Cluster
from dsprep.launch.profiles import Profile, all_profiles
from dsprep.launch.rules import finding


def arg_values(args: tuple[str, ...], flag: str) -> list[tuple[int, str | None]]:
    """(index, value) of every ``flag VALUE`` / ``flag=VALUE`` in ``args``; value None when
    the flag has none."""
    found: list[tuple[int, str | None]] = []
    for i, arg in enumerate(args):
        if arg == flag:
            nxt = args[i + 1] if i + 1 < len(args) else None
            found.append((i, None if nxt is None or nxt.startswith("--") else nxt))
        elif arg.startswith(flag + "="):
            found.append((i, arg.split("=", 1)[1]))
    return found


def check_parsers(cluster: Cluster, profile: Profile) -> list[Finding]:
    found: list[Finding] = []
    parser = cluster.reasoning_parser
    if parser and parser not in profile.reasoning_parsers:
        found.append(
            finding(
                cluster,
                "reasoning-parser-unavailable",
                "features.reasoning_parser",
                f"vLLM {profile.vllm_version} in image {profile.name} has no reasoning parser"
                f" {parser!r}; it has: {', '.join(profile.reasoning_parsers)}",
                profile.reasoning_parser_advice,
            )
        )
    elif parser == "deepseek_r1":
        found.append(
            finding(
                cluster,
                "reasoning-parser-r1-misreads",
                "features.reasoning_parser",
                "deepseek_r1 treats DeepSeek-V3.1 non-thinking answers as reasoning",
                profile.reasoning_parser_advice,
                Severity.WARNING,
            )
        )
    args = cluster.extra_args
    wanted = profile.tool_call_parser
    auto = arg_values(args, "--enable-auto-tool-choice")
    parsers = arg_values(args, "--tool-call-parser")
    for i, value in parsers:
        if value != wanted:
            found.append(
                finding(
                    cluster,
                    "tool-parser-wrong",
                    f"extra_args[{i}]",
                    f"--tool-call-parser {value} does not parse DeepSeek-V3.1 tool calls",
                    f"use features.tools: true (it adds --tool-call-parser {wanted})",
                )
            )
    if auto and not parsers:
        found.append(
            finding(
                cluster,
                "tool-parser-missing",
                f"extra_args[{auto[0][0]}]",
                "--enable-auto-tool-choice without --tool-call-parser is rejected by vLLM",
                f"remove it and set features.tools: true (adds --tool-call-parser {wanted})",
            )
        )
    elif (auto or parsers) and cluster.tools:
        found.append(
            finding(
                cluster,
                "extra-arg-conflict",
                "extra_args",
                "tool-call flags are set by features.tools",
                "remove --enable-auto-tool-choice/--tool-call-parser from extra_args",
            )
        )
    return found


def flag_conflicts(cluster: Cluster, flag: str, owner: str) -> list[Finding]:
    """An ``extra-arg-conflict`` for every ``flag`` in ``extra_args`` that ``owner`` sets."""
    return [
        finding(
            cluster,
            "extra-arg-conflict",
            f"extra_args[{i}]",
            f"{flag} is set by {owner}",
            "remove it from extra_args",
        )
        for i, _ in arg_values(cluster.extra_args, flag)
    ]


def check_speculative(cluster: Cluster, profile: Profile) -> list[Finding]:
    if cluster.mtp:
        return flag_conflicts(cluster, "--speculative-config", "features.mtp")
    known = {p.mtp_method for p in all_profiles()}  # the names some image expects
    found: list[Finding] = []
    for i, value in arg_values(cluster.extra_args, "--speculative-config"):
        try:
            method = json.loads(value or "").get("method")
        except (ValueError, AttributeError):
            method = None
        if method in known and method != profile.mtp_method:
            found.append(
                finding(
                    cluster,
                    "mtp-method-wrong",
                    f"extra_args[{i}]",
                    f"MTP method {method!r} is not the one image {profile.name} expects"
                    f" ({profile.mtp_method!r})",
                    "use features.mtp: true instead; dsprep writes the right method name",
                )
            )
    return found


def check_headless(cluster: Cluster, profile: Profile) -> list[Finding]:
    if len(cluster.nodes) < 2:
        return []
    return [
        finding(
            cluster,
            "headless-api-server-count",
            f"extra_args[{i}]",
            f"--api-server-count {value} with headless nodes: vLLM rejects --headless with"
            " more than one API server",
            "remove --api-server-count from extra_args",
        )
        for i, value in arg_values(cluster.extra_args, "--api-server-count")
        if value is None or not value.isdigit() or int(value) > 1
    ]
