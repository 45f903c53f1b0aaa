"""The README documents every finding code, error code, command and hook id."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from tests.conftest import REPO_ROOT

PACKAGE = REPO_ROOT / "toolkit" / "dsprep"
README = REPO_ROOT / "README.md"
_PATTERNS = (
    # Finding("code", …), finding(cluster, "code", …), _finding("code", …)
    re.compile(r'[Ff]inding\((?:\s*\w+,)?\s*"([a-z0-9]+(?:-[a-z0-9]+)*)"'),
    # class attributes of errors (code = "network") and module constants (SCHEMA_CODE = "…")
    re.compile(r'^\s*(?:code|[A-Z_]*CODE)(?:: str)? = "([a-z0-9]+(?:-[a-z0-9]+)*)"', re.M),
)


def finding_codes() -> dict[str, Path]:
    codes: dict[str, Path] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        for pattern in _PATTERNS:
            for match in pattern.finditer(text):
                codes.setdefault(match.group(1), path)
    return codes


def test_the_scan_finds_codes_of_every_stage() -> None:
    codes = finding_codes()
    for expected in ("fp8-weights", "ascii-bar-token", "cluster-schema", "network", "fixed"):
        assert expected in codes, expected
    assert len(codes) > 60


def test_every_finding_code_is_in_the_readme() -> None:
    readme = README.read_text(encoding="utf-8")
    missing = {
        code: str(path.relative_to(REPO_ROOT))
        for code, path in finding_codes().items()
        if f"`{code}`" not in readme
    }
    assert not missing, f"finding codes not documented in README.md: {missing}"


def test_every_hook_id_is_in_the_readme() -> None:
    readme = README.read_text(encoding="utf-8")
    hooks = yaml.safe_load((REPO_ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    assert len(hooks) >= 4
    for hook in hooks:
        assert f"`{hook['id']}`" in readme, hook["id"]


def test_quick_start_is_exactly_two_commands() -> None:
    readme = README.read_text(encoding="utf-8")
    section = readme[readme.index("## Quick start") : readme.index("## Install")]
    block = section[section.index("```bash\n") + 8 :]
    commands = [line for line in block[: block.index("```")].splitlines() if line.strip()]
    assert commands == [
        "python3 -m venv .venv && .venv/bin/pip install -q '.[all]' && .venv/bin/dsprep demo",
        "bash tests/run",
    ]
    ci = (REPO_ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "bash tests/run" in ci
