"""``dsprep check --fix``: repair what is safe to repair, atomically, with a backup.

Safe repairs (each idempotent: a second run finds nothing to do and writes nothing):
- rename a lone misnamed description to the name the release looks for (the misnamed
  file is kept as ``<name>.dsprep-orig``);
- delete a ``quantization_config`` left beside the description (not in an FP8 checkpoint);
- set ``torch_dtype`` (and ``dtype`` if present) to the dtype the checkpoint was exported
  for: the one its ``deq_scale`` tensors say, else bfloat16. A float16 export (I64
  ``deq_scale``) is never switched to bfloat16: that would corrupt its scales.
config.json is rewritten through :mod:`dsprep.atomic` (backup ``config.json.dsprep-orig``;
owner, group and mode kept; a read-only config.json only with ``force``).
Everything else is only reported.
"""

from __future__ import annotations

import json
import os
from typing import Any

from dsprep import catalogue as C
from dsprep.atomic import BACKUP_SUFFIX, atomic_write_bytes, atomic_write_text, backup_path
from dsprep.errors import DiskError
from dsprep.findings import Finding
from dsprep.weights.config import DTYPE_KEYS, fixed_dtype
from dsprep.weights.folder import FolderProblem
from dsprep.weights.inspect import Inspection
from dsprep.weights.verdict import Quantization


def apply_fixes(found: Inspection, *, force: bool = False) -> list[Finding]:
    """Apply the safe repairs to the inspected folder; one ``fixed`` (info) finding each.

    A read-only config.json is refused (a :class:`DiskError` naming it) unless ``force``.
    """
    fixed: list[Finding] = []
    names = found.descriptions
    if not names.found and len(names.misnamed) == 1:
        fixed += _rename_description(found, names.misnamed[0])
    fp8 = found.verdict is not None and found.verdict.quantization is Quantization.FP8
    if found.config is not None and not fp8:
        fixed += _fix_config(found, force=force)
    return fixed


def _rename_description(found: Inspection, name: str) -> list[Finding]:
    model = found.model
    target_name = found.profile.weights.description.file
    try:
        source = model.resolve(name)
        target = model.resolve(target_name)
    except FolderProblem as problem:  # a look-alike symlinked out of the folder: not ours
        # the inspection already reports it (path-escape); say it once
        return [] if problem.finding in found.findings else [problem.finding]
    try:
        content = source.read_bytes()
    except OSError as exc:
        raise DiskError(
            f"cannot read {model.display(name)}: {exc.strerror or exc}", path=model.display(name)
        ) from exc
    atomic_write_bytes(target, content, backup=False, like=source)  # its owner and mode
    backup = backup_path(source)
    try:
        if backup.exists():
            os.unlink(source)
        else:
            os.replace(source, backup)
    except OSError as exc:
        raise DiskError(
            f"cannot move {model.display(name)} aside: {exc.strerror or exc}; "
            f"{model.display(target_name)} now holds its content",
            hint=f"delete {model.display(name)} by hand",
            path=model.display(name),
        ) from exc
    return [
        C.FIXED(
            model.display(target_name),
            f"renamed {name} to {target_name} (original kept as {name}{BACKUP_SUFFIX})",
        )
    ]


def fixed_config(found: Inspection) -> tuple[dict[str, Any], list[str]]:
    """The repaired config.json and what changed (empty when nothing is safe or needed)."""
    config = found.config
    assert config is not None
    new = dict(config.document)
    changes: list[str] = []
    if found.descriptions.present and "quantization_config" in new:
        del new["quantization_config"]
        changes.append("deleted the leftover 'quantization_config' from config.json")
    dtype = fixed_dtype(config, found.profile, found.exported_as, mixed=found.export_is_mixed)
    if dtype is not None:
        keys = [k for k in DTYPE_KEYS if k in new] or ["torch_dtype"]
        for key in keys:
            new[key] = dtype
        changes.append(
            " and ".join(f"set {key!r} to {dtype!r}" for key in keys) + " in config.json"
        )
    return new, changes


def _fix_config(found: Inspection, *, force: bool) -> list[Finding]:
    new, changes = fixed_config(found)
    if not changes:
        return []
    path = found.model.resolve("config.json")
    text = json.dumps(new, ensure_ascii=False, indent=2) + "\n"
    backup = atomic_write_text(path, text, force=force)
    shown = found.shown("config.json")
    kept = f" (original kept as config.json{BACKUP_SUFFIX})" if backup is not None else ""
    return [C.FIXED(shown, f"{change}{kept}") for change in changes]
