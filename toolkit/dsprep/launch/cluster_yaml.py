"""Read a cluster file into plain JSON types, refusing what YAML adds on top of them.

A cluster file is a few dozen hand-written lines, so the YAML loader accepts exactly the
JSON data model (strings, decimal integers, finite floats, true/false, null, lists and
mappings with string keys) and refuses the rest:

- **aliases** (``*name``) stop the read with an error: a cluster file needs none, and
  any bound on them still lets a few lines expand into gigabytes ("billion laughs");
  refusing them outright costs nothing and leaves nothing to tune;
- a value JSON cannot hold becomes a :class:`Rejected` marker that
  :func:`rejected_values` turns into a ``cluster-schema`` finding with its key path and
  line: ``!!binary``/``!!python``/``!!set``/custom tags, ``.nan``/``.inf``, YAML 1.1
  integers that read differently than they look (``017777`` is 8191, ``0x1F40``,
  ``1_000``, ``1:30`` is 90), a key given twice (YAML keeps the last one silently), a key
  that is not a string;
- dates stay strings (``tag: 2025-10-01`` is the text, not a date object), and ``<<``
  is an ordinary key (no merges without aliases anyway).

JSON cluster files get the same treatment: NaN/Infinity and duplicate keys are findings.
The file must be a regular file (a FIFO would block the read) of at most
:data:`MAX_CLUSTER_BYTES`.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from dsprep.errors import InputError

MAX_CLUSTER_BYTES = 1024 * 1024  # the example is 4 KB
READ_HINT = "pass an existing YAML or JSON cluster file; `dsprep emit-launch --init` writes one"

_DECIMAL = re.compile(r"^[-+]?(?:0|[1-9][0-9]*)$")
# what YAML 1.1 reads as an integer, plus leading-zero decimals such as 08 (octal-looking)
_YAML11_INT = re.compile(
    r"""^(?:[-+]?0b[0-1_]+
    |[-+]?0o?[0-9_]+
    |[-+]?(?:0|[1-9][0-9_]*)
    |[-+]?0x[0-9a-fA-F_]+
    |[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$""",
    re.X,
)
_INT_TAG = "tag:yaml.org,2002:int"
_DROPPED_RESOLVERS = {
    _INT_TAG,  # replaced by _YAML11_INT, whose non-decimal forms are refused
    "tag:yaml.org,2002:timestamp",  # dates stay strings
    "tag:yaml.org,2002:merge",  # `<<` is a plain key
    "tag:yaml.org,2002:value",  # `=` is a plain string
    "tag:yaml.org,2002:yaml",
}
JSON_TYPES = "strings, decimal numbers, true/false, null, lists and mappings"


@dataclass(frozen=True)
class Rejected:
    """A value the cluster file may not hold: why, and its line (0: unknown)."""

    problem: str
    line: int = 0


def rejected_values(
    document: Any, path: tuple[Any, ...] = ()
) -> Iterator[tuple[tuple[Any, ...], Rejected]]:
    """Every :class:`Rejected` marker in ``document`` with its key path, in file order."""
    if isinstance(document, Rejected):
        yield path, document
    elif isinstance(document, dict):
        for key, value in document.items():
            yield from rejected_values(value, (*path, key))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            yield from rejected_values(value, (*path, index))


def _integer_problem(text: str) -> str:
    lowered = text.lower().lstrip("+-")
    if "_" in lowered:
        form = "numbers with _ separators are not accepted"
    elif ":" in lowered:
        form = "base-60 numbers are not accepted (YAML 1.1 reads 1:30 as 90)"
    elif lowered.startswith("0x"):
        form = "hexadecimal numbers are not accepted"
    elif lowered.startswith("0b"):
        form = "binary numbers are not accepted"
    else:
        form = "octal and leading-zero numbers are not accepted (YAML 1.1 reads 017777 as 8191)"
    return f"{text}: {form}; write a plain decimal number, or quote it for a string"


@cache
def _yaml_classes() -> tuple[type, type]:
    """The PyYAML SafeLoader subclass (pure Python: its composer refuses aliases) and the
    error it raises for an alias."""
    import yaml
    from yaml.constructor import ConstructorError
    from yaml.nodes import MappingNode, Node, ScalarNode

    class RefusedError(yaml.MarkedYAMLError):
        """A YAML feature dsprep refuses (an alias), at a mark."""

    class ClusterLoader(yaml.SafeLoader):
        def compose_node(self, parent: Node | None, index: Any) -> Node | None:
            if self.check_event(yaml.AliasEvent):
                event = self.get_event()
                raise RefusedError(
                    problem=f"YAML aliases (*{event.anchor}) are not accepted in a cluster"
                    " file: write the value out in full",
                    problem_mark=event.start_mark,
                )
            node: Node | None = super().compose_node(parent, index)
            return node

        def construct_mapping(self, node: Node, deep: bool = False) -> dict[Any, Any]:
            if not isinstance(node, MappingNode):
                raise ConstructorError(None, None, "expected a mapping", node.start_mark)
            mapping: dict[Any, Any] = {}
            lines: dict[str, int] = {}
            for key_node, value_node in node.value:
                line = key_node.start_mark.line + 1
                key = self.construct_object(key_node, deep=deep)
                if not isinstance(key, str):
                    scalar = isinstance(key_node, ScalarNode)
                    shown = key_node.value if scalar else getattr(key_node, "id", "node")
                    mapping[str(shown)] = Rejected(
                        f"the key {shown!r} is not a string; quote it", line
                    )
                    continue
                if key in lines:
                    mapping[key] = Rejected(
                        f"the key {key!r} is given twice, at lines {lines[key]} and {line};"
                        " keep one (YAML would silently take the last)",
                        line,
                    )
                    continue
                lines[key] = line
                mapping[key] = self.construct_object(value_node, deep=deep)
            return mapping

    def integer(loader: Any, node: Node) -> Any:
        text = str(node.value)
        if _DECIMAL.match(text):
            return int(text)
        return Rejected(_integer_problem(text), node.start_mark.line + 1)

    def number(loader: Any, node: Node) -> Any:
        text = str(node.value)
        line = node.start_mark.line + 1
        if "_" in text or ":" in text:
            return Rejected(_integer_problem(text), line)
        if text.lower().lstrip("+-") in (".nan", ".inf"):
            return Rejected(
                f"{text}: NaN and infinity are not accepted; write a finite number", line
            )
        value = float(text)
        if not math.isfinite(value):
            return Rejected(f"{text} is too large a number", line)
        return value

    def refused_tag(loader: Any, node: Node) -> Any:
        return Rejected(
            f"the tag {node.tag.replace('tag:yaml.org,2002:', '!!')} is not accepted: a cluster"
            f" file holds only {JSON_TYPES}",
            node.start_mark.line + 1,
        )

    ClusterLoader.yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag not in _DROPPED_RESOLVERS]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    ClusterLoader.add_implicit_resolver(_INT_TAG, _YAML11_INT, list("-+0123456789"))
    ClusterLoader.add_constructor(_INT_TAG, integer)
    ClusterLoader.add_constructor("tag:yaml.org,2002:float", number)
    for tag in ("binary", "timestamp", "set", "omap", "pairs", "merge", "value", "yaml"):
        ClusterLoader.add_constructor(f"tag:yaml.org,2002:{tag}", refused_tag)
    ClusterLoader.add_constructor(None, refused_tag)  # !!python/…, !custom, anything else
    return ClusterLoader, RefusedError


def read_text(path: Path) -> str:
    """The file's text: a regular file, at most :data:`MAX_CLUSTER_BYTES`, UTF-8."""
    from dsprep.weights.folder import open_regular

    try:
        with open_regular(path) as handle:
            size = os.fstat(handle.fileno()).st_size
            if size > MAX_CLUSTER_BYTES:
                raise InputError(
                    f"cluster file {path} is {size} bytes; a cluster file is a few KB"
                    f" (at most {MAX_CLUSTER_BYTES})",
                    hint="check that this is the cluster file",
                    path=path,
                )
            raw = handle.read(MAX_CLUSTER_BYTES + 1)
        return raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise InputError(
            f"cannot read cluster file {path}: {reason}", hint=READ_HINT, path=path
        ) from exc


def _json_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    mapping: dict[str, Any] = {}
    for key, value in pairs:
        if key in mapping:
            mapping[key] = Rejected(f"the key {key!r} is given twice; keep one")
        else:
            mapping[key] = value
    return mapping


def _json_float(text: str) -> Any:
    value = float(text)
    return value if math.isfinite(value) else Rejected(f"{text} is too large a number")


def _json_constant(name: str) -> Rejected:
    return Rejected(f"{name}: NaN and infinity are not accepted; write a finite number")


def parse_json(text: str, path: Path) -> Any:
    try:
        return json.loads(
            text,
            object_pairs_hook=_json_pairs,
            parse_float=_json_float,
            parse_constant=_json_constant,
        )
    except ValueError as exc:
        raise InputError(
            f"{path} is not valid JSON: {exc}", hint="fix the JSON syntax", path=path
        ) from exc
    except RecursionError as exc:
        raise InputError(
            f"{path} nests too deeply to be a cluster file", hint=READ_HINT, path=path
        ) from exc


def parse_yaml(text: str, path: Path) -> Any:
    import yaml

    loader_class, refused = _yaml_classes()
    loader = loader_class(text)
    try:
        return loader.get_single_data()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        if isinstance(exc, refused) and mark is not None:
            raise InputError(
                f"{path}, line {mark.line + 1}, column {mark.column + 1}: {problem}",
                hint="replace each *alias with the value it stands for",
                path=path,
            ) from exc
        raise InputError(
            f"{path} is not valid YAML{where}: {problem}",
            hint="fix the YAML syntax (indentation, quotes, colons)",
            path=path,
        ) from exc
    except RecursionError as exc:
        raise InputError(
            f"{path} nests too deeply to be a cluster file", hint=READ_HINT, path=path
        ) from exc
    finally:
        loader.dispose()


def read_document(path: Path) -> Any:
    """Parse the file as JSON (``.json``) or YAML; unreadable or malformed → InputError.

    Values JSON cannot hold come back as :class:`Rejected` markers (see the module doc).
    """
    text = read_text(path)
    if path.suffix.lower() == ".json":
        return parse_json(text, path)
    return parse_yaml(text, path)
