"""Each profile's ``chat`` facts about how its vLLM converts an OpenAI chat request
(dsprep.template.served) re-derived from that vLLM's source: the decoding default, the
reasoning keys read, ``tool_calls: []``, ``arguments: "null"``, the content-part joiner and
the tool fields; each cited line must lie in the code that holds the fact."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.version import Version

from dsprep.profiles import Profile
from dsprep.resources import profile_files
from tests.provenance import upstream
from tests.provenance.releases import Releases

PROFILES = [p.stem for p in sorted(profile_files(), key=lambda p: Version(p.stem))]


@dataclass(frozen=True)
class Found:
    value: object
    file: str
    lines: range  # the lines of the definition that holds the fact


def _tree(releases: Releases, profile: Profile) -> Path:
    return releases.tree(upstream.Sdist("vllm", profile.release.vllm_pip)).root


def _defs(root: Path, rel: str) -> dict[str, ast.AST]:
    module = ast.parse((root / rel).read_text(encoding="utf-8"))
    return {
        node.name: node
        for node in ast.walk(module)
        if isinstance(node, (ast.FunctionDef, ast.ClassDef))
    }


def _span(node: ast.AST) -> range:
    return range(node.lineno, (node.end_lineno or node.lineno) + 1)  # type: ignore[attr-defined]


def _first_file(root: Path, candidates: tuple[str, ...], name: str) -> tuple[str, ast.AST]:
    for rel in candidates:
        if (root / rel).is_file() and name in (defs := _defs(root, rel)):
            return rel, defs[name]
    raise AssertionError(f"{name} is in none of {candidates} under {root}")


PROTOCOLS = (
    "vllm/entrypoints/openai/protocol.py",
    "vllm/entrypoints/openai/chat_completion/protocol.py",
)
ENGINE_PROTOCOLS = (
    "vllm/entrypoints/openai/protocol.py",
    "vllm/entrypoints/openai/engine/protocol.py",
)
CHAT_UTILS = ("vllm/entrypoints/chat_utils.py",)


def derive(root: Path) -> dict[str, Found]:
    found: dict[str, Found] = {}
    rel, request = _first_file(root, PROTOCOLS, "ChatCompletionRequest")
    for node in ast.walk(request):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and node.target.id == "skip_special_tokens"
        ):
            value = ast.literal_eval(node.value) if node.value else None
            found["skip_special_tokens_default"] = Found(value, rel, _span(node))
    rel, parse = _first_file(root, CHAT_UTILS, "_parse_chat_message_content")
    keys: list[str] = []
    for node in ast.walk(parse):
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "reasoning" for t in node.targets
        ):
            keys = [
                c.args[0].value
                for c in ast.walk(node.value)
                if isinstance(c, ast.Call)
                and isinstance(c.func, ast.Attribute)
                and c.func.attr == "get"
                and c.args
                and isinstance(c.args[0], ast.Constant)
            ]
    found["reasoning_request_keys"] = Found(keys, rel, _span(parse))
    rel, post = _first_file(root, CHAT_UTILS, "_postprocess_messages")
    text = ast.unparse(post)
    drops = "pop('tool_calls'" in text
    found["empty_tool_calls"] = Found("drop" if drops else "keep", rel, _span(post))
    as_object = "if parsed is not None else {}" in text
    found["null_arguments"] = Found("object" if as_object else "null", rel, _span(post))
    rel, parts = _first_file(root, CHAT_UTILS, "_parse_chat_message_content_parts")
    joins = [
        n.func.value.value
        for n in ast.walk(parts)
        if isinstance(n, ast.Call)
        and isinstance(n.func, ast.Attribute)
        and n.func.attr == "join"
        and isinstance(n.func.value, ast.Constant)
    ]
    found["content_parts_joined_with"] = Found(joins[0] if joins else None, rel, _span(parts))
    rel, function = _first_file(root, ENGINE_PROTOCOLS, "FunctionDefinition")
    popped = {
        n.args[0].value
        for n in ast.walk(function)
        if isinstance(n, ast.Call)
        and isinstance(n.func, ast.Attribute)
        and n.func.attr == "pop"
        and n.args
        and isinstance(n.args[0], ast.Constant)
    }
    fields = [
        n.target.id
        for n in function.body  # type: ignore[attr-defined]
        if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)
    ]
    found["tool_fields"] = Found([f for f in fields if f not in popped], rel, _span(function))
    found["reasoning_parser_kwargs"] = _reasoning_parser_kwargs(root)
    rel, content_loops = _first_file(
        root, (*CHAT_UTILS, "vllm/renderers/hf.py"), "_iter_nodes_assign_content_item"
    )
    any_loop = "loop_iter.name == 'content'" in ast.unparse(content_loops)
    found["parts_for_any_content_loop"] = Found(any_loop, rel, _span(content_loops))
    rel, message = _first_file(root, PROTOCOLS, "ChatMessage")
    fields = [
        n
        for n in message.body  # type: ignore[attr-defined]
        if isinstance(n, ast.AnnAssign)
        and isinstance(n.target, ast.Name)
        and n.target.id.startswith("reasoning")
    ]
    found["response_reasoning_field"] = Found(
        fields[0].target.id if fields else None, rel, _span(fields[0]) if fields else range(0)
    )
    return found


SERVING = (
    "vllm/entrypoints/openai/serving_chat.py",
    "vllm/entrypoints/openai/chat_completion/serving.py",
)


def _reasoning_parser_kwargs(root: Path) -> Found:
    """How the chat server builds its reasoning parser: the first ``self.reasoning_parser…(``
    call and its ``chat_template_kwargs=`` argument (the request's own, or a merge)."""
    rel = next(r for r in SERVING if (root / r).is_file())
    module = ast.parse((root / rel).read_text(encoding="utf-8"))
    for node in ast.walk(module):
        func = node.func if isinstance(node, ast.Call) else None
        if not (isinstance(func, ast.Attribute) and func.attr.startswith("reasoning_parser")):
            continue
        assert isinstance(node, ast.Call)
        kwargs = {k.arg: ast.unparse(k.value) for k in node.keywords}
        value = kwargs.get("chat_template_kwargs")
        start = _statement_start(module, node)
        if value is None:
            kind = "none"
        elif value == "request.chat_template_kwargs":
            kind = "request"
        else:  # a variable: what it was last assigned from before the call
            kind, start = _merged(module, value, node.lineno)
        return Found(kind, rel, range(start, (node.end_lineno or node.lineno) + 1))
    raise AssertionError(f"{rel}: no reasoning parser is built")


def _merged(module: ast.Module, name: str, line: int) -> tuple[str, int]:
    """``request+defaults`` when ``name`` is last assigned (before ``line``) from an
    expression that reads the server's default chat-template kwargs; and that line."""
    assigns = [
        node
        for node in ast.walk(module)
        if isinstance(node, ast.Assign)
        and node.lineno < line
        and any(isinstance(t, ast.Name) and t.id == name for t in node.targets)
    ]
    last = max(assigns, key=lambda node: node.lineno, default=None)
    source = ast.unparse(last.value) if last is not None else ""
    at = last.lineno if last is not None else line
    if "default_chat_template_kwargs" in source or "_effective_chat_template_kwargs" in source:
        return "request+defaults", at
    kind = "request" if "request.chat_template_kwargs" in source else f"unknown: {source}"
    return kind, at


def _statement_start(module: ast.Module, call: ast.Call) -> int:
    """The first line of the statement (an assignment) that holds ``call``."""
    for node in ast.walk(module):
        if isinstance(node, ast.Assign) and node.value is call:
            return node.lineno
    return call.lineno


def _cited_lines(source: str) -> tuple[str, list[int]]:
    """The file and the first line of each range of a ``dist==v file:a-b, c`` citation."""
    where = source.split(" ", 2)[1]
    rel, _, lines = where.partition(":")
    rest = source.split(" ", 2)[2] if source.count(" ") >= 2 else ""
    numbers = [int(part.split("-")[0]) for part in (lines + rest).split("(")[0].split(",")]
    return rel, numbers


@pytest.mark.parametrize("name", PROFILES)
def test_chat_request_facts_match_the_release_source(name: str, releases: Releases) -> None:
    profile = releases.profiles[name]
    derived = derive(_tree(releases, profile))
    chat = profile.chat
    problems: list[str] = []
    for field_name, fact in derived.items():
        stated = getattr(chat, field_name)
        if stated != fact.value:
            problems.append(f"{field_name}: profile says {stated!r}, the source {fact.value!r}")
        rel, lines = _cited_lines(str(chat.sources[field_name]))
        if rel != fact.file or lines[0] not in fact.lines:
            problems.append(
                f"{field_name}: cited {chat.sources[field_name]!r}, the fact is in {fact.file}"
                f" lines {fact.lines.start}-{fact.lines.stop - 1}"
            )
    assert not problems, f"{name} (vllm=={profile.release.vllm_pip}):\n" + "\n".join(problems)
