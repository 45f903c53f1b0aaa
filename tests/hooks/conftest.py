"""Fixtures for the hook tests: a tiny model repo per test, hooks run in-process."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.hooks.precommit_repo import write_model_files

LINE = re.compile(
    r"^(?P<path>\S.*?): (?:(?P<severity>info|warning): )?(?P<message>.+) \[(?P<code>[a-z0-9-]+)\]"
)
HookMain = Callable[[Sequence[str] | None], int]


@dataclass
class HookOutcome:
    exit_code: int
    stdout: str

    def lines(self) -> list[tuple[str, str, str]]:
        """(path, severity, code) of every output line; severity "error" when unmarked."""
        found = []
        for text in self.stdout.splitlines():
            match = LINE.match(text)
            assert match, f"not a hook line: {text!r}"
            found.append((match["path"], match["severity"] or "error", match["code"]))
        return found

    def codes(self, severity: str | None = None) -> list[str]:
        return [code for _, sev, code in self.lines() if severity in (None, sev)]


@pytest.fixture(scope="session")
def pristine_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("hooks-model") / "model"
    write_model_files(folder)
    return folder


@pytest.fixture
def model_repo(pristine_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A writable copy of the tiny model, and the current folder (pre-commit runs in the root)."""
    repo = tmp_path / "repo"
    shutil.copytree(pristine_model, repo)
    monkeypatch.chdir(repo)
    return repo


RunHook = Callable[[HookMain, Sequence[str]], HookOutcome]


@pytest.fixture
def run_hook_main(capsys: pytest.CaptureFixture[str]) -> RunHook:
    """Call a hook's ``main(argv)`` in-process; its exit code and stdout."""

    def invoke(main: HookMain, argv: Sequence[str]) -> HookOutcome:
        capsys.readouterr()
        code = main(list(argv))
        captured = capsys.readouterr()
        assert "Traceback" not in captured.out + captured.err
        return HookOutcome(code, captured.out)

    return invoke
