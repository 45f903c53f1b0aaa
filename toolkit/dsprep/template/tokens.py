"""DeepSeek-V3.1 special tokens, their ASCII look-alikes, and the tokens a tokenizer declares."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from dsprep.template.source import read_json

BAR = "\uff5c"  # ｜ FULLWIDTH VERTICAL LINE
SPACE = "\u2581"  # ▁ LOWER ONE EIGHTH BLOCK

BOS = f"<{BAR}begin{SPACE}of{SPACE}sentence{BAR}>"
EOS = f"<{BAR}end{SPACE}of{SPACE}sentence{BAR}>"
USER = f"<{BAR}User{BAR}>"
ASSISTANT = f"<{BAR}Assistant{BAR}>"
TOOL_CALLS_BEGIN = f"<{BAR}tool{SPACE}calls{SPACE}begin{BAR}>"
TOOL_CALLS_END = f"<{BAR}tool{SPACE}calls{SPACE}end{BAR}>"
TOOL_CALL_BEGIN = f"<{BAR}tool{SPACE}call{SPACE}begin{BAR}>"
TOOL_CALL_END = f"<{BAR}tool{SPACE}call{SPACE}end{BAR}>"
TOOL_SEP = f"<{BAR}tool{SPACE}sep{BAR}>"
TOOL_OUTPUT_BEGIN = f"<{BAR}tool{SPACE}output{SPACE}begin{BAR}>"
TOOL_OUTPUT_END = f"<{BAR}tool{SPACE}output{SPACE}end{BAR}>"
THINK = "<think>"
THINK_END = "</think>"

CHAT_TOKENS: tuple[str, ...] = (
    BOS,
    EOS,
    USER,
    ASSISTANT,
    TOOL_CALLS_BEGIN,
    TOOL_CALL_BEGIN,
    TOOL_SEP,
    TOOL_CALL_END,
    TOOL_CALLS_END,
    TOOL_OUTPUT_BEGIN,
    TOOL_OUTPUT_END,
    THINK,
    THINK_END,
)

# The tokens vLLM's DeepSeek parsers look for in the *decoded* text, so the tokenizer must
# not mark them special (vLLM decodes with skip_special_tokens=true unless a request says
# otherwise: each profile's chat.skip_special_tokens_default). The deepseek_v31 tool parser:
# vllm 0.11.0 vllm/entrypoints/openai/tool_parsers/deepseekv31_tool_parser.py:35-49, vllm
# 0.23.0 vllm/tool_parsers/deepseekv31_tool_parser.py:38-53; the deepseek_r1 reasoning parser
# deepseek_v3 delegates to: vllm 0.11.0 vllm/reasoning/deepseek_r1_reasoning_parser.py:24-29,
# vllm 0.23.0 :21-26. The published DeepSeek tokenizers mark none of them special (only
# bos/eos/pad and placeholders are).
PARSED_TOKENS: dict[str, str] = {
    TOOL_CALLS_BEGIN: "the deepseek_v31 tool parser",
    TOOL_CALL_BEGIN: "the deepseek_v31 tool parser",
    TOOL_SEP: "the deepseek_v31 tool parser",
    TOOL_CALL_END: "the deepseek_v31 tool parser",
    TOOL_CALLS_END: "the deepseek_v31 tool parser",
    THINK: "the deepseek_v3 reasoning parser",
    THINK_END: "the deepseek_v3 reasoning parser",
}

# A DeepSeek-style token literal as a template writes it: <｜...｜> with any name, or <think>.
SPECIAL_LITERAL_RE = re.compile(rf"<{BAR}[^<>{BAR}\s]{{1,40}}{BAR}>|</?think>")

_WORDS = {
    "begin of sentence": BOS,
    "end of sentence": EOS,
    "User": USER,
    "Assistant": ASSISTANT,
    "tool calls begin": TOOL_CALLS_BEGIN,
    "tool calls end": TOOL_CALLS_END,
    "tool call begin": TOOL_CALL_BEGIN,
    "tool call end": TOOL_CALL_END,
    "tool sep": TOOL_SEP,
    "tool output begin": TOOL_OUTPUT_BEGIN,
    "tool output end": TOOL_OUTPUT_END,
}


def _lookalike_pattern(words: str) -> str:
    return r"[ _\u2581]".join(re.escape(word) for word in words.split(" "))


# Any bar (ASCII |, fullwidth ｜, ¦, ∣, │) and any word separator (▁, _, space).
_ANY_BAR = "[|\uff5c\u00a6\u2223\u2502]"
LOOKALIKE_RE = re.compile(
    "<"
    + _ANY_BAR
    + "(?P<words>"
    + "|".join(_lookalike_pattern(words) for words in sorted(_WORDS, key=len, reverse=True))
    + ")"
    + _ANY_BAR
    + ">",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Lookalike:
    """A token literal that looks like a DeepSeek special token but is not one."""

    offset: int
    line: int
    column: int
    found: str
    replacement: str


@dataclass(frozen=True)
class LookalikeScan:
    """The first look-alikes of a text (with position) and how many it holds in all."""

    first: list[Lookalike]
    count: int


@lru_cache(maxsize=1024)
def canonical_token(words: str) -> str:
    """The real token whose words ``words`` spell (any separators, any case)."""
    key = re.sub(r"[ _\u2581]", " ", words)
    for name, token in _WORDS.items():
        if name.lower() == key.lower():
            return token
    raise KeyError(words)


def scan_lookalikes(text: str, keep: int | None = None) -> LookalikeScan:
    """Every look-alike of a DeepSeek token in ``text`` (the real tokens are not reported),
    counted in one pass; the first ``keep`` (all when None) with line and column."""
    first: list[Lookalike] = []
    count = 0
    line, line_start, scanned = 1, 0, 0  # the line and its start, as of offset ``scanned``
    for match in LOOKALIKE_RE.finditer(text):
        replacement = canonical_token(match.group("words"))
        if match.group(0) == replacement:
            continue
        count += 1
        if keep is not None and len(first) >= keep:
            continue
        offset = match.start()
        newlines = text.count("\n", scanned, offset)
        if newlines:
            line += newlines
            line_start = text.rfind("\n", scanned, offset) + 1
        scanned = offset
        first.append(Lookalike(offset, line, offset - line_start + 1, match.group(0), replacement))
    return LookalikeScan(first, count)


def find_lookalikes(text: str) -> list[Lookalike]:
    """Every look-alike of a DeepSeek token in ``text`` (the real tokens are not reported)."""
    return scan_lookalikes(text).first


def has_lookalikes(text: str) -> bool:
    return any(m.group(0) != canonical_token(m.group("words")) for m in LOOKALIKE_RE.finditer(text))


def replace_lookalikes(text: str) -> str:
    """``text`` with every look-alike replaced by the real token."""
    return LOOKALIKE_RE.sub(lambda m: canonical_token(m.group("words")), text)


@dataclass
class TokenizerFiles:
    """What a model folder's tokenizer files declare: added tokens and named special tokens."""

    folder: Path
    added_tokens: set[str] = field(default_factory=set)
    special_tokens: dict[str, str] = field(default_factory=dict)
    sources: list[Path] = field(default_factory=list)
    # token → where it is marked special ("tokenizer.json added_tokens", …): decoding with
    # skip_special_tokens drops it
    special_marks: dict[str, list[str]] = field(default_factory=dict)

    def mark(self, token: str, where: str) -> None:
        places = self.special_marks.setdefault(token, [])
        if where not in places:
            places.append(where)

    @property
    def found(self) -> bool:
        return bool(self.sources)


