"""``dsprep template --check``: lint a chat template without writing anything.

Checks: the template compiles in the sandbox; every special-token literal it emits is a
single added token of the model's tokenizer; ASCII-bar look-alikes are reported with their
position and exact replacement; the thinking default and tool support are reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import jinja2
from jinja2 import nodes

from dsprep import catalogue as C
from dsprep.findings import Finding, JsonPayload, Result
from dsprep.profiles import newest_profile
from dsprep.template.recognize import (
    DEEPSEEK_LIKE,
    PUBLISHED,
    VLLM_EXAMPLE,
    Recognition,
    recognize,
)
from dsprep.template.sandbox import RenderLimitError, chat_template_environment, compile_bounded
from dsprep.template.source import TemplateEntry, TemplateSource, read_source
from dsprep.template.tokens import (
    PARSED_TOKENS,
    SPECIAL_LITERAL_RE,
    LookalikeScan,
    TokenizerFiles,
    load_tokenizer_files,
    scan_lookalikes,
)

FIX_REWRITE = "dsprep template {folder} --thinking off"
MAX_LISTED = 20  # findings of one kind listed per template; one more finding counts the rest


def _listed(count: int) -> int:
    """How many of ``count`` findings are listed: all when only one would be left to count."""
    return count if count <= MAX_LISTED + 1 else MAX_LISTED


KNOWN_DEFECTS = {
    PUBLISHED: "crashes on content None and on tool-call arguments given as a mapping (vLLM),"
    " drops the answer of `tool_calls: []` and has no tools section",
    VLLM_EXAMPLE: "double-encodes tool-call arguments given as a JSON string, crashes on a tool"
    " without description and emits stray newlines and spaces",
    DEEPSEEK_LIKE: "is a modified copy of the published template and may share its defects",
}


@dataclass(frozen=True)
class TemplateSummary:
    """One template of the file as ``--check`` sees it."""

    name: str
    kind: str  # a recognize kind: published, vllm-example, dsprep, deepseek-like, unknown
    thinking_default: bool | None  # None: the template sets none (treated as off)
    tools: bool  # it adds a tools section when tools are passed
    lookalikes: int  # ASCII-bar (or other) look-alikes of special tokens it holds


@dataclass(frozen=True)
class TemplateCheckSummary(JsonPayload):
    """What ``dsprep template --check`` looked at (the JSON ``data``)."""

    path: str
    layout: str  # jinja-file, config-string, config-list
    templates: list[TemplateSummary]


def emitted_literals(template: str) -> list[tuple[str, int]]:
    """Special-token literals in the template's string constants and raw text, with line."""
    tree = chat_template_environment().parse(template)
    found: list[tuple[str, int]] = []
    for node in tree.find_all((nodes.Const, nodes.TemplateData)):
        value = node.data if isinstance(node, nodes.TemplateData) else getattr(node, "value", None)
        if isinstance(value, str):
            found.extend((m.group(0), node.lineno) for m in SPECIAL_LITERAL_RE.finditer(value))
    return found


def _column_of(lines: list[str], literal: str, lineno: int) -> str:
    """``, column N`` of ``literal`` on template line ``lineno`` (empty when not found there)."""
    if 0 < lineno <= len(lines) and literal in lines[lineno - 1]:
        return f", column {lines[lineno - 1].index(literal) + 1}"
    return ""


def _more(count: int, noun: str) -> str:
    return f"{count:,} more {noun}{'' if count == 1 else 's'}"


def _unknown_tokens(
    where: str, text: str, tokenizer: TokenizerFiles, fix_rewrite: str
) -> list[Finding]:
    """The emitted literals that are not added tokens: the first :data:`MAX_LISTED` with
    their position, then one finding that counts the rest."""
    unknown: dict[str, int] = {}  # literal -> the line it is first emitted on
    for literal, lineno in emitted_literals(text):
        if literal not in tokenizer.added_tokens:
            unknown.setdefault(literal, lineno)
    listed = _listed(len(unknown))
    lines = text.split("\n") if unknown else []
    names = ", ".join(p.name for p in tokenizer.sources)
    hint = (
        "use the tokenizer's own token text (check added_tokens in tokenizer.json), or fix the"
        " tokenizer files"
    )
    findings = [
        C.UNKNOWN_SPECIAL_TOKEN(
            where,
            f"template line {lineno}{_column_of(lines, literal, lineno)}: the template"
            f" emits {literal!r}, which is not a single added token in {names}",
            hint=hint,
        )
        for literal, lineno in list(unknown.items())[:listed]
    ]
    if len(unknown) > listed:
        findings.append(
            C.UNKNOWN_SPECIAL_TOKEN(
                where,
                f"… and {_more(len(unknown) - listed, 'special-token literal')} that are"
                f" not added tokens in {names}",
                hint=f"{hint}; or replace the template with dsprep's: {fix_rewrite}",
            )
        )
    return findings


