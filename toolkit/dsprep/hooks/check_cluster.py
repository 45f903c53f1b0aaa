"""``dsprep-check-cluster``: a cluster file passes the schema and checks of ``dsprep emit-launch``.

Takes ``cluster*.yaml`` / ``cluster*.json`` files; nothing is written.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from dsprep.errors import InputError
from dsprep.findings import Finding

if TYPE_CHECKING:
    from dsprep.profiles import Profile

from dsprep.hooks.runner import error_finding, run_hook

PROG = "dsprep-check-cluster"
DESCRIPTION = (
    "Validate dsprep cluster files against the schema and the vllm-ascend launch rules of "
    "their image profile (what `dsprep emit-launch` checks), writing nothing."
)
EXAMPLE = "cluster.yaml"


def check(paths: list[Path], profile: Profile) -> list[Finding]:
    """Each cluster file is judged for its own image.tag (``--image`` does not apply)."""
    from dsprep.launch.emit import validate

    findings: list[Finding] = []
    for path in dict.fromkeys(paths):
        try:
            findings.extend(validate(path).findings)
        except InputError as error:  # unreadable or malformed: a problem of this file
            findings.append(error_finding(error, path))
    return findings


def main(argv: Sequence[str] | None = None) -> int:
    return run_hook(argv, prog=PROG, description=DESCRIPTION, check=check, example=EXAMPLE)


if __name__ == "__main__":
    raise SystemExit(main())
