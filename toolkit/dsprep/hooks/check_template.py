"""``dsprep-check-template``: the chat-template lint of ``dsprep template --check`` plus the
render self-test of ``dsprep render --self-test``.

Takes ``tokenizer_config.json`` and ``chat_template.jinja``; the tokenizer files beside them
are read to check the special tokens. When a folder has both, the ``.jinja`` file is the
template transformers uses, and it is checked once.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from dsprep import catalogue as C
from dsprep.errors import InputError
from dsprep.findings import Finding
from dsprep.hooks.runner import error_finding, run_hook
from dsprep.template.source import (  # light: no Jinja
    JINJA_NAME,
    NoChatTemplateError,
    TemplateSource,
    locate,
    read_source,
)

if TYPE_CHECKING:
    from dsprep.profiles import Profile

PROG = "dsprep-check-template"
DESCRIPTION = (
    "Lint DeepSeek-V3.1 chat templates (sandbox compile, special tokens, ASCII-bar "
    "look-alikes, thinking default) and run the render self-test."
)
MAX_SELF_TEST_FINDINGS = 5  # a broken template fails most cases: show a few and count the rest
EXAMPLE = "tokenizer_config.json"


def no_template_finding(path: Path) -> Finding:
    return C.NO_CHAT_TEMPLATE(
        str(path),
        f"{path.name} has no chat_template and there is no {JINJA_NAME} beside it; "
        "vLLM's chat endpoint then has no template",
        hint=f"add one: dsprep template {path.parent} --thinking off",
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
    return finding.with_message(" ".join(lines))


def capped_self_test(findings: list[Finding]) -> list[Finding]:
    """At most :data:`MAX_SELF_TEST_FINDINGS` one-line findings, plus one that counts the rest."""
    shown = [one_line(f) for f in findings[:MAX_SELF_TEST_FINDINGS]]
    if len(findings) > MAX_SELF_TEST_FINDINGS:
        last = findings[MAX_SELF_TEST_FINDINGS]
        rest = len(findings) - MAX_SELF_TEST_FINDINGS
        message = f"… and {rest} more self-test failures like the ones above"
        shown.append(last.with_message(message))
    return shown


def check_one(source: TemplateSource) -> list[Finding]:
    """The lint; then, when the lint found no error, the render self-test."""
    from dsprep.template.lint import check_source
    from dsprep.template.tokens import load_tokenizer_files

    tokenizer = load_tokenizer_files(source.folder)  # read once for both checks
    lint = check_source(source, tokenizer)
    if not lint.ok:
        skipped = C.SELF_TEST_SKIPPED(
            lint.errors[0].path, "render self-test not run: fix the errors above first", hint=""
        )
        return [*lint.findings, skipped]
    from dsprep.template.prompt import self_test_source

    return lint.findings + capped_self_test(self_test_source(source, tokenizer).findings)


def check(paths: list[Path], profile: Profile) -> list[Finding]:
    """The template checks do not depend on the release: ``profile`` (``--image``) is unused."""
    findings: list[Finding] = []
    seen: set[Path] = set()
    for path in paths:
        try:
            located = locate(path)
            if located in seen:
                continue
            seen.add(located)
            findings.extend(check_one(read_source(located)))
        except NoChatTemplateError:
            findings.append(no_template_finding(path))
        except InputError as error:  # unreadable, not JSON: this file's or its tokenizer's
            findings.append(error_finding(error, path, beside=True))
    return findings


def main(argv: Sequence[str] | None = None) -> int:
    return run_hook(argv, prog=PROG, description=DESCRIPTION, check=check, example=EXAMPLE)


if __name__ == "__main__":
    raise SystemExit(main())
