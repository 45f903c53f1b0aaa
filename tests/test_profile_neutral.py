"""Code reads profile fields: nothing compares or indexes by a release name or tag, a parser
name or a graph-mode name (issue 8: "features, not versions"). The names come from the
bundled profiles themselves, so a new profile extends the check."""

from __future__ import annotations

import ast
import json
from pathlib import Path

from dsprep.profiles import all_profiles
from dsprep.resources import schema_path

PACKAGE = Path(__file__).resolve().parent.parent / "toolkit" / "dsprep"


def _schema_keys(node: object) -> set[str]:
    """Every property name of a JSON schema (the cluster file's own keys)."""
    keys: set[str] = set()
    if isinstance(node, dict):
        keys |= set(node.get("properties", {}))
        for value in node.values():
            keys |= _schema_keys(value)
    elif isinstance(node, list):
        for value in node:
            keys |= _schema_keys(value)
    return keys


def forbidden_names() -> set[str]:
    """Release names and tags, graph modes, parsers, MTP methods; minus the cluster file's
    own keys (``features.mtp`` is a key, not the release's method name)."""
    names: set[str] = set()
    for profile in all_profiles():
        names |= {profile.name, *profile.tags, profile.release.vllm_ascend, profile.release.vllm}
        names |= set(profile.launch.graph_modes)
        names |= set(profile.launch.reasoning_parsers) | set(profile.launch.tool_parsers)
        names |= {profile.launch.mtp.method, *profile.launch.mtp.aliases}
    cluster = json.loads(schema_path("cluster.schema.json").read_text(encoding="utf-8"))
    return names - _schema_keys(cluster)


def _constants(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return [c for e in node.elts for c in _constants(e)]
    return []


def offending(source: str, names: set[str]) -> list[tuple[int, str]]:
    """(line, name) of every comparison, membership test, match case or subscript that
    uses one of ``names`` as a literal."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        literals: list[str] = []
        if isinstance(node, ast.Compare):
            for side in (node.left, *node.comparators):
                literals += _constants(side)
        elif isinstance(node, ast.Subscript):
            literals += _constants(node.slice)
        elif isinstance(node, ast.MatchValue):
            literals += _constants(node.value)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("get", "startswith", "endswith", "index", "count")
        ):
            for arg in node.args:
                literals += _constants(arg)
        found += [(getattr(node, "lineno", 0), n) for n in literals if n in names]
    return found


def test_no_code_branches_on_a_release_parser_or_graph_mode_name() -> None:
    names = forbidden_names()
    assert {"torchair", "aclgraph", "deepseek_v31", "v0.11.0rc0"} <= names
    problems = [
        f"{path.relative_to(PACKAGE)}:{line}: {name!r}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for line, name in offending(path.read_text(encoding="utf-8"), names)
    ]
    assert problems == []


def test_the_check_sees_a_branch_on_a_name() -> None:
    names = {"torchair", "deepseek_v31"}
    source = 'if mode == "torchair":\n    x = modes["deepseek_v31"]\n'
    assert offending(source, names) == [(1, "torchair"), (2, "deepseek_v31")]
