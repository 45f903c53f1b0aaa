"""Recognise what a chat template is, without shipping anyone else's template text.

Known kinds are told apart by a fingerprint: the SHA-256 of the template with all
whitespace removed, DeepSeek token look-alikes replaced by the real tokens and the thinking
default written as ``false``. The two reference digests below were computed from the
published DeepSeek-V3.1 template and from vLLM 0.11.0's example template
(``tests/template/test_recognize.py`` recomputes them from ``../shared/reference``).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from dsprep.template.tokens import has_lookalikes, replace_lookalikes

PUBLISHED = "published"
VLLM_EXAMPLE = "vllm-example"
DSPREP = "dsprep"
DEEPSEEK_LIKE = "deepseek-like"
UNKNOWN = "unknown"
ABSENT = "absent"  # tokenizer_config.json has no chat_template

FINGERPRINTS = {
    "1aae71067afbaf52a1e1c73bda769ec153914f16900d2321da9e79c0b7536a39": PUBLISHED,
    "0457ad024a57ef42391b702fb2b4cff69fc8c27873fc9d5f9836267ff7ecc759": VLLM_EXAMPLE,
}

MARKER_PREFIX = "dsprep-chat-template: deepseek-v3.1"
MARKER_RE = re.compile(
    r"dsprep-chat-template: deepseek-v3\.1 v(?P<version>\d+); thinking=(?P<thinking>on|off);"
    r" tools=(?P<tools>on|off)"
)
# The standard default line, as the manual shows it:
# {% if not thinking is defined %}{% set thinking = X %}
THINKING_DEFAULT_RE = re.compile(
    r"(\{%-?\s*if\s+not\s+thinking\s+is\s+defined\s*-?%\}\s*\{%-?\s*set\s+thinking\s*=\s*)"
    r"(?P<value>true|false|True|False)(\s*-?%\})"
)
_DSPREP_DEFAULT_RE = re.compile(r"\{%-\s*set thinking = (?P<value>true|false)\s*-%\}")
# Features every descendant of the published template keeps (names, not text).
_FAMILY_FEATURES = ("is_first_sp", "is_last_user", "tool▁output▁begin", "split('</think>'")


@dataclass(frozen=True)
class Recognition:
    kind: str
    ascii_bars: bool = False
    thinking_default: bool | None = None
    tools: bool = False
    dsprep_version: int | None = None

    @property
    def known(self) -> bool:
        return self.kind in (PUBLISHED, VLLM_EXAMPLE, DSPREP)

    def describe(self) -> str:
        names = {
            PUBLISHED: "the published DeepSeek-V3.1 template",
            VLLM_EXAMPLE: "vLLM 0.11's example DeepSeek-V3.1 tool template",
            DSPREP: f"dsprep's template v{self.dsprep_version}",
            DEEPSEEK_LIKE: "a modified DeepSeek-V3.1 template",
            UNKNOWN: "an unknown template",
            ABSENT: "no chat template",
        }
        text = names[self.kind]
        return text + (" with ASCII-bar look-alike tokens" if self.ascii_bars else "")


def fingerprint(template: str) -> str:
    """SHA-256 of the normalised template (see the module docstring)."""
    text = replace_lookalikes(template)
    text = THINKING_DEFAULT_RE.sub(lambda m: m.group(1) + "false" + m.group(3), text)
    text = re.sub(r"\s+", "", text)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def thinking_default(template: str) -> bool | None:
    """The thinking default the template sets when a request sends none (None: not found)."""
    marker = MARKER_RE.search(template)
    if marker:
        return marker.group("thinking") == "on"
    match = THINKING_DEFAULT_RE.search(template) or _DSPREP_DEFAULT_RE.search(template)
    if match is None:
        return None
    return match.group("value").lower() == "true"


def supports_tools(template: str) -> bool:
    """Whether the template renders a tools section when ``tools`` are passed."""
    marker = MARKER_RE.search(template)
    if marker:
        return marker.group("tools") == "on"
    return re.search(r"\btools\b", template) is not None and "## Tools" in template


def recognize(template: str) -> Recognition:
    ascii_bars = has_lookalikes(template)
    default = thinking_default(template)
    tools = supports_tools(template)
    marker = MARKER_RE.search(template)
    if marker:
        return Recognition(DSPREP, ascii_bars, default, tools, int(marker.group("version")))
    kind = FINGERPRINTS.get(fingerprint(template))
    if kind is not None:
        return Recognition(kind, ascii_bars, default, tools)
    normalised = replace_lookalikes(template)
    if all(feature in normalised for feature in _FAMILY_FEATURES):
        return Recognition(DEEPSEEK_LIKE, ascii_bars, default, tools)
    return Recognition(UNKNOWN, ascii_bars, default, tools)
