"""The look-alike lint is one linear pass and lists at most 20 findings plus a count."""

from __future__ import annotations

import json
from pathlib import Path

from dsprep.template.lint import MAX_LISTED, check_template
from dsprep.template.tokens import USER, scan_lookalikes
from tests.template.conftest import ModelFactory
from tests.template.measured import measure

LOOKALIKES = 200_000


def _many_lookalikes(count: int) -> str:
    """``count`` look-alikes, two per line, with a real token between."""
    line = "<|User|>hi" + USER + "<|Assistant|>ok"
    return "{{ bos_token }}\n" + "\n".join(line for _ in range(count // 2))


def test_positions_are_those_of_a_search_from_the_start() -> None:
    text = _many_lookalikes(2_000)
    scan = scan_lookalikes(text)
    assert scan.count == 2_000 and len(scan.first) == 2_000
    for lookalike in scan.first[::97]:
        before = text[: lookalike.offset]
        assert lookalike.line == before.count("\n") + 1
        assert lookalike.column == lookalike.offset - before.rfind("\n")
        assert text[lookalike.offset :].startswith(lookalike.found)
    kept = scan_lookalikes(text, keep=3)
    assert kept.count == 2_000 and kept.first == scan.first[:3]


def test_200000_lookalikes_lint_fast_and_list_twenty(tmp_path: Path) -> None:
    config = tmp_path / "tokenizer_config.json"
    config.write_text(json.dumps({"chat_template": _many_lookalikes(LOOKALIKES)}), "utf-8")
    check = measure("cli", "template", config, "--check", "--format", "json")
    assert check.code == 1
    assert check.cpu < 5, check.cpu
    document = check.json()
    bars = [f for f in document["findings"] if f["code"] == "ascii-bar-token"]
    assert len(bars) == MAX_LISTED + 1
    assert bars[0]["message"].startswith("template line 2, column 1: '<|User|>'")
    assert bars[-1]["message"].startswith(f"… and {LOOKALIKES - MAX_LISTED:,} more look-alikes")
    assert document["data"]["templates"][0]["lookalikes"] == LOOKALIKES

    text = measure("cli", "template", config, "--check")
    assert text.cpu < 5, text.cpu
    assert text.result["stdout"].count("[ascii-bar-token]") == MAX_LISTED + 1

    hook = measure("hook", config)
    assert hook.code == 1
    assert hook.cpu < 5, hook.cpu
    assert hook.output.count("[ascii-bar-token]") == MAX_LISTED + 1


def test_unknown_special_tokens_are_listed_up_to_twenty(make_model: ModelFactory) -> None:
    folder = make_model("".join(f"<｜x{i}｜>" for i in range(500)))
    result = check_template(folder)
    unknown = [f for f in result.findings if f.code == "unknown-special-token"]
    assert len(unknown) == MAX_LISTED + 1
    assert unknown[0].message.startswith("template line 1, column 1: the template emits '<｜x0｜>'")
    assert unknown[-1].message.startswith(f"… and {500 - MAX_LISTED} more special-token literals")


def test_one_left_over_is_listed_not_counted(make_model: ModelFactory) -> None:
    for count, listed, summary in ((21, 21, None), (22, 20, "… and 2 more look-alikes")):
        result = check_template(make_model("{{ bos_token }}" + "<|User|>hi" * count))
        bars = [f.message for f in result.findings if f.code == "ascii-bar-token"]
        assert result.payload.templates[0].lookalikes == count
        assert len(bars) == listed + (summary is not None)
        assert summary is None or bars[-1].startswith(summary)
