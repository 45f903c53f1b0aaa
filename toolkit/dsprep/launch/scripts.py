"""Render the node scripts and verify.sh from the Jinja sources in ``templates/launch/``.

Every value reaches the shell through :func:`shlex.quote` (the ``q`` filter or
:func:`shell_line`), so a model path with spaces, quotes or ``$`` stays one argv element.
Rendering is deterministic: same cluster → same bytes.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from functools import cache
from typing import Any

from dsprep.launch.argv import (
    CONTAINER_SCRIPTS_DIR,
    compact_json,
    docker_run_argv,
    node_env,
    serve_argv,
)
from dsprep.launch.cluster import Cluster, Node
from dsprep.launch.kit import (
    LOG_NAME,
    LOGS_MOUNT,
    PID_NAME,
    WEIGHTS_LIST,
    StartupTimes,
    host_model_path,
    log_dir_word,
    startup_env,
)
from dsprep.profiles import Profile
from dsprep.resources import templates_dir

SCRIPT_MOUNT = f'"${{here}}:{CONTAINER_SCRIPTS_DIR}:ro"'  # expanded by bash at run time
LOGS_MOUNT_WORD = f'"${{log_dir}}:{LOGS_MOUNT}"'  # container.sh's log_dir, read-write
STOP_TIMEOUT_S = 120  # stop.sh: SIGTERM, then SIGKILL after this
HBM_BUSY_PERCENT = 10  # idle 910B NPUs show ~3.4 of 64 GB HBM in use (npu-smi info)
# verify.sh's curl checks assert content: JSON as vLLM writes it (pydantic, compact), a
# pattern starting with "!" must not match. vLLM names the separated reasoning "reasoning"
# (vllm==0.32.0 vllm/entrypoints/openai/chat_completion/protocol.py:79), older releases
# "reasoning_content".
TEXT_PATTERN = '"text" *: *"[^"]'
CONTENT_PATTERN = '"content" *: *"[^"]'
REASONING_PATTERN = '"reasoning(_content)?" *: *"[^"]'
NO_REASONING = "!" + REASONING_PATTERN
NO_THINK_END = "!</think>"
CHAT_QUESTION = "What is 17 * 23? Answer with the number."
CHAT_ANSWER = "391"
# the prompt `dsprep verify` completes (dsprep/verify/chat.py); the seed manual's "The future
# of AI is" has no one right continuation a test model could be scripted with
COMPLETION_PROMPT = "The capital of France is"
VERIFY_RUN_TIMEOUT_S = 900  # dsprep verify --timeout: the whole run once /health answers
_ERE_SPECIAL = frozenset(".[]()*+?{}|^$\\")


def ere_literal(text: str) -> str:
    """``text`` as a POSIX extended regular expression that matches only itself."""
    return "".join(f"\\{c}" if c in _ERE_SPECIAL else c for c in text)


@cache
def _environment() -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir() / "launch")),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["q"] = lambda value: shlex.quote(str(value))
    return env


def render(name: str, **context: Any) -> str:
    text: str = _environment().get_template(name).render(**context)
    return text


def shell_line(
    argv: list[str], *, lead: int = 1, tail: int = 0, raw: frozenset[str] = frozenset()
) -> str:
    """``argv`` as a multi-line shell command: the first ``lead`` and the last ``tail``
    elements on one line each, every ``--flag value`` pair in between on its own line.

    Elements in ``raw`` are written as given (already-quoted shell words); all others are
    quoted with :func:`shlex.quote`.
    """

    def word(value: str) -> str:
        return value if value in raw else shlex.quote(value)

    end = len(argv) - tail
    lines: list[list[str]] = [[word(a) for a in argv[:lead]]]
    i = lead
    while i < end:
        element = argv[i]
        nxt = argv[i + 1] if i + 1 < end else None
        if element.startswith("-") and nxt is not None and not nxt.startswith("-"):
            lines.append([word(element), word(nxt)])
            i += 2
        else:
            lines.append([word(element)])
            i += 1
    if tail:
        lines.append([word(a) for a in argv[end:]])
    return " \\\n  ".join(" ".join(parts) for parts in lines if parts)


def role(cluster: Cluster, node: Node) -> str:
    if node.index == 0:
        return "head"
    return f"headless, DP start rank {cluster.start_rank(node)}"


def serve_command(cluster: Cluster, profile: Profile, node: Node) -> str:
    return "exec " + shell_line(serve_argv(cluster, profile, node), lead=3)


def docker_command(cluster: Cluster, node: Node) -> str:
    argv = docker_run_argv(cluster, node, SCRIPT_MOUNT, LOGS_MOUNT_WORD)
    return shell_line(argv, lead=2, tail=3, raw=frozenset({SCRIPT_MOUNT, LOGS_MOUNT_WORD}))


@dataclass(frozen=True)
class KitFiles:
    """What every node folder gets beside the scripts: the start-up estimate, the wheel of
    this dsprep (file name, version) and whether a weights list is written."""

    times: StartupTimes
    wheel: str
    version: str
    weights_listed: bool


def health_url(cluster: Cluster) -> str:
    """The head's /health as seen from the head itself."""
    host = "127.0.0.1" if cluster.bind_host == "0.0.0.0" else cluster.bind_host
    return f"http://{host}:{cluster.api_port}/health"


