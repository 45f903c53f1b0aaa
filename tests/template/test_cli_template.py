"""`dsprep template`: rewrite, dry run, idempotence, backups, refusal, --check, faults."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from dsprep.atomic import backup_path
from dsprep.template.build import build_template
from tests.conftest import CliOutcome
from tests.template.conftest import FIXTURES, ModelFactory

Cli = Callable[..., CliOutcome]


def _config(folder: Path) -> Path:
    return folder / "tokenizer_config.json"


def _template_of(folder: Path) -> str:
    return str(json.loads(_config(folder).read_text(encoding="utf-8"))["chat_template"])


@pytest.mark.parametrize("reference", ["published", "vllm_example", "ascii_copy"])
def test_references_are_rewritten_then_pass_check_and_self_test(
    run_cli: Cli, make_model: ModelFactory, published: str, vllm_example: str, reference: str
) -> None:
    texts = {
        "published": published,
        "vllm_example": vllm_example,
        "ascii_copy": published.replace("｜", "|"),
    }
    folder = make_model(texts[reference])
    original = _config(folder).read_bytes()
    outcome = run_cli("template", str(folder), "--thinking", "on")
    assert outcome.exit_code == 0, outcome.stdout + outcome.stderr
    assert "status: rewritten" in outcome.stdout
    assert _template_of(folder) == build_template(thinking=True, tools=True)
    assert backup_path(_config(folder)).read_bytes() == original
    check = run_cli("template", str(folder), "--check")
    assert check.exit_code == 0, check.stdout
    assert "thinking default: on" in check.stdout
    assert "[replaceable-template]" not in check.stdout
    before = run_cli("template", str(folder) + "/tokenizer_config.json.dsprep-orig", "--check")
    assert "[replaceable-template]" in before.stdout
    self_test = run_cli("render", str(folder), "--self-test")
    assert self_test.exit_code == 0, self_test.stdout
    assert "OK: render --self-test" in self_test.stdout


def test_second_run_is_up_to_date_and_touches_nothing(
    run_cli: Cli, make_model: ModelFactory, published: str
) -> None:
    folder = make_model(published, indent=4)
    assert run_cli("template", str(folder), "--thinking", "off").exit_code == 0
    config = _config(folder)
    before = (config.read_bytes(), config.stat().st_mtime_ns)
    backup = backup_path(config).read_bytes()
    again = run_cli("template", str(folder), "--thinking", "off")
    assert again.exit_code == 0
    assert "up to date" in again.stdout
    assert (config.read_bytes(), config.stat().st_mtime_ns) == before
    # A different option rewrites again, but the backup keeps the user's original.
    assert run_cli("template", str(folder), "--thinking", "on", "--no-tools").exit_code == 0
    assert backup_path(config).read_bytes() == backup
    assert "tools=off" in _template_of(folder)


def test_rewrite_preserves_formatting(
    run_cli: Cli, make_model: ModelFactory, published: str
) -> None:
    folder = make_model(published, indent=4, trailing_newline=False)
    text = _config(folder).read_text(encoding="utf-8")
    run_cli("template", str(folder), "--thinking", "off")
    after = _config(folder).read_text(encoding="utf-8")
    assert not after.endswith("\n")
    old_doc, new_doc = json.loads(text), json.loads(after)
    assert list(old_doc) == list(new_doc)
    assert {k: v for k, v in old_doc.items() if k != "chat_template"} == {
        k: v for k, v in new_doc.items() if k != "chat_template"
    }
    assert '\n    "bos_token": "<｜begin▁of▁sentence｜>",' in after  # indent and non-ASCII kept


def test_dry_run_prints_a_diff_and_writes_nothing(
    run_cli: Cli, make_model: ModelFactory, published: str
) -> None:
    folder = make_model(published)
    before = (_config(folder).read_bytes(), _config(folder).stat().st_mtime_ns)
    outcome = run_cli("template", str(folder), "--thinking", "on", "--dry-run")
    assert outcome.exit_code == 0
    assert outcome.stdout.startswith(f"--- {_config(folder)}:chat_template (current)\n")
    assert "\n+    {%- set thinking = true -%}\n" in outcome.stdout
    assert "would rewrite" in outcome.stdout
    assert (_config(folder).read_bytes(), _config(folder).stat().st_mtime_ns) == before
    assert not backup_path(_config(folder)).exists()


def test_unknown_template_switch_refuse_force(run_cli: Cli, make_model: ModelFactory) -> None:
    standard = (FIXTURES / "custom-standard-line.jinja").read_text(encoding="utf-8")
    folder = make_model(standard)
    outcome = run_cli("template", str(folder), "--thinking", "on")
    assert outcome.exit_code == 0, outcome.stdout
    assert _template_of(folder) == standard.replace("thinking = false", "thinking = true")
    assert "[self-test-failed]" in outcome.stdout  # a warning: this template has no tools
    again = run_cli("template", str(folder), "--thinking", "on")
    assert again.exit_code == 0 and "up to date" in again.stdout
    with_tools = run_cli("template", str(folder), "--thinking", "on", "--tools")
    assert with_tools.exit_code == 1
    assert "cannot change its tools section" in with_tools.stdout

    other = make_model((FIXTURES / "custom-no-default.jinja").read_text(encoding="utf-8"))
    before = _config(other).read_bytes()
    refused = run_cli("template", str(other), "--thinking", "on", "--format", "json")
    assert refused.exit_code == 1
    document = refused.json()
    assert document["status"] == "fail"
    assert [f["code"] for f in document["findings"]] == ["unknown-template"]
    assert "--force" in document["findings"][0]["hint"]
    assert _config(other).read_bytes() == before
    forced = run_cli("template", str(other), "--thinking", "on", "--force")
    assert forced.exit_code == 0
    assert _template_of(other) == build_template(thinking=True)


def test_list_form_and_jinja_file_are_rewritten(
    run_cli: Cli, make_model: ModelFactory, published: str
) -> None:
    listed = make_model(
        [{"name": "default", "template": published}, {"name": "rag", "template": "R"}]
    )
    assert run_cli("template", str(listed), "--thinking", "off").exit_code == 0
    entries = json.loads(_config(listed).read_text(encoding="utf-8"))["chat_template"]
    assert entries == [
        {"name": "default", "template": build_template(thinking=False)},
        {"name": "rag", "template": "R"},
    ]
    jinja = make_model(jinja_file=published)
    config_before = _config(jinja).read_bytes()
    assert (
        run_cli("template", str(jinja / "tokenizer_config.json"), "--thinking", "on").exit_code == 0
    )
    assert (jinja / "chat_template.jinja").read_text(encoding="utf-8") == build_template(
        thinking=True
    )
    assert _config(jinja).read_bytes() == config_before


def test_failed_write_leaves_the_original(
    run_cli: Cli, make_model: ModelFactory, published: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = make_model(published)
    before = _config(folder).read_bytes()

    def broken_replace(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    outcome = run_cli("template", str(folder), "--thinking", "on")
    monkeypatch.undo()
    assert outcome.exit_code == 3
    assert "Error:" in outcome.stderr and "original file is unchanged" in outcome.stderr
    assert _config(folder).read_bytes() == before
    assert [p.name for p in folder.iterdir() if p.name.endswith(".tmp")] == []


def test_check_reports_lookalikes_unknown_tokens_and_syntax(
    run_cli: Cli, make_model: ModelFactory
) -> None:
    folder = make_model((FIXTURES / "bad-tokens.jinja").read_text(encoding="utf-8"))
    outcome = run_cli("template", str(folder), "--check", "--format", "json")
    assert outcome.exit_code == 1
    findings = outcome.json()["findings"]
    codes = [f["code"] for f in findings]
    assert "ascii-bar-token" in codes and "unknown-special-token" in codes
    bar = next(f for f in findings if f["code"] == "ascii-bar-token")
    assert "line 2, column 36" in bar["message"]
    assert "replace '<|Assistant|>' with '<｜Assistant｜>'" in bar["hint"]
    unknown = next(f for f in findings if f["code"] == "unknown-special-token")
    assert "<｜tool▁calls▁start｜>" in unknown["message"]

    broken = make_model((FIXTURES / "syntax-error.jinja").read_text(encoding="utf-8"))
    text = run_cli("template", str(broken), "--check")
    assert text.exit_code == 1
    assert "template line 2: Jinja syntax error" in text.stdout
    assert "[template-syntax]" in text.stdout


def test_usage_and_help(run_cli: Cli, make_model: ModelFactory, published: str) -> None:
    assert run_cli("template", str(make_model(published))).exit_code == 2
    help_text = run_cli("template", "--help").stdout
    assert "Example: dsprep template" in help_text
    missing = run_cli("template", "/nonexistent/model", "--check")
    assert missing.exit_code == 3
    assert missing.stderr.startswith("Error: ")
