"""A FIFO (or any non-regular file) where dsprep reads a file is refused up front, exit 3:
the cluster file, an ``--init`` target and the ``render --messages`` file. Each call runs
under a deadline, so a regression fails instead of hanging the suite."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import CliOutcome
from tests.deadline import deadline


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "cluster.yaml"
    os.mkfifo(path)
    return path


@pytest.mark.parametrize("command", ["plan", "emit-launch"])
def test_cluster_file_that_is_a_fifo(
    fifo: Path, tmp_path: Path, run_cli: Callable[..., CliOutcome], command: str
) -> None:
    args = ["--out", str(tmp_path / "out")] if command == "emit-launch" else []
    with deadline(10):
        outcome = run_cli(command, str(fifo), *args, "--format", "json")
    assert outcome.exit_code == 3
    (error,) = outcome.json()["findings"]
    assert error["code"] == "bad-input"
    assert error["message"] == f"cannot read cluster file {fifo}: not a regular file"
    assert not (tmp_path / "out").exists()


def test_init_target_that_is_a_fifo(fifo: Path, run_cli: Callable[..., CliOutcome]) -> None:
    with deadline(10):
        outcome = run_cli("emit-launch", "--init", str(fifo))
    assert outcome.exit_code == 3
    assert outcome.stderr.startswith(f"Error: {fifo} is not a regular file (a FIFO)")
    assert fifo.exists() and not fifo.is_file()


def test_messages_file_that_is_a_fifo(tmp_path: Path, run_cli: Callable[..., CliOutcome]) -> None:
    messages = tmp_path / "conversation.json"
    os.mkfifo(messages)
    with deadline(10):
        outcome = run_cli("render", str(tmp_path), "--messages", str(messages))
    assert outcome.exit_code == 3
    assert outcome.stderr.startswith(f"Error: cannot read {messages}: not a regular file")


@pytest.mark.parametrize("which", ["tools", "tokenizer_config"])
def test_tools_and_tokenizer_files_that_are_fifos(
    tmp_path: Path, run_cli: Callable[..., CliOutcome], which: str
) -> None:
    from dsprep.demo.tokenizer import write_tokenizer_files
    from dsprep.template.build import build_template

    model = tmp_path / "model"
    write_tokenizer_files(model, build_template(thinking=False))
    messages = tmp_path / "conversation.json"
    messages.write_text('[{"role": "user", "content": "hi"}]', encoding="utf-8")
    args = ["render", str(model), "--messages", str(messages)]
    special = tmp_path / "tools.json"
    if which == "tools":
        args += ["--tools", str(special)]
    else:
        special = model / "tokenizer_config.json"
        special.unlink()
    os.mkfifo(special)
    with deadline(10):
        outcome = run_cli(*args)
    assert outcome.exit_code == 3, outcome.stdout + outcome.stderr
    assert f"{special}" in outcome.stderr and "not a regular file" in outcome.stderr
