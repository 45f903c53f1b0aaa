"""A tokenizer_config.json nested beyond the parser's recursion limit is bad input, exit 3."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.conftest import CliOutcome

DEEP = "[" * 100_000 + "]" * 100_000


def test_deep_tokenizer_config(run_cli: Callable[..., CliOutcome], tmp_path: Path) -> None:
    (tmp_path / "tokenizer_config.json").write_text(DEEP)
    lint = run_cli("template", str(tmp_path), "--check", "--format", "json")
    assert lint.exit_code == 3
    (finding,) = lint.json()["findings"]
    assert finding["code"] == "bad-input" and "too deeply" in finding["message"]
    assert "tokenizer_config.json" in finding["message"]
