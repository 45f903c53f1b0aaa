"""What a release's vLLM makes of an OpenAI chat request before its chat template sees it.

vLLM does not hand a request's messages to the template as sent (``chat_utils.py``,
``_parse_chat_message_content`` and ``_postprocess_messages``; the lines per release are in
each profile's ``chat.sources``):

- ``content`` None becomes ``""``; text content parts are joined with a newline (for a
  template that does not loop over ``message['content']``, vLLM's "string" format);
- only ``role``, ``content``, ``name`` (a string), an assistant's ``tool_calls`` and a tool's
  ``tool_call_id`` are kept, plus an earlier answer's reasoning from the request keys the
  release reads (copied to both ``reasoning`` and ``reasoning_content``);
- every tool call's JSON-string ``arguments`` is parsed into a mapping (the template then
  re-serialises it: ``{"city":"Paris"}`` reaches the prompt as ``{"city": "Paris"}``); empty
  arguments become ``{}``; ``tool_calls: []`` is kept or dropped, per release;
- each tool is dumped with every field of vLLM's FunctionDefinition (a missing
  ``description`` is ``None``).

A request a real OpenAI client cannot send is refused as vLLM refuses it (HTTP 400): a
mapping as ``arguments`` (the API types it as a string), arguments that are not JSON, a
content part that is not text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from dsprep.errors import InputError
from dsprep.profiles import Profile


class UnservableRequest(InputError):
    """vLLM answers this request with HTTP 400 before any template runs."""

    code = "template-render"


@dataclass(frozen=True)
class ServedDialect:
    """One release's conversion, read from its profile's ``chat`` section."""

    release: str  # the vllm-ascend profile name
    vllm: str
    reasoning_request_keys: tuple[str, ...]
    drop_empty_tool_calls: bool
    null_arguments_as_object: bool
    parts_joiner: str
    tool_fields: tuple[str, ...]
    parts_for_any_content_loop: bool = False

    @classmethod
    def of(cls, profile: Profile) -> ServedDialect:
        chat = profile.chat
        return cls(
            release=profile.name,
            vllm=profile.release.vllm,
            reasoning_request_keys=tuple(chat.reasoning_request_keys),
            drop_empty_tool_calls=chat.empty_tool_calls == "drop",
            null_arguments_as_object=chat.null_arguments == "object",
            parts_joiner=chat.content_parts_joined_with,
            tool_fields=tuple(chat.tool_fields),
            parts_for_any_content_loop=chat.parts_for_any_content_loop,
        )

    @property
    def label(self) -> str:
        return f"vllm {self.vllm}"

    def key(self) -> tuple[object, ...]:
        """What makes two releases' conversions differ (names excluded)."""
        return (
            self.reasoning_request_keys,
            self.drop_empty_tool_calls,
            self.null_arguments_as_object,
            self.parts_joiner,
            self.tool_fields,
            self.parts_for_any_content_loop,
        )


def _refuse(where: str, problem: str, hint: str) -> UnservableRequest:
    return UnservableRequest(f"{where}: vLLM rejects this request (HTTP 400): {problem}", hint=hint)


def _text_parts(content: list[Any], where: str) -> list[str]:
    texts: list[str] = []
    for index, part in enumerate(content):
        if isinstance(part, str):  # vLLM accepts a bare string as a text part
            texts.append(part)
        elif isinstance(part, dict) and part.get("type") == "text":
            text = part.get("text")
            if not isinstance(text, str):
                raise _refuse(f"{where}.content[{index}]", "a text part needs a string text", "")
            texts.append(text)
        else:
            raise _refuse(
                f"{where}.content[{index}]",
                "only text content parts reach a text-only model's template",
                "send text parts ({'type': 'text', 'text': ...}) or a string",
            )
    return texts


def _content(message: dict[str, Any], where: str, dialect: ServedDialect, parts: bool) -> Any:
    content = message.get("content")
    if content is None:
        texts: list[str] = []
    elif isinstance(content, str):
        texts = [content]
    elif isinstance(content, list):
        texts = _text_parts(content, where)
    else:
        raise _refuse(f"{where}.content", "content must be a string or a list of parts", "")
    if parts:  # a template that loops over content gets the parts (vLLM's "openai" format)
        return [{"type": "text", "text": text} for text in texts]
    return dialect.parts_joiner.join(texts)


def _arguments(value: Any, where: str, dialect: ServedDialect) -> Any:
    if value is None or value == "":
        return {}
    if not isinstance(value, str):
        raise _refuse(
            where,
            f"arguments must be a JSON string, not {type(value).__name__}",
            "send json.dumps(arguments), as the OpenAI API types it",
        )
    try:
        parsed = json.loads(value)
    except ValueError as exc:
        raise _refuse(where, f"arguments are not JSON ({exc})", "send valid JSON") from exc
    if parsed is None and dialect.null_arguments_as_object:
        return {}
    return parsed


def _tool_calls(calls: Any, where: str, dialect: ServedDialect) -> list[Any] | None:
    if not isinstance(calls, list):
        raise _refuse(where, "tool_calls must be a list", "")
    if not calls and dialect.drop_empty_tool_calls:
        return None
    converted: list[Any] = []
    for index, call in enumerate(calls):
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise _refuse(f"{where}[{index}]", "a tool call needs function.name", "")
        new_call = dict(call)
        new_call["function"] = {
            **function,
            "arguments": _arguments(
                function.get("arguments"), f"{where}[{index}].function.arguments", dialect
            ),
        }
        converted.append(new_call)
    return converted


def served_messages(
    messages: list[dict[str, Any]], dialect: ServedDialect, parts: bool = False
) -> list[dict[str, Any]]:
    """The conversation the release's template receives for these request messages
    (``parts``: the template loops over content, dsprep.template.content_format)."""
    conversation: list[dict[str, Any]] = []
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        role = message.get("role")
        if not isinstance(role, str):
            raise _refuse(where, "a message needs a role", "")
        served: dict[str, Any] = {
            "role": role,
            "content": _content(message, where, dialect, parts),
        }
        if role == "assistant":
            if message.get("tool_calls") is not None:
                calls = _tool_calls(message["tool_calls"], f"{where}.tool_calls", dialect)
                if calls is not None:
                    served["tool_calls"] = calls
            reasoning = next(
                (message[k] for k in dialect.reasoning_request_keys if message.get(k)), None
            )
            if reasoning is not None:
                served["reasoning"] = served["reasoning_content"] = reasoning
        elif role == "tool" and "tool_call_id" in message:
            served["tool_call_id"] = message["tool_call_id"]
        if isinstance(message.get("name"), str):
            served["name"] = message["name"]
        conversation.append(served)
    return conversation


def served_tools(
    tools: list[dict[str, Any]] | None, dialect: ServedDialect
) -> list[dict[str, Any]] | None:
    """Each tool as vLLM dumps it: every FunctionDefinition field present (None if unsent),
    extra keys kept after them."""
    if tools is None:
        return None
    dumped: list[dict[str, Any]] = []
    for index, tool in enumerate(tools):
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise _refuse(f"tools[{index}]", "a tool needs function.name", "")
        fields = {name: function.get(name) for name in dialect.tool_fields}
        extra = {k: v for k, v in function.items() if k not in fields}
        dumped.append(
            {
                "type": tool.get("type", "function"),
                "function": {**fields, **extra},
                **{k: v for k, v in tool.items() if k not in ("type", "function")},
            }
        )
    return dumped
