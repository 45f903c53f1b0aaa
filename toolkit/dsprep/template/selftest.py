"""``dsprep render --self-test``: render the bundled cases and prove the token format.

For each case and for every way its request reaches a template (transformers 5: None keys
dropped; each profiled vLLM's conversion, dsprep.template.served: arguments parsed into
mappings, content parts joined, content None as "") the prompt must render; every assistant
tool call must parse back (with the deepseek_v31-compatible parser) to the same name and
arguments; the generation prompt must end in ``<think>``/``</think>`` as configured; and the
case's own expectations must hold.
"""

from __future__ import annotations

import difflib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from dsprep import catalogue as C
from dsprep.errors import InputError
from dsprep.findings import Finding
from dsprep.profiles import all_profiles
from dsprep.resources import chat_templates_dir, load_schema
from dsprep.template.recognize import supports_tools, thinking_default
from dsprep.template.render import Dialect, RenderRequest, SandboxViolation, render_with_jinja
from dsprep.template.sandbox import DEFAULT_TIMEOUT
from dsprep.template.served import ServedDialect
from dsprep.template.tokens import ASSISTANT, THINK, THINK_END, USER, TokenizerFiles
from dsprep.template.toolcalls import call_blocks, parse_tool_calls

CASES_NAME = "render-cases.json"
SCHEMA_NAME = "render-cases.schema.json"
SELF_TEST_TIMEOUT = DEFAULT_TIMEOUT  # seconds for all the sandbox renders of one self-test
# the kernel's CPU-time alarm (ITIMER_PROF, tick-sampled) runs ahead of process_time() on a
# busy machine: 0.3 s in 5 s measured under load; a render stopped this close to the shared
# deadline was stopped by it
_SLACK = 0.1 * SELF_TEST_TIMEOUT

Renderer = Callable[[RenderRequest], str]


@dataclass
class SelfTestReport:
    cases: int = 0
    renders: int = 0
    tool_calls_checked: int = 0
    findings: list[Finding] = field(default_factory=list)


@cache
def load_cases() -> tuple[dict[str, Any], ...]:
    """The bundled cases, validated against ``schemas/render-cases.schema.json``."""
    path = chat_templates_dir() / CASES_NAME
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read the self-test cases {path}: {exc}", path=path) from exc
    validate_cases(document, str(path))
    return tuple(document["cases"])


def validate_cases(document: Any, origin: str) -> None:
    import jsonschema  # here: rendering a conversation (no self-test) needs no schema check

    validator = jsonschema.Draft202012Validator(load_schema(SCHEMA_NAME))
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.absolute_path) or "(root)"
        raise InputError(
            f"{origin}: {where}: {first.message}",
            hint=f"make the cases match schemas/{SCHEMA_NAME}",
            path=origin,
        )


def _diff(expected: str, actual: str) -> str:
    lines = difflib.unified_diff(
        expected.splitlines(), actual.splitlines(), "expected", "rendered", lineterm="", n=1
    )
    return "\n".join(lines)


def _tail(rendered: str) -> str:
    """The end of a prompt from its last assistant token (or its last 40 characters)."""
    start = rendered.rfind(ASSISTANT)
    return rendered[start:] if start >= 0 else rendered[-40:]


def served_dialects() -> tuple[ServedDialect, ...]:
    """One dialect per distinct conversion among the bundled profiles (oldest first)."""
    seen: dict[tuple[object, ...], ServedDialect] = {}
    for profile in all_profiles():
        dialect = ServedDialect.of(profile)
        seen.setdefault(dialect.key(), dialect)
    return tuple(seen.values())


def _label(dialect: Dialect) -> str:
    return dialect.label if isinstance(dialect, ServedDialect) else dialect


def _same_arguments(original: Any, parsed: str, exact: bool) -> bool:
    """``exact``: the string reaches the template as sent; otherwise vLLM parsed it and the
    template re-serialised it, so only its JSON value must survive."""
    if isinstance(original, str) and exact:
        return original == parsed
    if isinstance(original, str):
        try:
            original = json.loads(original)
        except ValueError:
            return False
    try:
        return bool(json.loads(parsed) == original)
    except ValueError:
        return False


def _check_tool_calls(case: Mapping[str, Any], rendered: str, exact: bool) -> tuple[list[str], int]:
    """Problems with the tool-call round trip, and how many calls were checked."""
    expected_turns = [
        m for m in case["messages"] if m.get("role") == "assistant" and m.get("tool_calls")
    ]
    first_user = rendered.find(USER)
    blocks = call_blocks(rendered, max(first_user, 0))
    problems: list[str] = []
    if len(blocks) != len(expected_turns):
        problems.append(
            f"{len(expected_turns)} assistant turn(s) with tool calls, but {len(blocks)}"
            " <｜tool▁calls▁begin｜> block(s) in the rendered prompt"
        )
        return problems, 0
    checked = 0
    for message, (offset, block) in zip(expected_turns, blocks, strict=False):
        parsed = parse_tool_calls(block)
        want = [
            {"name": c["function"]["name"], "arguments": c["function"]["arguments"]}
            for c in message["tool_calls"]
        ]
        got = [{"name": c.name, "arguments": c.arguments} for c in parsed.calls]
        same = len(want) == len(got) and all(
            w["name"] == g["name"] and _same_arguments(w["arguments"], str(g["arguments"]), exact)
            for w, g in zip(want, got, strict=False)
        )
        checked += len(want)
        if not same:
            expected_text = json.dumps(want, ensure_ascii=False, indent=1)
            actual_text = json.dumps(got, ensure_ascii=False, indent=1)
            problems.append(
                "tool calls do not parse back to what was sent:\n"
                + _diff(expected_text, actual_text)
            )
        content = message.get("content")
        if isinstance(content, str) and content and not rendered[:offset].endswith(content):
            problems.append(f"the text {content!r} does not directly precede its tool calls")
    return problems, checked