SPECIAL_TOKEN_KEYS = (
    "bos_token",
    "eos_token",
    "unk_token",
    "sep_token",
    "pad_token",
    "cls_token",
    "mask_token",
)


def _token_text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("content"), str):
        return str(value["content"])
    return None


def load_tokenizer_files(folder: Path) -> TokenizerFiles:
    """Added tokens from tokenizer.json (``added_tokens``) and tokenizer_config.json
    (``added_tokens_decoder``), and the named special tokens (bos_token, …)."""
    info = TokenizerFiles(folder=folder)
    tokenizer_json = folder / "tokenizer.json"
    if tokenizer_json.is_file():
        document = read_json(tokenizer_json)
        info.sources.append(tokenizer_json)
        for entry in document.get("added_tokens", []) if isinstance(document, dict) else []:
            if isinstance(entry, dict) and isinstance(entry.get("content"), str):
                info.added_tokens.add(entry["content"])
                if entry.get("special") is True:
                    info.mark(entry["content"], "tokenizer.json added_tokens")
    config_path = folder / "tokenizer_config.json"
    if config_path.is_file():
        config = read_json(config_path)
        if isinstance(config, dict):
            info.sources.append(config_path)
            decoder = config.get("added_tokens_decoder", {})
            if isinstance(decoder, dict):
                for entry in decoder.values():
                    text = _token_text(entry)
                    if text is not None:
                        info.added_tokens.add(text)
                        if isinstance(entry, dict) and entry.get("special") is True:
                            info.mark(text, "tokenizer_config.json added_tokens_decoder")
            for key in SPECIAL_TOKEN_KEYS:
                text = _token_text(config.get(key))
                if text is not None:
                    info.special_tokens[key] = text
            _mark_additional(info, config, "tokenizer_config.json")
    special_map = folder / "special_tokens_map.json"
    if special_map.is_file():
        mapping = read_json(special_map)
        if isinstance(mapping, dict):
            _mark_additional(info, mapping, "special_tokens_map.json")
    return info


def _mark_additional(info: TokenizerFiles, document: dict[str, Any], name: str) -> None:
    """``additional_special_tokens`` make their tokens special for transformers too."""
    listed = document.get("additional_special_tokens")
    for entry in listed if isinstance(listed, list) else []:
        text = _token_text(entry)
        if text is not None:
            info.mark(text, f"{name} additional_special_tokens")


def split_on_added_tokens(text: str, added_tokens: set[str]) -> list[str]:
    """``text`` cut into pieces: each added token alone, the plain text between them whole."""
    if not added_tokens:
        return [text] if text else []
    pattern = re.compile(
        "|".join(re.escape(t) for t in sorted(added_tokens, key=len, reverse=True))
    )
    pieces: list[str] = []
    position = 0
    for match in pattern.finditer(text):
        if match.start() > position:
            pieces.append(text[position : match.start()])
        pieces.append(match.group(0))
        position = match.end()
    if position < len(text):
        pieces.append(text[position:])
    return pieces
