"""Real git repositories of a fixture model and real pre-commit runs over them.

Shared by the end-to-end tests and ``bench/hooks_precommit.py``: a model repository
(config, description, index, three small shards, tokenizer files with dsprep's chat
template) and ``.pre-commit-config.yaml`` texts that install this project's hooks the way
pre-commit does it (``repo: local``, ``language: python``, the project as an additional
dependency, so pip installs the working tree into a fresh hook environment).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
MANIFEST = REPO_ROOT / ".pre-commit-hooks.yaml"
PRE_COMMIT = [sys.executable, "-m", "pre_commit"]


def hook_manifest() -> list[dict[str, Any]]:
    """The hooks this project offers, as ``.pre-commit-hooks.yaml`` lists them."""
    hooks: list[dict[str, Any]] = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    return hooks


HOOK_KEYS = (
    "id", "name", "entry", "language", "files", "types", "exclude", "always_run",
    "pass_filenames", "require_serial",
)  # fmt: skip


def local_dsprep_config(project: Path = REPO_ROOT) -> str:
    """A config running every dsprep hook from a pip install of ``project``, with the keys
    of ``.pre-commit-hooks.yaml`` that decide when pre-commit runs a hook and with what (so
    a commit that only deletes a shard runs dsprep-check-index as a user's install does)."""
    hooks = []
    for hook in hook_manifest():
        local = {key: hook[key] for key in HOOK_KEYS if key in hook}
        local["additional_dependencies"] = [str(project)]
        hooks.append(local)
    return yaml.safe_dump({"repos": [{"repo": "local", "hooks": hooks}]}, sort_keys=False)


def check_json_config() -> str:
    """pre-commit-hooks' check-json alone, installed the same way (the benchmark baseline)."""
    hook = {
        "id": "check-json",
        "name": "check json",
        "entry": "check-json",
        "language": "python",
        "types": ["json"],
        "additional_dependencies": ["pre-commit-hooks"],
    }
    return yaml.safe_dump({"repos": [{"repo": "local", "hooks": [hook]}]}, sort_keys=False)


def clean_env(pre_commit_home: Path) -> dict[str, str]:
    """The environment for git and pre-commit: no user or system git config, a fixed author."""
    env = dict(os.environ)
    env.update(
        PRE_COMMIT_HOME=str(pre_commit_home),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_AUTHOR_NAME="dsprep tests",
        GIT_AUTHOR_EMAIL="tests@dsprep.invalid",
        GIT_COMMITTER_NAME="dsprep tests",
        GIT_COMMITTER_EMAIL="tests@dsprep.invalid",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PRE_COMMIT_COLOR="never",
    )
    env.pop("DSPREP_DEBUG", None)
    return env


def run(
    args: list[str], cwd: Path, env: dict[str, str], check: bool = True
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, encoding="utf-8", check=False
    )
    if check and done.returncode != 0:
        raise AssertionError(
            f"{' '.join(args)} exited {done.returncode}\n{done.stdout}\n{done.stderr}"
        )
    return done


def git(repo: Path, env: dict[str, str], *args: str, check: bool = True) -> str:
    return run(["git", *args], repo, env, check).stdout


def pre_commit(
    repo: Path, env: dict[str, str], *args: str, check: bool = False
) -> subprocess.CompletedProcess[str]:
    return run([*PRE_COMMIT, *args], repo, env, check)


def write_model_files(folder: Path) -> None:
    """A tiny servable W8A8 model folder with tokenizer files and dsprep's chat template."""
    from dsprep.demo.checkpoint import write_w8a8_checkpoint
    from dsprep.demo.tokenizer import write_tokenizer_files
    from dsprep.template.build import build_template

    write_w8a8_checkpoint(folder)
    write_tokenizer_files(folder, chat_template=build_template(thinking=False))


def init_repo(repo: Path, env: dict[str, str], config: str, *, commit: bool = True) -> None:
    """``git init`` the folder, write ``.pre-commit-config.yaml`` and commit everything."""
    repo.mkdir(parents=True, exist_ok=True)
    git(repo, env, "init", "-q", "-b", "main")
    (repo / ".pre-commit-config.yaml").write_text(config, encoding="utf-8")
    if commit:
        git(repo, env, "add", "-A")
        git(repo, env, "commit", "-q", "--no-verify", "-m", "fixture model")


def edit_json(path: Path, **changes: Any) -> None:
    document = json.loads(path.read_text(encoding="utf-8"))
    document.update(changes)
    path.write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
