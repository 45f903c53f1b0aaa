"""Which content format vLLM gives a chat template: "string" or "openai".

With ``--chat-template-content-format auto`` (the default) vLLM parses the template and
gives it content parts as a list ("openai") when it loops over a message's content:
``{% for m in messages %}…{% for part in m['content'] %}``, following simple
``{% set x = messages %}`` aliases; from vLLM 0.23 also when it loops over any variable
named ``content`` (``{% for part in content %}``, as dsprep's macro does). Anything else
gets one string ("string"), the parts joined (vLLM 0.11.0 vllm/entrypoints/chat_utils.py:278-404;
vLLM 0.23.0 vllm/renderers/hf.py:399-420; the profile's ``chat.parts_for_any_content_loop``).
dsprep's template joins parts with a newline itself, so it renders the same either way.
"""

from __future__ import annotations

from collections.abc import Iterator

import jinja2
from jinja2 import nodes

from dsprep.template.sandbox import chat_template_environment


def _is_name(node: nodes.Node, name: str) -> bool:
    return isinstance(node, nodes.Name) and node.ctx == "load" and node.name == name


def _is_item(node: nodes.Node, name: str, key: str) -> bool:
    if isinstance(node, nodes.Getitem):
        arg = node.arg
        return _is_name(node.node, name) and isinstance(arg, nodes.Const) and arg.value == key
    return isinstance(node, nodes.Getattr) and _is_name(node.node, name) and node.attr == key


def _reads(node: nodes.Node, name: str, key: str | None = None) -> bool:
    """``name`` (or ``name[key]``), possibly filtered, tested or sliced."""
    if isinstance(node, (nodes.Filter, nodes.Test)):
        return node.node is not None and _reads(node.node, name, key)
    if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Slice):
        return _reads(node.node, name, key)
    return _is_item(node, name, key) if key else _is_name(node, name)


def _aliases(root: nodes.Template, name: str) -> Iterator[str]:
    """``name`` and every variable ``{% set %}`` from it, transitively."""
    seen = [name]
    yield name
    queue = [name]
    while queue:
        current = queue.pop(0)
        for assign in root.find_all(nodes.Assign):
            target = assign.target
            if isinstance(target, nodes.Name) and _reads(assign.node, current):
                yield target.name
                if target.name not in seen:
                    seen.append(target.name)
                    queue.append(target.name)


def _loop_targets(root: nodes.Template, names: list[str], key: str | None) -> Iterator[str]:
    for loop in root.find_all(nodes.For):
        if isinstance(loop.target, nodes.Name) and any(_reads(loop.iter, n, key) for n in names):
            yield loop.target.name


def _loops_over_content(root: nodes.Template) -> bool:
    return any(
        isinstance(loop.iter, nodes.Name) and loop.iter.name == "content"
        for loop in root.find_all(nodes.For)
    )


def gets_parts(template: str, any_content_loop: bool = False) -> bool:
    """Whether vLLM hands this template content parts as a list (its "openai" format);
    ``any_content_loop``: the release also counts a loop over a variable named content."""
    try:
        root = chat_template_environment().parse(template)
    except jinja2.TemplateSyntaxError:
        return False  # vLLM falls back to its default, "string", for the auto setting
    messages = list(_aliases(root, "messages"))
    message_names = list(_loop_targets(root, messages, None))
    if any(_loop_targets(root, message_names, "content")):
        return True
    return any_content_loop and _loops_over_content(root)


FORMATS = ("string", "openai")  # vLLM's names, indexed by gets_parts


def content_format(template: str, any_content_loop: bool = False) -> str:
    """vLLM's name for the format it detects: "openai" (parts as a list) or "string"."""
    return FORMATS[gets_parts(template, any_content_loop)]
