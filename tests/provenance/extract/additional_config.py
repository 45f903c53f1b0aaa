"""The ``--additional-config`` keys vllm-ascend's own code reads, top level and nested.

Every module of ``vllm_ascend/`` that mentions ``additional_config`` is scanned, function by
function. An expression *is the user's dict* when it is a name bound to it (a parameter
called ``additional_config``, or a local assigned from such an expression), any
``<x>.additional_config``, or ``getattr(<x>, "additional_config", …)``. Reads of it are:

- top level: ``D.get("k")``, ``D["k"]``, ``"k" in D``, and a call that hands ``D`` and the
  constant ``"k"`` to a function of the same module that reads ``D`` by that parameter
  (vllm-ascend 0.23's ``self._get_config_value(D, "k", "ENV", default)``);
- nested: ``D.get("a").get("b")`` / ``D["a"]["b"]``, reads of a local or ``self.<attr>``
  assigned from ``D.get("a")``, and, when such a value is passed to a class or a function
  of the same module, the reads of the receiving parameter there: ``C(v)`` → that
  ``__init__`` parameter's reads; ``C(**v)`` → ``C.__init__``'s named parameters (a
  ``**kwargs`` that is never read takes the rest silently) plus ``kwargs.get(…)``; a
  class-level ``_defaults`` dict of the receiving class lists its keys too (EplbConfig);
- a receiving loop over the dict (``for k in v`` / ``v.items()``) that raises makes the key
  *strict* (unknown keys fail at start-up); one that ``setattr``\\ s every key keeps the dict
  *open*, unless a dataclass consumes it: ``<Cls>.initialize_from_config(x, <…>.<attr>)``,
  ``<attr>`` being where the open object was stored, whose body copies the attributes of
  that argument for its fields (``hasattr``/``getattr``) reads exactly ``Cls``'s init
  fields, inherited vLLM fields included (the Ascend scheduler of vllm-ascend <= 0.11).

Writes (``setdefault``, ``D["k"] = …``) are not reads. Calls into another module with a
nested dict are not followed (no release needs it); list-valued keys are top-level keys
with no nested list.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

from tests.provenance.extract._ast import (
    FunctionNode,
    Resolver,
    Tree,
    assignments,
    dataclass_fields,
    dotted,
    functions,
    iterated_name,
    last_name,
    parse,
    string,
)
from tests.provenance.extract.facts import ConfigKeys, Listed

PACKAGE = "vllm_ascend"
CONFIG = "additional_config"


def is_config(node: ast.AST, aliases: set[str]) -> bool:
    """Whether ``node`` evaluates to the user's ``additional_config`` dict."""
    if isinstance(node, ast.Name):
        return node.id in aliases
    if isinstance(node, ast.Attribute):
        return node.attr == CONFIG
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return node.func.id == "getattr" and len(node.args) >= 2 and string(node.args[1]) == CONFIG
    if isinstance(node, ast.BoolOp):
        return any(is_config(v, aliases) for v in node.values)
    if isinstance(node, ast.IfExp):
        return is_config(node.body, aliases) or is_config(node.orelse, aliases)
    return False


def _holder(node: ast.AST) -> str | None:
    """The name a value is held in: a local ``x`` or ``self.x``."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        return "self." + node.attr if node.value.id == "self" else None
    return None


@dataclass
class _Handoff:
    """A nested dict (of top key ``top``) passed to ``callee`` at ``position`` (-1: ``**``)
    or as the keyword argument ``keyword``."""

    top: str
    callee: str
    position: int
    keyword: str | None = None


@dataclass
class _Forward:
    """The user's dict passed to a function of the module as argument ``position``, with
    the call's constant arguments by position (for a helper that reads ``D[param]``)."""

    callee: str
    position: int
    constants: dict[int, tuple[str, int]]


@dataclass
class _Module:
    """The reads found in one module."""

    tree: Tree
    path: Path
    top: dict[str, str] = field(default_factory=dict)
    nested: dict[str, dict[str, str]] = field(default_factory=dict)
    open: dict[str, str] = field(default_factory=dict)
    strict: dict[str, str] = field(default_factory=dict)
    stored: dict[str, str] = field(default_factory=dict)  # top key -> self.<attr> holding it
    handoffs: list[_Handoff] = field(default_factory=list)
    forwards: list[_Forward] = field(default_factory=list)

    def cite(self, node: ast.AST) -> str:
        return self.tree.cite(self.path, getattr(node, "lineno", 0))

    def add_top(self, key: str, node: ast.AST) -> None:
        self.top.setdefault(key, self.cite(node))

    def add_nested(self, top: str, key: str, node: ast.AST) -> None:
        self.nested.setdefault(top, {}).setdefault(key, self.cite(node))


