"""``dsprep-check-quant``: FP8 configs, leftover quantization_config, fa_quant_type,
torch_dtype, misnamed or duplicate descriptions and unknown quant types.

Takes ``config.json`` and ``*quant_model_description*.json`` files; each is judged with the
files beside it (the config needs to know whether a description is there).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from dsprep.findings import Finding

if TYPE_CHECKING:
    from dsprep.profiles import Profile

from dsprep.hooks.runner import check_by_folder, run_hook

PROG = "dsprep-check-quant"
DESCRIPTION = (
    "Refuse FP8 weights and the config.json / quant_model_description.json mistakes that "
    "stop vllm-ascend at load time."
)
EXAMPLE = "config.json quant_model_description.json"


def check(paths: list[Path], profile: Profile) -> list[Finding]:
    from dsprep.weights.quant_files import quant_findings

    return check_by_folder(paths, profile, quant_findings)


def main(argv: Sequence[str] | None = None) -> int:
    return run_hook(argv, prog=PROG, description=DESCRIPTION, check=check, example=EXAMPLE)


if __name__ == "__main__":
    raise SystemExit(main())
