"""Find, read and write the chat template of a model folder without disturbing anything else.

A template lives in ``chat_template.jinja`` (newer transformers; it wins when present) or in
``tokenizer_config.json`` as the ``chat_template`` string or as a list of ``{"name",
"template"}`` entries. A rewrite replaces only the bytes of the string literals it changes, so
every other key, the key order, the indentation, non-ASCII text and the trailing newline stay.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dsprep.errors import InputError

CONFIG_NAME = "tokenizer_config.json"
JINJA_NAME = "chat_template.jinja"
# In the list form transformers picks "tool_use" when tools are passed, else "default".
REWRITTEN_NAMES = ("default", "tool_use")


class NoChatTemplateError(InputError):
    """A tokenizer_config.json without a ``chat_template`` key (and no .jinja beside it)."""


def read_text(path: Path, *, hint: str = "") -> str:
    """A UTF-8 regular file's text; an :class:`InputError` naming the file when it cannot be
    read. A FIFO or a device is refused, never read (it would block for ever)."""
    from dsprep.weights.folder import open_regular

    try:
        with open_regular(path) as handle:
            return handle.read().decode("utf-8")
    except OSError as exc:
        raise InputError(
            f"cannot read {path}: {exc.strerror or exc}", hint=hint, path=path
        ) from exc
    except UnicodeDecodeError as exc:
        raise InputError(
            f"cannot read {path}: {exc}", hint="save the file as UTF-8", path=path
        ) from exc


def parse_json(text: str, path: Path) -> Any:
    """``text`` (the content of ``path``) parsed as JSON."""
    try:
        return json.loads(text)
    except ValueError as exc:
        raise InputError(
            f"{path} is not valid JSON: {exc}", hint="fix the JSON syntax", path=path
        ) from exc
    except RecursionError as exc:
        raise InputError(
            f"{path} nests its JSON too deeply to be a tokenizer or conversation file",
            hint="check that this is the right file; a real one nests a few levels only",
            path=path,
        ) from exc


def read_json(path: Path) -> Any:
    """A JSON file's document; an :class:`InputError` naming the file and the fix."""
    return parse_json(read_text(path), path)


@dataclass
class TemplateEntry:
    """One template text and where its JSON string literal sits (None for a .jinja file)."""

    name: str
    text: str
    span: tuple[int, int] | None = None
    ascii_escaped: bool = False


@dataclass
class TemplateSource:
    """The file holding the chat template and the templates in it."""

    path: Path
    folder: Path
    layout: str  # "jinja-file" | "config-string" | "config-list"
    raw: str
    entries: list[TemplateEntry] = field(default_factory=list)

    @property
    def absent(self) -> bool:
        """A tokenizer_config.json without ``chat_template``: the entry is added on rewrite."""
        return self.layout == "config-string" and self.entries[0].span is None

    def location(self, entry: TemplateEntry) -> str:
        if self.layout == "jinja-file":
            return str(self.path)
        if self.layout == "config-string":
            return f"{self.path}:chat_template"
        return f"{self.path}:chat_template[name={entry.name}]"


def _skip_ws(text: str, index: int) -> int:
    while index < len(text) and text[index] in " \t\r\n":
        index += 1
    return index


def _string_spans(text: str, index: int, path: tuple[Any, ...], out: dict[Any, Any]) -> int:
    """Walk the JSON value at ``index``; record (start, end) of every string value by path."""
    decoder = json.JSONDecoder()
    index = _skip_ws(text, index)
    char = text[index : index + 1]
    if char == "{":
        index = _skip_ws(text, index + 1)
        if text[index : index + 1] == "}":
            return index + 1
        while True:
            index = _skip_ws(text, index)
            key, index = json.decoder.scanstring(text, index + 1)  # type: ignore[attr-defined]
            index = _skip_ws(text, index)
            index = _string_spans(text, _skip_ws(text, index + 1), (*path, key), out)
            index = _skip_ws(text, index)
            if text[index] == "}":
                return index + 1
            index += 1  # the comma
    if char == "[":
        index = _skip_ws(text, index + 1)
        if text[index : index + 1] == "]":
            return index + 1
        position = 0
        while True:
            index = _string_spans(text, index, (*path, position), out)
            index = _skip_ws(text, index)
            position += 1
            if text[index] == "]":
                return index + 1
            index += 1
    if char == '"':
        _, end = json.decoder.scanstring(text, index + 1)  # type: ignore[attr-defined]
        out[path] = (index, end)
        return int(end)
    _, end = decoder.raw_decode(text, index)
    return int(end)


def locate(target: Path) -> Path:
    """The file to read: a .jinja file, a tokenizer_config.json, or one of them in a folder.
    Whatever stands under those names is the one (transformers would open it); a FIFO or a
    device there is then refused by :func:`read_text`, not passed over."""
    if target.is_dir():
        if (target / JINJA_NAME).exists():
            return target / JINJA_NAME
        if (target / CONFIG_NAME).exists():
            return target / CONFIG_NAME
        raise InputError(
            f"{target}: neither {CONFIG_NAME} nor {JINJA_NAME} is in this folder",
            hint="pass the model folder that holds the tokenizer files",
            path=target,
        )
    if target.exists():
        if target.suffix != ".jinja" and (target.parent / JINJA_NAME).exists():
            return target.parent / JINJA_NAME  # transformers prefers the .jinja file
        return target
    raise InputError(f"{target}: no such file or folder", hint="check the path", path=target)


