"""The shared command path: results, typed errors and bugs all end in the house format."""

from __future__ import annotations

import json

import click
import pytest
from click.testing import CliRunner

from dsprep import catalogue as C
from dsprep.cli.common import Command, format_option, run_command
from dsprep.errors import DiskError, ExitCode
from dsprep.findings import NoPayload, Result


def boom() -> Result[NoPayload]:
    raise ValueError("unexpected")


def disk_full() -> Result[NoPayload]:
    raise DiskError("cannot write /m/config.json: No space left", hint="free space", path="/m")


def problem() -> Result[NoPayload]:
    return Result("probe", NoPayload(), [C.FP8_WEIGHTS("/m/config.json", "FP8", hint="use W8A8")])


CORES = {"boom": boom, "disk": disk_full, "problem": problem}


@click.command(cls=Command)
@click.argument("which")
@format_option
@click.pass_context
def probe(ctx: click.Context, which: str, fmt: str) -> ExitCode:
    return run_command(ctx, "probe", fmt, CORES[which])


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(probe, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_unexpected_exception_is_one_error_line_exit_3() -> None:
    code, out, err = invoke("boom")
    assert (code, out) == (3, "")
    assert err.splitlines()[0] == "Error: internal error: ValueError: unexpected"
    assert "Traceback" not in err
    code, out, err = invoke("boom", "--debug")
    assert code == 3 and "Traceback" in err


@pytest.mark.parametrize(
    ("which", "code", "status", "finding"),
    [
        ("boom", 3, "error", "cannot-run"),
        ("disk", 3, "error", "disk"),
        ("problem", 1, "fail", "fp8-weights"),
    ],
)
def test_json_mode_is_one_document(which: str, code: int, status: str, finding: str) -> None:
    exit_code, out, err = invoke(which, "--format", "json")
    document = json.loads(out)
    assert exit_code == code and err == ""
    assert document["status"] == status and document["command"] == "probe"
    assert [f["code"] for f in document["findings"]] == [finding]


def test_text_mode_names_file_and_fix() -> None:
    code, out, err = invoke("disk")
    assert code == 3 and out == ""
    assert err == "Error: cannot write /m/config.json: No space left\nHint: free space\n"
    code, out, _ = invoke("problem")
    assert code == 1
    assert "/m/config.json: FP8 [fp8-weights]\n    fix: use W8A8" in out
    assert out.endswith("FAIL: probe found 1 problem\n")
