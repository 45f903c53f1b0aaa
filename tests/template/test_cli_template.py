"""`dsprep template`: rewrite, dry run, idempotence, backups, refusal, --check, faults."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from dsprep.atomic import backup_path
from dsprep.template.build import TEMPLATE_VERSION, build_template, marker
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


def test_a_read_only_config_is_refused_unless_force(run_cli: Cli, make_model: ModelFactory) -> None:
    folder = make_model(build_template(thinking=False, tools=True))
    config = _config(folder)
    config.chmod(0o444)
    before = config.read_bytes()
    refused = run_cli("template", str(folder), "--thinking", "on")
    assert refused.exit_code == 3, refused.stdout + refused.stderr
    assert f"{config} is read-only (mode 0444)" in refused.stderr
    assert config.read_bytes() == before
    forced = run_cli("template", str(folder), "--thinking", "on", "--force")
    assert forced.exit_code == 0, forced.stdout + forced.stderr
    assert config.read_bytes() != before
    assert oct(config.stat().st_mode & 0o777) == "0o444"  # the file keeps its mode


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


def test_usage_and_help(run_cli: Cli, make_model: ModelFactory) -> None:
    own = build_template(thinking=False, tools=True)  # needs nothing from ../shared
    assert run_cli("template", str(make_model(own))).exit_code == 2
    help_text = run_cli("template", "--help").stdout
    assert "Example: dsprep template" in help_text
    missing = run_cli("template", "/nonexistent/model", "--check")
    assert missing.exit_code == 3
    assert missing.stderr.startswith("Error: ")


@pytest.mark.parametrize(
    ("value", "what"),
    [
        (3, "a number"),
        (1.5, "a number"),
        (None, "null"),
        (True, "a boolean"),
        ({"a": 1}, "an object"),
        ([], "an empty list"),
        ([1, "x", {"name": "default"}], "a list with no {name, template} entry"),
    ],
)
def test_a_chat_template_that_is_not_a_template_is_named(
    run_cli: Cli, tmp_path: Path, value: object, what: str
) -> None:
    config = tmp_path / "tokenizer_config.json"
    config.write_text(json.dumps({"chat_template": value, "bos_token": "x"}), encoding="utf-8")
    for args in (["--check"], ["--thinking", "off"]):
        outcome = run_cli("template", str(tmp_path), *args)
        assert outcome.exit_code == 3
        assert outcome.stderr.startswith(
            f"Error: {config}: key 'chat_template' in tokenizer_config.json is {what}, not a"
            " template string (or a list of {name, template})\n"
        )
        assert f"delete the key and add dsprep's template: dsprep template {tmp_path}" in (
            outcome.stderr
        )
    document = run_cli("template", str(tmp_path), "--check", "--format", "json").json()
    assert document["findings"][0]["code"] == "bad-input"


def test_a_config_without_chat_template_gets_dsprep_template(
    run_cli: Cli, make_model: ModelFactory
) -> None:
    """The no-chat-template fix: `dsprep template DIR --thinking off` adds the template, with
    the documented --tools default, atomically, keeping the original once."""
    folder = make_model(indent=4)
    config = _config(folder)
    original = config.read_bytes()
    missing = run_cli("template", str(folder), "--check")
    assert missing.exit_code == 3
    assert f"Hint: add dsprep's template: dsprep template {folder} --thinking off" in (
        missing.stderr
    )
    dry = run_cli("template", str(folder), "--thinking", "off", "--dry-run")
    assert dry.exit_code == 0 and "would rewrite" in dry.stdout
    assert f"+{{#- {marker(thinking=False, tools=True)} -#}}" in dry.stdout
    assert config.read_bytes() == original
    outcome = run_cli("template", str(folder), "--thinking", "off")
    assert outcome.exit_code == 0, outcome.stdout + outcome.stderr
    assert "entry:  default: absent -> add" in outcome.stdout
    assert "status: rewritten" in outcome.stdout
    assert _template_of(folder) == build_template(thinking=False, tools=True)
    assert backup_path(config).read_bytes() == original
    before, after = json.loads(original), json.loads(config.read_text(encoding="utf-8"))
    assert list(after) == [*before, "chat_template"]
    assert {k: v for k, v in after.items() if k != "chat_template"} == before
    assert '\n    "chat_template": "' in config.read_text(encoding="utf-8")  # its indent
    assert [p.name for p in folder.iterdir() if p.name.endswith(".tmp")] == []
    stamp = (config.read_bytes(), config.stat().st_mtime_ns)
    again = run_cli("template", str(folder), "--thinking", "off")
    assert again.exit_code == 0 and "up to date" in again.stdout
    assert (config.read_bytes(), config.stat().st_mtime_ns) == stamp
    assert run_cli("template", str(folder), "--check").exit_code == 0
    no_tools = make_model()
    assert run_cli("template", str(no_tools), "--thinking", "on", "--no-tools").exit_code == 0
    assert _template_of(no_tools) == build_template(thinking=True, tools=False)


def test_tools_default_is_on_and_a_dsprep_template_keeps_its_own(
    run_cli: Cli, make_model: ModelFactory, published: str
) -> None:
    folder = make_model(published)
    assert run_cli("template", str(folder), "--thinking", "off").exit_code == 0
    assert "tools=on" in _template_of(folder)  # --tools, the documented default
    assert run_cli("template", str(folder), "--thinking", "off", "--no-tools").exit_code == 0
    assert run_cli("template", str(folder), "--thinking", "on").exit_code == 0
    assert _template_of(folder) == build_template(thinking=True, tools=False)
    forced = make_model((FIXTURES / "custom-no-default.jinja").read_text(encoding="utf-8"))
    assert run_cli("template", str(forced), "--thinking", "off", "--force").exit_code == 0
    assert _template_of(forced) == build_template(thinking=False, tools=True)


def test_lint_hints_name_a_command_that_runs(run_cli: Cli, make_model: ModelFactory) -> None:
    """An unknown template is only replaced with --force: the hint says so, and it works."""
    folder = make_model((FIXTURES / "bad-tokens.jinja").read_text(encoding="utf-8"))
    findings = run_cli("template", str(folder), "--check", "--format", "json").json()["findings"]
    bar = next(f for f in findings if f["code"] == "ascii-bar-token")
    command = bar["hint"].partition("or run: ")[2]
    assert command == f"dsprep template {folder} --thinking off --force"
    assert run_cli(*command.split()[1:]).exit_code == 0
    assert run_cli("template", str(folder), "--check").exit_code == 0


def test_an_earlier_dsprep_template_is_upgraded(run_cli: Cli, make_model: ModelFactory) -> None:
    """A template of an earlier dsprep release (its version marker says so) is replaced by
    the current one with the same options; the current one is then up to date."""
    current = build_template(thinking=True, tools=True)
    earlier = current.replace(f" v{TEMPLATE_VERSION};", f" v{TEMPLATE_VERSION - 1};")
    assert earlier != current
    folder = make_model(earlier)
    outcome = run_cli("template", str(folder), "--thinking", "on")
    assert outcome.exit_code == 0, outcome.stdout + outcome.stderr
    assert "status: rewritten" in outcome.stdout
    assert _template_of(folder) == current
    again = run_cli("template", str(folder), "--thinking", "on")
    assert "status: up to date" in again.stdout
