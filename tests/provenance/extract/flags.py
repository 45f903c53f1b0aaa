"""The options of ``vllm serve`` and the choices of those that restrict their values.

The serve parser is built by ``ServeSubcommand.subparser_init``
(``vllm/entrypoints/cli/serve.py``), ``make_arg_parser`` and ``FrontendArgs.add_cli_args``
(``vllm/entrypoints/openai/cli_args.py``, whose flags are ``--<field>`` of the frontend
dataclass) and ``EngineArgs``/``AsyncEngineArgs.add_cli_args``
(``vllm/engine/arg_utils.py``, mostly ``add_argument("--x", **<Config>_kwargs["field"])``).
Every ``add_argument`` there is read; ``**kwargs["field"]`` is resolved to the config
dataclass's field annotation (across modules, ``Literal`` aliases included) and vLLM's
``_compute_kwargs`` is reproduced for it: a dataclass → JSON, no choices; ``bool`` →
``--x`` and ``--no-x`` (``BooleanOptionalAction``); a ``Literal`` → sorted choices, plus
``"None"`` when optional, unless ``str`` is also allowed (then a metavar, no choices); vLLM
0.23's ``bool | str | None`` → one optional-valued flag. Explicit ``choices=[…]`` are taken
as written; ``choices=…ReasoningParserManager…`` (vLLM 0.11) are the registered reasoning
parsers. When the platform plugin appends to ``--quantization``'s choices in its
``pre_register_and_update`` (vllm-ascend, while vLLM builds the parser), that value is added.

Short aliases (``-tp``) are options too; the positional ``model_tag`` is not. Later edits of
a kwargs dict other than its type are not followed.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests.provenance.extract._ast import (
    FunctionNode,
    Resolver,
    Tree,
    atoms,
    dataclass_fields,
    decorator_names,
    last_name,
    parse,
    string,
    strings,
)
from tests.provenance.extract.facts import HeadlessRule, ServeFlags
from tests.provenance.extract.parsers import reasoning_parsers

PARSER_BUILDERS = (
    ("vllm/engine/arg_utils.py", ("EngineArgs.add_cli_args", "AsyncEngineArgs.add_cli_args")),
    (
        "vllm/entrypoints/openai/cli_args.py",
        ("make_arg_parser", "FrontendArgs.add_cli_args", "BaseFrontendArgs.add_cli_args"),
    ),
    ("vllm/entrypoints/cli/serve.py", ("ServeSubcommand.subparser_init",)),
)
# ``BaseFrontendArgs.add_cli_args(cls)`` runs as ``FrontendArgs.add_cli_args``: ``cls`` is that
OWNER_OF_CLS = {"BaseFrontendArgs": "FrontendArgs"}


@dataclass
class Argparse:
    """What vLLM's ``_compute_kwargs`` makes of one field."""

    boolean: bool = False  # BooleanOptionalAction: --x and --no-x
    choices: list[str] | None = None


def field_argparse(resolver: Resolver, path: Path, annotation: ast.expr) -> Argparse:
    """vLLM's ``_compute_kwargs`` for one config-dataclass field annotation."""
    found = atoms(resolver, path, annotation)
    names = {a.value for a in found if a.kind == "name"}
    for atom in found:
        if atom.kind == "class" and atom.path is not None:
            definition = resolver.find_class(atom.path, atom.value)
            cls = definition.node if definition is not None else None
            if isinstance(cls, ast.ClassDef) and decorator_names(cls) & {"dataclass", "config"}:
                return Argparse()  # parsed as JSON
    literals = [a for a in found if a.kind == "literal"]
    if names == {"bool", "str", "None"} and not literals:
        return Argparse()  # vLLM 0.23: an optional-valued flag
    if "bool" in names:
        return Argparse(boolean=True)
    if literals:
        if "str" in names:
            return Argparse()  # metavar, not choices
        choices = [str(v) for v in _sorted_options([v for a in literals for v in a.values])]
        return Argparse(choices=[*choices, "None"] if "None" in names else choices)
    return Argparse()


