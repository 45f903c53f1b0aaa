"""Fixtures for the chat-template tests: a real tokenizer built with the tokenizers library,
model folders holding a given template, and the reference templates from ../shared."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dsprep.demo.tokenizer import write_tokenizer_files
from dsprep.template.tokens import load_tokenizer_files

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "template"
OFFICIAL = "deepseek-v3.1-official.chat_template.jinja"
VLLM = "vllm-0.11.0-tool_chat_template_deepseekv31.jinja"


@pytest.fixture(scope="session")
def tokenizer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tokenizer.json + tokenizer_config.json (no chat template) of the small real tokenizer."""
    folder = tmp_path_factory.mktemp("tokenizer")
    write_tokenizer_files(folder)
    return folder


@pytest.fixture(scope="session")
def special_tokens(tokenizer_dir: Path) -> dict[str, str]:
    return load_tokenizer_files(tokenizer_dir).special_tokens


@pytest.fixture(scope="session")
def published(shared_dir: Path) -> str:
    return (shared_dir / "reference" / OFFICIAL).read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def vllm_example(shared_dir: Path) -> str:
    return (shared_dir / "reference" / VLLM).read_text(encoding="utf-8")


ModelFactory = Callable[..., Path]


@pytest.fixture
def make_model(tmp_path: Path, tokenizer_dir: Path) -> ModelFactory:
    """A model folder with the tokenizer files; ``chat_template`` goes into the config."""
    counter = [0]

    def make(
        chat_template: Any = None,
        *,
        indent: int | None = 2,
        jinja_file: str | None = None,
        ensure_ascii: bool = False,
        trailing_newline: bool = True,
    ) -> Path:
        counter[0] += 1
        folder = tmp_path / f"model{counter[0]}"
        folder.mkdir()
        shutil.copy(tokenizer_dir / "tokenizer.json", folder / "tokenizer.json")
        config = json.loads((tokenizer_dir / "tokenizer_config.json").read_text(encoding="utf-8"))
        if chat_template is not None:
            config["chat_template"] = chat_template
        text = json.dumps(config, ensure_ascii=ensure_ascii, indent=indent)
        (folder / "tokenizer_config.json").write_text(
            text + ("\n" if trailing_newline else ""), encoding="utf-8"
        )
        if jinja_file is not None:
            (folder / "chat_template.jinja").write_text(jinja_file, encoding="utf-8")
        return folder

    return make


@pytest.fixture(scope="session")
def hf_tokenizer_factory() -> Callable[[Path], Any]:
    from transformers import AutoTokenizer

    def load(folder: Path) -> Any:
        return AutoTokenizer.from_pretrained(str(folder))

    return load
