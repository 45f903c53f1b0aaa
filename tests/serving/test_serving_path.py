"""The tiny model on the real server: its answers depend on the prompt, reasoning is separated
as vLLM 0.32's deepseek_v3 parser decides (reasoning/deepseek_v3_reasoning_parser.py:25-38: only
when the effective chat_template_kwargs carry thinking/enable_thinking), tool calls stream."""

from __future__ import annotations

import json
from typing import Any

from tests.serving import scenarios
from tests.serving.server import Server, Servers


def chat(server: Server, content: str, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": server.served_name,
        "messages": [{"role": "user", "content": content}],
        "max_tokens": 64,
        "temperature": 0,
        **extra,
    }
    status, response = server.post("/v1/chat/completions", body)
    assert status == 200, response
    message: dict[str, Any] = response["choices"][0]["message"]
    return message


def test_thinking_on_and_off_when_the_request_says_so(vllm_server: Servers) -> None:
    server = vllm_server.deployment("correct")
    on = chat(server, scenarios.CHAT_QUESTION, chat_template_kwargs={"thinking": True})
    assert on["reasoning"] == scenarios.CHAT_REASONING, on
    assert on["content"] == scenarios.CHAT_ANSWER, on
    off = chat(server, scenarios.CHAT_QUESTION, chat_template_kwargs={"thinking": False})
    assert off["reasoning"] is None and off["content"] == scenarios.CHAT_ANSWER, off
    alias = chat(server, scenarios.CHAT_QUESTION, chat_template_kwargs={"enable_thinking": True})
    assert alias["reasoning"] == scenarios.CHAT_REASONING, alias


def test_template_default_on_is_not_seen_by_the_reasoning_parser(vllm_server: Servers) -> None:
    """The issue's demo: template rewritten to thinking on, server not told → the reasoning
    comes back inside content, ``</think>`` and all, and no reasoning field."""
    server = vllm_server.deployment("thinking-template")
    message = chat(server, scenarios.CHAT_QUESTION)
    assert message["reasoning"] is None, message
    assert message["content"] == f"{scenarios.CHAT_REASONING}</think>{scenarios.CHAT_ANSWER}"


def test_default_chat_template_kwargs_reach_template_and_parser(vllm_server: Servers) -> None:
    server = vllm_server.deployment("thinking-default-on")
    message = chat(server, scenarios.CHAT_QUESTION)
    assert message["reasoning"] == scenarios.CHAT_REASONING, message
    assert message["content"] == scenarios.CHAT_ANSWER, message
    off = chat(server, scenarios.CHAT_QUESTION, chat_template_kwargs={"thinking": False})
    assert off["reasoning"] is None and off["content"] == scenarios.CHAT_ANSWER, off


def test_no_reasoning_parser_leaves_reasoning_in_content(vllm_server: Servers) -> None:
    server = vllm_server.deployment("no-reasoning-parser")
    message = chat(server, scenarios.CHAT_QUESTION, chat_template_kwargs={"thinking": True})
    assert message.get("reasoning") is None, message
    assert message["content"] == f"{scenarios.CHAT_REASONING}</think>{scenarios.CHAT_ANSWER}"


def test_each_question_gets_its_own_answer(vllm_server: Servers) -> None:
    server = vllm_server.deployment("correct")
    wrong = []
    for item in scenarios.accuracy_answers():
        said = chat(server, item.question, chat_template_kwargs={"thinking": False})["content"]
        if said != item.answer:
            wrong.append((item.question, item.answer, said))
    assert not wrong, wrong


def test_garbage_model_answers_every_question_wrong(vllm_server: Servers) -> None:
    server = vllm_server.deployment("garbage")
    right = []
    for item in scenarios.accuracy_answers():
        said = chat(server, item.question, chat_template_kwargs={"thinking": False})["content"]
        assert said, item.question  # it answers, just wrongly
        if said.strip().casefold() == item.answer.casefold():
            right.append(item.question)
    assert not right, right


def test_completion_without_template(vllm_server: Servers) -> None:
    server = vllm_server.deployment("correct")
    body = {
        "model": server.served_name,
        "prompt": scenarios.COMPLETION_PROMPT,
        "max_tokens": 16,
        "temperature": 0,
    }
    status, response = server.post("/v1/completions", body)
    assert status == 200, response
    assert response["choices"][0]["text"] == scenarios.COMPLETION_TEXT


def test_streamed_tool_call_with_reasoning(vllm_server: Servers) -> None:
    from openai import OpenAI

    server = vllm_server.deployment("correct")
    client = OpenAI(base_url=server.url + "/v1", api_key="none", timeout=60, max_retries=0)
    stream = client.chat.completions.create(
        model=server.served_name or "",
        messages=[{"role": "user", "content": scenarios.TOOL_QUESTION}],
        tools=[scenarios.TOOL],  # type: ignore[list-item]
        max_tokens=96,
        temperature=0,
        stream=True,
        extra_body={"chat_template_kwargs": {"thinking": True}},
    )
    reasoning, names, arguments = [], [], []
    for chunk in stream:
        if not chunk.choices:
            continue
        delta = chunk.choices[0].delta
        reasoning.append(getattr(delta, "reasoning", None) or "")
        for call in delta.tool_calls or []:
            if call.function and call.function.name:
                names.append(call.function.name)
            if call.function and call.function.arguments:
                arguments.append(call.function.arguments)
    assert "".join(reasoning) == scenarios.TOOL_REASONING
    assert names == [scenarios.TOOL_NAME]
    assert json.loads("".join(arguments)) == scenarios.TOOL_ARGUMENTS
