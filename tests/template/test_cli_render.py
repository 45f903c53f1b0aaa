"""`dsprep render`: prompt, token pieces, engines, self-test, bad input, light imports."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from dsprep.template.build import build_template
from tests.conftest import CliOutcome
from tests.template.conftest import FIXTURES, ModelFactory

Cli = Callable[..., CliOutcome]
CONVERSATION = FIXTURES / "messages-tools.json"


def test_render_prints_the_prompt_and_tokens(run_cli: Cli, make_model: ModelFactory) -> None:
    folder = make_model(build_template(thinking=False))
    outcome = run_cli(
        "render",
        str(folder),
        "--messages",
        str(CONVERSATION),
        "--add-generation-prompt",
        "--tokens",
    )
    assert outcome.exit_code == 0, outcome.stderr
    prompt, _, table = outcome.stdout.partition("\n# ")
    assert prompt.startswith("<｜begin▁of▁sentence｜>You are a helpful assistant.\n\n## Tools\n")
    assert '<｜tool▁sep｜>{"city": "杭州"}<｜tool▁call▁end｜>' in prompt
    assert prompt.endswith("<｜User｜>And tomorrow?<｜Assistant｜></think>")
    rows = table.splitlines()[1:]
    for token in ("'<｜tool▁calls▁begin｜>'", "'<｜tool▁sep｜>'", "'</think>'"):
        assert any(row.endswith(f"{token}  added token") for row in rows), token


def test_engines_agree_and_thinking_flag(run_cli: Cli, make_model: ModelFactory) -> None:
    folder = make_model(build_template(thinking=False))
    args = ["render", str(folder), "--messages", str(CONVERSATION), "--add-generation-prompt"]
    jinja = run_cli(*args, "--thinking", "on")
    hf = run_cli(*args, "--thinking", "on", "--engine", "transformers")
    assert jinja.exit_code == hf.exit_code == 0, hf.stderr
    assert jinja.stdout == hf.stdout
    assert jinja.stdout.endswith("<｜Assistant｜><think>\n")


def test_json_output_is_one_document(run_cli: Cli, make_model: ModelFactory) -> None:
    folder = make_model(build_template(thinking=True))
    outcome = run_cli(
        "render", str(folder), "--messages", str(CONVERSATION), "--tokens", "--format", "json"
    )
    document = json.loads(outcome.stdout)
    assert document["status"] == "ok"
    assert document["data"]["prompt"].startswith("<｜begin▁of▁sentence｜>")
    users = [t for t in document["data"]["tokens"] if t["text"] == "<｜User｜>"]
    assert len(users) == 2
    assert all(t["added_token"] and isinstance(t["id"], int) for t in users)


def test_self_test_fails_on_published_with_a_diff(
    run_cli: Cli, make_model: ModelFactory, published: str
) -> None:
    outcome = run_cli("render", str(make_model(published)), "--self-test")
    assert outcome.exit_code == 1
    assert "[self-test-failed]" in outcome.stdout
    assert "FAIL: render --self-test" in outcome.stdout


def test_self_test_with_transformers_engine(run_cli: Cli, make_model: ModelFactory) -> None:
    folder = make_model(build_template(thinking=True))
    outcome = run_cli("render", str(folder), "--self-test", "--engine", "transformers")
    assert outcome.exit_code == 0, outcome.stdout
    assert "tool calls parsed back" in outcome.stdout


def test_bad_input_is_one_error_line(
    run_cli: Cli, make_model: ModelFactory, tmp_path: Path
) -> None:
    folder = make_model(build_template(thinking=False))
    bad = tmp_path / "bad.json"
    bad.write_text('{"messages": 3}', encoding="utf-8")
    outcome = run_cli("render", str(folder), "--messages", str(bad))
    assert outcome.exit_code == 3
    assert outcome.stderr.startswith(f"Error: {bad}: expected a JSON list of messages")
    assert "Traceback" not in outcome.stderr
    assert run_cli("render", str(folder)).exit_code == 2
    assert "Example: dsprep render" in run_cli("render", "--help").stdout


def test_json_nested_too_deeply_is_bad_input(
    run_cli: Cli, make_model: ModelFactory, tmp_path: Path
) -> None:
    """json's RecursionError on a hostile file is a clear bad-input error, exit 3."""
    folder = make_model(build_template(thinking=False))
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000, encoding="utf-8")
    outcome = run_cli("render", str(folder), "--messages", str(deep))
    assert outcome.exit_code == 3
    assert outcome.stderr.startswith(f"Error: {deep} nests its JSON too deeply")
    assert "Traceback" not in outcome.stderr
    document = run_cli("render", str(folder), "--messages", str(deep), "--format", "json").json()
    assert document["status"] == "error"
    assert document["findings"][0]["code"] == "bad-input"


def test_hostile_template_via_cli(run_cli: Cli, make_model: ModelFactory) -> None:
    folder = make_model("{{ ''.__class__.__mro__[1].__subclasses__() }}")
    outcome = run_cli("render", str(folder), "--messages", str(CONVERSATION), "--format", "json")
    assert outcome.exit_code == 3
    assert outcome.json()["findings"][0]["code"] == "sandbox-violation"


def test_default_engine_and_check_do_not_import_transformers(
    make_model: ModelFactory,
) -> None:
    folder = make_model(build_template(thinking=False))
    script = (
        "import sys\n"
        "from dsprep.cli.main import main\n"
        "for args in (['render', sys.argv[1], '--messages', sys.argv[2]],"
        " ['template', sys.argv[1], '--check'], ['render', sys.argv[1], '--self-test']):\n"
        "    try:\n"
        "        main(args, standalone_mode=False)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "assert 'transformers' not in sys.modules, 'transformers was imported'\n"
        "print('light')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(folder), str(CONVERSATION)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.endswith("light\n")
    assert "<｜User｜>And tomorrow?" in done.stdout  # it really rendered
