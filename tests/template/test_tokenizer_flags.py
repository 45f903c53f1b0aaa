"""Tokens the tool-call and thinking format depends on must not be special: vLLM decodes with
skip_special_tokens=true by default. The lint finds them, --fix-tokenizer clears them, and
the real tokenizer (transformers) shows the difference on decoding."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dsprep.cli.main import main as cli
from dsprep.demo.tokenizer import build_tokenizer
from dsprep.template.build import build_template
from dsprep.template.lint import check_template
from dsprep.template.tokens import (
    BOS,
    EOS,
    PARSED_TOKENS,
    TOOL_CALLS_BEGIN,
    TOOL_SEP,
    load_tokenizer_files,
)
from tests.template.conftest import ModelFactory

CALL = f"{TOOL_CALLS_BEGIN}<｜tool▁call▁begin｜>get_weather{TOOL_SEP}{{}}<｜tool▁call▁end｜>"


def flag(folder: Path, tokens: set[str], *, config: bool = True) -> None:
    """Mark ``tokens`` special, as a broken conversion leaves them."""
    path = folder / "tokenizer.json"
    document = json.loads(path.read_text(encoding="utf-8"))
    for entry in document["added_tokens"]:
        if entry["content"] in tokens:
            entry["special"] = True
    path.write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    if config:
        path = folder / "tokenizer_config.json"
        document = json.loads(path.read_text(encoding="utf-8"))
        for entry in document["added_tokens_decoder"].values():
            if entry["content"] in tokens:
                entry["special"] = True
        path.write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n", "utf-8")


def test_the_demo_tokenizer_carries_the_published_flags() -> None:
    special = {e["content"] for e in build_tokenizer()["added_tokens"] if e["special"]}
    assert special == {BOS, EOS}
    assert not special & set(PARSED_TOKENS)


def test_special_tool_tokens_are_an_error_naming_the_files_and_the_fix(
    make_model: ModelFactory,
) -> None:
    folder = make_model(build_template(thinking=False))
    assert [f for f in check_template(folder).findings if f.code == "stripped-format-token"] == []
    flag(folder, {TOOL_CALLS_BEGIN, TOOL_SEP, "</think>"})
    found = [f for f in check_template(folder).findings if f.code == "stripped-format-token"]
    assert len(found) == 1
    message = found[0].message
    assert TOOL_CALLS_BEGIN in message and TOOL_SEP in message and "</think>" in message
    assert "tokenizer.json added_tokens" in message
    assert "tokenizer_config.json added_tokens_decoder" in message
    assert "skip_special_tokens=true" in message and "protocol.py:" in message
    assert "deepseek_v31 tool parser" in message and "deepseek_v3 reasoning parser" in message
    assert found[0].severity.value == "error"
    assert f"dsprep template {folder} --fix-tokenizer" in (found[0].hint or "")


def test_additional_special_tokens_count_too(make_model: ModelFactory) -> None:
    folder = make_model(build_template(thinking=False))
    (folder / "special_tokens_map.json").write_text(
        json.dumps({"additional_special_tokens": [TOOL_SEP]}, ensure_ascii=False), "utf-8"
    )
    assert load_tokenizer_files(folder).special_marks[TOOL_SEP] == [
        "special_tokens_map.json additional_special_tokens"
    ]
    assert any(f.code == "stripped-format-token" for f in check_template(folder).findings)


def _run(*args: str) -> Any:
    from click.testing import CliRunner

    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_fix_tokenizer_clears_only_those_flags_atomically_and_idempotently(
    make_model: ModelFactory,
) -> None:
    folder = make_model(build_template(thinking=False))
    flag(folder, set(PARSED_TOKENS))
    (folder / "special_tokens_map.json").write_text(
        json.dumps({"additional_special_tokens": [TOOL_SEP, "x"]}, ensure_ascii=False), "utf-8"
    )
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    dry = _run("template", str(folder), "--fix-tokenizer", "--dry-run", "--format", "json")
    assert dry.exit_code == 0, dry.output
    assert json.loads(dry.output)["data"]["status"] == "would-fix"
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    done = _run("template", str(folder), "--fix-tokenizer", "--format", "json")
    assert done.exit_code == 0, done.output
    data = json.loads(done.output)["data"]
    assert data["status"] == "fixed" and len(data["edits"]) == 3
    assert load_tokenizer_files(folder).special_marks.keys() == {BOS, EOS, "x"}
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        assert (folder / f"{name}.dsprep-orig").read_bytes() == before[name]
    assert json.loads((folder / "special_tokens_map.json").read_text("utf-8")) == {
        "additional_special_tokens": ["x"]
    }
    old = json.loads(before["tokenizer.json"])
    new = json.loads((folder / "tokenizer.json").read_text("utf-8"))
    for a, b in zip(old["added_tokens"], new["added_tokens"], strict=True):
        assert {**a, "special": None} == {**b, "special": None}  # only the flag changed
    assert new["model"] == old["model"]
    assert not any(f.code == "stripped-format-token" for f in check_template(folder).findings)
    again = _run("template", str(folder), "--fix-tokenizer", "--format", "json")
    assert json.loads(again.output)["data"]["status"] == "up-to-date"


def test_fix_tokenizer_refuses_what_is_not_safe(make_model: ModelFactory) -> None:
    folder = make_model(build_template(thinking=False))
    config = json.loads((folder / "tokenizer_config.json").read_text("utf-8"))
    config["eos_token"] = TOOL_SEP
    (folder / "tokenizer_config.json").write_text(json.dumps(config, ensure_ascii=False), "utf-8")
    refused = _run("template", str(folder), "--fix-tokenizer")
    assert refused.exit_code == 3
    assert "eos_token" in refused.output and "not safe" in refused.output
    broken = make_model(build_template(thinking=False))
    (broken / "tokenizer.json").write_text("{", "utf-8")
    assert _run("template", str(broken), "--fix-tokenizer").exit_code == 3
    assert _run("template", str(broken), "--fix-tokenizer", "--check").exit_code == 2


def test_the_real_tokenizer_strips_flagged_tokens_and_keeps_fixed_ones(
    make_model: ModelFactory, hf_tokenizer_factory: Callable[[Path], Any]
) -> None:
    """What vLLM's detokenizer does with the flags (transformers decode, skip_special_tokens)."""
    pytest.importorskip("transformers")
    folder = make_model(build_template(thinking=False))
    flag(folder, set(PARSED_TOKENS))
    flagged = hf_tokenizer_factory(folder)
    ids = flagged.encode(CALL, add_special_tokens=False)
    assert TOOL_CALLS_BEGIN not in flagged.decode(ids, skip_special_tokens=True)
    _run("template", str(folder), "--fix-tokenizer")
    fixed = hf_tokenizer_factory(folder)
    assert fixed.decode(fixed.encode(CALL, add_special_tokens=False), skip_special_tokens=True) == (
        CALL
    )
