"""The hooks stay light: importing and running them pulls in no heavy or CLI-only package.

Each check runs in a fresh interpreter (sys.modules of the test process is full of them).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.hooks.precommit_repo import REPO_ROOT, hook_manifest

HEAVY = ("transformers", "modelscope", "modelscope_hub", "numpy", "torch", "tokenizers", "click")
FIXTURES = REPO_ROOT / "tests" / "fixtures" / "hooks"
HOOK_MODULES = {
    "dsprep-check-quant": "dsprep.hooks.check_quant",
    "dsprep-check-template": "dsprep.hooks.check_template",
    "dsprep-check-index": "dsprep.hooks.check_index",
    "dsprep-check-cluster": "dsprep.hooks.check_cluster",
}
PROBE = """
import json, sys
import importlib
module = importlib.import_module(sys.argv[1])
after_import = sorted(m for m in {heavy} if m in sys.modules)
code = None
if len(sys.argv) > 2:
    import contextlib, io
    with contextlib.redirect_stdout(io.StringIO()):
        code = module.main(sys.argv[2:])
after_run = sorted(m for m in {heavy} if m in sys.modules)
print(json.dumps({{"import": after_import, "run": after_run, "code": code}}))
""".format(heavy=repr(HEAVY))


def probe(module: str, cwd: Path, *files: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, module, *files],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_every_hook_is_probed() -> None:
    assert {hook["id"] for hook in hook_manifest()} == set(HOOK_MODULES)


@pytest.mark.parametrize("hook_id", sorted(HOOK_MODULES))
def test_hook_imports_and_runs_without_heavy_packages(hook_id: str) -> None:
    good = FIXTURES / hook_id / "good"
    files = sorted(p.relative_to(good).as_posix() for p in good.rglob("*") if p.is_file())
    result = probe(HOOK_MODULES[hook_id], good, *files)
    assert result["import"] == [], f"importing {hook_id} pulls in {result['import']}"
    assert result["code"] == 0
    assert result["run"] == [], f"running {hook_id} pulls in {result['run']}"


def test_probe_detects_a_heavy_import() -> None:
    """The probe itself works: a module that imports click is caught."""
    result = probe("dsprep.cli.main", REPO_ROOT)
    assert "click" in result["import"]  # type: ignore[operator]
