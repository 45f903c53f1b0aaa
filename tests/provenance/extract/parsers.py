"""Reasoning and tool parser names the release's vLLM registers.

"Registered" means what the registry holds once vLLM has imported the registry package
(``vllm/reasoning``; ``vllm/tool_parsers`` or, before vLLM 0.13,
``vllm/entrypoints/openai/tool_parsers``), which ``vllm serve`` does before it reads
``--reasoning-parser`` / ``--tool-call-parser``:

- names of the lazy table the package's ``__init__`` registers (vLLM >= 0.12: a
  module-level dict iterated by a loop that calls ``<Manager>.register_lazy_module``), and
  module-level ``<Manager>.register_lazy_module("name", …)`` calls there;
- names given to ``@<Manager>.register_module("name" | ["a", "b"] | name=…)`` on a class in
  the ``__init__`` or in a module it imports, transitively within the package (vLLM 0.11:
  a parser module the package does not import registers nothing).

Plugins (``--reasoning-parser-plugin`` / ``--tool-parser-plugin``) and docstring examples
are not registrations. vllm-ascend registers no parsers of its own (none of its releases
calls either manager).
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.provenance.extract._ast import (
    Resolver,
    Tree,
    assignments,
    dotted,
    iterated_name,
    package_modules,
    parse,
    string,
    strings,
)
from tests.provenance.extract.facts import Listed

REASONING_PACKAGES = ("vllm/reasoning",)
TOOL_PACKAGES = ("vllm/tool_parsers", "vllm/entrypoints/openai/tool_parsers")


def _registry_package(tree: Tree, candidates: tuple[str, ...], manager: str) -> Path | None:
    """The first candidate package whose folder defines ``class <manager>``."""
    for candidate in candidates:
        init = tree.root / candidate / "__init__.py"
        if not init.is_file():
            continue
        for path in tree.py_files(candidate):
            if any(isinstance(n, ast.ClassDef) and n.name == manager for n in parse(path).body):
                return init
    return None


def _decorated(tree: Tree, path: Path, manager: str) -> dict[str, str]:
    names: dict[str, str] = {}
    for node in ast.walk(parse(path)):
        if not isinstance(node, (ast.ClassDef, ast.FunctionDef)):
            continue
        for decorator in node.decorator_list:
            if not isinstance(decorator, ast.Call):
                continue
            if dotted(decorator.func)[-2:] != [manager, "register_module"]:
                continue
            given = [*decorator.args[:1], *(k.value for k in decorator.keywords if k.arg == "name")]
            for value in given:
                for name in strings(value):
                    names.setdefault(name, tree.cite(path, decorator.lineno))
    return names


def _lazy(tree: Tree, init: Path, manager: str) -> dict[str, str]:
    """Names of ``init``'s lazy registrations: the keys of each module-level dict that a
    loop hands to ``<manager>.register_lazy_module``, and direct module-level calls."""
    module = parse(init)
    tables = {n: v for n, v, _ in assignments(module.body) if isinstance(v, ast.Dict)}
    names: dict[str, str] = {}

    def registers(body: list[ast.stmt]) -> bool:
        return any(
            isinstance(n, ast.Call) and dotted(n.func)[-2:] == [manager, "register_lazy_module"]
            for statement in body
            for n in ast.walk(statement)
        )

    for loop in ast.walk(module):
        if not isinstance(loop, ast.For) or not registers(loop.body):
            continue
        table = iterated_name(loop)
        if table is not None and table in tables:
            for key in tables[table].keys:
                name = string(key)
                if name is not None and key is not None:
                    names.setdefault(name, tree.cite(init, key.lineno))
    for statement in module.body:  # ``Manager.register_lazy_module("name", …)`` at import
        call = statement.value if isinstance(statement, ast.Expr) else None
        if isinstance(call, ast.Call) and dotted(call.func)[-2:] == [
            manager,
            "register_lazy_module",
        ]:
            given = [*call.args[:1], *(k.value for k in call.keywords if k.arg == "name")]
            for name in (s for v in given for s in strings(v)):
                names.setdefault(name, tree.cite(init, call.lineno))
    return names


def registered(tree: Tree, packages: tuple[str, ...], manager: str) -> Listed:
    """The names ``manager`` holds after the registry package is imported."""
    init = _registry_package(tree, packages, manager)
    if init is None:
        return Listed({}, f"{tree}: no package of {list(packages)} defines {manager}")
    names = _lazy(tree, init, manager)
    for path in package_modules(Resolver(tree), init):
        for name, where in _decorated(tree, path, manager).items():
            names.setdefault(name, where)
    read = f"{tree.cite(init)} (its lazy table, and @{manager}.register_module in what it imports)"
    return Listed(dict(sorted(names.items())), read)


def reasoning_parsers(vllm: Tree) -> Listed:
    return registered(vllm, REASONING_PACKAGES, "ReasoningParserManager")


def tool_parsers(vllm: Tree) -> Listed:
    return registered(vllm, TOOL_PACKAGES, "ToolParserManager")
