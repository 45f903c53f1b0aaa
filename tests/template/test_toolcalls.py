"""The DeepSeek-V3.1 tool-call parser, on the documented format."""

from __future__ import annotations

from dsprep.template.tokens import (
    TOOL_CALL_BEGIN,
    TOOL_CALL_END,
    TOOL_CALLS_BEGIN,
    TOOL_CALLS_END,
    TOOL_SEP,
)
from dsprep.template.toolcalls import ParsedCall, call_blocks, parse_tool_calls


def _call(name: str, arguments: str) -> str:
    return f"{TOOL_CALL_BEGIN}{name}{TOOL_SEP}{arguments}{TOOL_CALL_END}"


def test_one_call_with_content() -> None:
    output = "normal text" + TOOL_CALLS_BEGIN + _call("foo", '{"x":1}') + TOOL_CALLS_END
    parsed = parse_tool_calls(output)
    assert parsed.tools_called
    assert parsed.content == "normal text"
    assert parsed.calls == [ParsedCall("foo", '{"x":1}')]


def test_several_calls_and_no_content() -> None:
    output = TOOL_CALLS_BEGIN + _call("a", "{}") + _call("b", '{"城市": "北京"}') + TOOL_CALLS_END
    parsed = parse_tool_calls(output)
    assert parsed.content is None
    assert [c.name for c in parsed.calls] == ["a", "b"]
    assert parsed.calls[1].arguments == '{"城市": "北京"}'


def test_no_calls_block_means_plain_content() -> None:
    output = "just text " + _call("a", "{}")  # a call without the calls-begin token
    parsed = parse_tool_calls(output)
    assert not parsed.tools_called
    assert parsed.content == output
    assert parsed.calls == []


def test_raw_newline_in_arguments_loses_the_call_like_vllm() -> None:
    output = TOOL_CALLS_BEGIN + _call("a", '{\n"x": 1}') + TOOL_CALLS_END
    assert parse_tool_calls(output).calls == []


def test_ascii_bar_tokens_are_not_calls() -> None:
    output = "<|tool▁calls▁begin|><|tool▁call▁begin|>a<|tool▁sep|>{}<|tool▁call▁end|>"
    assert not parse_tool_calls(output).tools_called


def test_call_blocks_finds_each_block_with_offset() -> None:
    first = TOOL_CALLS_BEGIN + _call("a", "{}") + TOOL_CALLS_END
    text = "x" + first + "y" + first
    blocks = call_blocks(text)
    assert [offset for offset, _ in blocks] == [1, 2 + len(first)]
    assert call_blocks(text, 2) == [(2 + len(first), first)]
