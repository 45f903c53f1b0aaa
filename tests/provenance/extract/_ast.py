"""What every extractor shares: a source tree and its citations, cached parsing, string
constants and dotted names, and a resolver that finds where a module-level name is defined
across source trees (following ``from … import …``), so that a ``Literal`` alias or a
config dataclass in another module, even in the other package, can be read.

Nothing here imports vLLM or vllm-ascend: the sources are read as text and parsed with
:mod:`ast` (stdlib only).
"""

from __future__ import annotations

import ast
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef


@dataclass(frozen=True)
class Tree:
    """One unpacked sdist: its folder and the ``dist==version`` it is (for citations)."""

    root: Path
    dist: str
    version: str

    def rel(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def cite(self, path: Path, line: int | None = None) -> str:
        """``vllm==0.11.0 vllm/reasoning/__init__.py:12``, the profiles' source format."""
        where = self.rel(path) if line is None else f"{self.rel(path)}:{line}"
        return f"{self.dist}=={self.version} {where}"

    def __str__(self) -> str:
        return f"{self.dist}=={self.version}"

    def py_files(self, folder: str) -> Iterator[Path]:
        """Every ``.py`` file under ``folder`` (relative to the root), in a stable order."""
        for directory, subdirs, files in os.walk(self.root / folder):
            subdirs[:] = sorted(d for d in subdirs if d != "__pycache__")
            for name in sorted(files):
                if name.endswith(".py"):
                    yield Path(directory) / name


@cache
def parse(path: Path) -> ast.Module:
    """The module's AST (parsed once per run)."""
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def string(node: ast.AST | None) -> str | None:
    """The value of a string constant, else None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def strings(node: ast.AST | None) -> list[str]:
    """A string constant, or the string constants of a list, tuple or set display."""
    value = string(node)
    if value is not None:
        return [value]
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        return [s for s in map(string, node.elts) if s is not None]
    return []


def dotted(node: ast.AST) -> list[str]:
    """``a.b.c`` → ``["a", "b", "c"]``; anything but names and attributes → ``[]``."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return [node.id, *reversed(parts)]
    return []


def last_name(node: ast.AST) -> str:
    """The last part of a dotted name (``x.y.register_module`` → ``register_module``)."""
    parts = dotted(node)
    return parts[-1] if parts else ""


def iterated_name(loop: ast.For) -> str | None:
    """The name a ``for`` loop iterates over: ``for k in NAME``, ``NAME.items()`` or
    ``NAME.keys()``; None for anything else."""
    iterated = loop.iter
    if (
        isinstance(iterated, ast.Call)
        and isinstance(iterated.func, ast.Attribute)
        and iterated.func.attr in ("items", "keys")
    ):
        iterated = iterated.func.value
    return iterated.id if isinstance(iterated, ast.Name) else None


def functions(tree: ast.AST) -> Iterator[FunctionNode]:
    """Every function and method of a module, nested ones included."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node


def assignments(body: Iterable[ast.stmt]) -> Iterator[tuple[str, ast.expr, int]]:
    """``(name, value, line)`` of each ``NAME = value`` / ``NAME: T = value`` in ``body``."""
    for node in body:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    yield target.id, node.value, node.lineno
        elif (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and node.value is not None
        ):
            yield node.target.id, node.value, node.lineno


@dataclass(frozen=True)
class Definition:
    """Where a name is defined: ``node`` is its class, the value of its assignment, or None
    when the name is a module (``from pkg import submodule``)."""

    path: Path
    node: ast.ClassDef | ast.expr | None


class Resolver:
    """Finds module-level definitions across source trees, following imports."""

    MAX_DEPTH = 12

    def __init__(self, *trees: Tree) -> None:
        self.trees = trees

    def tree_of(self, path: Path) -> Tree:
        for tree in self.trees:
            if tree.root == path or tree.root in path.parents:
                return tree
        raise ValueError(f"{path} is in none of {[str(t.root) for t in self.trees]}")

    def module_file(self, module: str) -> Path | None:
        for tree in self.trees:
            base = tree.root.joinpath(*module.split("."))
            for candidate in (base.with_suffix(".py"), base / "__init__.py"):
                if candidate.is_file():
                    return candidate
        return None

    def module_of(self, path: Path) -> str:
        parts = list(path.relative_to(self.tree_of(path).root).with_suffix("").parts)
        return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)

    def imported_module(self, path: Path, node: ast.ImportFrom) -> str | None:
        """The absolute module a ``from … import`` in ``path`` names."""
        if node.level == 0:
            return node.module
        package = self.module_of(path).split(".")
        if path.name != "__init__.py":
            package = package[:-1]
        if node.level > 1:
            package = package[: len(package) - (node.level - 1)]
        return ".".join([*package, *([node.module] if node.module else [])])

    def imports(self, path: Path) -> Iterator[Path]:
        """The files of the modules that ``path`` imports from (``from X import a, b``:
        X, and X.a / X.b where those are modules)."""
        for node in ast.walk(parse(path)):
            if isinstance(node, ast.ImportFrom):
                module = self.imported_module(path, node)
                if not module:
                    continue
                found = self.module_file(module)
                if found is not None:
                    yield found
                for alias in node.names:
                    sub = self.module_file(f"{module}.{alias.name}")
                    if sub is not None:
                        yield sub
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    found = self.module_file(alias.name)
                    if found is not None:
                        yield found

    def find(self, path: Path, name: str, depth: int = 0) -> Definition | None:
        """The definition of ``name`` as seen from module ``path``."""
        if depth > self.MAX_DEPTH:
            return None
        module = parse(path)
        for node in module.body:
            if isinstance(node, ast.ClassDef) and node.name == name:
                return Definition(path, node)
            alias = getattr(ast, "TypeAlias", None)  # ``type X = …`` (Python 3.12 syntax)
            if alias is not None and isinstance(node, alias) and node.name.id == name:
                return Definition(path, node.value)
        for target, value, _ in assignments(module.body):
            if target == name:
                return Definition(path, value)
        for statement in ast.walk(module):  # imports, also under ``if TYPE_CHECKING:``
            if not isinstance(statement, ast.ImportFrom):
                continue
            for imported in statement.names:
                if (imported.asname or imported.name) != name:
                    continue
                source = self.imported_module(path, statement)
                if not source:
                    continue
                file = self.module_file(source)
                if file is not None:
                    found = self.find(file, imported.name, depth + 1)
                    if found is not None:
                        return found
                submodule = self.module_file(f"{source}.{imported.name}")
                if submodule is not None:
                    return Definition(submodule, None)
        return None

    def find_class(self, path: Path, name: str) -> Definition | None:
        found = self.find(path, name)
        return found if found is not None and isinstance(found.node, ast.ClassDef) else None


def package_modules(resolver: Resolver, init: Path) -> list[Path]:
    """``init`` and every module of its package it imports, transitively."""
    package = init.parent
    seen: list[Path] = []
    todo = [init]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.append(path)
        todo += [p for p in resolver.imports(path) if package in p.parents and p not in seen]
    return seen


# --- type annotations, as vLLM's argparse sees them ----------------------------------------


@dataclass(frozen=True)
class Atom:
    """One member of a flattened annotation: a ``Literal``'s values, a builtin ``name``
    (``bool``, ``str``, ``None``, ``list`` …), a ``class`` defined in the sources, or
    ``other``."""

    kind: Literal["literal", "name", "class", "other"]
    value: str
    values: tuple[object, ...] = ()
    path: Path | None = None  # where a ``class`` is defined


BUILTINS = {"bool", "str", "int", "float", "dict", "list", "tuple", "set", "Any", "None"}
TRANSPARENT = {"Annotated", "SkipValidation", "Required", "NotRequired"}


def atoms(resolver: Resolver, path: Path, node: ast.AST, depth: int = 0) -> list[Atom]:
    """Flatten an annotation into :class:`Atom` s as vLLM's ``get_type_hints`` does:
    unions and ``Optional`` split, ``Annotated``/``SkipValidation`` unwrapped, aliases
    resolved across modules, nested ``Literal`` s merged."""
    if depth > 20:
        return [Atom("other", "?")]
    if isinstance(node, ast.Constant):
        if node.value is None:
            return [Atom("name", "None")]
        if isinstance(node.value, str):  # a forward reference
            try:
                inner = ast.parse(node.value, mode="eval").body
            except SyntaxError:
                return [Atom("other", node.value)]
            return atoms(resolver, path, inner, depth + 1)
        return [Atom("other", repr(node.value))]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return atoms(resolver, path, node.left, depth + 1) + atoms(
            resolver, path, node.right, depth + 1
        )
    if isinstance(node, ast.Subscript):
        head = last_name(node.value)
        elements = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        if head == "Literal":
            values: list[object] = []
            for element in elements:
                if isinstance(element, ast.Constant):
                    values.append(element.value)
                else:
                    for atom in atoms(resolver, path, element, depth + 1):
                        values.extend(atom.values if atom.kind == "literal" else ())
            return [Atom("literal", "Literal", tuple(values))]
        if head == "Union":
            return [a for e in elements for a in atoms(resolver, path, e, depth + 1)]
        if head == "Optional":
            return [*atoms(resolver, path, elements[0], depth + 1), Atom("name", "None")]
        if head in TRANSPARENT:
            return atoms(resolver, path, elements[0], depth + 1)
        return [Atom("name", head)]  # list[…], dict[…], tuple[…]
    if isinstance(node, (ast.Name, ast.Attribute)):
        name = last_name(node)
        if name in BUILTINS:
            return [Atom("name", name)]
        found = resolver.find(path, name)
        if found is None or found.node is None:
            return [Atom("other", name)]
        if isinstance(found.node, ast.ClassDef):
            return [Atom("class", name, path=found.path)]
        return atoms(resolver, found.path, found.node, depth + 1)
    return [Atom("other", ast.dump(node)[:40])]


def literal_values(resolver: Resolver, path: Path, name: str) -> list[object]:
    """The values of the ``Literal`` alias ``name`` as seen from ``path`` (``[]``: none)."""
    found = resolver.find(path, name)
    if found is None or found.node is None or isinstance(found.node, ast.ClassDef):
        return []
    return [
        v for a in atoms(resolver, found.path, found.node) if a.kind == "literal" for v in a.values
    ]


@dataclass(frozen=True)
class Field:
    """A dataclass field: its name, annotation, and the file and line that declare it."""

    name: str
    annotation: ast.expr
    path: Path
    line: int


def dataclass_fields(
    resolver: Resolver, path: Path, cls: ast.ClassDef, depth: int = 0
) -> list[Field]:
    """The ``__init__`` fields of a dataclass-like class, bases first (a redefinition
    replaces the base's); ``ClassVar``/``InitVar`` and ``field(init=False)`` are left out."""
    found: list[Field] = []
    if depth > 8:
        return found
    for base in cls.bases:
        name = last_name(base)
        definition = resolver.find_class(path, name) if name else None
        if definition is not None:
            assert isinstance(definition.node, ast.ClassDef)
            found += dataclass_fields(resolver, definition.path, definition.node, depth + 1)
    for statement in cls.body:
        if not (isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name)):
            continue
        annotation = statement.annotation
        head = annotation.value if isinstance(annotation, ast.Subscript) else annotation
        if last_name(head) in ("ClassVar", "InitVar"):
            continue
        value = statement.value
        if isinstance(value, ast.Call) and last_name(value.func) == "field":
            no_init = any(
                k.arg == "init" and isinstance(k.value, ast.Constant) and k.value.value is False
                for k in value.keywords
            )
            if no_init:
                continue
        name = statement.target.id
        found = [f for f in found if f.name != name]
        found.append(Field(name, annotation, path, statement.lineno))
    return found


def decorator_names(cls: ast.ClassDef | FunctionNode) -> set[str]:
    return {last_name(d.func if isinstance(d, ast.Call) else d) for d in cls.decorator_list}
