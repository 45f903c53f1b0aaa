"""Hostile templates end in sandbox-violation within 10 s and 1 GiB, measured in a child process.

Each case builds (or made Jinja build at compile time) gigabytes before the sandbox's checks
covered it; the child runs under a 2 GiB address-space limit, so a regression shows as a
MemoryError or a timeout here instead of swapping the machine.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dsprep.template.build import build_template
from tests.template.conftest import ModelFactory
from tests.template.measured import measure

CPU_S = 10.0  # seconds
RSS_MB = 1024.0
BIG = "'x' * 9000000"  # just under the 10 M character cap of one value

HOSTILE = {
    # folded at compile time before: --check and the hook took 3.8 GB
    "format filter constant": "{{ '%*d' | format(1000000000, 1) }}",
    "percent operator": "{{ '%0*d' % (1000000000, 1) }}",
    "str.format width": "{{ '{:>1000000000}'.format(1) }}",
    "str.format nested width": "{{ '{0:{1}}'.format('a', 999999999) }}",
    "format_map width": "{{ '{x:>999999999}'.format_map({'x': 1}) }}",
    "join": "{{ (['x' * 10000000] * 1000) | join }}",
    "str.join": "{{ ''.join(['x' * 10000000] * 1000) }}",
    "replace filter": "{{ ('x' * 10000000) | replace('x', 'xxxxxxxxxx') }}",
    "str.replace": "{{ ('x' * 10000000).replace('x', 'xxxxxxxxxx') }}",
    "concat chain": f"{{% set s = {BIG} %}}{{{{ s ~ s ~ s ~ s ~ s ~ s ~ s ~ s }}}}",
    "plus chain": f"{{% set s = {BIG} %}}{{{{ s + s + s + s + s + s + s + s }}}}",
    "center": "{{ 'x' | center(1000000000) }}",
    "indent string": "{{ ('a\\n' * 1000000) | indent('x' * 1000) }}",
    "wordwrap": "{{ ('x ' * 400000) | wordwrap(1, wrapstring='y' * 1000) }}",
    "list of a string": "{{ ('x' * 9000000) | list | length }}",
    "string of a list": "{{ (['x' * 10000000] * 1000) | string }}",
    "print a list": "{{ ['x' * 10000000] * 1000 }}",
    "tojson of a list": "{{ (['x' * 10000000] * 1000) | tojson }}",
    "tojson indent": "{{ ([[0] * 1000] * 1000) | tojson(indent=1000) }}",
    "pprint": "{{ ([[[0] * 1000] * 1000] * 10) | pprint }}",
    "sum of lists": "{{ ([[0] * 1000] * 10000) | sum(start=[]) | length }}",
    "translate": "{{ ('x' * 1000000).translate({120: 'y' * 1000}) }}",
    "to_bytes": "{{ (1).to_bytes(1000000000, 'big') }}",
    "squaring": "{% set ns = namespace(x=3) %}"
    "{% for i in range(100) %}{% set ns.x = ns.x * ns.x %}{% endfor %}",
    "macro doubling": "{% macro m0() %}{{ 'x' * 9000000 }}{% endmacro %}"
    + "".join(
        f"{{% macro m{i}() %}}{{{{ m{i - 1}() }}}}{{{{ m{i - 1}() }}}}{{% endmacro %}}"
        for i in range(1, 12)
    )
    + "{{ m11() }}",
    "set block loop": "{% set ns = namespace(l=[]) %}{% for i in range(10000) %}{% set b %}"
    "{% for j in range(1000) %}{{ 'y' * 10000 }}{% endfor %}{% endset %}"
    "{% set ns.l = ns.l + [b] %}{% endfor %}",
    # range-driven loops keeping every value they build, each under the caps
    "kept concatenations": f"{{% set ns = namespace(l=[]) %}}{{% set s = {BIG} %}}"
    "{% for i in range(10000) %}{% set ns.l = ns.l + [s ~ i] %}{% endfor %}",
    "kept wide strings": "{% set ns = namespace(l=[]) %}{% set s = '\U0001f600' * 9000000 %}"
    "{% for i in range(10000) %}{% set ns.l = ns.l + [s[i:]] %}{% endfor %}",
    "kept list filters": "{% set ns = namespace(l=[]) %}{% set s = '\u4e00' * 900000 %}"
    "{% for i in range(10000) %}{% set ns.l = ns.l + [s | list] %}{% endfor %}",
    "kept split pieces": "{% set ns = namespace(l=[]) %}{% set s = 'a ' * 900000 %}"
    "{% for i in range(10000) %}{% set ns.l = ns.l + [s.split()] %}{% endfor %}",
    "growing list": "{% set ns = namespace(l=[]) %}"
    "{% for i in range(10000) %}{% set ns.l = ns.l + [i] * 900 %}{% endfor %}",
    "printing in a loop": "{% for i in range(10000) %}{% for j in range(10000) %}{{ j }}"
    "{% endfor %}{% endfor %}",
    "macro output in a loop": "{% macro m() %}{% for i in range(10000) %}"
    "{% for j in range(10000) %}x{% endfor %}{% endfor %}{% endmacro %}{{ m() }}",
    "too many tokens": "{{ a }}" * 100000,
    "deep parentheses": "{{ " + "(" * 500 + "1" + ")" * 500 + " }}",
    "deep loops": "".join(f"{{% for a{i} in range(2) %}}" for i in range(25)) + "{% endfor %}" * 25,
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_render_is_bounded(name: str, tmp_path: Path) -> None:
    template = tmp_path / "evil.jinja"
    template.write_text(HOSTILE[name], encoding="utf-8")
    outcome = measure("render", template)
    assert outcome.code == "sandbox-violation", outcome.result
    assert "MemoryError" not in outcome.result["message"]
    assert outcome.cpu < CPU_S and outcome.rss_mb < RSS_MB, (outcome.cpu, outcome.rss_mb)


def test_constant_folding_cannot_bypass_the_limits(make_model: ModelFactory) -> None:
    """`--check` and the hook compile the template: nothing of it may run then."""
    folder = make_model(HOSTILE["format filter constant"])
    check = measure("cli", "template", folder, "--check", "--format", "json")
    assert check.code == 0, check.output
    assert check.cpu < 2 and check.rss_mb < 200, (check.cpu, check.rss_mb)
    hook = measure("hook", folder / "tokenizer_config.json")
    assert hook.code == 1
    assert "formatting with % would build 1,000,000,005 characters" in hook.output
    assert "[sandbox-violation]" in hook.output
    assert hook.cpu < 2 and hook.rss_mb < 200, (hook.cpu, hook.rss_mb)


def test_a_slow_template_stops_the_whole_self_test_in_time(make_model: ModelFactory) -> None:
    """Each render stays under 5 s, but 28 of them did not: the hook took 95 s."""
    slow = "{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}"
    outcome = measure("hook", make_model(slow) / "tokenizer_config.json")
    assert outcome.code == 1
    assert "the self-test's renders took longer than 5 s of CPU time in all" in outcome.output
    assert outcome.cpu < CPU_S, outcome.cpu


def _tools(count: int, description: str) -> list[dict[str, object]]:
    return [
        {
            "type": "function",
            "function": {
                "name": f"tool_{i}",
                "description": f"Tool number {i}{description}",
                "parameters": {"type": "object", "properties": {"x": {"type": "string"}}},
            },
        }
        for i in range(count)
    ]


def test_dsprep_template_renders_50000_tools_in_time(
    make_model: ModelFactory, tmp_path: Path
) -> None:
    """dsprep's own template prints its tools section piece by piece (linear), so even
    50,000 tools render inside every bound with a 2x margin (100,000 take 2.6-3.6 s of CPU
    on a quiet machine, and twice that when other work shares its cores)."""
    conversation = tmp_path / "conversation.json"
    conversation.write_text(
        json.dumps({"messages": [{"role": "user", "content": "hi"}], "tools": _tools(50_000, "")}),
        encoding="utf-8",
    )
    folder = make_model(build_template(thinking=False))
    outcome = measure("cli", "render", folder, "--messages", conversation, "--format", "json")
    assert outcome.code == 0, outcome.output[-2000:]
    prompt = outcome.json()["data"]["prompt"]
    assert "\n### tool_49999\nDescription: Tool number 49999\n" in prompt
    assert prompt.endswith("<｜User｜>hi")
    assert outcome.cpu < CPU_S and outcome.rss_mb < RSS_MB, (outcome.cpu, outcome.rss_mb)


def test_a_request_too_large_for_any_prompt_is_refused_in_time(
    make_model: ModelFactory, tmp_path: Path
) -> None:
    """100,000 tools with 1 KB descriptions (over 100 M characters): refused, and the
    message says the request is too large."""
    conversation = tmp_path / "conversation.json"
    conversation.write_text(
        json.dumps(
            {"messages": [{"role": "user", "content": "hi"}], "tools": _tools(100_000, "x" * 1000)}
        ),
        encoding="utf-8",
    )
    folder = make_model(build_template(thinking=False))
    outcome = measure("cli", "render", folder, "--messages", conversation, "--format", "json")
    assert outcome.code == 3, outcome.output[-2000:]
    (finding,) = outcome.json()["findings"]
    assert finding["code"] == "sandbox-violation"
    assert "(1 messages, 100000 tools) is too large for one prompt" in finding["hint"]
    assert outcome.cpu < CPU_S and outcome.rss_mb < RSS_MB, (outcome.cpu, outcome.rss_mb)