def node_scripts(cluster: Cluster, profile: Profile, node: Node, kit: KitFiles) -> dict[str, str]:
    """``{file name: text}`` for one node's folder."""
    common: dict[str, Any] = {
        "node": node,
        "source": cluster.source,
        "source_name": cluster.source.replace("\\", "/").rsplit("/", 1)[-1],
        "role": role(cluster, node),
        "container_name": cluster.container_name,
        "scripts_dir": CONTAINER_SCRIPTS_DIR,
        "model_path": cluster.model_path,
        "log_dir": log_dir_word(cluster),
        "log_dir_text": cluster.log_dir or "logs/ in this folder",
        "logs_mount": LOGS_MOUNT,
        "log_name": LOG_NAME,
        "pid_name": PID_NAME,
    }
    release = profile.release
    ports: list[tuple[int, str]] = []
    if node.index == 0:
        ports = [(cluster.api_port, "ports.api"), (cluster.dp_rpc_port, "ports.dp_rpc")]
    peers = [n for n in cluster.nodes if n.index != node.index]
    pings = [
        (i, peer.npu_ips[i], peer.name)
        for peer in peers
        for i in range(min(node.npus, len(peer.npu_ips)))
    ]
    exports = node_env(cluster, profile, node, startup_env(kit.times, profile))
    return {
        "env.sh": render("env.sh.j2", exports=exports, **common),
        "container.sh": render(
            "container.sh.j2",
            docker_command=docker_command(cluster, node),
            image=cluster.image,
            image_file=cluster.image_file,
            **common,
        ),
        "preflight.sh": render(
            "preflight.sh.j2",
            ports=ports,
            own_npu_ips=list(enumerate(node.npu_ips)),
            pings=pings,
            peers=peers,
            head=cluster.head if node.index else None,
            host_model_path=host_model_path(cluster),
            weights_list=WEIGHTS_LIST,
            hbm_busy_percent=HBM_BUSY_PERCENT,
            cann=release.cann,
            vllm_ascend=release.vllm_ascend,
            hdk_note="the Ascend HDK its CANN release notes name",
            wheel=kit.wheel,
            version=kit.version,
            wheel_requirement=f"dsprep=={kit.version}",
            **common,
        ),
        "serve.sh": render("serve.sh.j2", **common),
        "vllm.sh": render(
            "vllm.sh.j2", serve_command=serve_command(cluster, profile, node), **common
        ),
        "stop.sh": render("stop.sh.j2", stop_timeout=STOP_TIMEOUT_S, **common),
        "status.sh": render(
            "status.sh.j2", health_url=health_url(cluster) if node.index == 0 else "", **common
        ),
    }