def _sorted_options(values: list[object]) -> list[object]:
    """``sorted(options)`` as vLLM does it (its options all share one type)."""
    if all(isinstance(v, str) for v in values):
        return sorted(values, key=str)
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return sorted(values, key=float)  # type: ignore[arg-type]
    return values


def _builders(tree: ast.Module, wanted: tuple[str, ...]) -> list[tuple[FunctionNode, str | None]]:
    found: list[tuple[FunctionNode, str | None]] = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in wanted:
            found.append((node, None))
        elif isinstance(node, ast.ClassDef):
            owner = OWNER_OF_CLS.get(node.name, node.name)
            for item in node.body:
                if not isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    continue
                if f"{node.name}.{item.name}" in wanted:
                    found.append((item, owner))
    return found


@dataclass
class _Builder:
    """The state of one parser-building function while its ``add_argument`` s are read."""

    resolver: Resolver
    tree: Tree
    path: Path
    owner: str | None
    choice_sources: dict[str, Callable[[], list[str]]]
    kwargs_of: dict[str, str] = field(default_factory=dict)  # var -> config class name
    loop_flags: dict[str, list[str]] = field(default_factory=dict)  # loop var -> flags
    loop_items: dict[str, str] = field(default_factory=dict)  # loop key var -> kwargs var
    flags: dict[str, str] = field(default_factory=dict)
    choices: dict[str, list[str]] = field(default_factory=dict)
    actions: dict[str, tuple[str, ...]] = field(default_factory=dict)  # option -> all its names

    def config_class(self, var: str) -> tuple[ast.ClassDef, Path] | None:
        """The config dataclass whose ``get_kwargs`` result ``var`` holds, and its file."""
        name = self.kwargs_of.get(var)
        name = self.owner if name == "cls" else name
        definition = self.resolver.find_class(self.path, name) if name else None
        if definition is None or not isinstance(definition.node, ast.ClassDef):
            return None
        return definition.node, definition.path

    def learn(self, func: FunctionNode) -> None:
        """``x = get_kwargs(Config)``, ``for flag, … in [("--a", …), …]`` and
        ``for key, value in x.items()``."""
        for node in ast.walk(func):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
                callee = last_name(node.value.func)
                argument = node.value.args[0] if node.value.args else None
                for target in node.targets:
                    if not isinstance(target, ast.Name) or argument is None:
                        continue
                    if callee == "get_kwargs" and last_name(argument):
                        self.kwargs_of[target.id] = last_name(argument)
                    elif (
                        callee == "_customize_cli_kwargs"
                        and isinstance(argument, ast.Name)
                        and argument.id in self.kwargs_of
                    ):
                        self.kwargs_of[target.id] = self.kwargs_of[argument.id]
            if not isinstance(node, ast.For):
                continue
            first = node.target.elts[0] if isinstance(node.target, ast.Tuple) else node.target
            if not isinstance(first, ast.Name):
                continue
            if isinstance(node.iter, (ast.List, ast.Tuple)):
                self.loop_flags[first.id] = [
                    s
                    for e in node.iter.elts
                    if isinstance(e, (ast.Tuple, ast.List)) and e.elts
                    for s in strings(e.elts[0])
                ]
            iterated = node.iter
            if (
                isinstance(iterated, ast.Call)
                and isinstance(iterated.func, ast.Attribute)
                and iterated.func.attr == "items"
                and isinstance(iterated.func.value, ast.Name)
            ):
                self.loop_items[first.id] = iterated.func.value.id

    def add(self, flag: str, line: int, argparse: Argparse) -> None:
        self.flags.setdefault(flag, self.tree.cite(self.path, line))
        if argparse.choices is not None:
            self.choices[flag] = argparse.choices
        if argparse.boolean and flag.startswith("--"):
            self.flags.setdefault("--no-" + flag[2:], self.tree.cite(self.path, line))

    def read(self, call: ast.Call) -> None:
        """One ``<parser>.add_argument(…)``."""
        names: list[str] = []
        dynamic: tuple[ast.ClassDef, Path] | None = None
        for argument in call.args:
            value = string(argument)
            if value is not None:
                names += [value] if value.startswith("-") else []
            elif isinstance(argument, ast.Name) and argument.id in self.loop_flags:
                names += self.loop_flags[argument.id]
            elif isinstance(argument, ast.JoinedStr):  # f"--{key.replace('_', '-')}"
                for part in argument.values:
                    if not isinstance(part, ast.FormattedValue):
                        continue
                    inner = part.value
                    while isinstance(inner, ast.Call) and isinstance(inner.func, ast.Attribute):
                        inner = inner.func.value
                    if isinstance(inner, ast.Name) and inner.id in self.loop_items:
                        dynamic = self.config_class(self.loop_items[inner.id])
        if not names and dynamic is None:
            return
        result = Argparse()
        for keyword in call.keywords:
            if keyword.arg == "action" and last_name(keyword.value) == "BooleanOptionalAction":
                result.boolean = True
            elif keyword.arg == "choices":
                listed = strings(keyword.value)
                if listed:
                    result.choices = sorted(listed)
                else:
                    text = ast.unparse(keyword.value)
                    for marker, source in self.choice_sources.items():
                        if marker in text:
                            result.choices = source()
            elif keyword.arg is None:  # **X["field"] or **{**X["field"], …}
                result = self._from_field(keyword.value, result)
        for name in names:
            self.add(name, call.lineno, result)
            self.actions[name] = tuple(names)
        if dynamic is not None:
            cls, path = dynamic
            for entry in dataclass_fields(self.resolver, path, cls):
                flag = "--" + entry.name.replace("_", "-")
                kind = field_argparse(self.resolver, entry.path, entry.annotation)
                self.add(flag, call.lineno, kind)

    def _from_field(self, value: ast.expr, result: Argparse) -> Argparse:
        parts = [value]
        if isinstance(value, ast.Dict):
            parts = [v for k, v in zip(value.keys, value.values, strict=True) if k is None]
        for part in parts:
            if not (isinstance(part, ast.Subscript) and isinstance(part.value, ast.Name)):
                continue
            name = string(part.slice)
            config = self.config_class(part.value.id)
            if name is None or config is None:
                continue
            for entry in dataclass_fields(self.resolver, config[1], config[0]):
                if entry.name == name:
                    found = field_argparse(self.resolver, entry.path, entry.annotation)
                    result = Argparse(
                        boolean=result.boolean or found.boolean,
                        choices=found.choices if found.choices is not None else result.choices,
                    )
        return result


