"""Reading and writing chat templates in tokenizer_config.json / chat_template.jinja."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dsprep.errors import InputError
from dsprep.template.build import build_template
from dsprep.template.recognize import (
    DEEPSEEK_LIKE,
    DSPREP,
    FINGERPRINTS,
    PUBLISHED,
    UNKNOWN,
    VLLM_EXAMPLE,
    fingerprint,
    recognize,
)
from dsprep.template.source import read_source, read_source_or_absent, with_templates
from dsprep.template.tokens import find_lookalikes, replace_lookalikes
from tests.template.conftest import ModelFactory


def test_reference_fingerprints_match_the_shared_files(published: str, vllm_example: str) -> None:
    assert FINGERPRINTS[fingerprint(published)] == PUBLISHED
    assert FINGERPRINTS[fingerprint(vllm_example)] == VLLM_EXAMPLE


def test_recognition(published: str, vllm_example: str) -> None:
    ascii_copy = published.replace("｜", "|")
    assert recognize(published).kind == PUBLISHED and not recognize(published).ascii_bars
    assert recognize(ascii_copy).kind == PUBLISHED and recognize(ascii_copy).ascii_bars
    thinking_on = published.replace("set thinking = false", "set thinking = true")
    assert recognize(thinking_on).kind == PUBLISHED
    assert recognize(thinking_on).thinking_default is True
    assert recognize(vllm_example.replace("  ", "    ")).kind == VLLM_EXAMPLE
    assert recognize(vllm_example).tools
    assert recognize(build_template(thinking=True)).kind == DSPREP
    assert recognize(published.replace("'<｜User｜>'", "'<｜User｜>' + '!'")).kind == DEEPSEEK_LIKE
    assert recognize("{{ messages }}").kind == UNKNOWN


def test_lookalikes_have_position_and_replacement() -> None:
    text = "abc\n  {{ '<|tool▁calls▁begin|>' }}<｜User｜><|end_of_sentence|>"
    found = find_lookalikes(text)
    assert [(f.line, f.column, f.found, f.replacement) for f in found] == [
        (2, 7, "<|tool▁calls▁begin|>", "<｜tool▁calls▁begin｜>"),
        (2, 39, "<|end_of_sentence|>", "<｜end▁of▁sentence｜>"),
    ]
    assert (
        replace_lookalikes(text)
        == "abc\n  {{ '<｜tool▁calls▁begin｜>' }}<｜User｜><｜end▁of▁sentence｜>"
    )


def test_string_form_replacement_keeps_everything_else(tmp_path: Path) -> None:
    original = (
        '{\n    "zeta": "Ω",\n    "chat_template": "{{ bos_token }}\\n<｜User｜>",\n'
        '    "alpha": [1, 2],\n    "nested": {"chat_template": "inner"}\n}'
    )
    path = tmp_path / "tokenizer_config.json"
    path.write_text(original, encoding="utf-8")
    source = read_source(path)
    assert source.layout == "config-string"
    assert source.entries[0].text == "{{ bos_token }}\n<｜User｜>"
    new = with_templates(source, {"default": "NEW ｜\n"})
    assert new == original.replace('"{{ bos_token }}\\n<｜User｜>"', '"NEW ｜\\n"')


def test_ascii_escaped_file_stays_escaped(tmp_path: Path) -> None:
    path = tmp_path / "tokenizer_config.json"
    path.write_text(json.dumps({"chat_template": "<｜User｜>", "x": "é"}), encoding="utf-8")
    new = with_templates(read_source(path), {"default": "<｜Assistant｜>"})
    assert new.isascii()
    assert json.loads(new) == {"chat_template": "<｜Assistant｜>", "x": "é"}


def test_list_form_and_jinja_file(make_model: ModelFactory) -> None:
    folder = make_model([{"name": "default", "template": "A"}, {"name": "rag", "template": "B"}])
    source = read_source(folder)
    assert source.layout == "config-list"
    assert [e.name for e in source.entries] == ["default", "rag"]
    new = with_templates(source, {"default": "C"})
    assert json.loads(new)["chat_template"] == [
        {"name": "default", "template": "C"},
        {"name": "rag", "template": "B"},
    ]
    jinja = make_model("ignored in config", jinja_file="J")
    assert read_source(jinja).layout == "jinja-file"
    assert read_source(jinja / "tokenizer_config.json").path.name == "chat_template.jinja"


def test_missing_template_and_bad_json(make_model: ModelFactory, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no chat_template"):
        read_source(make_model())
    bad = tmp_path / "tokenizer_config.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(InputError, match="not valid JSON"):
        read_source(bad)
    with pytest.raises(InputError, match="no such file"):
        read_source(tmp_path / "absent")


@pytest.mark.parametrize(
    ("original", "expected"),
    [
        (
            '{\n  "a": 1,\n  "b": [1, 2]\n}\n',
            '{\n  "a": 1,\n  "b": [1, 2],\n  "chat_template": T\n}\n',
        ),
        ('{"a": 1}', '{"a": 1, "chat_template": T}'),
        ('{"a":1}', '{"a":1,"chat_template":T}'),
        ("{ }\n", '{\n  "chat_template": T\n}\n'),
    ],
)
def test_absent_template_is_added_in_the_file_layout(
    tmp_path: Path, original: str, expected: str
) -> None:
    path = tmp_path / "tokenizer_config.json"
    for template, literal in (("<｜User｜>", '"<\\uff5cUser\\uff5c>"'), ("x", '"x"')):
        for prefix in ("", "ü"):  # an ASCII file keeps \\u escapes, another file UTF-8
            text = original.replace('"a"', f'"{prefix}a"')
            path.write_text(text, encoding="utf-8")
            source = read_source_or_absent(path)
            assert source.absent and source.entries[0].text == ""
            want = literal if text.isascii() else json.dumps(template, ensure_ascii=False)
            new = with_templates(source, {"default": template})
            assert new == expected.replace('"a"', f'"{prefix}a"').replace("T", want)
