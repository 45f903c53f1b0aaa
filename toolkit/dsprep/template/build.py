"""Assemble dsprep's DeepSeek-V3.1 chat template from the fragments in templates/chat/."""

from __future__ import annotations

from functools import cache

from dsprep.errors import InputError
from dsprep.resources import chat_templates_dir

TEMPLATE_VERSION = 3  # 3: text content parts joined with newlines, as vLLM joins them
FRAGMENT_DIR = "deepseek-v3.1"
TOOLS_FRAGMENT = "30-tools.jinja"


def marker(*, thinking: bool, tools: bool) -> str:
    on_off = {True: "on", False: "off"}
    return (
        f"dsprep-chat-template: deepseek-v3.1 v{TEMPLATE_VERSION};"
        f" thinking={on_off[thinking]}; tools={on_off[tools]}"
    )


@cache
def _fragments() -> tuple[tuple[str, str], ...]:
    folder = chat_templates_dir() / FRAGMENT_DIR
    try:
        paths = sorted(folder.glob("*.jinja"))
        fragments = tuple((p.name, p.read_text(encoding="utf-8")) for p in paths)
    except OSError as exc:
        raise InputError(f"cannot read dsprep's template fragments in {folder}: {exc}") from exc
    if not fragments:
        raise InputError(f"dsprep's template fragments are missing from {folder}")
    return fragments


def build_template(*, thinking: bool, tools: bool = True) -> str:
    """dsprep's template with the given thinking default, with or without the tools section.

    Every tag strips the whitespace around it, so the result renders the same bytes with or
    without ``trim_blocks``/``lstrip_blocks``.
    """
    parts = [text for name, text in _fragments() if tools or name != TOOLS_FRAGMENT]
    text = "".join(parts)
    text = text.replace("[[MARKER]]", marker(thinking=thinking, tools=tools))
    return text.replace("[[THINKING_DEFAULT]]", "true" if thinking else "false")
