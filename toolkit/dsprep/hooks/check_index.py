"""``dsprep-check-index``: every shard an index names exists and holds the indexed tensors.

Takes ``*.safetensors.index.json`` and ``*.safetensors`` files. Git-LFS pointer files (an
unsmudged checkout) stand in for their shard: a note, never a corruption report.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from dsprep.findings import Finding

if TYPE_CHECKING:
    from dsprep.profiles import Profile

from dsprep.hooks.runner import check_by_folder, run_hook

PROG = "dsprep-check-index"
DESCRIPTION = (
    "Check that every shard a safetensors index names exists, is complete and holds the "
    "tensors the index puts there (git-LFS pointers are recognised)."
)
EXAMPLE = "quant_model_weight_w8a8_dynamic.safetensors.index.json"


def check(paths: list[Path], profile: Profile) -> list[Finding]:
    from dsprep.weights.index_files import index_findings

    return check_by_folder(paths, profile, index_findings)


def main(argv: Sequence[str] | None = None) -> int:
    return run_hook(argv, prog=PROG, description=DESCRIPTION, check=check, example=EXAMPLE)


if __name__ == "__main__":
    raise SystemExit(main())