def _get_key(node: ast.AST, aliases: set[str]) -> str | None:
    """``D.get("k", …)`` → ``"k"``."""
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "get"
        and node.args
        and is_config(node.func.value, aliases)
    ):
        return string(node.args[0])
    return None


def _nested_source(node: ast.AST, aliases: set[str]) -> str | None:
    """The top key whose value ``node`` is: ``D.get("a")``, ``D["a"]``, also behind
    ``… or {}`` and a conditional expression."""
    if isinstance(node, ast.BoolOp):
        return next((k for v in node.values if (k := _nested_source(v, aliases))), None)
    if isinstance(node, ast.IfExp):
        return _nested_source(node.body, aliases) or _nested_source(node.orelse, aliases)
    return _get_key(node, aliases) or _subscript_key(node, aliases)


def _subscript_key(node: ast.AST, aliases: set[str]) -> str | None:
    """``D["k"]`` (a load) → ``"k"``."""
    if not (isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load)):
        return None
    return string(node.slice) if is_config(node.value, aliases) else None


def _loops_over(func: FunctionNode, name: str) -> list[ast.For]:
    loops = []
    for node in ast.walk(func):
        if not isinstance(node, ast.For):
            continue
        if iterated_name(node) == name:
            loops.append(node)
    return loops


def _raises_on_unknown_key(loop: ast.For) -> bool:
    """The loop tests its key for membership (``key in known``) and raises."""
    target = loop.target.elts[0] if isinstance(loop.target, ast.Tuple) else loop.target
    if not isinstance(target, ast.Name):
        return False
    tests_key = any(
        isinstance(n, ast.Compare)
        and isinstance(n.left, ast.Name)
        and n.left.id == target.id
        and isinstance(n.ops[0], (ast.In, ast.NotIn))
        for n in ast.walk(loop)
    )
    return tests_key and any(isinstance(n, ast.Raise) for n in ast.walk(loop))


def scan_function(
    module: _Module,
    func: FunctionNode,
    aliases: set[str] | None = None,
    nested: dict[str, str] | None = None,
) -> None:
    """Record the reads of ``func``. ``aliases``: names already bound to the user's dict;
    ``nested``: names already bound to a nested dict (name → its top key)."""
    aliases = set(aliases or ()) | {
        a.arg for a in (*func.args.args, *func.args.kwonlyargs) if a.arg == CONFIG
    }
    nested = dict(nested or {})
    for _ in range(2):  # twice: an alias may be bound after its first use in walk order
        for node in ast.walk(func):
            if not isinstance(node, (ast.Assign, ast.AnnAssign)) or node.value is None:
                continue
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            value = node.value
            top = _nested_source(value, aliases)
            if top is None and is_config(value, aliases):
                aliases |= {t.id for t in targets if isinstance(t, ast.Name)}
            elif top is not None:
                nested.update({h: top for h in map(_holder, targets) if h})
    for node in ast.walk(func):
        if isinstance(node, ast.Call):
            _scan_call(module, node, aliases, nested)
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
            key = string(node.slice)
            if key is None:
                continue
            if is_config(node.value, aliases):
                module.add_top(key, node)
                continue
            holder = _holder(node.value)
            if holder in nested:
                module.add_nested(nested[holder], key, node)
            outer = _subscript_key(node.value, aliases) or _get_key(node.value, aliases)
            if outer is not None:
                module.add_nested(outer, key, node)
        elif isinstance(node, ast.Compare) and len(node.ops) == 1:
            key = string(node.left)
            if key is None or not isinstance(node.ops[0], (ast.In, ast.NotIn)):
                continue
            if is_config(node.comparators[0], aliases):
                module.add_top(key, node)
            elif _holder(node.comparators[0]) in nested:
                module.add_nested(nested[_holder(node.comparators[0]) or ""], key, node)
    for name, top in nested.items():
        for loop in _loops_over(func, name):
            if _raises_on_unknown_key(loop):
                module.strict.setdefault(top, module.cite(loop))
            copies = any(
                isinstance(n, ast.Call) and last_name(n.func) == "setattr" for n in ast.walk(loop)
            )
            if copies:
                module.open.setdefault(top, module.cite(loop))
    _stored_handoffs(module, func, nested)


