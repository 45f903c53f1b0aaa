"""Hostile templates end in a clear error: no code runs, no file is read, no long hang."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from dsprep.profiles import newest_profile
from dsprep.template.render import (
    RenderRequest,
    SandboxViolation,
    TemplateRenderError,
    render_with_jinja,
)
from dsprep.template.served import ServedDialect

REQUEST = RenderRequest([{"role": "user", "content": "hi"}], add_generation_prompt=True)
HOSTILE = {
    "mro walk": "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "globals walk": "{{ raise_exception.__globals__['os'].system('id') }}",
    "cycler walk": "{{ cycler.__init__.__globals__.os }}",
    "namespace dunder": "{% set ns = namespace() %}{% set ns.__class__ = 1 %}",
    "huge range": "{% for i in range(10**12) %}{% endfor %}",
    "huge repeat": "{{ 'x' * 10**10 }}",
    "huge power": "{{ 7 ** 99999999 }}",
    "huge lipsum": "{{ lipsum(10**6) }}",
    "list mutation": "{% set x = [] %}{{ x.append(1) }}",
    "doubling concat": "{% set ns = namespace(s='xy') %}"
    "{% for i in range(100) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s | length }}",
    "doubling plus": "{% set ns = namespace(s='xy') %}"
    "{% for i in range(100) %}{% set ns.s = ns.s + ns.s %}{% endfor %}",
    "padding method": "{{ 'x'.ljust(10**10) }}",
    "center filter": "{{ 'x' | center(10**10) }}",
}


SERVED = ServedDialect.of(newest_profile())


def test_blocked_attribute_prints_nothing() -> None:
    rendered = render_with_jinja("[{{ raise_exception.__globals__ }}]", REQUEST, {})
    assert rendered == "[]"
    rendered = render_with_jinja("[{{ '{0.__class__}'.format(1) }}]", REQUEST, {})
    assert rendered == "[]"


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_template_is_a_sandbox_violation(name: str) -> None:
    started = time.monotonic()
    with pytest.raises(SandboxViolation) as caught:
        render_with_jinja(HOSTILE[name], REQUEST, {}, origin="evil.jinja", timeout=2)
    assert time.monotonic() - started < 2
    assert "evil.jinja" in caught.value.message
    assert caught.value.code == "sandbox-violation"


def test_include_of_a_local_file_reads_nothing(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET", encoding="utf-8")
    template = "{% include '" + str(secret) + "' %}"
    with pytest.raises(SandboxViolation) as caught:
        render_with_jinja(template, REQUEST, {}, origin="evil.jinja")
    assert "include" in caught.value.message
    assert "TOP SECRET" not in caught.value.message


def test_endless_loop_is_stopped_in_bounded_time() -> None:
    loops = "{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}"
    started = time.monotonic()
    with pytest.raises(SandboxViolation, match=r"longer than 0\.5 s"):
        render_with_jinja(loops, REQUEST, {}, timeout=0.5)
    assert time.monotonic() - started < 2.5


def test_endless_loop_is_stopped_off_the_main_thread() -> None:
    loops = "{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}"
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            render_with_jinja(loops, REQUEST, {}, timeout=0.5)
        except BaseException as exc:  # collected for the assertion below
            outcome.append(exc)

    worker = threading.Thread(target=run)
    started = time.monotonic()
    worker.start()
    worker.join(10)
    assert not worker.is_alive()
    assert time.monotonic() - started < 5
    assert outcome and isinstance(outcome[0], SandboxViolation)


def test_syntax_error_names_the_line() -> None:
    with pytest.raises(TemplateRenderError, match="template line 2"):
        render_with_jinja("ok\n{% if %}", REQUEST, {}, origin="bad.jinja")


def test_raise_exception_is_a_render_error() -> None:
    with pytest.raises(TemplateRenderError, match="no system role"):
        render_with_jinja("{{ raise_exception('no system role') }}", REQUEST, {})


def test_self_test_stops_at_the_first_violation() -> None:
    from dsprep.template.selftest import run_self_test

    loops = "{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}"
    renderer = lambda request: render_with_jinja(loops, request, {}, timeout=0.3)  # noqa: E731
    started = time.monotonic()
    report = run_self_test(loops, [("transformers", renderer), (SERVED, renderer)], origin="x")
    assert time.monotonic() - started < 3
    assert [f.code for f in report.findings] == ["sandbox-violation"]
    assert report.renders == 1


# What a template may legitimately do renders exactly as in a plain sandbox (the checks only
# refuse sizes no prompt needs). Jinja's constant folding is off in dsprep's environment,
# which never changes what a template renders outside {% autoescape %} blocks.
BENIGN = [
    "{{ 'a %s b %d' % ('x', 3) }}{{ '%(a)s-%(b)05.1f' % {'a': 1, 'b': 2.5} }}{{ '%s' % [1, 2] }}",
    "{{ '%-5s|%5s|%.2s|%c|%x|%o|%e|%r' % ('ab', 'cd', 'xyz', 65, 255, 8, 1.5, 'q') }}",
    "{{ '{:>5}|{:<4}|{:^7}|{:08.3f}|{:,}|{!r}'.format(1, 'a', 'b', 3.14159, 1234567, 'x') }}",
    "{{ '{a}{b[0]}'.format_map({'a': 1, 'b': [2]}) }}",
    "{{ [1, 2, 3] | join(', ') }}{{ [{'n': 'a'}, {'n': 'b'}] | join('-', attribute='n') }}",
    "{{ 'abc' | center(9) }}|{{ 'a\\nb\\n\\nc' | indent(2, true) }}|{{ 'a\\nb' | indent('> ') }}",
    "{{ 'the quick brown fox' | wordwrap(7) }}|{{ 'abc def' | wordwrap(3, wrapstring='|') }}",
    "{{ 'hello world' | truncate(8) }}{{ 'aXbX' | replace('X', 'yy') }}",
    "{{ 'aXbX' | replace('X', '', 1) }}",
    "{{ 'x' * 3 }}{{ [1] * 3 }}{{ 3 * 'y' }}{{ 2 ** 10 }}{{ 7 % 3 }}{{ 'a' + 'b' }}{{ [1] + [2] }}",
    "{{ 'a' ~ 1 ~ none ~ [2] }}{{ 'AbC' | upper }}{{ 'abc def' | title }}{{ 'xxaxx' | trim('x') }}",
    "{{ '<a href=\"x\">y</a>' | striptags }}{{ 'a b  c' | wordcount }}",
    "{{ '<&>' | e }}{{ 'a&b' | forceescape }}",
    "{{ {'b': 1, 'a': [1, 'x']} | tojson }}",
    "{{ {'b': 1} | tojson(indent=2) }}{{ 'é' | tojson(ensure_ascii=true) }}",
    "{{ [3, 1, 2] | sort | list }}{{ 'cba' | sort | join }}",
    "{{ [1, 1, 2] | unique | list }}{{ 'abc' | reverse }}",
    "{{ {'b': 1, 'a': 2} | dictsort }}{{ [1, 2, 3, 4, 5] | batch(2, 0) | list }}",
    "{{ [1, 2, 3, 4, 5] | slice(2) | list }}",
    "{{ [[1], [2]] | sum(start=[]) }}{{ [1, 2] | sum }}",
    "{{ [(1, 2)] | sum(start=()) }}{{ [{'v': 1}] | sum(attribute='v') }}",
    "{{ [{'g': 1, 'v': 'a'}, {'g': 1, 'v': 'b'}] | groupby('g') | list }}",
    "{{ [1, 5, 3] | max }}{{ 'abc' | list }}",
    "{{ [1, 2] | string }}{{ 12345678 | filesizeformat }}",
    "{{ {'a': 1} | pprint }}{{ 'www.example.com' | urlize }}",
    "{{ 'a b&c' | urlencode }}{{ {'a': 1, 'b': 'x y'} | urlencode }}",
    "{{ {'class': 'x', 'id': 3} | xmlattr }}",
    "{{ [1, 2, 3] | map('string') | join }}",
    "{{ ['A', 'B'] | map('lower') | list }}{{ [1, 2, 3] | select('odd') | list }}",
    "{{ 'abc'[1:] }}{{ 'abcdef'[::2] }}{{ [1, 2, 3][:-1] }}",
    "{{ 'a,b,,c'.split(',') }}{{ 'a b  c'.split() }}",
    "{{ 'a\\nb\\r\\nc'.splitlines() }}{{ 'a b c'.split(' ', 1) }}",
    "{{ 'a-b'.partition('-') }}{{ 'x'.ljust(3) }}",
    "{{ '5'.zfill(3) }}{{ 'a\\tb'.expandtabs(4) }}",
    "{{ ','.join(['a', 'b']) }}{{ 'Straße'.upper() }}{{ 'é'.encode() }}",
    "{{ (255).to_bytes(2, 'big') }}{{ dict(a=1) }}",
    "{{ dict.fromkeys(['x'], 0) }}{{ 'abc'.translate({97: 'AA'}) }}",
    "{% set ns = namespace(s='') %}{% for i in range(5) %}"
    "{% set ns.s = ns.s ~ i %}{% endfor %}{{ ns.s }}",
    "{% macro m(x) %}[{{ x }}]{{ caller() if caller is defined }}"
    "{% endmacro %}{{ m(1) }}{% call m(2) %}in{% endcall %}",
    "{% set b %}block {{ 1 + 1 }}{% endset %}{{ b }}",
    "{% filter upper %}loud {{ 'x' }}{% endfilter %}",
    "{{ 'abc' is lower }}{{ 'ABC' is upper }}{{ '3' | int + 1 }}",
    "{{ [1, 2] | last }}{{ missing | default('d') }}",
    "{% for x in [1, 2, 3] %}{{ loop.index }}/{{ loop.length }}"
    "{{ loop.cycle('a', 'b') }}{% endfor %}",
    "{{ {'a': 1}.items() | list }}{{ none }}{{ [none, 1] }}",
    "{{ (1, 'a') }}{{ {'k': ('v',)} }}{{ 10 ** 400 }}",
]


@pytest.mark.parametrize("template", BENIGN)
def test_legitimate_operations_render_as_in_a_plain_sandbox(template: str) -> None:
    import jinja2.ext
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    from dsprep.template.sandbox import _tojson, compile_bounded

    plain = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols]
    )
    plain.filters["tojson"] = _tojson
    assert compile_bounded(template).render() == plain.from_string(template).render()


def test_any_error_of_the_template_is_a_render_error() -> None:
    with pytest.raises(TemplateRenderError, match="ZeroDivisionError"):
        render_with_jinja("{{ 1 / 0 }}", REQUEST, {})
    with pytest.raises(TemplateRenderError, match="AssertionError"):
        render_with_jinja("{{ 'abc' | truncate(1, end='xxxx') }}", REQUEST, {})


def test_nothing_of_a_template_runs_at_compile_time() -> None:
    from dsprep.template.sandbox import chat_template_environment

    started = time.monotonic()
    code = chat_template_environment().compile(HOSTILE_CONSTANT, raw=True)
    assert time.monotonic() - started < 1
    assert len(code) < 5_000  # the folded result was a 1 GB literal in the module's code


HOSTILE_CONSTANT = "{{ '%*d' | format(1000000000, 1) }}{{ ('x' * 10) | center(10**9) }}"


def test_render_limits_are_errors_not_tracebacks() -> None:
    for template, message in (
        ("{{ a }}" * 60_000, "more than 50,000 Jinja tokens"),
        ("{{ " + "(" * 500 + "1" + ")" * 500 + " }}", "too deeply to compile"),
        ("{% if x %}" * 120 + "{% endif %}" * 120, "nests its blocks too deeply"),
        ("{% for x in y %}" * 25 + "{% endfor %}" * 25, "nests its blocks too deeply"),
        (
            "{{ 'x' * 5 }}" + " " * 10_000_001,
            r"10,000,014 characters \(dsprep's limit is 10,000,000",
        ),
    ):
        with pytest.raises(SandboxViolation, match=message):
            render_with_jinja(template, REQUEST, {}, origin="evil.jinja")