def _chat_patterns(cluster: Cluster, thinking: bool) -> list[str]:
    """What a chat answer must (and must not) hold with thinking on or off."""
    if not thinking:
        return [f'"content" *: *"[^"]*{CHAT_ANSWER}', NO_REASONING, NO_THINK_END]
    if cluster.reasoning_parser:  # the parser moves the reasoning out of content
        return [REASONING_PATTERN, NO_THINK_END]
    return [CONTENT_PATTERN, "</think>"]


def verify_requests(cluster: Cluster) -> list[tuple[str, str, str, list[str]]]:
    """(name, path, JSON body or "" for a GET, patterns) for verify.sh's curl checks; a
    pattern with a leading ``!`` must not match."""
    model = cluster.served_name
    requests: list[tuple[str, str, str, list[str]]] = [
        (
            f"/v1/models serves {model}",
            "/v1/models",
            "",
            [f'"id" *: *"{ere_literal(model)}"'],
        ),
        (
            "completions returns text",
            "/v1/completions",
            compact_json(
                {
                    "model": model,
                    "prompt": COMPLETION_PROMPT,
                    "max_tokens": 50,
                    "temperature": 0,
                }
            ),
            [TEXT_PATTERN],
        ),
    ]
    question = [{"role": "user", "content": CHAT_QUESTION}]
    for thinking in (True, False):
        requests.append(
            (
                f"chat with thinking {'on' if thinking else 'off'}",
                "/v1/chat/completions",
                compact_json(
                    {
                        "model": model,
                        "messages": question,
                        "max_tokens": 512 if thinking else 64,
                        "temperature": 0,
                        "chat_template_kwargs": {"thinking": thinking},
                    }
                ),
                _chat_patterns(cluster, thinking),
            )
        )
    default = "on" if cluster.thinking_default else "off"
    requests.append(
        (
            f"chat without chat_template_kwargs (features.thinking_default: {default})",
            "/v1/chat/completions",
            compact_json(
                {"model": model, "messages": question, "max_tokens": 512, "temperature": 0}
            ),
            # deepseek_v3 separates only when the request (or --default-chat-template-kwargs)
            # sends thinking: a default thinking answer may keep its </think> in content
            [f"(</think>|{REASONING_PATTERN})"]
            if cluster.thinking_default
            else _chat_patterns(cluster, False),
        )
    )
    if cluster.tools:
        tool = {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Get the current weather of a city",
                "parameters": {
                    "type": "object",
                    "properties": {"city": {"type": "string", "description": "City name"}},
                    "required": ["city"],
                },
            },
        }
        body = {
            "model": model,
            "messages": [{"role": "user", "content": "What is the weather in Hangzhou now?"}],
            "tools": [tool],
            "tool_choice": "auto",
            "max_tokens": 256,
            "temperature": 0,
            "chat_template_kwargs": {"thinking": False},
        }
        requests.append(
            (
                "chat tool call",
                "/v1/chat/completions",
                compact_json(body),
                [
                    r'"tool_calls" *: *\[ *\{',
                    '"name" *: *"get_weather"',
                    r'"arguments" *: *"\{',
                ],
            )
        )
    return requests


def dsprep_verify_args(cluster: Cluster) -> list[str]:
    """What verify.sh passes to ``dsprep verify`` after the URL."""
    return [
        "--model",
        cluster.served_name,
        "--thinking-default",
        "on" if cluster.thinking_default else "off",
        "--tools" if cluster.tools else "--no-tools",
    ]


def verify_script(cluster: Cluster, times: StartupTimes) -> str:
    return render(
        "verify.sh.j2",
        source=cluster.source,
        served_name=cluster.served_name,
        base_url=f"http://{cluster.head.ip}:{cluster.api_port}",
        timeout=times.health_s,
        tools=cluster.tools,
        requests=verify_requests(cluster),
        container_name=cluster.container_name,
        dsprep_args=" ".join(shlex.quote(a) for a in dsprep_verify_args(cluster)),
        run_timeout=VERIFY_RUN_TIMEOUT_S,
    )
