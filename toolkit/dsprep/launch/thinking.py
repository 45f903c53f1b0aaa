"""One thinking default for the whole serving path: the chat template's, the cluster file's
``features.thinking_default``, the reasoning parser's, and (where the release's vLLM has it)
``--default-chat-template-kwargs``.

vLLM renders the template with the request's ``chat_template_kwargs`` (over the server
defaults where the flag exists), so the template's own default decides only when a client
sends nothing. The ``deepseek_v3`` reasoning parser separates reasoning only when the kwargs
it is built with say ``thinking`` (vllm 0.23.0 vllm/reasoning/deepseek_v3_reasoning_parser.py:29-41;
vllm 0.12.0 :24-33); which kwargs those are is the profile's ``chat.reasoning_parser_kwargs``:
the request's alone up to vLLM 0.13, the request's over the server defaults from 0.18. So a
thinking-on default reaches the parser only through ``--default-chat-template-kwargs``, which
the emitted argv then carries.
"""

from __future__ import annotations

from pathlib import Path

from dsprep import catalogue as C
from dsprep.errors import InputError
from dsprep.family import DEFAULT_FAMILY
from dsprep.findings import Finding, Severity
from dsprep.launch.argv import default_kwargs_argv
from dsprep.launch.cluster import Cluster
from dsprep.launch.rules import finding
from dsprep.profiles import Profile

# reasoning parsers that choose by the chat-template kwargs (thinking / enable_thinking)
KWARG_PARSERS = ("deepseek_v3",)


def _parser_sees_default(cluster: Cluster, profile: Profile) -> bool:
    return bool(default_kwargs_argv(cluster, profile)) and (
        profile.chat.reasoning_parser_kwargs == "request+defaults"
    )


def check_thinking(cluster: Cluster, profile: Profile) -> list[Finding]:
    """The cluster file alone: a thinking-on default needs a parser that will separate it."""
    if not cluster.thinking_default:
        return []
    found: list[Finding] = []
    parser = cluster.reasoning_parser
    field = "features.thinking_default"
    send = f'clients send {profile.chat.request_kwargs} {{"thinking": true}} to think'
    if parser is None:
        family = profile.launch.family_parsers[DEFAULT_FAMILY.name]
        advice = (
            f"set features.reasoning_parser: {family.reasoning}"
            if family.reasoning
            else family.reasoning_advice
        )
        found.append(
            finding(
                cluster,
                C.THINKING_MISMATCH,
                field,
                "thinking is on by default but no reasoning parser is set: every answer's"
                " reasoning and </think> come back inside content",
                f"{advice}; or set thinking_default: false ({send})",
            )
        )
    elif parser in KWARG_PARSERS and not _parser_sees_default(cluster, profile):
        found.append(
            finding(
                cluster,
                C.THINKING_MISMATCH,
                field,
                f"thinking is on by default, but vLLM {profile.launch.vllm} builds {parser} from"
                f" the request's kwargs only ({profile.chat.sources['reasoning_parser_kwargs']}):"
                " a request that sends nothing is rendered thinking but its reasoning is not"
                " separated (it arrives as content)",
                f"set thinking_default: false ({send}), or use a release whose vLLM passes"
                " --default-chat-template-kwargs to the reasoning parser (v0.18.0 and later)",
            )
        )
    if cluster.tools:
        found.append(
            finding(
                cluster,
                C.TOOLS_WITH_THINKING,
                field,
                "tools are on and thinking is on by default; DeepSeek-V3.1's model card"
                " documents tool calls in non-thinking mode",
            )
        )
    return found


def check_template_default(cluster: Cluster, model_dir: Path) -> list[Finding]:
    """The model folder's chat template must default as the cluster file says."""
    from dsprep.template.recognize import thinking_default
    from dsprep.template.source import read_source

    field = "features.thinking_default"
    try:
        source = read_source(model_dir)
    except InputError as exc:
        return [
            finding(
                cluster,
                C.THINKING_MISMATCH,
                field,
                f"the chat template was not compared: {exc.message}",
                f"add one: dsprep template {model_dir} --thinking"
                f" {'on' if cluster.thinking_default else 'off'}",
                severity=Severity.WARNING,
            )
        ]
    found: list[Finding] = []
    wanted = "on" if cluster.thinking_default else "off"
    for entry in source.entries:
        default = bool(thinking_default(entry.text))
        if default != cluster.thinking_default:
            found.append(
                finding(
                    cluster,
                    C.THINKING_MISMATCH,
                    field,
                    f"{wanted}, but the chat template {source.location(entry)} defaults to"
                    f" thinking {'on' if default else 'off'}: a request that sends no"
                    " chat_template_kwargs is rendered otherwise than the cluster file (and"
                    " verify.sh) expect",
                    f"dsprep template {model_dir} --thinking {wanted}, or set"
                    f" thinking_default: {'true' if default else 'false'}",
                )
            )
    return found


def client_lines(cluster: Cluster, profile: Profile) -> list[str]:
    """PLAN.md: exactly what a client sends for thinking on and off, and what it gets."""
    kwargs = profile.chat.request_kwargs
    field = profile.chat.response_reasoning_field
    parser = cluster.reasoning_parser
    if parser is not None:
        where = f"in `message.{field}` (separated by {parser})"
    else:
        where = "inside `content`, before `</think>` (no reasoning parser)"
    default = "on" if cluster.thinking_default else "off"
    how = (
        f"the emitted `{default_kwargs_argv(cluster, profile)[0]}`"
        if default_kwargs_argv(cluster, profile)
        else "the chat template's own default"
    )
    return [
        f'Thinking on: send `"{kwargs}": {{"thinking": true}}`; the reasoning comes back {where}.',
        f'Thinking off: send `"{kwargs}": {{"thinking": false}}`; no reasoning comes back.',
        f"Nothing sent: thinking {default} ({how}; features.thinking_default).",
    ]