def _appended_choice(resolver: Resolver, ascend: Tree) -> tuple[str, str] | None:
    """The value vllm-ascend's ``pre_register_and_update`` appends to ``--quantization``'s
    choices, and where."""
    path = ascend.root / "vllm_ascend" / "platform.py"
    if not path.is_file():
        return None
    for node in ast.walk(parse(path)):
        if not (isinstance(node, ast.FunctionDef) and node.name == "pre_register_and_update"):
            continue
        if "--quantization" not in {string(n) for n in ast.walk(node)}:
            return None
        for call in ast.walk(node):
            if not (
                isinstance(call, ast.Call)
                and isinstance(call.func, ast.Attribute)
                and call.func.attr == "append"
                and last_name(call.func.value) == "choices"
                and call.args
            ):
                continue
            value = string(call.args[0])
            if value is None and isinstance(call.args[0], ast.Name):
                definition = resolver.find(path, call.args[0].id)
                value = string(definition.node) if definition is not None else None
            if value is not None:
                return value, ascend.cite(path, call.lineno)
    return None


def serve_flags(vllm: Tree, ascend: Tree | None = None) -> ServeFlags:
    """Every ``vllm serve`` option → where it is added; choices where they restrict it."""
    resolver = Resolver(vllm, *([ascend] if ascend is not None else []))
    sources = {"ReasoningParserManager": lambda: sorted(reasoning_parsers(vllm))}
    flags: dict[str, str] = {}
    choices: dict[str, list[str]] = {}
    actions: dict[str, tuple[str, ...]] = {}
    for relative, wanted in PARSER_BUILDERS:
        path = vllm.root / relative
        if not path.is_file():
            continue
        for func, owner in _builders(parse(path), wanted):
            builder = _Builder(resolver, vllm, path, owner, sources)
            builder.learn(func)
            for node in ast.walk(func):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "add_argument"
                ):
                    builder.read(node)
            for flag, where in builder.flags.items():
                flags.setdefault(flag, where)
            choices.update(builder.choices)
            actions.update(builder.actions)
    if ascend is not None and "--quantization" in choices:
        appended = _appended_choice(resolver, ascend)
        if appended is not None:
            for name in actions.get("--quantization", ("--quantization",)):
                if appended[0] not in choices[name]:  # one action: its names share the list
                    choices[name] = [*choices[name], appended[0]]
    read = f"{vllm} " + ", ".join(
        f"{relative} ({', '.join(wanted)})" for relative, wanted in PARSER_BUILDERS
    )
    return ServeFlags(dict(sorted(flags.items())), dict(sorted(choices.items())), read)


