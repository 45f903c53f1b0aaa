"""An answer as the checks read it: content, the separated reasoning, the tool calls —
from a non-streaming message or assembled from a stream's deltas.

vLLM returns the reasoning a reasoning parser separated in the message field ``reasoning``
(vllm==0.32.0 vllm/entrypoints/openai/chat_completion/protocol.py:79, ``ChatMessage``);
older releases call it ``reasoning_content``. Both are read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

THINK_END = "</think>"
REASONING_FIELDS = ("reasoning", "reasoning_content")
TOOL_MARKERS = ("<｜tool▁calls▁begin｜>", "<｜tool▁call▁begin｜>", "<｜tool▁sep｜>")


@dataclass(frozen=True)
class ToolCall:
    name: str
    arguments: str  # the JSON text the server sent


@dataclass(frozen=True)
class Reply:
    content: str
    reasoning: str
    tool_calls: tuple[ToolCall, ...] = ()
    completion_tokens: int | None = None

    @property
    def thinks(self) -> bool:
        """The model reasoned: a separated reasoning, or ``</think>`` left in content."""
        return bool(self.reasoning.strip()) or THINK_END in self.content

    @property
    def has_tool_markers(self) -> bool:
        return any(marker in self.content for marker in TOOL_MARKERS)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def reasoning_of(message: dict[str, Any]) -> str:
    return next((_text(message.get(k)) for k in REASONING_FIELDS if message.get(k)), "")


def reply_from_message(message: dict[str, Any], completion_tokens: int | None = None) -> Reply:
    """A non-streaming ``choices[0].message`` (as a dict) → :class:`Reply`."""
    calls = []
    for call in message.get("tool_calls") or []:
        function = call.get("function") or {}
        calls.append(ToolCall(_text(function.get("name")), _text(function.get("arguments"))))
    return Reply(
        _text(message.get("content")), reasoning_of(message), tuple(calls), completion_tokens
    )


@dataclass
class StreamAssembly:
    """Deltas of one choice put back together: content and reasoning concatenated, tool
    calls by ``index`` (the name from the delta that carries it, arguments concatenated)."""

    content: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    names: dict[int, str] = field(default_factory=dict)
    arguments: dict[int, list[str]] = field(default_factory=dict)
    completion_tokens: int | None = None

    def add(self, delta: dict[str, Any]) -> bool:
        """Take one ``choices[0].delta`` (as a dict); True when it carried any output."""
        carried = False
        if _text(delta.get("content")):
            self.content.append(delta["content"])
            carried = True
        reasoning = reasoning_of(delta)
        if reasoning:
            self.reasoning.append(reasoning)
            carried = True
        for position, call in enumerate(delta.get("tool_calls") or []):
            index = call.get("index")
            index = position if not isinstance(index, int) else index
            function = call.get("function") or {}
            if _text(function.get("name")):
                self.names[index] = self.names.get(index, "") + function["name"]
            self.arguments.setdefault(index, []).append(_text(function.get("arguments")))
            carried = True
        return carried

    def reply(self) -> Reply:
        calls = tuple(
            ToolCall(self.names.get(i, ""), "".join(self.arguments.get(i, [])))
            for i in sorted(set(self.names) | set(self.arguments))
        )
        return Reply("".join(self.content), "".join(self.reasoning), calls, self.completion_tokens)


def arguments_problem(arguments: str, schema: dict[str, Any]) -> str | None:
    """Why ``arguments`` are not a JSON object valid against ``schema`` (None: they are)."""
    import jsonschema

    try:
        value = json.loads(arguments)
    except ValueError as exc:
        return f"arguments are not JSON ({exc}): {arguments[:120]!r}"
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path))
    if errors:
        where = "/".join(map(str, errors[0].absolute_path)) or "(top level)"
        return f"arguments {arguments[:120]} do not match the tool's schema at {where}: " + (
            errors[0].message
        )
    return None
