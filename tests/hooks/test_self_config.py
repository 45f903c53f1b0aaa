"""This repository runs its own hooks on its good example repos (``.pre-commit-config.yaml``)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import yaml

from tests.hooks.precommit_repo import REPO_ROOT, clean_env, hook_manifest, pre_commit

CONFIG = REPO_ROOT / ".pre-commit-config.yaml"


def test_own_config_runs_every_hook_on_the_good_fixtures(tmp_path: Path) -> None:
    env = clean_env(tmp_path / "pre-commit-home")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    good = sorted(
        p.relative_to(REPO_ROOT).as_posix()
        for p in (REPO_ROOT / "tests" / "fixtures" / "hooks").glob("*/good/**/*")
        if p.is_file()
    )
    done = pre_commit(REPO_ROOT, env, "run", "-c", str(CONFIG), "--files", *good)
    assert done.returncode == 0, done.stdout + done.stderr
    for hook in yaml.safe_load(CONFIG.read_text(encoding="utf-8"))["repos"][0]["hooks"]:
        line = next(text for text in done.stdout.splitlines() if text.startswith(hook["name"]))
        assert line.endswith("Passed"), line  # not "(no files to check)Skipped"


def test_own_config_covers_every_offered_hook() -> None:
    config = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    own = {hook["id"]: hook for hook in config["repos"][0]["hooks"]}
    assert set(own) == {hook["id"] for hook in hook_manifest()}
    for hook in hook_manifest():
        assert own[hook["id"]]["entry"] == hook["entry"]