def _scan_call(module: _Module, node: ast.Call, aliases: set[str], nested: dict[str, str]) -> None:
    top = _get_key(node, aliases)
    if top is not None:
        module.add_top(top, node)
    if isinstance(node.func, ast.Attribute) and node.func.attr == "get" and node.args:
        key = string(node.args[0])
        base = node.func.value
        parent = _get_key(base, aliases) or _subscript_key(base, aliases)
        if parent is None:
            holder = _holder(base)
            parent = nested.get(holder) if holder else None
        if key is not None and parent is not None and top is None:
            module.add_nested(parent, key, node)
    callee = last_name(node.func)
    if not callee:
        return
    for position, argument in enumerate(node.args):
        holder = _holder(argument)
        if holder in nested:
            module.handoffs.append(_Handoff(nested[holder or ""], callee, position))
        if is_config(argument, aliases):
            constants = {
                i: (s, a.lineno) for i, a in enumerate(node.args) if (s := string(a)) is not None
            }
            module.forwards.append(_Forward(callee, position, constants))
    for keyword in node.keywords:
        holder = _holder(keyword.value)
        if holder in nested:
            position = -1 if keyword.arg is None else -2
            module.handoffs.append(_Handoff(nested[holder or ""], callee, position, keyword.arg))


def _stored_handoffs(module: _Module, func: FunctionNode, nested: dict[str, str]) -> None:
    """``self.<attr> = C(v)`` with ``v`` a nested dict: remember where C's object lives."""
    for node in ast.walk(func):
        if not (isinstance(node, ast.Assign) and isinstance(node.value, ast.Call)):
            continue
        arguments = [*node.value.args, *(k.value for k in node.value.keywords)]
        tops = [nested[h] for h in map(_holder, arguments) if h in nested]
        for target in node.targets:
            if tops and isinstance(target, ast.Attribute):
                module.stored.setdefault(tops[0], target.attr)


def _callables(tree: ast.Module) -> dict[str, tuple[FunctionNode, ast.ClassDef | None]]:
    """Module functions and methods by name; a class name stands for its ``__init__``."""
    found: dict[str, tuple[FunctionNode, ast.ClassDef | None]] = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found.setdefault(node.name, (node, None))
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    found.setdefault(item.name, (item, node))
                    if item.name == "__init__":
                        found[node.name] = (item, node)
    return found


def _parameters(func: FunctionNode) -> list[str]:
    names = [a.arg for a in (*func.args.posonlyargs, *func.args.args)]
    return names[1:] if names and names[0] in ("self", "cls") else names


def _resolve(module: _Module) -> None:
    """Follow hand-offs and forwards into the module's own classes and functions."""
    tree = parse(module.path)
    callables = _callables(tree)
    done: set[tuple[str, str, int, str | None]] = set()
    while module.handoffs:
        handoff = module.handoffs.pop()
        key = (handoff.top, handoff.callee, handoff.position, handoff.keyword)
        if key in done or handoff.callee not in callables:
            continue
        done.add(key)
        func, owner = callables[handoff.callee]
        parameters = _parameters(func)
        if handoff.keyword is not None and handoff.keyword in parameters:
            handoff.position = parameters.index(handoff.keyword)
        if handoff.position == -1:
            for name in parameters:
                module.add_nested(handoff.top, name, func)
            if func.args.kwarg is not None:
                scan_function(module, func, nested={func.args.kwarg.arg: handoff.top})
        elif 0 <= handoff.position < len(parameters):
            scan_function(module, func, nested={parameters[handoff.position]: handoff.top})
        if owner is not None:
            _class_defaults(module, owner, handoff.top)
    for forward in module.forwards:
        if forward.callee not in callables:
            continue
        func, _ = callables[forward.callee]
        parameters = _parameters(func)
        if forward.position >= len(parameters):
            continue
        config = parameters[forward.position]
        for position in _keyed_by_parameter(func, config, parameters):
            if position in forward.constants:
                name, line = forward.constants[position]
                module.top.setdefault(name, module.tree.cite(module.path, line))


def _keyed_by_parameter(func: FunctionNode, config: str, parameters: list[str]) -> list[int]:
    """Positions of the parameters ``func`` uses as a key of parameter ``config``
    (``config.get(p)``, ``config[p]``, ``p in config``)."""
    keys: list[str] = []
    for node in ast.walk(func):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get"
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == config
            and node.args
            and isinstance(node.args[0], ast.Name)
        ):
            keys.append(node.args[0].id)
        elif isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):
            if node.value.id == config and isinstance(node.slice, ast.Name):
                keys.append(node.slice.id)
        elif isinstance(node, ast.Compare) and isinstance(node.left, ast.Name):
            right = node.comparators[0]
            if isinstance(right, ast.Name) and right.id == config:
                keys.append(node.left.id)
    return [parameters.index(k) for k in keys if k in parameters]


