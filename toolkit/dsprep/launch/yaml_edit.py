"""Rewrite a YAML cluster file to hold a new document while keeping its comments.

The edit works on the text: the old document is composed (PyYAML nodes carry the offset of
every key and value), compared with the new one, and each difference becomes a splice —
a changed value replaces the old value's text (the comment after it stays), a removed key
takes its lines with it, a new key goes after the last key of its mapping at the same
indentation. Flow collections (``{a: 1}``, ``[8]``) are rewritten as a whole. The result is
parsed again and must equal the new document; when it does not (a layout the splices do
not cover), the file is written out afresh and every comment is reported lost.

``comments`` maps a key path to the comment a changed value should carry instead of the
old one, used where the old comment is dsprep's own (the ``--init`` example's) and would
describe the old value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

PLAIN = re.compile(r"^[A-Za-z0-9_./-][A-Za-z0-9_./:+-]*$")
COMMENT = re.compile(r"^([ \t]*)(#.*)?$")


def flow(value: Any) -> str:
    """``value`` as YAML flow text: plain scalars where YAML reads them back the same,
    JSON-quoted otherwise (JSON is YAML)."""
    import yaml

    if isinstance(value, dict):
        return "{" + ", ".join(f"{flow(k)}: {flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(flow(v) for v in value) + "]"
    if isinstance(value, str) and PLAIN.match(value):
        try:  # read back alone and inside a flow list, as plain YAML
            if yaml.safe_load(value) == value and yaml.safe_load(f"[{value}]") == [value]:
                return value
        except yaml.YAMLError:
            pass
    return json.dumps(value, ensure_ascii=False)


@dataclass
class Edited:
    text: str
    lost: list[str] = field(default_factory=list)  # comments that could not be kept
    rewritten: bool = False  # written out afresh (every comment lost)


@dataclass
class _Splice:
    start: int
    end: int
    text: str


class _Editor:
    def __init__(self, text: str, comments: dict[str, str]) -> None:
        self.text = text
        self.comments = comments
        self.splices: list[_Splice] = []
        self.lost: list[str] = []

    # --- text helpers -----------------------------------------------------------------------
    def line_start(self, index: int) -> int:
        return self.text.rfind("\n", 0, index) + 1

    def line_end(self, index: int) -> int:
        end = self.text.find("\n", index)
        return len(self.text) if end < 0 else end

    def comments_in(self, start: int, end: int) -> list[str]:
        return [m.group(0).strip() for m in re.finditer(r"#[^\n]*", self.text[start:end])]

    def trailing_comment(self, end: int) -> tuple[int, int] | None:
        """The span of the ``# …`` after a value ending at ``end``, on its line."""
        rest = self.text[end : self.line_end(end)]
        match = re.match(r"^([ \t]+)(#.*)$", rest)
        if not match:
            return None
        begin = end + len(match.group(1))
        return begin, end + len(rest)

    # --- splices ----------------------------------------------------------------------------
    def content_end(self, node: Any) -> int:
        """Where a node's own text ends (a block collection's end mark is the next token)."""
        import yaml

        if isinstance(node, yaml.MappingNode) and not node.flow_style and node.value:
            return self.content_end(node.value[-1][1])
        if isinstance(node, yaml.SequenceNode) and not node.flow_style and node.value:
            return self.content_end(node.value[-1])
        return int(node.end_mark.index)

    def replace_value(self, path: str, node: Any, value: Any) -> None:
        import yaml

        start, end = node.start_mark.index, self.content_end(node)
        block = isinstance(node, yaml.CollectionNode) and not node.flow_style and node.value
        if block and isinstance(node, yaml.SequenceNode) and isinstance(value, list) and value:
            indent = " " * node.start_mark.column
            old = [item.value if isinstance(item, yaml.ScalarNode) else None for item in node.value]
            if len(value) > len(old) and value[: len(old)] == old:  # items appended: keep the rest
                at = self.line_end(end)
                added = "".join(f"\n{indent}- {flow(v)}" for v in value[len(old) :])
                self.splices.append(_Splice(at, at, added))
                return
            items = ("\n" + indent).join(f"- {flow(v)}" for v in value)
            self.lost += self.comments_in(start, end)
            self.splices.append(_Splice(start, end, items))
            return
        if block:  # a block collection becomes one flow value after its key's colon
            start = self.text.rfind(":", 0, start) + 1
            self.lost += self.comments_in(start, end)
            self.splices.append(_Splice(start, end, " " + flow(value)))
            return
        if isinstance(node, yaml.CollectionNode):
            self.lost += self.comments_in(start, end)
        new = flow(value)
        comment = self.trailing_comment(end)
        if comment is None:
            self.splices.append(_Splice(start, end, new))
            return
        # the comment keeps its column where the new value leaves room
        gap = " " * max(2 if path in self.comments else 1, comment[0] - start - len(new))
        text = self.comments.get(path)
        tail = f"# {text}" if text is not None else self.text[comment[0] : comment[1]]
        self.splices.append(_Splice(start, comment[1], new + gap + tail))

    def delete_key(self, key: Any, value: Any) -> None:
        start = self.line_start(key.start_mark.index)
        end = self.line_end(self.content_end(value))
        if self.text[start : key.start_mark.index].strip():  # not alone on its line
            raise _Fallback
        indent = self.text[start : key.start_mark.index]
        while start > 0:  # the comment lines right above the key describe it: they go too
            above = self.line_start(start - 1)
            line = self.text[above : start - 1]
            if not (line.startswith(indent + "#") and line[len(indent) :].startswith("#")):
                break
            start = above
        self.lost += self.comments_in(start, end)
        self.splices.append(_Splice(start, min(end + 1, len(self.text)), ""))

    # --- the walk ---------------------------------------------------------------------------
    def walk(self, node: Any, old: Any, new: Any, path: str) -> None:
        import yaml

        if old == new:
            if path in self.comments and not isinstance(node, yaml.CollectionNode):
                self.replace_value(path, node, new)  # same value, the comment describes it anew
            elif path in self.comments and getattr(node, "flow_style", False):
                self.replace_value(path, node, new)
            return
        block = not getattr(node, "flow_style", True)
        if not (isinstance(node, yaml.MappingNode) and block and node.value):
            self.replace_value(path, node, new)
            return
        if not isinstance(new, dict) or not isinstance(old, dict):
            self.replace_value(path, node, new)
            return
        kept = []
        for key_node, value_node in node.value:
            key = key_node.value
            if key not in new:
                self.delete_key(key_node, value_node)
                continue
            kept.append((key_node, value_node))
            self.walk(value_node, old.get(key), new[key], f"{path}.{key}" if path else key)
        added = [key for key in new if key not in old]
        if added:
            if not kept:
                raise _Fallback
            last_key, last_value = kept[-1]
            indent = " " * last_key.start_mark.column
            at = self.line_end(self.content_end(last_value))
            lines = "".join(f"\n{indent}{flow(k)}: {flow(new[k])}" for k in added)
            self.splices.append(_Splice(at, at, lines))

    def result(self) -> str:
        text = self.text
        # last first; at one place the later splice goes first, so the earlier text leads
        order = sorted(enumerate(self.splices), key=lambda e: (e[1].start, e[1].end, e[0]))
        for _, splice in reversed(order):
            text = text[: splice.start] + splice.text + text[splice.end :]
        return text


