"""Profile checks of the feature flags: reasoning and tool-call parsers, the MTP method
name, ``--api-server-count`` with headless nodes."""

from __future__ import annotations

import json

from dsprep import catalogue as C
from dsprep.family import DEFAULT_FAMILY
from dsprep.findings import Finding, Severity
from dsprep.launch.argv import tool_parser
from dsprep.launch.cluster import Cluster
from dsprep.launch.rules import finding
from dsprep.profiles import Profile, all_profiles


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
    family = profile.launch.family_parsers[DEFAULT_FAMILY.name]
    parser = cluster.reasoning_parser
    if parser and parser not in profile.launch.reasoning_parsers:
        found.append(
            finding(
                cluster,
                C.REASONING_PARSER_UNAVAILABLE,
                "features.reasoning_parser",
                f"vLLM {profile.launch.vllm} in image {profile.name} has no reasoning parser"
                f" {parser!r}; it has: {', '.join(profile.launch.reasoning_parsers)}",
                family.reasoning_advice,
            )
        )
    elif parser in family.reasoning_misreads:
        found.append(
            finding(
                cluster,
                C.REASONING_PARSER_MISREADS,
                "features.reasoning_parser",
                f"{parser} misreads {DEFAULT_FAMILY.title} output (non-thinking answers"
                " become reasoning)",
                family.reasoning_advice,
            )
        )
    args = cluster.extra_args
    wanted = tool_parser(profile)
    auto = arg_values(args, "--enable-auto-tool-choice")
    parsers = arg_values(args, "--tool-call-parser")
    for i, value in parsers:
        if value != wanted:
            found.append(
                finding(
                    cluster,
                    C.TOOL_PARSER_WRONG,
                    f"extra_args[{i}]",
                    f"--tool-call-parser {value} does not parse {DEFAULT_FAMILY.title} tool calls",
                    f"use features.tools: true (it adds --tool-call-parser {wanted})",
                )
            )
    if auto and not parsers:
        found.append(
            finding(
                cluster,
                C.TOOL_PARSER_MISSING,
                f"extra_args[{auto[0][0]}]",
                "--enable-auto-tool-choice without --tool-call-parser is rejected by vLLM",
                f"remove it and set features.tools: true (adds --tool-call-parser {wanted})",
            )
        )
    elif (auto or parsers) and cluster.tools:
        found.append(
            finding(
                cluster,
                C.EXTRA_ARG_CONFLICT,
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
            C.EXTRA_ARG_CONFLICT,
            f"extra_args[{i}]",
            f"{flag} is set by {owner}",
            "remove it from extra_args",
        )
        for i, _ in arg_values(cluster.extra_args, flag)
    ]


def check_speculative(cluster: Cluster, profile: Profile) -> list[Finding]:
    """The MTP method of a ``--speculative-config`` in extra_args, as the release treats it:
    its own name, an alias it accepts (a deprecated one warns), or one it rejects."""
    if cluster.mtp:
        return flag_conflicts(cluster, "--speculative-config", "features.mtp")
    mtp = profile.launch.mtp
    mtp_names = {p.launch.mtp.method for p in all_profiles()}
    mtp_names |= {alias for p in all_profiles() for alias in p.launch.mtp.aliases}
    found: list[Finding] = []
    for i, value in arg_values(cluster.extra_args, "--speculative-config"):
        try:
            method = json.loads(value or "").get("method")
        except (ValueError, AttributeError):
            method = None
        if method == mtp.method or method not in mtp_names:
            continue
        deprecated = mtp.aliases.get(method) == "deprecated"
        if method in mtp.aliases and not deprecated:
            continue
        found.append(
            finding(
                cluster,
                C.MTP_METHOD_WRONG,
                f"extra_args[{i}]",
                f"MTP method {method!r} is "
                + (
                    f"deprecated in vLLM {profile.launch.vllm} (it is rewritten to {mtp.method!r})"
                    if deprecated
                    else f"not one image {profile.name} accepts ({mtp.method!r})"
                ),
                "use features.mtp: true instead; dsprep writes the release's method name",
                Severity.WARNING if deprecated else None,
            )
        )
    return found


def check_headless(cluster: Cluster, profile: Profile) -> list[Finding]:
    """``--api-server-count`` in extra_args reaches every node: above the release's limit
    the headless nodes stop at start; below 1 the head serves no API (vLLM runs it
    headless too)."""
    headless = profile.launch.headless
    limit = headless.max_api_server_count
    allowed = "no --api-server-count above 0" if limit == 0 else f"at most {limit}"
    default = (
        f"; the head starts {cluster.dp} API servers (one per DP rank) by default"
        if headless.head_api_servers == "per_dp_rank"
        else ""
    )
    found: list[Finding] = []
    for flag in ("--api-server-count", "-asc"):
        for i, value in arg_values(cluster.extra_args, flag):
            count = int(value) if value is not None and value.isdigit() else None
            if count is not None and count < 1:
                message = (
                    f"{flag} {value} makes the head serve no API: vLLM {profile.launch.vllm}"
                    " runs every node headless and verify.sh never gets an answer"
                )
            elif len(cluster.nodes) > 1 and (count is None or count > limit):
                message = (
                    f"{flag} {value} also reaches the headless nodes: vLLM"
                    f" {profile.launch.vllm} allows {allowed} there ({headless.message})"
                )
            else:
                continue
            found.append(
                finding(
                    cluster,
                    C.HEADLESS_API_SERVER_COUNT,
                    f"extra_args[{i}]",
                    message,
                    f"remove {flag} from extra_args{default}",
                )
            )
    return found
