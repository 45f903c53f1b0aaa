"""dsprep's template on the conversations the published and vLLM templates get wrong."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from dsprep.errors import InputError
from dsprep.template.build import build_template, marker
from dsprep.template.render import RenderRequest, TemplateRenderError, render_with_jinja
from dsprep.template.selftest import (
    load_cases,
    request_for,
    run_self_test,
    served_dialects,
    validate_cases,
)

ARGS = {"city": "北京", "days": 2}
WEATHER = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {}}},
}


def _assistant_call(arguments: Any, content: Any = None) -> dict[str, Any]:
    call = {"type": "function", "function": {"name": "get_weather", "arguments": arguments}}
    return {"role": "assistant", "content": content, "tool_calls": [call]}


def _render(messages: list[dict[str, Any]], **options: Any) -> str:
    template = build_template(thinking=options.pop("default", False))
    request = RenderRequest(messages, **options)
    return render_with_jinja(template, request, {"bos_token": "<B>"})


def test_string_and_mapping_arguments_render_the_same_json() -> None:
    as_text = json.dumps(ARGS, ensure_ascii=False)
    user = {"role": "user", "content": "q"}
    from_string = _render([user, _assistant_call(as_text)])
    from_mapping = _render([user, _assistant_call(ARGS)])
    assert from_string == from_mapping
    assert '<｜tool▁sep｜>{"city": "北京", "days": 2}<｜tool▁call▁end｜>' in from_string
    assert '\\"' not in from_string  # never double-encoded


def test_published_and_vllm_fail_where_dsprep_does_not(published: str, vllm_example: str) -> None:
    messages = [{"role": "user", "content": "q"}, _assistant_call(ARGS)]
    for template in (published,):
        with pytest.raises(TemplateRenderError):
            render_with_jinja(template, RenderRequest(messages), {})
    double = render_with_jinja(
        vllm_example, RenderRequest([messages[0], _assistant_call(json.dumps(ARGS), "")]), {}
    )
    assert '"{\\"city' in double  # vLLM's example double-encodes a string
    assert _render(messages).count("<｜tool▁call▁begin｜>") == 1


def test_content_none_missing_and_empty_tool_calls() -> None:
    user = {"role": "user", "content": "q"}
    none_with_calls = _render([user, _assistant_call('{"a": 1}', None)])
    missing_with_calls = _render(
        [user, {k: v for k, v in _assistant_call('{"a": 1}').items() if k != "content"}]
    )
    assert none_with_calls == missing_with_calls
    assert "<｜Assistant｜></think><｜tool▁calls▁begin｜>" in none_with_calls
    assert _render([user, {"role": "assistant", "content": None}]).endswith(
        "<｜Assistant｜></think><｜end▁of▁sentence｜>"
    )
    kept = _render([user, {"role": "assistant", "content": "answer", "tool_calls": []}])
    assert kept.endswith("</think>answer<｜end▁of▁sentence｜>")
    assert "tool▁calls" not in kept


def test_thinking_default_request_and_alias() -> None:
    user = [{"role": "user", "content": "q"}]
    assert _render(user, add_generation_prompt=True).endswith("</think>")
    assert _render(user, add_generation_prompt=True, default=True).endswith("<think>")
    assert _render(user, add_generation_prompt=True, default=True, thinking=False).endswith(
        "</think>"
    )
    alias = RenderRequest(
        user, add_generation_prompt=True, template_kwargs={"enable_thinking": True}
    )
    rendered = render_with_jinja(build_template(thinking=False), alias, {})
    assert rendered.endswith("<think>")
    both = RenderRequest(
        user, add_generation_prompt=True, thinking=False, template_kwargs={"enable_thinking": True}
    )
    assert render_with_jinja(build_template(thinking=False), both, {}).endswith("</think>")


def test_tools_section_follows_the_model_card() -> None:
    tools = [
        {
            "type": "function",
            "function": {"name": "a", "description": "Does A", "parameters": {"p": "参数"}},
        },
        {"type": "function", "function": {"name": "b"}},
    ]
    rendered = _render(
        [{"role": "system", "content": "S"}, {"role": "user", "content": "q"}], tools=tools
    )
    assert rendered.startswith(
        "<B>S\n\n## Tools\nYou have access to the following tools:\n\n### a\n"
    )
    assert 'Description: Does A\n\nParameters: {"p": "参数"}\n' in rendered
    assert "\n### b\nParameters: {}\n" in rendered
    assert (
        "{{additional_tool_calls}}<｜tool▁calls▁end｜>\n\nWhere:\n\n- `tool_call_name`" in rendered
    )
    without_system = _render([{"role": "user", "content": "q"}], tools=tools)
    assert without_system.startswith("<B>## Tools\n")
    no_tools = build_template(thinking=False, tools=False)
    plain = render_with_jinja(
        no_tools, RenderRequest([{"role": "user", "content": "q"}], tools=tools), {}
    )
    assert "## Tools" not in plain


def test_marker_carries_the_options() -> None:
    assert marker(thinking=True, tools=False) in build_template(thinking=True, tools=False)
    assert build_template(thinking=True) != build_template(thinking=False)


def test_bundled_cases_pass_for_dsprep_and_fail_for_published(published: str) -> None:
    def renderer_for(template: str) -> Any:
        return lambda request: render_with_jinja(template, request, {"bos_token": "<B>"})

    ours = build_template(thinking=False)
    report = run_self_test(
        ours,
        [
            ("transformers", renderer_for(ours)),
            *((d, renderer_for(ours)) for d in served_dialects()),
        ],
        origin="t",
        bos="<B>",
    )
    assert report.findings == []
    assert report.tool_calls_checked >= 10
    served = served_dialects()[-1]
    bad = run_self_test(published, [(served, renderer_for(published))], origin="p", bos="<B>")
    assert {f.code for f in bad.findings} == {"self-test-failed"}
    # vLLM hands the template mappings; the published template concatenates them as strings
    assert any(
        "several-tool-calls-compact-arguments" in f.message and served.label in f.message
        for f in bad.findings
    )


def test_self_test_reports_a_readable_diff_when_a_call_is_lost() -> None:
    template = build_template(thinking=False).replace("'<｜tool▁sep｜>'", "'<|tool▁sep|>'")
    renderer = lambda request: render_with_jinja(template, request, {})  # noqa: E731
    report = run_self_test(template, [("transformers", renderer)], origin="x.jinja")
    messages = [f.message for f in report.findings]
    assert any("--- expected" in m and "+++ rendered" in m and "get_weather" in m for m in messages)


def test_cases_validate_against_the_schema() -> None:
    assert len(load_cases()) >= 10
    with pytest.raises(InputError, match="cases/0"):
        validate_cases(
            {"version": 1, "cases": [{"id": "Bad Id", "description": "x", "messages": []}]},
            "c.json",
        )
    served = served_dialects()[0]
    for case in load_cases():
        assert request_for(case, served).dialect is served


def test_render_module_loads_without_jsonschema() -> None:
    """`dsprep render --messages` never validates the cases, so it does not import jsonschema."""
    probe = "import sys, dsprep.template.prompt; print('jsonschema' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
