"""``.pre-commit-hooks.yaml``: valid for pre-commit, every entry a console script with a main."""

from __future__ import annotations

import importlib
import importlib.metadata
import re
import sys
from pathlib import Path

from tests.hooks.precommit_repo import MANIFEST, REPO_ROOT, clean_env, hook_manifest, pre_commit


def test_manifest_is_valid(tmp_path: Path) -> None:
    done = pre_commit(REPO_ROOT, clean_env(tmp_path), "validate-manifest", str(MANIFEST))
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_hook_is_a_python_console_script_of_this_package() -> None:
    scripts = {
        entry.name: entry.value
        for entry in importlib.metadata.entry_points(group="console_scripts")
        if entry.dist is not None and entry.dist.name == "dsprep"
    }
    for hook in hook_manifest():
        assert hook["language"] == "python"
        assert hook["minimum_pre_commit_version"]
        assert hook["require_serial"] is True
        target = scripts[hook["entry"]]
        module_name, _, function = target.partition(":")
        assert module_name == "dsprep.hooks." + hook["id"].removeprefix("dsprep-").replace("-", "_")
        assert callable(getattr(importlib.import_module(module_name), function))
        assert (Path(sys.executable).parent / hook["entry"]).is_file()


def test_files_patterns_match_what_the_issue_names() -> None:
    patterns = {hook["id"]: re.compile(hook["files"]) for hook in hook_manifest()}
    matches = {
        "dsprep-check-quant": [
            "config.json",
            "m/quant_model_description.json",
            "quant_model_description_w8a8_dynamic.json",
        ],
        "dsprep-check-template": ["tokenizer_config.json", "m/chat_template.jinja"],
        "dsprep-check-index": ["a.safetensors", "m/x.safetensors.index.json"],
        "dsprep-check-cluster": ["cluster.yaml", "deploy/cluster-prod.yml", "cluster.json"],
    }
    misses = {
        "dsprep-check-quant": ["generation_config.json", "myconfig.json"],
        "dsprep-check-template": ["tokenizer.json", "my_tokenizer_config.json"],
        "dsprep-check-index": ["a.safetensors.bak", "index.json"],
        "dsprep-check-cluster": ["clusters/x.txt", "mycluster.yaml"],
    }
    for hook_id, pattern in patterns.items():
        for name in matches[hook_id]:
            assert pattern.search(name), (hook_id, name)
        for name in misses[hook_id]:
            assert not pattern.search(name), (hook_id, name)


def test_readme_documents_every_hook() -> None:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert "## pre-commit hooks" in readme
    section = readme.split("## pre-commit hooks", 1)[1].split("\n## ", 1)[0]
    for hook in hook_manifest():
        assert f"`{hook['id']}`" in section, hook["id"]
    assert "rev:" in section and "repo: local" in section
    assert "lfs-pointer" in section
