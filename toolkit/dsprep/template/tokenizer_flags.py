"""``dsprep template MODEL_DIR --fix-tokenizer``: clear the special flag of the tokens vLLM's
DeepSeek parsers must see in the decoded text (:data:`~dsprep.template.tokens.PARSED_TOKENS`).

Only that flag changes: ``"special": true`` → ``false`` on those tokens in tokenizer.json's
``added_tokens`` and tokenizer_config.json's ``added_tokens_decoder``, and the tokens are
taken out of ``additional_special_tokens`` (tokenizer_config.json, special_tokens_map.json).
Token ids, contents and every other key stay. Each file is rewritten atomically with its
original kept once as ``<file>.dsprep-orig``; a second run finds nothing to change. The fix
is refused (nothing written) when it is not safe: a file that is not JSON, or a parsed token
that is also the tokenizer's bos/eos/pad/unk token.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dsprep import catalogue as C
from dsprep.atomic import atomic_write_text, backup_path
from dsprep.errors import InputError
from dsprep.findings import Finding, JsonPayload, Result
from dsprep.template.source import parse_json, read_text
from dsprep.template.tokens import PARSED_TOKENS, load_tokenizer_files

FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")


@dataclass(frozen=True)
class FlagEdit:
    """One file's change: the tokens un-flagged there and where it was kept."""

    path: str
    tokens: list[str]
    backup: str | None = None


@dataclass(frozen=True)
class FlagFixSummary(JsonPayload):
    """What ``--fix-tokenizer`` did (the JSON ``data``)."""

    folder: str
    status: str  # fixed, would-fix, up-to-date
    edits: list[FlagEdit]


def _indent(raw: str) -> int | None:
    """The indentation the file uses (None: one line), so the rewrite keeps its layout."""
    lines = raw.split("\n", 2)
    if len(lines) < 2:
        return None
    second = lines[1]
    return len(second) - len(second.lstrip(" ")) or None


def _unflag(name: str, document: Any) -> list[str]:
    """Clear the flags in ``document`` (in place); the tokens changed."""
    changed: list[str] = []
    if not isinstance(document, dict):
        return changed
    entries: list[Any] = []
    if name == "tokenizer.json" and isinstance(document.get("added_tokens"), list):
        entries = document["added_tokens"]
    decoder = document.get("added_tokens_decoder")
    if name == "tokenizer_config.json" and isinstance(decoder, dict):
        entries = list(decoder.values())
    for entry in entries:
        flagged = isinstance(entry, dict) and entry.get("special") is True
        if flagged and entry.get("content") in PARSED_TOKENS:
            entry["special"] = False
            changed.append(entry["content"])
    listed = document.get("additional_special_tokens")
    if isinstance(listed, list):
        kept = [e for e in listed if _content(e) not in PARSED_TOKENS]
        changed.extend(str(_content(e)) for e in listed if _content(e) in PARSED_TOKENS)
        if len(kept) != len(listed):
            document["additional_special_tokens"] = kept
    return list(dict.fromkeys(changed))


def _content(entry: Any) -> Any:
    return entry.get("content") if isinstance(entry, dict) else entry


def fix_tokenizer_flags(folder: Path, *, dry_run: bool = False) -> Result[FlagFixSummary]:
    """Plan every file's change first; write only when all of them are safe."""
    tokenizer = load_tokenizer_files(folder)  # InputError on a file that is not JSON
    if not tokenizer.found:
        raise InputError(
            f"{folder}: no tokenizer.json or tokenizer_config.json to fix",
            hint="pass the model folder that holds the tokenizer files",
            path=folder,
        )
    named = {v: k for k, v in tokenizer.special_tokens.items()}
    clash = [t for t in PARSED_TOKENS if t in named]
    if clash:
        raise InputError(
            f"{folder}: {', '.join(clash)} is also the tokenizer's"
            f" {', '.join(named[t] for t in clash)}: clearing its special flag is not safe",
            hint="this is not a DeepSeek-V3.1 tokenizer; fix its files by hand",
            path=folder,
        )
    planned: list[tuple[Path, str, list[str]]] = []
    for name in FILES:
        path = folder / name
        if not path.is_file():
            continue
        raw = read_text(path)
        document = parse_json(raw, path)
        changed = _unflag(name, document)
        if changed:
            text = json.dumps(document, ensure_ascii=False, indent=_indent(raw))
            planned.append((path, text + ("\n" if raw.endswith("\n") else ""), changed))
    findings: list[Finding] = []
    edits: list[FlagEdit] = []
    for path, text, changed in planned:
        backup = None
        if not dry_run:
            made = atomic_write_text(path, text, backup=True)
            backup = str(made or backup_path(path))
        edits.append(FlagEdit(str(path), changed, backup))
        findings.append(
            C.TOKENIZER_FLAGS_FIXED(
                str(path),
                f"{'would clear' if dry_run else 'cleared'} the special flag of"
                f" {', '.join(changed)}" + ("" if dry_run else f" (original kept as {backup})"),
            )
        )
    status = "up-to-date" if not planned else ("would-fix" if dry_run else "fixed")
    return Result("template --fix-tokenizer", FlagFixSummary(str(folder), status, edits), findings)
