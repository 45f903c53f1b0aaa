"""The shared hook runner: exit codes, one line per problem, no tracebacks, JSON output."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest

from dsprep import catalogue as C
from dsprep.errors import InputError
from dsprep.findings import Finding
from dsprep.hooks.runner import error_finding, files_by_folder, run_hook


def test_internal_error_is_one_line_exit_3(capsys: pytest.CaptureFixture[str]) -> None:
    def broken(paths: list[Path], profile: object) -> list[Finding]:
        raise KeyError("weight_map")

    code = run_hook(["a.json"], prog="dsprep-check-x", description="x", check=broken)
    out = capsys.readouterr().out
    assert code == 3
    assert out.count("\n") == 1 and "internal error: KeyError" in out
    assert "DSPREP_DEBUG=1" in out


def test_debug_shows_the_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DSPREP_DEBUG", "1")

    def broken(paths: list[Path], profile: object) -> list[Finding]:
        raise KeyError("weight_map")

    with pytest.raises(KeyError):
        run_hook(["a.json"], prog="dsprep-check-x", description="x", check=broken)


def test_cannot_run_is_exit_3(capsys: pytest.CaptureFixture[str]) -> None:
    def unusable(paths: list[Path], profile: object) -> list[Finding]:
        raise InputError("x is not a folder", hint="pass a folder", path="x")

    assert run_hook(["x"], prog="p", description="d", check=unusable) == 3
    assert capsys.readouterr().out == "x: x is not a folder (pass a folder)\n"


def test_warnings_and_notes_do_not_fail(capsys: pytest.CaptureFixture[str]) -> None:
    notes = [
        C.TEMPLATE_KIND("f.json", "note"),
        C.NO_TOKENIZER("f.json", "careful", hint="do this"),
    ]
    assert (
        run_hook(["f.json"], prog="p", description="d", check=lambda _paths, _profile: notes) == 0
    )
    assert capsys.readouterr().out.splitlines() == [
        "f.json: info: note [template-kind]",
        "f.json: warning: careful [no-tokenizer] (do this)",
    ]


def test_json_format(capsys: pytest.CaptureFixture[str]) -> None:
    found = [C.FP8_WEIGHTS("config.json", "FP8", hint="download W8A8")]
    code = run_hook(
        ["--format", "json", "config.json"],
        prog="p",
        description="d",
        check=lambda _paths, _profile: found,
    )
    document = json.loads(capsys.readouterr().out)
    assert code == 1
    assert document["status"] == "fail"
    assert document["findings"][0]["code"] == "fp8-weights"


def test_usage_error_is_exit_2() -> None:
    with pytest.raises(SystemExit) as raised:
        run_hook(["--nope"], prog="p", description="d", check=lambda _: [])
    assert raised.value.code == 2


def test_files_by_folder_keeps_order_and_drops_duplicates() -> None:
    paths = [Path("a/config.json"), Path("b/x.json"), Path("a/d.json"), Path("a/config.json")]
    assert files_by_folder(paths) == {
        Path("a"): ["config.json", "d.json"],
        Path("b"): ["x.json"],
    }


@pytest.mark.parametrize(
    "module", ["check_quant", "check_template", "check_index", "check_cluster"]
)
def test_every_hook_help_shows_an_example(module: str, capsys: pytest.CaptureFixture[str]) -> None:
    hook = importlib.import_module(f"dsprep.hooks.{module}")
    with pytest.raises(SystemExit) as raised:
        hook.main(["--help"])
    assert raised.value.code == 0
    assert f"Example: {hook.PROG} {hook.EXAMPLE}" in capsys.readouterr().out


def test_error_finding_keeps_only_errors_about_the_input() -> None:
    path = Path("model/tokenizer_config.json")
    own = InputError("broken", hint="fix it", path=path)
    assert error_finding(own, path) == Finding("bad-input", str(path), "broken", "fix it")
    unnamed = InputError("broken")
    assert error_finding(unnamed, path).path == str(path)
    sibling = InputError("broken", path="model/tokenizer.json")
    with pytest.raises(InputError):
        error_finding(sibling, path)  # not this file's fault: the hook cannot run (exit 3)
    assert error_finding(sibling, path, beside=True).path == "model/tokenizer.json"
    elsewhere = InputError("schema missing", path="/usr/lib/dsprep/schemas/x.json")
    with pytest.raises(InputError):
        error_finding(elsewhere, path, beside=True)
