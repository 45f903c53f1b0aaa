"""dsprep-check-index on real shards, indexes and git-LFS pointer files."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from dsprep.hooks.check_index import main
from tests.hooks.conftest import RunHook

STEM = "quant_model_weight_w8a8_dynamic"
INDEX = f"{STEM}.safetensors.index.json"
SHARDS = [f"{STEM}-0000{i}-of-00003.safetensors" for i in (1, 2, 3)]
CORRUPTION_CODES = {"bad-header", "truncated-shard", "oversized-shard", "missing-shard"}


def all_files() -> list[str]:
    return [INDEX, *SHARDS]


def write_pointer(path: Path, oid: str, size: int) -> None:
    path.write_text(
        f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {size}\n",
        encoding="ascii",
    )


def test_complete_checkpoint_passes(model_repo: Path, run_hook_main: RunHook) -> None:
    outcome = run_hook_main(main, all_files())
    assert (outcome.exit_code, outcome.stdout) == (0, "")


def test_lfs_pointer_stands_in_for_its_shard(model_repo: Path, run_hook_main: RunHook) -> None:
    shard = model_repo / SHARDS[1]
    data = shard.read_bytes()
    write_pointer(shard, hashlib.sha256(data).hexdigest(), len(data))
    outcome = run_hook_main(main, all_files())
    assert outcome.exit_code == 0, outcome.stdout
    assert outcome.lines() == [(SHARDS[1], "info", "lfs-pointer")]
    assert f"{len(data)} bytes upstream" in outcome.stdout
    assert "header checks skipped" in outcome.stdout


def test_every_shard_an_lfs_pointer(model_repo: Path, run_hook_main: RunHook) -> None:
    for name in SHARDS:
        data = (model_repo / name).read_bytes()
        write_pointer(model_repo / name, hashlib.sha256(data).hexdigest(), len(data))
    outcome = run_hook_main(main, all_files())
    assert outcome.exit_code == 0, outcome.stdout
    assert outcome.codes() == ["lfs-pointer"] * 3


def test_lfs_pointer_too_small_for_the_index(model_repo: Path, run_hook_main: RunHook) -> None:
    write_pointer(model_repo / SHARDS[2], "ab" * 32, 40)
    outcome = run_hook_main(main, all_files())
    assert outcome.exit_code == 0, outcome.stdout  # a warning: never reported as corrupt
    assert (INDEX, "warning", "lfs-size-too-small") in outcome.lines()
    assert not CORRUPTION_CODES & set(outcome.codes())


def test_shard_given_alone_as_a_pointer(model_repo: Path, run_hook_main: RunHook) -> None:
    data = (model_repo / SHARDS[0]).read_bytes()
    write_pointer(model_repo / SHARDS[0], hashlib.sha256(data).hexdigest(), len(data))
    outcome = run_hook_main(main, [SHARDS[0]])
    assert outcome.exit_code == 0
    assert outcome.lines() == [(SHARDS[0], "info", "lfs-pointer")]


def test_shard_given_alone_checks_the_folders_index(
    model_repo: Path, run_hook_main: RunHook
) -> None:
    """A changed shard matters to the index that names it: every index of its folder is
    checked, so a pointer too small for the index's total_size is noticed."""
    write_pointer(model_repo / SHARDS[0], "cd" * 32, 123)
    outcome = run_hook_main(main, [SHARDS[0]])
    assert outcome.exit_code == 0
    assert outcome.lines() == [
        (SHARDS[0], "info", "lfs-pointer"),
        (INDEX, "warning", "lfs-size-too-small"),
    ]


def test_changed_shard_reports_a_missing_sibling(model_repo: Path, run_hook_main: RunHook) -> None:
    (model_repo / SHARDS[2]).unlink()
    outcome = run_hook_main(main, [SHARDS[0]])
    assert outcome.exit_code == 1
    assert outcome.lines() == [(SHARDS[2], "error", "missing-shard")]


