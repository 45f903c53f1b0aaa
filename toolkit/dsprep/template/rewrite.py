"""``dsprep template``: replace a known chat template by dsprep's, or switch a thinking default.

The plan is computed first (recognition, new text, self-test of the new text); only a plan
whose self-test passes is written, atomically, keeping the original once as a backup.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path

from dsprep.atomic import atomic_write_text, backup_path
from dsprep.findings import Finding, Result, Severity
from dsprep.template.build import build_template
from dsprep.template.recognize import (
    DSPREP,
    MARKER_RE,
    THINKING_DEFAULT_RE,
    Recognition,
    recognize,
)
from dsprep.template.selftest import self_test_text
from dsprep.template.source import REWRITTEN_NAMES, TemplateSource, read_source, with_templates
from dsprep.template.tokens import load_tokenizer_files

REPLACE = "replace"
SWITCH_DEFAULT = "switch-default"
UP_TO_DATE = "up-to-date"
REFUSE = "refuse"
NO_NEWLINE = "\n\\ No newline at end of file\n"


@dataclass(frozen=True)
class RewriteOptions:
    thinking: bool
    tools: bool | None = None  # None: not given on the command line
    force: bool = False
    dry_run: bool = False


@dataclass
class EntryPlan:
    name: str
    location: str
    recognition: Recognition
    action: str
    old_text: str
    new_text: str


@dataclass
class RewritePlan:
    source: TemplateSource
    entries: list[EntryPlan] = field(default_factory=list)

    @property
    def refused(self) -> list[EntryPlan]:
        return [e for e in self.entries if e.action == REFUSE]

    @property
    def changed(self) -> list[EntryPlan]:
        return [e for e in self.entries if e.action in (REPLACE, SWITCH_DEFAULT)]

    def diff(self) -> str:
        """A unified diff of every changed template (not of the JSON file's one long line)."""
        chunks: list[str] = []
        for entry in self.changed:
            for line in difflib.unified_diff(
                entry.old_text.splitlines(keepends=True),
                entry.new_text.splitlines(keepends=True),
                f"{entry.location} (current)",
                f"{entry.location} (dsprep)",
            ):
                chunks.append(line if line.endswith("\n") else line + NO_NEWLINE)
        return "".join(chunks)


def _plan_entry(text: str, options: RewriteOptions) -> tuple[str, str, Recognition]:
    recognition = recognize(text)
    if recognition.known or options.force:
        tools = options.tools
        if tools is None:
            tools = recognition.tools if recognition.kind == DSPREP else True
        new_text = build_template(thinking=options.thinking, tools=tools)
        return (UP_TO_DATE if new_text == text else REPLACE), new_text, recognition
    if options.tools is None and THINKING_DEFAULT_RE.search(text):
        value = "true" if options.thinking else "false"
        new_text = THINKING_DEFAULT_RE.sub(lambda m: m.group(1) + value + m.group(3), text)
        return (UP_TO_DATE if new_text == text else SWITCH_DEFAULT), new_text, recognition
    return REFUSE, text, recognition


def plan_rewrite(target: Path, options: RewriteOptions) -> RewritePlan:
    source = read_source(target)
    plan = RewritePlan(source)
    for entry in source.entries:
        if source.layout == "config-list" and entry.name not in REWRITTEN_NAMES:
            continue
        action, new_text, recognition = _plan_entry(entry.text, options)
        plan.entries.append(
            EntryPlan(entry.name, source.location(entry), recognition, action, entry.text, new_text)
        )
    return plan


def _refusal(entry: EntryPlan, folder: Path, thinking: bool) -> Finding:
    on_off = "on" if thinking else "off"
    if THINKING_DEFAULT_RE.search(entry.old_text):
        problem = "dsprep can switch its thinking default, but cannot change its tools section"
    else:
        problem = (
            "dsprep does not know this template and it has no standard"
            " `{% if not thinking is defined %}{% set thinking = … %}` line to switch"
        )
    return Finding(
        "unknown-template",
        entry.location,
        f"{entry.recognition.describe()}: {problem}",
        hint=f"check it with: dsprep template {folder} --check; replace it with dsprep's"
        f" template: dsprep template {folder} --thinking {on_off} --force",
    )


def rewrite(target: Path, options: RewriteOptions) -> Result:
    """Plan, self-test and (unless dry-run) write. Never writes a refused or failing plan."""
    plan = plan_rewrite(target, options)
    source = plan.source
    result = Result("template")
    result.data.update(
        path=str(source.path),
        layout=source.layout,
        entries=[
            {"name": e.name, "kind": e.recognition.kind, "action": e.action} for e in plan.entries
        ],
        dry_run=options.dry_run,
    )
    for entry in plan.refused:
        result.add(_refusal(entry, source.folder, options.thinking))
    if plan.refused:
        result.data["status"] = "refused"
        return result
    tokenizer = load_tokenizer_files(source.folder)
    tested = 0
    for entry in plan.entries:
        report = self_test_text(entry.new_text, tokenizer, entry.location)
        tested += report.renders
        if not report.findings:
            continue
        if MARKER_RE.search(entry.new_text):
            # dsprep's own template failing is a bug: never write it.
            result.extend(report.findings)
            result.data["status"] = "not-written"
            return result
        # Only the default was switched: the user's template keeps its own limits.
        result.add(
            Finding(
                "self-test-failed",
                entry.location,
                f"{len(report.findings)} self-test check(s) fail on this template, e.g. "
                + report.findings[0].message,
                hint=f"see them all: dsprep render {source.folder} --self-test; or use dsprep's"
                f" template: dsprep template {source.folder} --thinking"
                f" {'on' if options.thinking else 'off'} --force",
                severity=Severity.WARNING,
            )
        )
    result.data["self_test_renders"] = tested
    if not plan.changed:
        result.data["status"] = "up-to-date"
        return result
    result.data["diff"] = plan.diff()
    if options.dry_run:
        result.data["status"] = "would-rewrite"
        return result
    new_raw = with_templates(source, {e.name: e.new_text for e in plan.changed})
    made = atomic_write_text(source.path, new_raw, backup=True)
    result.data["status"] = "rewritten"
    result.data["backup"] = str(made or backup_path(source.path))
    for entry in plan.changed:
        result.add(
            Finding(
                "template-rewritten",
                entry.location,
                f"{entry.recognition.describe()} -> "
                + (
                    "thinking default switched"
                    if entry.action == SWITCH_DEFAULT
                    else "dsprep's template"
                )
                + f" (thinking default {'on' if options.thinking else 'off'})",
                severity=Severity.INFO,
            )
        )
    return result