def _expected_ending(case: Mapping[str, Any], default: bool | None) -> str | None:
    if not case.get("add_generation_prompt") or case["messages"][-1].get("role") != "user":
        return None
    thinking = case.get("thinking")
    if thinking is None:
        thinking = case.get("template_kwargs", {}).get("enable_thinking")
    if thinking is None:
        thinking = bool(default)
    return ASSISTANT + (THINK if thinking else THINK_END)


def _check_case(
    case: Mapping[str, Any], rendered: str, template: str, bos: str | None, dialect: Dialect
) -> tuple[list[str], int]:
    problems, checked = _check_tool_calls(case, rendered, exact=dialect == "transformers")
    ending = _expected_ending(case, thinking_default(template))
    if ending is not None and not rendered.endswith(ending):
        problems.append("the generation prompt is wrong:\n" + _diff(ending, _tail(rendered)))
    if bos and not rendered.startswith(bos):
        problems.append(f"the prompt does not start with the bos token {bos!r}: {rendered[:40]!r}")
    expect = dict(case.get("expect", {}))
    if isinstance(dialect, ServedDialect):
        expect.update(case.get("expect_served", {}))
    for needle in expect.get("contains", []):
        if needle not in rendered:
            problems.append(f"the prompt lacks {needle!r}")
    for needle in expect.get("not_contains", []):
        if needle in rendered:
            problems.append(f"the prompt must not contain {needle!r}")
    if "ends_with" in expect and not rendered.endswith(expect["ends_with"]):
        problems.append("the prompt ends wrongly:\n" + _diff(expect["ends_with"], _tail(rendered)))
    if case.get("tools") and supports_tools(template):
        for needle in expect.get("tools_contains", []):
            if needle not in rendered:
                problems.append(f"the tools section lacks {needle!r}")
        for tool in case["tools"]:
            if f"### {tool['function']['name']}\n" not in rendered:
                problems.append(f"the tools section lacks the tool {tool['function']['name']!r}")
    return problems, checked


def request_for(case: Mapping[str, Any], dialect: Dialect) -> RenderRequest:
    return RenderRequest(
        messages=[dict(m) for m in case["messages"]],
        tools=case.get("tools"),
        add_generation_prompt=bool(case.get("add_generation_prompt", False)),
        thinking=case.get("thinking"),
        dialect=dialect,
        template_kwargs=dict(case.get("template_kwargs", {})),
    )


def run_self_test(
    template: str,
    renderers: Sequence[tuple[Dialect, Renderer]],
    *,
    origin: str,
    bos: str | None = None,
    folder: str = "MODEL_DIR",
) -> SelfTestReport:
    """Run every bundled case through each renderer; failures become ``self-test-failed``."""
    report = SelfTestReport()
    for case in load_cases():
        report.cases += 1
        for dialect, renderer in renderers:
            report.renders += 1
            try:
                rendered = renderer(request_for(case, dialect))
            except SandboxViolation as exc:
                # A hostile template: stop at once instead of timing out on every case.
                report.findings.append(C.SANDBOX_VIOLATION(origin, exc.message, hint=exc.hint))
                return report
            except InputError as exc:
                problems, checked = [exc.message.removeprefix(f"{origin}: ")], 0
            else:
                problems, checked = _check_case(case, rendered, template, bos, dialect)
            report.tool_calls_checked += checked
            for problem in problems:
                report.findings.append(
                    C.SELF_TEST_FAILED(
                        origin,
                        f"case {case['id']} ({_label(dialect)} messages): {problem}",
                        hint=f"replace the template with dsprep's: dsprep template {folder}"
                        " --thinking off",
                    )
                )
    return report


def self_test_text(
    template: str,
    tokenizer: TokenizerFiles,
    origin: str,
    *,
    transformers: Renderer | None = None,
) -> SelfTestReport:
    """The self-test of ``template`` in the sandbox with the folder's special tokens;
    ``transformers`` renders the transformers-dialect cases instead when given. The sandbox
    renders share one time limit, :data:`SELF_TEST_TIMEOUT`."""
    special = tokenizer.special_tokens
    deadline = time.process_time() + SELF_TEST_TIMEOUT

    def jinja(request: RenderRequest) -> str:
        try:
            remaining = deadline - time.process_time()
            if remaining <= 0:
                raise SandboxViolation("")
            return render_with_jinja(template, request, special, origin=origin, timeout=remaining)
        except SandboxViolation as exc:
            # a render stopped by its own limit (what was left of the shared one) ends the
            # shared one: the CPU-time alarm may fire before process_time() gets there
            if time.process_time() < deadline - _SLACK:
                raise
            raise SandboxViolation(
                f"{origin}: the self-test's renders took longer than {SELF_TEST_TIMEOUT:g} s of"
                " CPU time in all and were stopped",
                hint="the template is too slow to serve or hostile: replace it with dsprep"
                f" template {tokenizer.folder} --thinking off --force",
                path=origin,
            ) from exc

    return run_self_test(
        template,
        [("transformers", transformers or jinja), *((d, jinja) for d in served_dialects())],
        origin=origin,
        bos=special.get("bos_token"),
        folder=str(tokenizer.folder),
    )
