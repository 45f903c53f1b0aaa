"""``dsprep-check-index``: every shard an index names exists and holds the indexed tensors.

Takes ``*.safetensors.index.json`` and ``*.safetensors`` files and checks every index of
their folders. Git-LFS pointer files (an unsmudged checkout) stand in for their shard: a
note, never a corruption report.

pre-commit never passes a deleted file to a hook, so a commit that only ``git rm``s a
shard would give this hook nothing to check. The hook therefore runs on every commit
(``always_run: true``) and, under pre-commit (``PRE_COMMIT=1``), asks git which shards and
indexes the commit deletes (``git diff --cached --diff-filter=D``, or the pushed range of
``PRE_COMMIT_FROM_REF``/``PRE_COMMIT_TO_REF``) and checks the indexes of their folders too.
A commit touching no weights costs two short git calls (``rev-parse``, ``diff``).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from dsprep.findings import Finding

if TYPE_CHECKING:
    from dsprep.profiles import Profile

from dsprep.hooks.runner import files_by_folder, run_hook

PROG = "dsprep-check-index"
DESCRIPTION = (
    "Check that every shard a safetensors index names exists, is complete and holds the "
    "tensors the index puts there (git-LFS pointers are recognised). Under pre-commit the "
    "folders of shards the commit deletes are checked too."
)
EXAMPLE = "quant_model_weight_w8a8_dynamic.safetensors.index.json"
WEIGHT_SUFFIXES = (".safetensors", ".safetensors.index.json")
GIT_TIMEOUT_S = 30


def _git(*args: str) -> str | None:
    """git's stdout, None when git is missing, fails or this is no repository."""
    try:
        done = subprocess.run(
            ["git", *args], capture_output=True, timeout=GIT_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.decode("utf-8", "surrogateescape") if done.returncode == 0 else None


def deleted_weight_files() -> list[Path]:
    """Shards and indexes the commit (or the pushed range) deletes, relative to the current
    folder; empty outside pre-commit or a git repository."""
    if os.environ.get("PRE_COMMIT") != "1":
        return []
    top = _git("rev-parse", "--show-toplevel")
    if top is None:
        return []
    start, end = os.environ.get("PRE_COMMIT_FROM_REF"), os.environ.get("PRE_COMMIT_TO_REF")
    span = [f"{start}...{end}"] if start and end else ["--cached"]
    listed = _git("diff", "--name-only", "--no-ext-diff", "-z", "--diff-filter=D", *span)
    if listed is None:
        return []
    root = top.strip()
    return [
        Path(os.path.relpath(os.path.join(root, name)))
        for name in listed.split("\0")
        if name.endswith(WEIGHT_SUFFIXES)
    ]


def check(paths: list[Path], profile: Profile) -> list[Finding]:
    from dsprep.weights.index_files import index_findings

    folders = files_by_folder(paths)
    for deleted in deleted_weight_files():
        if deleted.parent.is_dir():  # a folder deleted as a whole has no index left to check
            folders.setdefault(deleted.parent, [])
    findings: list[Finding] = []
    for folder, names in folders.items():
        findings.extend(index_findings(folder, names, profile))
    return findings


def main(argv: Sequence[str] | None = None) -> int:
    return run_hook(argv, prog=PROG, description=DESCRIPTION, check=check, example=EXAMPLE)


if __name__ == "__main__":
    raise SystemExit(main())
