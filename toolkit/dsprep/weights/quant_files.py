"""The quantization checks of single files, as the ``dsprep-check-quant`` hook passes them.

A commit touches ``config.json`` or a ``*quant_model_description*.json``; the verdict needs
the folder around it (is there a description beside the config? two of them?), which is
exactly what :func:`dsprep.weights.check.quantization_gate` reads — the config-first gate
``dsprep fetch`` runs before any shard is downloaded. This module runs that gate on the
folder of each given file and keeps the quantization findings (shard-index findings belong
to ``dsprep-check-index``).
"""

from __future__ import annotations

import json
from pathlib import Path

from dsprep.findings import Finding
from dsprep.weights.check import quantization_gate
from dsprep.weights.index import INDEX_SUFFIX

CONFIG_NAME = "config.json"
# Keys only a model's config.json has: any other config.json (an editor's, a tool's) is skipped.
MODEL_CONFIG_KEYS = frozenset(
    {"architectures", "model_type", "quantization_config", "torch_dtype", "dtype"}
)
# What the gate reports about index files: dsprep-check-index's job, not this hook's.
INDEX_CODES = frozenset({"stray-index", "invalid-index", "multiple-indexes"})


def is_model_config(path: Path) -> bool:
    """False for a config.json that is valid JSON but clearly not a model's (no model keys).

    Anything unreadable or malformed counts as a model config, so the gate reports it.
    """
    try:
        document = json.loads(path.read_bytes())
    except (OSError, ValueError, RecursionError):
        return True
    return not isinstance(document, dict) or bool(MODEL_CONFIG_KEYS & document.keys())


def quant_findings(folder: Path, names: list[str]) -> list[Finding]:
    """Quantization findings for the given files ``names`` of ``folder``.

    ``InputError`` only when the folder itself cannot be listed.
    """
    skipped: set[str] = set()
    if CONFIG_NAME in names and not is_model_config(folder / CONFIG_NAME):
        skipped.add(str(folder / CONFIG_NAME))
        if len(names) == 1:
            return []
    kept: list[Finding] = []
    for finding in quantization_gate(folder):
        if finding.code in INDEX_CODES or finding.path in skipped:
            continue
        if finding.code == "invalid-json" and finding.path.endswith(INDEX_SUFFIX):
            continue
        kept.append(finding)
    return kept
