"""``dsprep template``: replace a known chat template by dsprep's, or switch a thinking default.

The plan is computed first (recognition, new text, self-test of the new text); only a plan
whose self-test passes is written, atomically, keeping the original once as a backup.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from dsprep import catalogue as C
from dsprep.atomic import atomic_write_text, backup_path
from dsprep.findings import Finding, JsonPayload, Result, Severity
from dsprep.template.build import build_template
from dsprep.template.recognize import (
    ABSENT,
    DSPREP,
    MARKER_RE,
    THINKING_DEFAULT_RE,
    Recognition,
    recognize,
)
from dsprep.template.selftest import self_test_text
from dsprep.template.source import (
    REWRITTEN_NAMES,
    TemplateSource,
    read_source_or_absent,
    with_templates,
)
from dsprep.template.tokens import load_tokenizer_files

NO_NEWLINE = "\n\\ No newline at end of file\n"


class Action(str, Enum):
    """What the plan does to one template."""

    REPLACE = "replace"  # with dsprep's template
    ADD = "add"  # dsprep's template where tokenizer_config.json has none
    SWITCH_DEFAULT = "switch-default"  # only the standard thinking-default line
    UP_TO_DATE = "up-to-date"
    REFUSE = "refuse"


class RewriteStatus(str, Enum):
    """How ``dsprep template`` ended; only ``rewritten`` wrote anything."""

    UP_TO_DATE = "up-to-date"
    REWRITTEN = "rewritten"
    WOULD_REWRITE = "would-rewrite"  # --dry-run
    REFUSED = "refused"  # an unknown template without --force
    NOT_WRITTEN = "not-written"  # dsprep's own template failed its self-test


@dataclass(frozen=True)
class EntrySummary:
    name: str
    kind: str  # a recognize kind: published, vllm-example, dsprep, deepseek-like, unknown
    action: Action


@dataclass(frozen=True)
class RewriteSummary(JsonPayload):
    """What ``dsprep template`` did (the JSON ``data``)."""

    path: str
    layout: str  # jinja-file, config-string, config-list
    entries: list[EntrySummary]
    dry_run: bool
    status: RewriteStatus
    self_test_renders: int | None = None  # None: no self-test ran to its end
    diff: str | None = None  # the unified diff, when a template changes (or would)
    backup: str | None = None  # where the original is kept, once rewritten


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
    action: Action
    old_text: str
    new_text: str


@dataclass
class RewritePlan:
    source: TemplateSource
    entries: list[EntryPlan] = field(default_factory=list)

    @property
    def refused(self) -> list[EntryPlan]:
        return [e for e in self.entries if e.action is Action.REFUSE]

    @property
    def changed(self) -> list[EntryPlan]:
        changing = (Action.REPLACE, Action.ADD, Action.SWITCH_DEFAULT)
        return [e for e in self.entries if e.action in changing]

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


def _plan_entry(text: str, options: RewriteOptions) -> tuple[Action, str, Recognition]:
    recognition = recognize(text)
    if recognition.known or options.force:
        tools = options.tools
        if tools is None:
            tools = recognition.tools if recognition.kind == DSPREP else True
        new_text = build_template(thinking=options.thinking, tools=tools)
        action = Action.UP_TO_DATE if new_text == text else Action.REPLACE
        return action, new_text, recognition
    if options.tools is None and THINKING_DEFAULT_RE.search(text):
        value = "true" if options.thinking else "false"
        new_text = THINKING_DEFAULT_RE.sub(lambda m: m.group(1) + value + m.group(3), text)
        action = Action.UP_TO_DATE if new_text == text else Action.SWITCH_DEFAULT
        return action, new_text, recognition
    return Action.REFUSE, text, recognition


def plan_rewrite(target: Path, options: RewriteOptions) -> RewritePlan:
    source = read_source_or_absent(target)
    plan = RewritePlan(source)
    if source.absent:  # nothing to keep: add dsprep's template, tools on unless --no-tools
        new_text = build_template(thinking=options.thinking, tools=options.tools is not False)
        location = source.location(source.entries[0])
        plan.entries.append(
            EntryPlan("default", location, Recognition(ABSENT), Action.ADD, "", new_text)
        )
        return plan
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
    return C.UNKNOWN_TEMPLATE(
        entry.location,
        f"{entry.recognition.describe()}: {problem}",
        hint=f"check it with: dsprep template {folder} --check; replace it with dsprep's"
        f" template: dsprep template {folder} --thinking {on_off} --force",
    )


def rewrite(target: Path, options: RewriteOptions) -> Result[RewriteSummary]:
    """Plan, self-test and (unless dry-run) write. Never writes a refused or failing plan."""
    plan = plan_rewrite(target, options)
    source = plan.source
    findings: list[Finding] = []

    def ended(
        status: RewriteStatus,
        renders: int | None = None,
        diff: str | None = None,
        backup: str | None = None,
    ) -> Result[RewriteSummary]:
        entries = [EntrySummary(e.name, e.recognition.kind, e.action) for e in plan.entries]
        summary = RewriteSummary(
            str(source.path), source.layout, entries, options.dry_run, status, renders, diff, backup
        )
        return Result("template", summary, findings)

    findings.extend(_refusal(entry, source.folder, options.thinking) for entry in plan.refused)
    if plan.refused:
        return ended(RewriteStatus.REFUSED)
    tokenizer = load_tokenizer_files(source.folder)
    tested = 0
    for entry in plan.entries:
        report = self_test_text(entry.new_text, tokenizer, entry.location)
        tested += report.renders
        if not report.findings:
            continue
        if MARKER_RE.search(entry.new_text):
            # dsprep's own template failing is a bug: never write it.
            findings.extend(report.findings)
            return ended(RewriteStatus.NOT_WRITTEN)
        # Only the default was switched: the user's template keeps its own limits.
        findings.append(
            C.SELF_TEST_FAILED(
                entry.location,
                f"{len(report.findings)} self-test check(s) fail on this template, e.g. "
                + report.findings[0].message,
                hint=f"see them all: dsprep render {source.folder} --self-test; or use dsprep's"
                f" template: dsprep template {source.folder} --thinking"
                f" {'on' if options.thinking else 'off'} --force",
                severity=Severity.WARNING,
            )
        )
    if not plan.changed:
        return ended(RewriteStatus.UP_TO_DATE, tested)
    diff = plan.diff()
    if options.dry_run:
        return ended(RewriteStatus.WOULD_REWRITE, tested, diff)
    new_raw = with_templates(source, {e.name: e.new_text for e in plan.changed})
    made = atomic_write_text(source.path, new_raw, backup=True, force=options.force)
    for entry in plan.changed:
        findings.append(
            C.TEMPLATE_REWRITTEN(
                entry.location,
                f"{entry.recognition.describe()} -> "
                + (
                    "thinking default switched"
                    if entry.action is Action.SWITCH_DEFAULT
                    else "dsprep's template"
                )
                + (" added as chat_template" if entry.action is Action.ADD else "")
                + f" (thinking default {'on' if options.thinking else 'off'})",
            )
        )
    return ended(RewriteStatus.REWRITTEN, tested, diff, str(made or backup_path(source.path)))
