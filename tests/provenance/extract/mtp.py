"""The MTP method names a release accepts for a DeepSeek MTP draft, and the one it uses.

- Names: the members of vLLM's ``SpeculativeMethod`` ``Literal`` (what pydantic accepts for
  ``--speculative-config``'s ``method``; ``vllm/config/speculative.py``) that belong to the
  MTP family: the ``MTPModelTypes`` ``Literal`` (vLLM >= 0.12) or the ``MTP_MODEL_TYPES``
  tuple plus ``"mtp"`` (vLLM 0.11).
- The ``__post_init__`` that runs: vllm-ascend's when a module its platform patches import
  (``vllm_ascend/patch/platform``) assigns ``SpeculativeConfig.__post_init__`` (rc0,
  0.11.0), else vLLM's.
- ``method``: the constant it assigns to ``self.method`` under a condition that names the
  DeepSeek draft (a test mentioning ``"deepseek_mtp"`` directly or through the alias or
  tuple it tests against).
- Every other name is an alias: ``deprecated`` when the branch that rewrites the family's
  names (``if self.method in <family>…``) logs a warning saying so, else ``accepted``.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.provenance.extract._ast import (
    FunctionNode,
    Resolver,
    Tree,
    dotted,
    literal_values,
    package_modules,
    parse,
    string,
    strings,
)
from tests.provenance.extract.facts import AliasStatus, MtpMethods

SPECULATIVE = "vllm/config/speculative.py"
DRAFT = "deepseek_mtp"


def family_names(resolver: Resolver, path: Path) -> tuple[list[str], dict[str, str]]:
    """The MTP-family members of ``SpeculativeMethod`` and where each is declared."""
    vllm = resolver.tree_of(path)
    accepted = [
        v for v in literal_values(resolver, path, "SpeculativeMethod") if isinstance(v, str)
    ]
    family = [v for v in literal_values(resolver, path, "MTPModelTypes") if isinstance(v, str)]
    if not family:
        found = resolver.find(path, "MTP_MODEL_TYPES")
        family = [*(strings(found.node) if found is not None else []), "mtp"]
    names = [n for n in accepted if n in family]
    module = parse(path)
    lines: dict[str, str] = {}
    for node in ast.walk(module):
        value = string(node)
        if value in names and value not in lines:
            lines[value] = vllm.cite(path, getattr(node, "lineno", 0))
    return sorted(set(names)), lines


def _post_init(resolver: Resolver, vllm: Tree, ascend: Tree) -> tuple[FunctionNode, Path] | None:
    """The ``__post_init__`` that runs: vllm-ascend's replacement, else vLLM's own."""
    init = ascend.root / "vllm_ascend" / "patch" / "platform" / "__init__.py"
    patches = package_modules(resolver, init) if init.is_file() else []
    for path in patches:
        module = parse(path)
        for node in module.body:
            if not isinstance(node, ast.Assign) or not isinstance(node.value, ast.Name):
                continue
            if not any(dotted(t) == ["SpeculativeConfig", "__post_init__"] for t in node.targets):
                continue
            for func in module.body:
                if isinstance(func, ast.FunctionDef) and func.name == node.value.id:
                    return func, path
    path = vllm.root / SPECULATIVE
    for node in parse(path).body:
        if isinstance(node, ast.ClassDef) and node.name == "SpeculativeConfig":
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name == "__post_init__":
                    return item, path
    return None


def _mentions_draft(resolver: Resolver, path: Path, test: ast.expr) -> bool:
    for node in ast.walk(test):
        if string(node) == DRAFT:
            return True
        if isinstance(node, ast.Name):
            found = resolver.find(path, node.id)
            listed = strings(found.node) if found is not None and found.node is not None else []
            if DRAFT in listed or DRAFT in literal_values(resolver, path, node.id):
                return True
    return False


def _assigned_methods(body: list[ast.stmt]) -> list[tuple[str, int]]:
    """``self.method = "<x>"`` directly in ``body``."""
    found = []
    for statement in body:
        if isinstance(statement, ast.Assign) and any(
            dotted(t) == ["self", "method"] for t in statement.targets
        ):
            value = string(statement.value)
            if value is not None:
                found.append((value, statement.lineno))
    return found


def _rewrites_with_warning(test: ast.expr, body: list[ast.stmt]) -> bool:
    """An ``if self.method in …`` whose body logs a warning that says "deprecated"."""
    tests_method = any(
        isinstance(n, ast.Compare)
        and dotted(n.left) == ["self", "method"]
        and isinstance(n.ops[0], ast.In)
        for n in ast.walk(test)
    )
    warns = any(
        isinstance(n, ast.Call)
        and dotted(n.func)[-1:] in (["warning"], ["warning_once"])
        and n.args
        and "deprecated" in (string(n.args[0]) or "")
        for statement in body
        for n in ast.walk(statement)
    )
    return tests_method and warns


def mtp_methods(vllm: Tree, ascend: Tree) -> MtpMethods:
    resolver = Resolver(vllm, ascend)
    path = vllm.root / SPECULATIVE
    names, lines = family_names(resolver, path)
    found = _post_init(resolver, vllm, ascend)
    if found is None:
        return MtpMethods("", "", {}, {}, f"{vllm.cite(path)}: no SpeculativeConfig.__post_init__")
    func, func_path = found
    owner = resolver.tree_of(func_path)
    methods: list[tuple[str, int]] = []
    deprecated = False
    for node in ast.walk(func):
        if not isinstance(node, ast.If):
            continue
        if _mentions_draft(resolver, func_path, node.test):
            methods += _assigned_methods(node.body)
        deprecated = deprecated or _rewrites_with_warning(node.test, node.body)
    method = sorted({m for m, _ in methods})
    chosen = method[0] if len(method) == 1 else " | ".join(method)
    at = owner.cite(func_path, methods[0][1]) if methods else owner.cite(func_path, func.lineno)
    status: AliasStatus = "deprecated" if deprecated else "accepted"
    aliases = {n: status for n in names if n != chosen}
    read = (
        f"{vllm.cite(path)} (SpeculativeMethod, MTP family) and"
        f" {owner.cite(func_path)} (__post_init__)"
    )
    return MtpMethods(chosen, at, aliases, {n: lines.get(n, "") for n in aliases}, read)
