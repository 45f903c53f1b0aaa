"""``dsprep-check-template``: the chat-template lint of ``dsprep template --check`` plus the
render self-test of ``dsprep render --self-test``.

Takes ``tokenizer_config.json`` and ``chat_template.jinja``; the tokenizer files beside them
are read to check the special tokens. When a folder has both, the ``.jinja`` file is the
template transformers uses, and it is checked once.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from dsprep.errors import InputError
from dsprep.findings import Finding, Severity
from dsprep.hooks.runner import error_finding, run_hook

PROG = "dsprep-check-template"
DESCRIPTION = (
    "Lint DeepSeek-V3.1 chat templates (sandbox compile, special tokens, ASCII-bar "
    "look-alikes, thinking default) and run the render self-test."
)
CONFIG_NAME = "tokenizer_config.json"
JINJA_NAME = "chat_template.jinja"
MAX_SELF_TEST_FINDINGS = 5  # a broken template fails most cases: show a few and count the rest
EXAMPLE = "tokenizer_config.json"


def has_chat_template(path: Path) -> bool:
    """False for a tokenizer_config.json without ``chat_template`` and no .jinja beside it."""
    if path.name != CONFIG_NAME or (path.parent / JINJA_NAME).is_file():
        return True
    try:
        document = json.loads(path.read_bytes())
    except (OSError, ValueError, RecursionError):
        return True  # let the lint report it
    return not isinstance(document, dict) or "chat_template" in document


def no_template_finding(path: Path) -> Finding:
    return Finding(
        "no-chat-template",
        str(path),
        f"{path.name} has no chat_template and there is no {JINJA_NAME} beside it; "
        "vLLM's chat endpoint then has no template",
        hint=f"add one: dsprep template {path.parent} --thinking off",
        severity=Severity.WARNING,
    )


def one_line(finding: Finding) -> Finding:
    """The finding with its message on one line (a self-test diff keeps only -/+ lines)."""
    if "\n" not in finding.message:
        return finding
    lines = [
        line.strip()
        for line in finding.message.splitlines()
        if line.strip() and not line.startswith(("---", "+++", "@@"))
    ]
    return Finding(finding.code, finding.path, " ".join(lines), finding.hint, finding.severity)


def capped_self_test(findings: list[Finding]) -> list[Finding]:
    """At most :data:`MAX_SELF_TEST_FINDINGS` one-line findings, plus one that counts the rest."""
    shown = [one_line(f) for f in findings[:MAX_SELF_TEST_FINDINGS]]
    if len(findings) > MAX_SELF_TEST_FINDINGS:
        last = findings[MAX_SELF_TEST_FINDINGS]
        rest = len(findings) - MAX_SELF_TEST_FINDINGS
        shown.append(
            Finding(
                last.code,
                last.path,
                f"… and {rest} more self-test failures like the ones above",
                hint=last.hint,
            )
        )
    return shown


def check_one(path: Path) -> list[Finding]:
    """The lint; then, when the lint found no error, the render self-test."""
    from dsprep.template.lint import check_template

    findings = check_template(path).findings
    errors = [f for f in findings if f.severity is Severity.ERROR]
    if errors:
        where = errors[0].path
        skipped = Finding(
            "self-test-skipped",
            where,
            "render self-test not run: fix the errors above first",
            severity=Severity.INFO,
        )
        return [*findings, skipped]
    from dsprep.template.prompt import self_test_model

    return findings + capped_self_test(self_test_model(path).findings)


def check(paths: list[Path]) -> list[Finding]:
    from dsprep.template.source import locate

    findings: list[Finding] = []
    seen: set[Path] = set()
    for path in paths:
        if not has_chat_template(path):
            findings.append(no_template_finding(path))
            continue
        try:
            located = locate(path)
            if located in seen:
                continue
            seen.add(located)
            findings.extend(check_one(path))
        except InputError as error:  # unreadable, not JSON, no template: this file's problem
            if error.path and Path(error.path).parent != path.parent:
                raise  # not this folder's fault (e.g. dsprep's bundled cases): exit 3
            findings.append(error_finding(error, path))
    return findings


def main(argv: Sequence[str] | None = None) -> int:
    return run_hook(argv, prog=PROG, description=DESCRIPTION, check=check, example=EXAMPLE)


if __name__ == "__main__":
    raise SystemExit(main())