def test_deleted_shard_is_found_through_git(
    model_repo: Path, run_hook_main: RunHook, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under pre-commit a `git rm` of a shard passes no file name; git names the folder."""
    import subprocess

    env = {"GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    for args in (["init", "-q"], ["add", "-A"]):
        subprocess.run(["git", *args], cwd=model_repo, check=True, capture_output=True)
    commit = ["-c", "user.name=t", "-c", "user.email=t@t.invalid", "commit", "-qm", "model"]
    subprocess.run(["git", *commit], cwd=model_repo, check=True, capture_output=True)
    subprocess.run(["git", "rm", "-q", SHARDS[1]], cwd=model_repo, check=True)
    assert run_hook_main(main, []).exit_code == 0  # by hand: nothing given, nothing checked
    monkeypatch.setenv("PRE_COMMIT", "1")
    outcome = run_hook_main(main, [])
    assert outcome.exit_code == 1
    assert outcome.lines() == [(SHARDS[1], "error", "missing-shard")]


def test_index_naming_a_missing_shard(model_repo: Path, run_hook_main: RunHook) -> None:
    (model_repo / SHARDS[2]).unlink()
    outcome = run_hook_main(main, [INDEX])
    assert outcome.exit_code == 1
    assert outcome.lines() == [(SHARDS[2], "error", "missing-shard")]
    assert INDEX in outcome.stdout and "download the missing shard" in outcome.stdout


def test_truncated_shard(model_repo: Path, run_hook_main: RunHook) -> None:
    shard = model_repo / SHARDS[0]
    shard.write_bytes(shard.read_bytes()[:-100])
    outcome = run_hook_main(main, [SHARDS[0]])
    assert outcome.exit_code == 1
    assert outcome.lines() == [(SHARDS[0], "error", "truncated-shard")]
    assert "100 bytes missing" in outcome.stdout


def test_garbage_shard_has_a_bad_header(model_repo: Path, run_hook_main: RunHook) -> None:
    (model_repo / SHARDS[1]).write_bytes(b"\xff" * 64)
    outcome = run_hook_main(main, all_files())
    assert outcome.exit_code == 1
    assert (SHARDS[1], "error", "bad-header") in outcome.lines()


def test_index_disagrees_with_a_shard(model_repo: Path, run_hook_main: RunHook) -> None:
    index = json.loads((model_repo / INDEX).read_text(encoding="utf-8"))
    moved = next(name for name, shard in index["weight_map"].items() if shard == SHARDS[0])
    index["weight_map"][moved] = SHARDS[1]
    (model_repo / INDEX).write_text(json.dumps(index), encoding="utf-8")
    outcome = run_hook_main(main, [INDEX])
    assert outcome.exit_code == 1
    assert set(outcome.lines()) == {
        (SHARDS[1], "error", "tensor-not-in-shard"),
        (SHARDS[0], "error", "tensor-not-in-index"),
    }
    assert repr(moved) in outcome.stdout


def test_shard_not_in_the_index_is_stray(model_repo: Path, run_hook_main: RunHook) -> None:
    extra = "leftover.safetensors"
    (model_repo / extra).write_bytes((model_repo / SHARDS[0]).read_bytes())
    outcome = run_hook_main(main, [extra])
    assert outcome.exit_code == 1
    assert outcome.lines() == [(extra, "error", "stray-shard")]


def test_fp8_index_beside_the_w8a8_index_is_stray(model_repo: Path, run_hook_main: RunHook) -> None:
    stray = "model.safetensors.index.json"
    weight_map = {
        "model.layers.0.mlp.down_proj.weight_scale_inv": "model-00001-of-00163.safetensors"
    }
    (model_repo / stray).write_text(json.dumps({"weight_map": weight_map}), encoding="utf-8")
    outcome = run_hook_main(main, [stray, INDEX])
    assert outcome.exit_code == 1
    assert outcome.lines() == [(stray, "error", "stray-index")]


@pytest.mark.parametrize("name", ["../outside.safetensors", "/etc/passwd"])
def test_index_pointing_outside_the_folder(
    model_repo: Path, run_hook_main: RunHook, name: str
) -> None:
    index = json.loads((model_repo / INDEX).read_text(encoding="utf-8"))
    index["weight_map"]["model.extra.weight"] = name
    (model_repo / INDEX).write_text(json.dumps(index), encoding="utf-8")
    outcome = run_hook_main(main, [INDEX])
    assert outcome.exit_code == 1
    assert "path-escape" in outcome.codes("error")
    assert "was not read" in outcome.stdout


def test_broken_index_is_reported_once(model_repo: Path, run_hook_main: RunHook) -> None:
    (model_repo / INDEX).write_text('{"weight_map": ', encoding="utf-8")
    outcome = run_hook_main(main, all_files())
    assert outcome.exit_code == 1
    assert outcome.lines() == [(INDEX, "error", "invalid-json")]