def stripped_format_tokens(template: str, tokenizer: TokenizerFiles) -> list[Finding]:
    """The tokens the template's tool-call and thinking format emits, that vLLM's parsers
    must see, and that the tokenizer marks special (decoding drops them): one error."""
    emitted = {literal for literal, _ in emitted_literals(template)}
    stripped = [t for t in PARSED_TOKENS if t in emitted and t in tokenizer.special_marks]
    if not stripped:
        return []
    chat = newest_profile().chat
    if not chat.skip_special_tokens_default:
        return []
    places = sorted({place for t in stripped for place in tokenizer.special_marks[t]})
    parsers = sorted({PARSED_TOKENS[t] for t in stripped})
    tokens = ", ".join(stripped)
    return [
        C.STRIPPED_FORMAT_TOKEN(
            str(tokenizer.folder / places[0].split(" ")[0]),
            f"{tokens} marked special ({'; '.join(places)}): vLLM decodes with"
            f" skip_special_tokens=true unless a request says otherwise"
            f" ({chat.sources['skip_special_tokens_default']}) and drops them, so"
            f" {' and '.join(parsers)} never see{'s' if len(parsers) == 1 else ''} them:"
            " tool calls come back as plain content, or reasoning is not separated",
            hint=f"clear their special flag (the published DeepSeek-V3.1 tokenizer marks them"
            f" not special): dsprep template {tokenizer.folder} --fix-tokenizer",
        )
    ]


def lint_entry(
    source: TemplateSource,
    entry: TemplateEntry,
    tokenizer: TokenizerFiles,
    recognition: Recognition,
    lookalikes: LookalikeScan,
) -> list[Finding]:
    where = source.location(entry)
    fix_rewrite = FIX_REWRITE.format(folder=source.folder)
    if not recognition.known:
        fix_rewrite += " --force"  # without it an unknown template is refused
    findings: list[Finding] = []
    text = entry.text
    listed = _listed(lookalikes.count)
    for lookalike in lookalikes.first[:listed]:
        findings.append(
            C.ASCII_BAR_TOKEN(
                where,
                f"template line {lookalike.line}, column {lookalike.column}: {lookalike.found!r}"
                f" is a look-alike of the special token {lookalike.replacement!r}; the tokenizer"
                " splits it into many plain tokens and tool calls silently break",
                hint=f"replace {lookalike.found!r} with {lookalike.replacement!r}"
                f" (U+FF5C bars), or run: {fix_rewrite}",
            )
        )
    if lookalikes.count > listed:
        findings.append(
            C.ASCII_BAR_TOKEN(
                where,
                f"… and {_more(lookalikes.count - listed, 'look-alike')} of special tokens"
                f" like the ones above ({lookalikes.count:,} in all)",
                hint=f"replace every one with the real token (U+FF5C bars, U+2581 for spaces),"
                f" or run: {fix_rewrite}",
            )
        )
    try:
        compile_bounded(text)
    except jinja2.TemplateSyntaxError as exc:
        findings.append(
            C.TEMPLATE_SYNTAX(
                where,
                f"template line {exc.lineno}: Jinja syntax error: {exc.message}",
                hint=f"fix the template, or replace it with dsprep's: {fix_rewrite}",
            )
        )
        return findings
    except RenderLimitError as exc:
        findings.append(
            C.SANDBOX_VIOLATION(
                where,
                f"the template is not compiled: {exc.message}",
                hint=f"do not use it; replace it with dsprep's: {fix_rewrite}",
            )
        )
        return findings
    if tokenizer.found:
        findings.extend(_unknown_tokens(where, text, tokenizer, fix_rewrite))
        findings.extend(stripped_format_tokens(text, tokenizer))
    else:
        findings.append(
            C.NO_TOKENIZER(
                str(source.folder),
                "no tokenizer.json or tokenizer_config.json beside the template: special tokens"
                " were not checked against the tokenizer",
            )
        )
    default = recognition.thinking_default
    findings.append(C.TEMPLATE_KIND(where, f"recognised as {recognition.describe()}"))
    findings.append(
        C.THINKING_DEFAULT(
            where,
            "thinking default: "
            + (
                "not set (templates treat it as off)"
                if default is None
                else ("on" if default else "off")
            ),
            hint=f"switch it with: dsprep template {source.folder} --thinking on|off",
        )
    )
    defects = KNOWN_DEFECTS.get(recognition.kind)
    if defects:
        findings.append(
            C.REPLACEABLE_TEMPLATE(
                where,
                f"{recognition.describe()} {defects}",
                hint=f"replace it with dsprep's template: dsprep template {source.folder}"
                f" --thinking {'on' if default else 'off'}",
            )
        )
    tools = recognition.tools
    findings.append(
        C.TOOL_SUPPORT(
            where,
            "tools: "
            + (
                "the template adds the tool description when tools are passed"
                if tools
                else "no tools section; tools passed by a request are ignored"
            ),
            hint=""
            if tools
            else f"add it with: dsprep template {source.folder} --thinking off --tools",
        )
    )
    return findings


def check_template(target: Path) -> Result[TemplateCheckSummary]:
    """Lint the chat template transformers would use for ``target``; nothing is written."""
    source = read_source(target)
    return check_source(source, load_tokenizer_files(source.folder))


def check_source(source: TemplateSource, tokenizer: TokenizerFiles) -> Result[TemplateCheckSummary]:
    """:func:`check_template` for a template source and tokenizer files already read."""
    findings: list[Finding] = []
    templates: list[TemplateSummary] = []
    for entry in source.entries:
        recognition = recognize(entry.text)
        lookalikes = scan_lookalikes(entry.text, keep=MAX_LISTED + 1)
        findings.extend(lint_entry(source, entry, tokenizer, recognition, lookalikes))
        templates.append(
            TemplateSummary(
                entry.name,
                recognition.kind,
                recognition.thinking_default,
                recognition.tools,
                lookalikes.count,
            )
        )
    summary = TemplateCheckSummary(str(source.path), source.layout, templates)
    return Result("template --check", summary, findings)
