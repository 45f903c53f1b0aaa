"""dsprep.template.served: an OpenAI chat request as each profiled vLLM hands it to the
template (facts per profile; tests/provenance/test_chat_request.py re-derives them)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from dsprep.profiles import find_profile
from dsprep.template.build import build_template
from dsprep.template.content_format import content_format
from dsprep.template.render import RenderRequest, render_with_jinja
from dsprep.template.selftest import load_cases, served_dialects
from dsprep.template.served import ServedDialect, UnservableRequest, served_messages, served_tools


def dialect(tag: str) -> ServedDialect:
    profile = find_profile(tag)
    assert profile is not None
    return ServedDialect.of(profile)


OLDEST, NEWEST = dialect("v0.11.0rc0"), dialect("v0.23.0")


def call(arguments: Any) -> dict[str, Any]:
    return {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": arguments}}
        ],
    }


def test_json_string_arguments_become_a_mapping_the_template_reserialises() -> None:
    messages = [{"role": "user", "content": "q"}, call('{"city":"Paris"}')]
    served = served_messages(messages, NEWEST)
    assert served[1]["tool_calls"][0]["function"]["arguments"] == {"city": "Paris"}
    assert served[1]["content"] == ""  # content None reaches the template as ""
    template = build_template(thinking=False)
    as_served = render_with_jinja(template, RenderRequest(messages, dialect=NEWEST), {})
    as_sent = render_with_jinja(template, RenderRequest(messages), {})
    assert 'f<｜tool▁sep｜>{"city": "Paris"}<｜tool▁call▁end｜>' in as_served
    assert 'f<｜tool▁sep｜>{"city":"Paris"}<｜tool▁call▁end｜>' in as_sent


@pytest.mark.parametrize("arguments", [{"city": "Paris"}, ["x"], 3])
def test_arguments_that_are_not_a_string_are_refused_as_vllm_refuses_them(arguments: Any) -> None:
    with pytest.raises(UnservableRequest, match=r"HTTP 400.*arguments must be a JSON string"):
        served_messages([call(arguments)], NEWEST)


def test_arguments_that_are_not_json_are_refused() -> None:
    with pytest.raises(UnservableRequest, match=r"messages\[0\]\.tool_calls\[0\].*not JSON"):
        served_messages([call("{city: Paris}")], OLDEST)


def test_text_parts_are_joined_with_a_newline_and_other_parts_refused() -> None:
    parts = [{"type": "text", "text": "one"}, {"type": "text", "text": "two"}]
    assert served_messages([{"role": "user", "content": parts}], NEWEST)[0]["content"] == (
        "one\ntwo"
    )
    as_openai = served_messages([{"role": "user", "content": parts}], NEWEST, parts=True)
    assert as_openai[0]["content"] == parts
    image = [{"type": "image_url", "image_url": {"url": "data:,"}}]
    with pytest.raises(UnservableRequest, match=r"content\[0\]"):
        served_messages([{"role": "user", "content": image}], NEWEST)


def test_empty_tool_calls_and_null_arguments_follow_the_release() -> None:
    empty = [{"role": "assistant", "content": "hi", "tool_calls": []}]
    assert served_messages(empty, OLDEST)[0]["tool_calls"] == []  # 0.11 keeps it
    assert "tool_calls" not in served_messages(empty, NEWEST)[0]  # 0.13+ drops it
    assert (
        served_messages([call("null")], OLDEST)[0]["tool_calls"][0]["function"]["arguments"] is None
    )
    assert (
        served_messages([call("null")], NEWEST)[0]["tool_calls"][0]["function"]["arguments"] == {}
    )
    assert served_messages([call("")], OLDEST)[0]["tool_calls"][0]["function"]["arguments"] == {}


def test_reasoning_reaches_the_template_only_from_the_keys_the_release_reads() -> None:
    message = {"role": "assistant", "content": "A", "reasoning_content": "because"}
    assert "reasoning" not in served_messages([message], OLDEST)[0]
    assert served_messages([message], dialect("v0.13.0"))[0]["reasoning"] == "because"
    assert "reasoning" not in served_messages([message], NEWEST)[0]  # 0.18+: only "reasoning"
    newer = {"role": "assistant", "content": "A", "reasoning": "because"}
    assert served_messages([newer], NEWEST)[0]["reasoning_content"] == "because"


def test_unknown_message_keys_are_dropped_and_tools_dumped_with_every_field() -> None:
    served = served_messages(
        [{"role": "tool", "tool_call_id": "c1", "content": "21", "extra": 1, "name": "f"}], NEWEST
    )
    assert served == [{"role": "tool", "content": "21", "tool_call_id": "c1", "name": "f"}]
    tools = served_tools([{"type": "function", "function": {"name": "f"}}], NEWEST)
    assert tools == [
        {"type": "function", "function": {"name": "f", "description": None, "parameters": None}}
    ]


def test_content_format_detection_matches_vllms_rule() -> None:
    ours = build_template(thinking=False)
    assert content_format(ours) == "string"  # vLLM 0.11-0.18: its macro's loop does not count
    assert content_format(ours, any_content_loop=True) == "openai"  # 0.23: it does
    assert not OLDEST.parts_for_any_content_loop and NEWEST.parts_for_any_content_loop
    parts = [{"type": "text", "text": "one"}, {"type": "text", "text": "two"}]
    request = RenderRequest([{"role": "user", "content": parts}], add_generation_prompt=True)
    rendered = {  # the same prompt either way: dsprep's template joins parts with a newline
        render_with_jinja(ours, dataclasses.replace(request, dialect=d), {})
        for d in (OLDEST, NEWEST)
    }
    assert len(rendered) == 1 and "one\ntwo" in rendered.pop()
    loops = "{% for m in messages %}{% for p in m['content'] %}{{ p.text }}{% endfor %}{% endfor %}"
    assert content_format(loops) == "openai"
    aliased = (
        "{% set ms = messages %}{% for m in ms %}{% for p in m.content %}x{% endfor %}{% endfor %}"
    )
    assert content_format(aliased) == "openai"
    assert content_format("{% for m in messages %}{{ m['content'] }}{% endfor %}") == "string"
    assert content_format("{% broken") == "string"


def test_every_self_test_case_is_a_request_vllm_accepts() -> None:
    """The bundled cases are OpenAI requests: every profiled vLLM converts each one."""
    dialects = served_dialects()
    assert len(dialects) >= 4  # the conversions differ between 0.11, 0.12, 0.13, 0.18, 0.23
    for case in load_cases():
        for served in dialects:
            converted = served_messages([dict(m) for m in case["messages"]], served)
            assert len(converted) == len(case["messages"]), case["id"]
            served_tools(case.get("tools"), served)
        json.dumps(case["messages"])  # plain JSON, as a client sends it