class _Fallback(Exception):
    """A layout the splices do not cover."""


def edit_yaml(
    text: str,
    old: dict[str, Any],
    new: dict[str, Any],
    parse: Callable[[str], Any],
    comments: dict[str, str] | None = None,
    header: str = "",
) -> Edited:
    """``text`` (which holds ``old``) rewritten to hold ``new``; ``parse`` reads text the
    way the cluster file is read. Falls back to a fresh dump, which loses the comments."""
    import yaml

    editor = _Editor(text, comments or {})
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        if root is None:
            raise _Fallback
        editor.walk(root, old, new, "")
        edited = editor.result()
        if parse(edited) == new:
            return Edited(edited, editor.lost)
    except (_Fallback, yaml.YAMLError):
        pass
    fresh = header + yaml.safe_dump(new, sort_keys=False, allow_unicode=True)
    return Edited(fresh, [c for c in editor.comments_in(0, len(text))], rewritten=True)


def trailing_comments(text: str) -> dict[str, str]:
    """``{key path: comment}`` of every scalar or flow value followed by a ``# …`` on its
    line (the text after ``# ``), for telling dsprep's own example comments from a user's."""
    import yaml

    editor = _Editor(text, {})
    found: dict[str, str] = {}

    def visit(node: Any, path: str) -> None:
        if isinstance(node, yaml.MappingNode) and not node.flow_style:
            for key_node, value_node in node.value:
                visit(value_node, f"{path}.{key_node.value}" if path else str(key_node.value))
            return
        if isinstance(node, yaml.SequenceNode) and not node.flow_style:
            return
        span = editor.trailing_comment(editor.content_end(node))
        if span is not None:
            found[path] = text[span[0] : span[1]].removeprefix("#").strip()

    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return found
    if root is not None:
        visit(root, "")
    return found
