"""A DeepSeek-V3.1 tool-call parser written from the documented format.

It behaves as vLLM's ``deepseek_v31`` parser does on a complete model output: no
``<｜tool▁calls▁begin｜>`` means no calls; each call is
``<｜tool▁call▁begin｜>NAME<｜tool▁sep｜>ARGUMENTS<｜tool▁call▁end｜>``, matched without DOTALL
(a raw newline inside NAME or ARGUMENTS loses the call, as in vLLM); the content is the text
before the calls block, or None when that text is empty.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from dsprep.template.tokens import (
    TOOL_CALL_BEGIN,
    TOOL_CALL_END,
    TOOL_CALLS_BEGIN,
    TOOL_CALLS_END,
    TOOL_SEP,
)

_CALL_RE = re.compile(
    re.escape(TOOL_CALL_BEGIN)
    + "(?P<name>.*?)"
    + re.escape(TOOL_SEP)
    + "(?P<arguments>.*?)"
    + re.escape(TOOL_CALL_END)
)
_BLOCK_RE = re.compile(re.escape(TOOL_CALLS_BEGIN) + ".*?" + re.escape(TOOL_CALLS_END), re.DOTALL)


@dataclass(frozen=True)
class ParsedCall:
    name: str
    arguments: str


@dataclass(frozen=True)
class ParsedOutput:
    tools_called: bool
    content: str | None
    calls: list[ParsedCall] = field(default_factory=list)


def parse_tool_calls(model_output: str) -> ParsedOutput:
    """Split an assistant output into content and tool calls, as vLLM's parser does."""
    start = model_output.find(TOOL_CALLS_BEGIN)
    if start < 0:
        return ParsedOutput(False, model_output, [])
    calls = [
        ParsedCall(m.group("name"), m.group("arguments")) for m in _CALL_RE.finditer(model_output)
    ]
    content = model_output[:start]
    return ParsedOutput(True, content or None, calls)


def call_blocks(rendered: str, start: int = 0) -> list[tuple[int, str]]:
    """Every tool-calls block (begin to end token) from ``start`` on, with its offset."""
    return [(m.start(), m.group(0)) for m in _BLOCK_RE.finditer(rendered, start)]
