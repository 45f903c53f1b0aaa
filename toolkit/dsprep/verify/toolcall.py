"""The tool-call checks, non-streaming and streaming, and what a failure means.

A request with tools that comes back without ``tool_calls`` is sent again with
``skip_special_tokens: false`` (a vLLM sampling parameter, accepted in the request body):
if the call parses then, the tokenizer flags the tool-call markers special and vLLM's
default decoding strips them before the tool parser sees them; if the markers show up in
content, the tool parser does not read DeepSeek-V3.1's format. A server started without
``--enable-auto-tool-choice`` refuses ``tool_choice: "auto"`` with HTTP 400 ('"auto" tool
choice requires --enable-auto-tool-choice and --tool-call-parser to be set', vllm==0.32.0
vllm/renderers/online_renderer.py:259-270).
"""

from __future__ import annotations

import time
from typing import Any

from dsprep import catalogue as C
from dsprep.verify.expect import Expectation
from dsprep.verify.reply import Reply, StreamAssembly, arguments_problem, reply_from_message
from dsprep.verify.rows import Outcome
from dsprep.verify.session import DeadlineReached, RequestFailed, Session

TOOL_NAME = "get_weather"
TOOL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"city": {"type": "string", "description": "The city's name"}},
    "required": ["city"],
}
TOOL = {
    "type": "function",
    "function": {
        "name": TOOL_NAME,
        "description": "Get the current weather of a city",
        "parameters": TOOL_SCHEMA,
    },
}
TOOL_QUESTION = "What is the weather in Paris right now? Use the get_weather tool."
TOOL_MAX_TOKENS = 128
NO_PARSER_MESSAGE = "--enable-auto-tool-choice"


def request_body(model: str, *, keep_special: bool) -> dict[str, Any]:
    extra: dict[str, Any] = {"chat_template_kwargs": {"thinking": False}}
    if keep_special:
        extra["skip_special_tokens"] = False
    return {
        "model": model,
        "messages": [{"role": "user", "content": TOOL_QUESTION}],
        "tools": [TOOL],
        "tool_choice": "auto",
        "max_tokens": TOOL_MAX_TOKENS,
        "temperature": 0,
        "extra_body": extra,
    }


def call_tool(session: Session, model: str, *, stream: bool, keep_special: bool) -> Reply:
    client = session.client()
    body = request_body(model, keep_special=keep_special)
    if not stream:
        response = session.call(client.chat.completions.create, **body)
        message = response.choices[0].message.model_dump() if response.choices else {}
        return reply_from_message(message)
    limit = session.timeout()
    begin = time.monotonic()
    chunks = session.call(client.chat.completions.create, stream=True, **body)
    assembly = StreamAssembly()
    with session.errors(limit):
        for chunk in chunks:
            if chunk.choices:
                assembly.add(chunk.choices[0].delta.model_dump())
            try:
                session.overdue(begin, limit)
            except (DeadlineReached, RequestFailed):
                chunks.close()
                raise
    return assembly.reply()


def judge(reply: Reply) -> str | None:
    """Why the call is not right (None: exactly one call of the tool, valid arguments)."""
    if len(reply.tool_calls) != 1:
        return f"{len(reply.tool_calls)} tool calls instead of 1"
    call = reply.tool_calls[0]
    if call.name != TOOL_NAME:
        return f"the tool call names {call.name!r}, not {TOOL_NAME!r}"
    return arguments_problem(call.arguments, TOOL_SCHEMA)


def tool_call(session: Session, model: str, expect: Expectation, *, stream: bool) -> Outcome:
    name = f"tool call ({'streaming' if stream else 'non-streaming'})"
    path = f"{session.url}/v1/chat/completions"
    if not expect.tools:
        return Outcome.skipped(name, f"tools are off in {expect.source}")
    try:
        reply = call_tool(session, model, stream=stream, keep_special=False)
    except RequestFailed as error:
        if error.status == 400 and NO_PARSER_MESSAGE in error.message:
            message = f"{name}: {error.message}"
            hint = (
                f"start vllm serve with --enable-auto-tool-choice --tool-call-parser "
                f"{expect.tool_parser} (features.tools: true in the cluster file)"
            )
            finding = C.VERIFY_NO_TOOL_PARSER(path, message, hint=hint)
            return Outcome.failed(name, finding, status=error.status)
        return Outcome.failed(
            name, C.VERIFY_REQUEST_FAILED(path, f"{name}: {error.message}"), status=error.status
        )
    shown: dict[str, Any] = {"tool_calls": len(reply.tool_calls)}
    if reply.tool_calls:
        problem = judge(reply)
        if problem is None:
            call = reply.tool_calls[0]
            return Outcome.passed(name, f"{call.name}({call.arguments})", **shown)
        finding = C.VERIFY_TOOL_CALL_INVALID(path, f"{name}: {problem}")
        return Outcome.failed(name, finding, **shown)
    return _diagnose(session, model, expect, name, path, reply, stream, shown)


def _diagnose(
    session: Session,
    model: str,
    expect: Expectation,
    name: str,
    path: str,
    reply: Reply,
    stream: bool,
    shown: dict[str, Any],
) -> Outcome:
    """No tool_calls: markers in content, markers only when special tokens are kept, or none."""
    content = f"content {reply.content[:80]!r}"
    parser_hint = f"start vllm serve with --tool-call-parser {expect.tool_parser}"
    if reply.has_tool_markers:
        message = f"{name}: no tool_calls; the markers came back in {content}"
        finding = C.VERIFY_WRONG_TOOL_PARSER(path, message, hint=parser_hint)
        return Outcome.failed(name, finding, **shown)
    try:
        kept = call_tool(session, model, stream=stream, keep_special=True)
    except RequestFailed as error:
        return Outcome.failed(
            name, C.VERIFY_REQUEST_FAILED(path, f"{name}: {error.message}"), status=error.status
        )
    shown["tool_calls_keeping_special_tokens"] = len(kept.tool_calls)
    if kept.tool_calls and judge(kept) is None:
        message = (
            f"{name}: no tool_calls ({content}), but with skip_special_tokens false the call "
            f"parses: {kept.tool_calls[0].name}({kept.tool_calls[0].arguments})"
        )
        return Outcome.failed(name, C.VERIFY_SPECIAL_TOOL_TOKENS(path, message), **shown)
    if kept.tool_calls or kept.has_tool_markers:
        message = (
            f"{name}: no tool_calls ({content}); with skip_special_tokens false the markers "
            "appear but do not parse"
        )
        finding = C.VERIFY_WRONG_TOOL_PARSER(path, message, hint=parser_hint)
        return Outcome.failed(name, finding, **shown)
    message = f"{name}: the model answered without calling {TOOL_NAME} ({content})"
    return Outcome.failed(name, C.VERIFY_NO_TOOL_CALL(path, message), **shown)
