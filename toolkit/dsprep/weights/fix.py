"""``dsprep check --fix``: repair what is safe to repair, atomically, with a backup.

Safe repairs (each idempotent: a second run finds nothing to do and writes nothing):
- rename a lone misnamed description to ``quant_model_description.json`` (the misnamed
  file is kept as ``<name>.dsprep-orig``);
- delete a leftover ``quantization_config`` beside the description (not an
  ``fa_quant_type`` one, not in an FP8 checkpoint);
- set ``torch_dtype`` (and ``dtype`` if present) to ``bfloat16``.
config.json is rewritten through :mod:`dsprep.atomic` (backup ``config.json.dsprep-orig``).
Everything else is only reported.
"""

from __future__ import annotations

import json
import os
from typing import Any

from dsprep.atomic import BACKUP_SUFFIX, atomic_write_bytes, atomic_write_text, backup_path
from dsprep.errors import DiskError
from dsprep.findings import Finding, Severity
from dsprep.weights import config as cfg
from dsprep.weights.description import DESCRIPTION_NAME
from dsprep.weights.scan import Scan


def _fixed(shown: str, message: str) -> Finding:
    return Finding("fixed", shown, message, severity=Severity.INFO)


def apply_fixes(scan: Scan, *, fp8_model: bool) -> list[Finding]:
    """Apply the safe repairs to the scanned folder; one ``fixed`` (info) finding each."""
    fixed: list[Finding] = []
    if not scan.valid_descriptions and len(scan.misnamed_descriptions) == 1:
        fixed.append(_rename_description(scan, scan.misnamed_descriptions[0]))
    if scan.config is not None and not fp8_model:
        fixed.extend(_fix_config(scan, scan.config))
    return fixed


def _rename_description(scan: Scan, name: str) -> Finding:
    model = scan.model
    source = model.resolve(name)
    target = model.resolve(DESCRIPTION_NAME)
    try:
        content = source.read_bytes()
    except OSError as exc:
        raise DiskError(f"cannot read {model.display(name)}: {exc.strerror or exc}") from exc
    atomic_write_bytes(target, content, backup=False)
    backup = backup_path(source)
    try:
        if backup.exists():
            os.unlink(source)
        else:
            os.replace(source, backup)
    except OSError as exc:
        raise DiskError(
            f"cannot move {model.display(name)} aside: {exc.strerror or exc}; "
            f"{model.display(DESCRIPTION_NAME)} now holds its content",
            hint=f"delete {model.display(name)} by hand",
            path=model.display(name),
        ) from exc
    return _fixed(
        model.display(DESCRIPTION_NAME),
        f"renamed {name} to {DESCRIPTION_NAME} (original kept as {name}{BACKUP_SUFFIX})",
    )


def fixed_config(
    config: dict[str, Any], *, has_description: bool
) -> tuple[dict[str, Any], list[str]]:
    """The repaired config and what changed (empty when nothing is safe or needed)."""
    new = dict(config)
    changes: list[str] = []
    if cfg.leftover_quantization_config(config, has_description=has_description):
        del new["quantization_config"]
        changes.append("deleted the leftover 'quantization_config' from config.json")
    if cfg.needs_dtype_fix(config):
        keys = list(cfg.model_dtypes(config)) or ["torch_dtype"]
        for key in keys:
            new[key] = "bfloat16"
        changes.append(
            " and ".join(f"set {key!r} to 'bfloat16'" for key in keys) + " in config.json"
        )
    return new, changes


def _fix_config(scan: Scan, config: dict[str, Any]) -> list[Finding]:
    new, changes = fixed_config(config, has_description=scan.has_description)
    if not changes:
        return []
    path = scan.model.resolve("config.json")
    text = json.dumps(new, ensure_ascii=False, indent=2) + "\n"
    backup = atomic_write_text(path, text)
    shown = scan.shown("config.json")
    kept = f" (original kept as config.json{BACKUP_SUFFIX})" if backup is not None else ""
    return [_fixed(shown, f"{change}{kept}") for change in changes]
