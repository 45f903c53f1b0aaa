"""End to end: a real git repo of a fixture model commits through real pre-commit.

One hook environment per test session (pre-commit installs it as it does for users: a fresh
venv and a pip install of this project); every test then makes its own repository with
``pre-commit install`` and tries ``git commit``. A bad commit (FP8 config, ASCII-bar
template, an index naming a missing shard) must be refused, a good one must pass.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from dsprep.demo.checkpoint import write_fp8_checkpoint
from dsprep.template.build import build_template
from dsprep.template.tokens import BAR
from tests.hooks.precommit_repo import (
    clean_env,
    edit_json,
    git,
    init_repo,
    local_dsprep_config,
    pre_commit,
    run,
    write_model_files,
)

INDEX = "quant_model_weight_w8a8_dynamic.safetensors.index.json"
SHARD = "quant_model_weight_w8a8_dynamic-00002-of-00003.safetensors"


@dataclass(frozen=True)
class HookEnv:
    env: dict[str, str]
    config: str


@pytest.fixture(scope="session")
def hook_env(tmp_path_factory: pytest.TempPathFactory) -> HookEnv:
    """PRE_COMMIT_HOME with the dsprep hook environment installed once for the session."""
    root = tmp_path_factory.mktemp("pre-commit")
    env = clean_env(root / "home")
    config = local_dsprep_config()
    seed = root / "seed"
    init_repo(seed, env, config, commit=False)
    pre_commit(seed, env, "install-hooks", check=True)
    return HookEnv(env, config)


def new_repo(tmp_path: Path, hook_env: HookEnv, *, model: str = "w8a8") -> Path:
    repo = tmp_path / "model-repo"
    repo.mkdir()
    if model == "w8a8":
        write_model_files(repo)
    else:
        write_fp8_checkpoint(repo)
    init_repo(repo, hook_env.env, hook_env.config, commit=False)
    pre_commit(repo, hook_env.env, "install", check=True)
    return repo


def commit(repo: Path, hook_env: HookEnv, message: str) -> tuple[int, str]:
    git(repo, hook_env.env, "add", "-A")
    done = run(["git", "commit", "-m", message], repo, hook_env.env, check=False)
    return done.returncode, done.stdout + done.stderr


def commits(repo: Path, hook_env: HookEnv) -> list[str]:
    done = run(["git", "log", "--format=%s"], repo, hook_env.env, check=False)
    return done.stdout.split("\n")[:-1] if done.returncode == 0 else []


@pytest.fixture
def good_repo(tmp_path: Path, hook_env: HookEnv) -> Path:
    repo = new_repo(tmp_path, hook_env)
    code, output = commit(repo, hook_env, "good model")
    assert code == 0, output
    return repo


def test_good_model_commits(good_repo: Path, hook_env: HookEnv) -> None:
    assert commits(good_repo, hook_env) == ["good model"]


def test_good_commit_ran_every_applicable_hook(tmp_path: Path, hook_env: HookEnv) -> None:
    repo = new_repo(tmp_path, hook_env)
    code, output = commit(repo, hook_env, "good model")
    assert code == 0, output
    for name in ("quantization", "chat template", "shard index"):
        line = next(text for text in output.splitlines() if f"dsprep check {name}" in text)
        assert line.endswith("Passed"), line


def test_fp8_model_is_refused(tmp_path: Path, hook_env: HookEnv) -> None:
    repo = new_repo(tmp_path, hook_env, model="fp8")
    code, output = commit(repo, hook_env, "fp8 model")
    assert code != 0
    assert "config.json: config.json sets quantization_config.quant_method to 'fp8'" in output
    assert "[fp8-weights]" in output
    assert commits(repo, hook_env) == []


def test_ascii_bar_template_is_refused(good_repo: Path, hook_env: HookEnv) -> None:
    template = build_template(thinking=False).replace(BAR, "|")
    edit_json(good_repo / "tokenizer_config.json", chat_template=template)
    code, output = commit(good_repo, hook_env, "ascii bars")
    assert code != 0
    assert "tokenizer_config.json:chat_template: template line" in output
    assert "[ascii-bar-token]" in output
    assert commits(good_repo, hook_env) == ["good model"]


def test_index_naming_a_missing_shard_is_refused(good_repo: Path, hook_env: HookEnv) -> None:
    path = good_repo / INDEX
    index = json.loads(path.read_text(encoding="utf-8"))
    missing = "quant_model_weight_w8a8_dynamic-00004-of-00004.safetensors"
    index["weight_map"]["model.layers.9.mlp.down_proj.weight"] = missing
    path.write_text(json.dumps(index, indent=2), encoding="utf-8")
    code, output = commit(good_repo, hook_env, "index with a missing shard")
    assert code != 0
    assert f"{missing}: {missing} does not exist" in output
    assert "[missing-shard]" in output
    assert commits(good_repo, hook_env) == ["good model"]


def test_deleting_a_shard_is_refused(good_repo: Path, hook_env: HookEnv) -> None:
    """pre-commit passes no deleted file to a hook: the index hook runs anyway
    (always_run) and learns the deleted shard from git."""
    git(good_repo, hook_env.env, "rm", "-q", SHARD)
    done = run(["git", "commit", "-m", "drop a shard"], good_repo, hook_env.env, check=False)
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    assert f"{SHARD}: {SHARD} does not exist; {INDEX} puts" in output
    assert "[missing-shard]" in output
    assert commits(good_repo, hook_env) == ["good model"]


def test_commit_without_weights_still_passes(good_repo: Path, hook_env: HookEnv) -> None:
    (good_repo / "README.md").write_text("a model\n", encoding="utf-8")
    code, output = commit(good_repo, hook_env, "readme")
    assert code == 0, output
    line = next(text for text in output.splitlines() if "dsprep check shard index" in text)
    assert line.endswith("Passed"), line