def read_source(target: Path) -> TemplateSource:
    """Read the chat template that transformers would use for ``target``."""
    path = locate(target)
    raw = read_text(path)
    if path.suffix == ".jinja":
        return TemplateSource(path, path.parent, "jinja-file", raw, [TemplateEntry("default", raw)])
    document = parse_json(raw, path)
    if not isinstance(document, dict):
        raise InputError(f"{path}: expected a JSON object", path=path)
    value = document.get("chat_template")
    spans: dict[Any, Any] = {}
    _string_spans(raw, 0, (), spans)
    if isinstance(value, str):
        entry = TemplateEntry("default", value, spans[("chat_template",)])
        entry.ascii_escaped = _is_ascii_escaped(raw, entry)
        return TemplateSource(path, path.parent, "config-string", raw, [entry])
    if isinstance(value, list):
        source = TemplateSource(path, path.parent, "config-list", raw)
        for position, item in enumerate(value):
            if isinstance(item, dict) and isinstance(item.get("template"), str):
                name = str(item.get("name", position))
                entry = TemplateEntry(
                    name, item["template"], spans[("chat_template", position, "template")]
                )
                entry.ascii_escaped = _is_ascii_escaped(raw, entry)
                source.entries.append(entry)
        if source.entries:
            return source
    if "chat_template" not in document:
        raise NoChatTemplateError(
            f"{path}: no chat_template in this file",
            hint=f"add dsprep's template: dsprep template {path.parent} --thinking off",
            path=path,
        )
    raise InputError(
        f"{path}: key 'chat_template' in {path.name} is {_what(value)}, not a template string"
        " (or a list of {name, template})",
        hint=f"set it to the template's text, or delete the key and add dsprep's template:"
        f" dsprep template {path.parent} --thinking off",
        path=path,
    )


def _what(value: Any) -> str:
    """How a JSON value that is not a chat template reads in an error message."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list with no {name, template} entry" if value else "an empty list"
    return "a string"  # pragma: no cover - strings are templates


def read_source_or_absent(target: Path) -> TemplateSource:
    """:func:`read_source`; for a tokenizer_config.json without ``chat_template``, a source
    whose one ``default`` entry is empty and that :func:`with_templates` adds as a new key."""
    try:
        return read_source(target)
    except NoChatTemplateError as missing:
        path = Path(missing.path)
        raw = read_text(path)
        entry = TemplateEntry("default", "", None, ascii_escaped=raw.isascii())
        return TemplateSource(path, path.parent, "config-string", raw, [entry])


def _with_new_key(raw: str, key: str, literal: str) -> str:
    """``raw`` (a JSON object) with ``"key": literal`` appended, in the file's own layout."""
    start = _skip_ws(raw, 0)
    end = _string_spans(raw, start, (), {})  # just past the object's closing brace
    close = end - 1
    last = close
    while last > start + 1 and raw[last - 1] in " \t\r\n":
        last -= 1
    first = _skip_ws(raw, start + 1)
    if raw[first] != '"':  # an empty object
        return raw[:last] + f"\n  {json.dumps(key)}: {literal}\n" + raw[close:]
    # The first key shows the file's indent and whether it writes ": " or ":".
    _, key_end = json.decoder.scanstring(raw, first + 1)  # type: ignore[attr-defined]
    colon = raw[key_end : _skip_ws(raw, _skip_ws(raw, key_end) + 1)]
    indent = raw[start + 1 : first] or (" " if colon.endswith(" ") else "")
    return raw[:last] + "," + indent + json.dumps(key) + colon + literal + raw[last:]


def _is_ascii_escaped(raw: str, entry: TemplateEntry) -> bool:
    """True when the file wrote the template's non-ASCII characters as \\uXXXX escapes."""
    assert entry.span is not None
    literal = raw[entry.span[0] : entry.span[1]]
    return literal.isascii() and not entry.text.isascii()


def with_templates(source: TemplateSource, replacements: dict[str, str]) -> str:
    """The file's new text with the named entries replaced, everything else byte-identical."""
    if source.layout == "jinja-file":
        return replacements.get("default", source.raw)
    text = source.raw
    if source.absent:
        literal = json.dumps(replacements["default"], ensure_ascii=source.entries[0].ascii_escaped)
        text = _with_new_key(text, "chat_template", literal)
    # Replace from the end so earlier spans stay valid.
    for entry in sorted(source.entries, key=lambda e: e.span or (0, 0), reverse=True):
        if entry.name not in replacements or entry.span is None:
            continue
        literal = json.dumps(replacements[entry.name], ensure_ascii=entry.ascii_escaped)
        text = text[: entry.span[0]] + literal + text[entry.span[1] :]
    _verify_round_trip(source, text, replacements)
    return text


def _verify_round_trip(source: TemplateSource, text: str, replacements: dict[str, str]) -> None:
    before = json.loads(source.raw)
    after = json.loads(text)
    if source.layout == "config-string":
        before["chat_template"] = replacements.get("default", before.get("chat_template"))
    else:
        for item in before["chat_template"]:
            if isinstance(item, dict) and str(item.get("name")) in replacements:
                item["template"] = replacements[str(item.get("name"))]
    if before != after:  # pragma: no cover - a bug in the span walker
        raise InputError(f"{source.path}: internal error, the rewrite would change other keys")
