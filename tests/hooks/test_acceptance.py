"""Acceptance: every hook of ``.pre-commit-hooks.yaml`` against its good and bad example repos.

For each hook id, ``tests/fixtures/hooks/<id>/good/`` must pass and ``.../bad/`` must fail
with exactly the expected ``(file, code)`` error lines. The hook runs as pre-commit runs it:
its ``entry`` (the installed console script) in the repo's root, given the repo's files
that match its ``files`` pattern, all at once (``require_serial``).
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.hooks.precommit_repo import REPO_ROOT, hook_manifest

FIXTURES = REPO_ROOT / "tests" / "fixtures" / "hooks"
BIN = Path(sys.executable).parent
LINE = re.compile(
    r"^(?P<path>\S.*?): (?:(?P<severity>info|warning): )?(?P<message>.+) "
    r"\[(?P<code>[a-z0-9-]+)\](?: \((?P<fix>.+)\))?$"
)

# The error lines each bad example must produce: (file, finding code).
EXPECTED_ERRORS: dict[str, set[tuple[str, str]]] = {
    "dsprep-check-quant": {
        ("fp8/config.json", "fp8-weights"),
        ("leftover/config.json", "leftover-quantization-config"),
        ("fa-quant/config.json", "leftover-quantization-config"),
        ("dtype/config.json", "torch-dtype"),
        ("misnamed/quant_model_description_w8a8_dynamic.json", "misnamed-description"),
        ("unknown-type/quant_model_description.json", "unknown-quant-type"),
        # duplicate/: two files ending in quant_model_description.json stop the releases that
        # glob for the description (up to 0.13); the hooks judge by the newest bundled
        # profile, which opens the exact name only, so there the look-alike is a warning
    },
    "dsprep-check-template": {
        ("ascii-bar/tokenizer_config.json:chat_template", "ascii-bar-token"),
        ("syntax/chat_template.jinja", "template-syntax"),
        ("self-test/tokenizer_config.json:chat_template", "self-test-failed"),
        ("unknown-token/tokenizer_config.json:chat_template", "unknown-special-token"),
    },
    "dsprep-check-index": {
        (
            "missing/quant_model_weight_w8a8_dynamic-00002-of-00002.safetensors",
            "missing-shard",
        ),
        (
            "tensor/quant_model_weight_w8a8_dynamic-00001-of-00002.safetensors",
            "tensor-not-in-shard",
        ),
        ("truncated/model.safetensors", "truncated-shard"),
    },
    "dsprep-check-cluster": {
        ("rules/cluster.yaml", "duplicate-node-ip"),
        ("rules/cluster.yaml", "batched-tokens-below-model-len"),
        ("schema/cluster.yaml", "cluster-schema"),
    },
}
# Notes the good examples must show (a thinking default is reported; LFS pointers noted).
EXPECTED_NOTES: dict[str, set[tuple[str, str]]] = {
    "dsprep-check-template": {("tokenizer_config.json:chat_template", "thinking-default")},
    "dsprep-check-index": {
        ("quant_model_weight_w8a8_dynamic-00002-of-00002.safetensors", "lfs-pointer")
    },
}
HOOKS = {hook["id"]: hook for hook in hook_manifest()}


def run_entry(hook: dict[str, Any], repo: Path) -> tuple[int, list[dict[str, str]], str]:
    """Run the hook's entry on the repo's matching files; (exit code, parsed lines, output)."""
    pattern = re.compile(hook["files"])
    files = sorted(
        p.relative_to(repo).as_posix()
        for p in repo.rglob("*")
        if p.is_file() and pattern.search(p.relative_to(repo).as_posix())
    )
    assert files, f"no file of {repo} matches {hook['files']!r}"
    command = shlex.split(hook["entry"])
    command[0] = str(BIN / command[0])
    done = subprocess.run(
        [*command, *files], cwd=repo, capture_output=True, text=True, encoding="utf-8"
    )
    assert "Traceback" not in done.stdout + done.stderr
    lines = []
    for text in done.stdout.splitlines():
        match = LINE.match(text)
        assert match, f"not a `<file>: <problem> [code] (<fix>)` line: {text!r}"
        lines.append(match.groupdict())
    return done.returncode, lines, done.stdout


def test_every_hook_has_examples() -> None:
    assert set(HOOKS) == set(EXPECTED_ERRORS)
    for hook_id in HOOKS:
        assert (FIXTURES / hook_id / "good").is_dir()
        assert (FIXTURES / hook_id / "bad").is_dir()


@pytest.mark.parametrize("hook_id", sorted(HOOKS))
def test_good_example_passes(hook_id: str, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(FIXTURES / hook_id / "good", repo)
    code, lines, output = run_entry(HOOKS[hook_id], repo)
    assert code == 0, output
    assert not [line for line in lines if line["severity"] is None], output
    notes = {(line["path"], line["code"]) for line in lines}
    assert EXPECTED_NOTES.get(hook_id, set()) <= notes, output


@pytest.mark.parametrize("hook_id", sorted(HOOKS))
def test_bad_example_fails_naming_file_and_problem(hook_id: str, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(FIXTURES / hook_id / "bad", repo)
    code, lines, output = run_entry(HOOKS[hook_id], repo)
    assert code == 1, output
    errors = [line for line in lines if line["severity"] is None]
    assert {(line["path"], line["code"]) for line in errors} == EXPECTED_ERRORS[hook_id], output
    for line in errors:
        assert line["fix"], f"an error line without a fix: {line}"
        named = repo / line["path"].split(":")[0]
        assert named.is_file() or (line["code"] == "missing-shard" and not named.exists())
