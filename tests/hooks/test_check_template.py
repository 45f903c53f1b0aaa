"""dsprep-check-template on real tokenizer files written by the generators."""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from pathlib import Path

import pytest

from dsprep.hooks.check_template import main
from dsprep.template.build import build_template
from dsprep.template.tokens import BAR
from tests.conftest import CliOutcome
from tests.hooks.conftest import RunHook
from tests.hooks.precommit_repo import edit_json

CONFIG = "tokenizer_config.json"


def test_dsprep_template_passes_and_reports_thinking_default(
    model_repo: Path, run_hook_main: RunHook
) -> None:
    outcome = run_hook_main(main, [CONFIG])
    assert outcome.exit_code == 0, outcome.stdout
    assert outcome.codes("error") == []
    assert f"{CONFIG}:chat_template: info: thinking default: off" in outcome.stdout


def test_ascii_bar_template_is_refused(model_repo: Path, run_hook_main: RunHook) -> None:
    edit_json(model_repo / CONFIG, chat_template=build_template(thinking=False).replace(BAR, "|"))
    outcome = run_hook_main(main, [CONFIG])
    assert outcome.exit_code == 1
    assert set(outcome.codes("error")) == {"ascii-bar-token"}
    assert "'<|User|>' is a look-alike of the special token '<｜User｜>'" in outcome.stdout
    assert "self-test-skipped" in outcome.codes("info")


def test_self_test_failures_are_one_line_each_and_capped(
    model_repo: Path, run_hook_main: RunHook
) -> None:
    edit_json(model_repo / CONFIG, chat_template="{{ bos_token }}{{ messages[0]['content'] }}")
    outcome = run_hook_main(main, [CONFIG])
    assert outcome.exit_code == 1
    failures = outcome.codes("error")
    assert failures == ["self-test-failed"] * 6
    assert "more self-test failures like the ones above" in outcome.stdout.splitlines()[-1]


def test_jinja_file_wins_and_is_checked_once(model_repo: Path, run_hook_main: RunHook) -> None:
    (model_repo / "chat_template.jinja").write_text(build_template(thinking=True), "utf-8")
    outcome = run_hook_main(main, [CONFIG, "chat_template.jinja"])
    assert outcome.exit_code == 0, outcome.stdout
    assert outcome.codes().count("template-kind") == 1
    assert "chat_template.jinja: info: thinking default: on" in outcome.stdout


def test_tokenizer_config_without_template_is_a_warning(
    model_repo: Path, run_hook_main: RunHook
) -> None:
    config = json.loads((model_repo / CONFIG).read_text(encoding="utf-8"))
    del config["chat_template"]
    (model_repo / CONFIG).write_text(json.dumps(config), encoding="utf-8")
    outcome = run_hook_main(main, [CONFIG])
    assert outcome.exit_code == 0
    assert outcome.lines() == [(CONFIG, "warning", "no-chat-template")]


def test_broken_tokenizer_config_is_a_finding(model_repo: Path, run_hook_main: RunHook) -> None:
    (model_repo / CONFIG).write_text("{", encoding="utf-8")
    outcome = run_hook_main(main, [CONFIG])
    assert outcome.exit_code == 1
    assert [code for path, _, code in outcome.lines() if path == CONFIG] == ["bad-input"]
    assert "not valid JSON" in outcome.stdout


def test_no_chat_template_hint_is_a_command_that_adds_one(
    model_repo: Path, run_hook_main: RunHook, run_cli: Callable[..., CliOutcome]
) -> None:
    config = json.loads((model_repo / CONFIG).read_text(encoding="utf-8"))
    del config["chat_template"]
    (model_repo / CONFIG).write_text(json.dumps(config, indent=2), encoding="utf-8")
    outcome = run_hook_main(main, [CONFIG, "--format", "json"])
    (finding,) = json.loads(outcome.stdout)["findings"]
    assert finding["code"] == "no-chat-template"
    command = shlex.split(finding["hint"].partition(": ")[2])
    assert command == ["dsprep", "template", ".", "--thinking", "off"]
    fixed = run_cli(*command[1:])
    assert fixed.exit_code == 0, fixed.stdout + fixed.stderr
    assert (model_repo / f"{CONFIG}.dsprep-orig").is_file()
    again = run_hook_main(main, [CONFIG])
    assert again.exit_code == 0, again.stdout
    assert f"{CONFIG}:chat_template: info: thinking default: off" in again.stdout
    assert "no-chat-template" not in again.stdout


def test_null_chat_template_is_an_error_not_a_missing_one(
    model_repo: Path, run_hook_main: RunHook
) -> None:
    edit_json(model_repo / CONFIG, chat_template=None)
    outcome = run_hook_main(main, [CONFIG])
    assert outcome.exit_code == 1
    assert outcome.lines() == [(CONFIG, "error", "bad-input")]
    assert (
        "key 'chat_template' in tokenizer_config.json is null, not a template string"
        " (or a list of {name, template})"
    ) in outcome.stdout
    assert "delete the key and add dsprep's template: dsprep template . --thinking off" in (
        outcome.stdout
    )


def test_hostile_template_is_a_sandbox_violation_not_a_crash(
    model_repo: Path, run_hook_main: RunHook
) -> None:
    edit_json(model_repo / CONFIG, chat_template="{{ '%*d' | format(1000000000, 1) }}")
    outcome = run_hook_main(main, [CONFIG])
    assert outcome.exit_code == 1
    assert "sandbox-violation" in outcome.codes("error")
    edit_json(model_repo / CONFIG, chat_template="{{ x }}" * 60_000)
    outcome = run_hook_main(main, [CONFIG])
    assert outcome.exit_code == 1
    assert outcome.codes("error") == ["sandbox-violation"]
    assert "more than 50,000 Jinja tokens" in outcome.stdout


def test_lint_and_self_test_share_one_read_of_the_tokenizer(
    model_repo: Path, run_hook_main: RunHook, monkeypatch: pytest.MonkeyPatch
) -> None:
    """tokenizer.json (7.8 MB for the real model) is read once, not once per check."""
    import dsprep.template.source as source_module

    reads: list[str] = []
    real_read_text = source_module.read_text

    def counting_read_text(path: Path) -> str:
        reads.append(Path(path).name)
        return real_read_text(path)

    monkeypatch.setattr(source_module, "read_text", counting_read_text)
    outcome = run_hook_main(main, [CONFIG])
    assert outcome.exit_code == 0, outcome.stdout
    assert reads.count("tokenizer.json") == 1
    assert reads.count(CONFIG) <= 2  # the template source, the tokenizer's special tokens
