"""Hostile templates end in a clear error: no code runs, no file is read, no long hang."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from dsprep.template.render import (
    RenderRequest,
    SandboxViolation,
    TemplateRenderError,
    render_with_jinja,
)

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
    report = run_self_test(loops, {"transformers": renderer, "vllm": renderer}, origin="x")
    assert time.monotonic() - started < 3
    assert [f.code for f in report.findings] == ["sandbox-violation"]
    assert report.renders == 1