HEADLESS_FILES = ("vllm/entrypoints/cli/serve.py", "vllm/entrypoints/openai/cli_args.py")


def _count_bound(test: ast.expr) -> int | None:
    """``….api_server_count > N`` (or ``>= N + 1``) in ``test`` → N."""
    for node in ast.walk(test):
        if not (isinstance(node, ast.Compare) and len(node.ops) == 1):
            continue
        if last_name(node.left) != "api_server_count":
            continue
        right = node.comparators[0]
        if not (isinstance(right, ast.Constant) and isinstance(right.value, int)):
            continue
        if isinstance(node.ops[0], ast.Gt):
            return int(right.value)
        if isinstance(node.ops[0], ast.GtE):
            return int(right.value) - 1
    return None


def _mentions_headless(node: ast.AST) -> bool:
    return any(
        (isinstance(n, ast.Attribute) and n.attr == "headless") or string(n) == "headless"
        for n in ast.walk(node)
    )


def headless_rule(vllm: Tree) -> HeadlessRule | None:
    """From the serve command: every ``if …api_server_count > N: raise X(…)`` on the
    headless path (inside ``run_headless``, or under a test of ``args.headless``) bounds
    the count by N (the smallest wins); ``args.api_server_count = args.data_parallel_size``
    makes the head start one API server per rank."""
    bounds: list[tuple[int, str, str]] = []
    per_rank = ""
    for relative in HEADLESS_FILES:
        path = vllm.root / relative
        if not path.is_file():
            continue
        module = parse(path)
        parents = {
            child: parent for parent in ast.walk(module) for child in ast.iter_child_nodes(parent)
        }
        for node in ast.walk(module):
            if (
                isinstance(node, ast.Assign)
                and last_name(node.value) == "data_parallel_size"
                and any(last_name(t) == "api_server_count" for t in node.targets)
            ):
                per_rank = per_rank or vllm.cite(path, node.lineno)
            if not isinstance(node, ast.If):
                continue
            bound = _count_bound(node.test)
            raised = next((s for s in node.body if isinstance(s, ast.Raise)), None)
            if bound is None or raised is None:
                continue
            scope: ast.AST | None = node
            headless = False
            while scope is not None and not headless:
                if isinstance(scope, ast.If):
                    headless = _mentions_headless(scope.test)
                elif isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    headless = "headless" in scope.name
                scope = parents.get(scope)
            if headless:
                exception = raised.exc.func if isinstance(raised.exc, ast.Call) else raised.exc
                bounds.append(
                    (
                        bound,
                        last_name(exception) if exception else "",
                        vllm.cite(path, raised.lineno),
                    )
                )
    if not bounds:
        return None
    bound, raises, at = min(bounds)
    return HeadlessRule(bound, raises, at, bool(per_rank), per_rank)
