"""dsprep's template against the published one, and the default engine against transformers."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import jinja2
import pytest

from dsprep.template.build import build_template
from dsprep.template.render import (
    RenderRequest,
    TemplateRenderError,
    drop_none_keys,
    render_with_jinja,
    template_variables,
)
from dsprep.template.sandbox import _tojson, chat_template_environment
from dsprep.template.selftest import load_cases, request_for
from dsprep.template.tokens import BOS

CALL = {"type": "function", "function": {"name": "lookup", "arguments": '{"q": "x"}'}}
EXTRA_CONVERSATIONS: list[list[dict[str, Any]]] = [
    [{"role": "user", "content": ""}],
    [{"role": "system", "content": ""}, {"role": "user", "content": "a"}],
    [
        {"role": "system", "content": "A"},
        {"role": "system", "content": "B"},
        {"role": "system", "content": "C"},
        {"role": "user", "content": "u"},
    ],
    [{"role": "user", "content": "q"}, {"role": "assistant", "content": "no reasoning"}],
    [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": "a</think>b</think>c"},
        {"role": "user", "content": "again"},
    ],
    [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": "<think>\nlong\n</think>\n\nx"},
    ],
    [{"role": "user", "content": "q"}, {"role": "assistant", "content": "ok", "prefix": True}],
    [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": "", "tool_calls": [CALL, CALL]},
        {"role": "tool", "content": "r1"},
        {"role": "tool", "content": "r2"},
        {"role": "assistant", "content": "<think>kept after a tool</think>done"},
    ],
    [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": "pre", "tool_calls": [CALL]},
        {"role": "tool", "content": "r"},
        {"role": "user", "content": "next"},
    ],
    [{"role": "developer", "content": "ignored role"}, {"role": "user", "content": "u  \n "}],
    [{"role": "user", "content": "u1"}, {"role": "user", "content": "u2"}],
    [
        {"role": "assistant", "content": "starts with the assistant"},
        {"role": "user", "content": "u"},
    ],
    [
        {"role": "user", "content": "中文 ｜ text with | bars"},
        {"role": "assistant", "content": "回答"},
    ],
]


def _corpus() -> list[list[dict[str, Any]]]:
    """Self-test cases and extra conversations, except `tool_calls: []`: the published
    template renders that without crashing but drops the answer; dsprep keeps it on purpose
    (tests/template/test_template_cases.py checks it)."""
    conversations = [copy.deepcopy(c["messages"]) for c in load_cases()]
    return [
        messages
        for messages in conversations + copy.deepcopy(EXTRA_CONVERSATIONS)
        if not any(m.get("tool_calls") == [] for m in messages)
    ]


def test_byte_identical_to_published_without_tools(
    published: str, special_tokens: dict[str, str]
) -> None:
    ours = {default: build_template(thinking=default) for default in (False, True)}
    handled = 0
    for messages in _corpus():
        for thinking in (None, False, True):
            for agp in (False, True):
                request = RenderRequest(messages, add_generation_prompt=agp, thinking=thinking)
                try:
                    expected = render_with_jinja(published, request, special_tokens)
                except TemplateRenderError:
                    continue  # a conversation the published template cannot render
                handled += 1
                # Default off matches the published template as is.
                assert render_with_jinja(ours[False], request, special_tokens) == expected
                if thinking is not None:  # a request's value wins over either default
                    assert render_with_jinja(ours[True], request, special_tokens) == expected
    assert handled >= 100, handled


def test_thinking_default_on_matches_published_switched(
    published: str, special_tokens: dict[str, str]
) -> None:
    switched = published.replace("{% set thinking = false %}", "{% set thinking = true %}")
    assert switched != published
    messages = [{"role": "user", "content": "hi"}]
    request = RenderRequest(messages, add_generation_prompt=True)
    ours = render_with_jinja(build_template(thinking=True), request, special_tokens)
    assert ours == render_with_jinja(switched, request, special_tokens)
    assert ours.endswith("<｜Assistant｜><think>")


@pytest.fixture(scope="module")
def hf_tokenizer(tokenizer_dir: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(tokenizer_dir))


def _hf_render(tokenizer: Any, template: str, request: RenderRequest) -> str:
    kwargs = dict(request.template_kwargs)
    if request.thinking is not None:
        kwargs["thinking"] = request.thinking
    return str(
        tokenizer.apply_chat_template(
            copy.deepcopy(request.messages),
            tools=request.tools,
            chat_template=template,
            add_generation_prompt=request.add_generation_prompt,
            tokenize=False,
            **kwargs,
        )
    )


@pytest.mark.parametrize("thinking_default", [False, True])
@pytest.mark.parametrize("tools", [True, False])
def test_default_engine_matches_transformers_on_every_case(
    hf_tokenizer: Any, special_tokens: dict[str, str], thinking_default: bool, tools: bool
) -> None:
    template = build_template(thinking=thinking_default, tools=tools)
    for case in load_cases():
        request = request_for(case, "transformers")
        ours = render_with_jinja(template, request, special_tokens)
        assert ours == _hf_render(hf_tokenizer, template, request), case["id"]
        assert ours.startswith(BOS)


def test_default_engine_matches_transformers_on_reference_templates(
    hf_tokenizer: Any, special_tokens: dict[str, str], published: str, vllm_example: str
) -> None:
    agreed = 0
    for template in (published, vllm_example):
        for case in load_cases():
            request = request_for(case, "transformers")
            try:
                ours: str | None = render_with_jinja(template, request, special_tokens)
            except TemplateRenderError:
                ours = None
            try:
                theirs: str | None = _hf_render(hf_tokenizer, template, request)
            except Exception:  # transformers raises whatever the template raised
                theirs = None
            assert ours == theirs, case["id"]
            agreed += ours is not None
    assert agreed >= 10


def test_template_needs_no_whitespace_control(special_tokens: dict[str, str]) -> None:
    """Every tag strips its whitespace: without trim/lstrip_blocks the bytes are the same."""
    template = build_template(thinking=False)
    plain = chat_template_environment()
    plain.trim_blocks = False
    plain.lstrip_blocks = False
    loose = plain.from_string(template)
    for case in load_cases():
        request = request_for(case, "transformers")
        variables = template_variables(request, special_tokens)
        assert loose.render(**variables) == render_with_jinja(template, request, special_tokens)


def test_rendering_has_no_stray_whitespace(special_tokens: dict[str, str]) -> None:
    template = build_template(thinking=False)
    for case in load_cases():
        rendered = render_with_jinja(template, request_for(case, "vllm"), special_tokens)
        assert rendered.startswith(BOS), case["id"]
        for token in (
            "<｜User｜>",
            "<｜Assistant｜>",
            "<｜end▁of▁sentence｜>",
            "<｜tool▁calls▁end｜>",
        ):
            assert f" {token}" not in rendered and f"{token} " not in rendered, case["id"]


def test_tojson_is_transformers_not_jinja() -> None:
    value = {"b": "<北京 & 'x'>", "a": 1}
    assert _tojson(value) == '{"b": "<北京 & \'x\'>", "a": 1}'
    plain = jinja2.Environment().from_string("{{ v | tojson }}").render(v=value)
    assert plain != _tojson(value)  # plain jinja2 sorts keys and HTML-escapes


def test_transformers_drops_none_like_we_do() -> None:
    messages = [{"role": "assistant", "content": None, "tool_calls": [CALL]}]
    assert drop_none_keys(messages) == [{"role": "assistant", "tool_calls": [CALL]}]
