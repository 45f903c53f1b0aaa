"""Issue 10, decoding: tool-call markers flagged ``"special": true`` vanish on the real server.

vLLM 0.32 decodes with ``skip_special_tokens=True`` by default
(entrypoints/openai/chat_completion/protocol.py:283), so the deepseek_v31 tool parser never sees
``<｜tool▁calls▁begin｜>`` and no tool call comes back; with the markers not special (the fix),
or a request with ``skip_special_tokens: false``, every call parses. The model emits the same
token ids in all three cases.
"""

from __future__ import annotations

import json
from typing import Any

from tests.serving.scenarios import TOOL, TOOL_ARGUMENTS, TOOL_NAME, TOOL_QUESTION
from tests.serving.server import Servers
from tests.serving.tinymodel import TOOL_MARKERS

REQUESTS = 15  # as the figure (0 of 15 vs 15 of 15)


def ask_tool(server: Any, *, keep_special: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": server.served_name,
        "messages": [{"role": "user", "content": TOOL_QUESTION}],
        "tools": [TOOL],
        "tool_choice": "auto",
        "max_tokens": 64,
        "temperature": 0,
        "chat_template_kwargs": {"thinking": False},
    }
    if keep_special:
        body["skip_special_tokens"] = False
    status, response = server.post("/v1/chat/completions", body)
    assert status == 200, response
    message: dict[str, Any] = response["choices"][0]["message"]
    return message


def parsed_call(message: dict[str, Any]) -> bool:
    calls = message.get("tool_calls") or []
    if len(calls) != 1 or calls[0]["function"]["name"] != TOOL_NAME:
        return False
    return bool(json.loads(calls[0]["function"]["arguments"]) == TOOL_ARGUMENTS)


def survived(server: Any, *, keep_special: bool = False) -> tuple[int, list[dict[str, Any]]]:
    messages = [ask_tool(server, keep_special=keep_special) for _ in range(REQUESTS)]
    return sum(parsed_call(m) for m in messages), messages


def test_special_flagged_markers_lose_every_tool_call(vllm_server: Servers) -> None:
    server = vllm_server.deployment("special-markers")
    count, messages = survived(server)
    assert count == 0, f"{count} of {REQUESTS} tool calls survived special-flagged markers"
    content = messages[0]["content"] or ""
    # the call's text is there, its markers are not: the parser had nothing to find
    assert TOOL_NAME in content and '"city"' in content, messages[0]
    assert not any(marker in content for marker in TOOL_MARKERS), content


def test_special_flagged_markers_survive_with_skip_special_tokens_false(
    vllm_server: Servers,
) -> None:
    server = vllm_server.deployment("special-markers")
    count, messages = survived(server, keep_special=True)
    assert count == REQUESTS, messages[0]


def test_plain_markers_parse_every_tool_call(vllm_server: Servers) -> None:
    server = vllm_server.deployment("correct")
    count, messages = survived(server)
    assert count == REQUESTS, messages[0]
    assert not messages[0].get("content"), messages[0]
