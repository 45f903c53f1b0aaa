"""The README documents every command and hook id (finding codes: tests/test_catalogue.py)."""

from __future__ import annotations

import yaml

from tests.conftest import REPO_ROOT

PACKAGE = REPO_ROOT / "toolkit" / "dsprep"
README = REPO_ROOT / "README.md"


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