def _class_defaults(module: _Module, cls: ast.ClassDef, top: str) -> None:
    """A class-level ``_defaults = {…}`` of the receiving class: its keys are read."""
    for name, value, _ in assignments(cls.body):
        if name == "_defaults" and isinstance(value, ast.Dict):
            for key in value.keys:
                text = string(key)
                if text is not None and key is not None:
                    module.add_nested(top, text, key)


def _consumer_fields(resolver: Resolver, ascend: Tree, attribute: str) -> dict[str, str] | None:
    """The init fields (→ where each is declared) of the dataclass whose
    ``initialize_from_config(x, <…>.<attribute>)`` copies the attributes of its second
    argument."""
    for path in ascend.py_files(PACKAGE):
        if "initialize_from_config" not in path.read_text(encoding="utf-8"):
            continue
        for node in ast.walk(parse(path)):
            if not (
                isinstance(node, ast.Call) and last_name(node.func) == "initialize_from_config"
            ):
                continue
            if len(node.args) < 2 or last_name(node.args[1]) != attribute:
                continue
            owner = dotted(node.func)[:-1]
            definition = resolver.find_class(path, owner[-1]) if owner else None
            if definition is None:
                continue
            cls = definition.node
            assert isinstance(cls, ast.ClassDef)
            method = next(
                (
                    f
                    for f in cls.body
                    if isinstance(f, ast.FunctionDef) and f.name == "initialize_from_config"
                ),
                None,
            )
            if method is None or len(_parameters(method)) < 2:
                continue
            given = _parameters(method)[1]
            copies = any(
                isinstance(n, ast.Call)
                and last_name(n.func) in ("hasattr", "getattr")
                and n.args
                and isinstance(n.args[0], ast.Name)
                and n.args[0].id == given
                for n in ast.walk(method)
            )
            if copies:
                call = ascend.cite(path, node.lineno)
                return {
                    f.name: f"{resolver.tree_of(f.path).cite(f.path, f.line)}, copied at {call}"
                    for f in dataclass_fields(resolver, definition.path, cls)
                }
    return None


def additional_config_keys(ascend: Tree, vllm: Tree | None = None) -> ConfigKeys:
    """Every key vllm-ascend reads from ``--additional-config`` (``vllm``: the vLLM tree, for
    fields a consuming dataclass inherits from vLLM)."""
    paths = list(ascend.py_files(PACKAGE))
    paths.sort(key=lambda p: (p.name != "ascend_config.py", p))  # cite the config module first
    modules: list[_Module] = []
    for path in paths:
        if CONFIG not in path.read_text(encoding="utf-8"):
            continue
        module = _Module(ascend, path)
        for func in functions(parse(path)):
            scan_function(module, func)
        _resolve(module)
        modules.append(module)
    top: dict[str, str] = {}
    nested: dict[str, dict[str, str]] = {}
    opened: dict[str, str] = {}
    strict: dict[str, str] = {}
    stored: dict[str, str] = {}
    for module in modules:
        for key, where in module.top.items():
            top.setdefault(key, where)
        for key, inner in module.nested.items():
            for name, where in inner.items():
                nested.setdefault(key, {}).setdefault(name, where)
        for key, where in module.open.items():
            opened.setdefault(key, where)
        for key, where in module.strict.items():
            strict.setdefault(key, where)
        for key, attribute in module.stored.items():
            stored.setdefault(key, attribute)
    resolver = Resolver(ascend, *([vllm] if vllm is not None else []))
    for key in list(opened):
        consumer = (
            _consumer_fields(resolver, ascend, stored.get(key, "")) if key in stored else None
        )
        if consumer is not None:
            for name, where in consumer.items():
                nested.setdefault(key, {}).setdefault(name, where)
            del opened[key]
    for key in nested:  # a nested read implies the top-level key is read
        top.setdefault(key, next(iter(nested[key].values())))
    read = f"{ascend} {PACKAGE}/**/*.py (every read of additional_config)"
    return ConfigKeys(
        top=Listed(dict(sorted(top.items())), read),
        nested={k: Listed(dict(sorted(v.items())), read) for k, v in sorted(nested.items())},
        open=dict(sorted(opened.items())),
        strict=dict(sorted(strict.items())),
    )
