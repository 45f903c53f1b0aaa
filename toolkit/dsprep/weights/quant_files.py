"""The quantization checks of single files, as the ``dsprep-check-quant`` hook passes them.

A commit touches ``config.json`` or a ``*quant_model_description*.json``; the verdict needs
the folder around it (is there a description beside the config? two of them?), which is
exactly what the ``dsprep fetch`` gate inspects before any shard is downloaded:
:func:`~dsprep.weights.inspect.inspect_folder` without the shards. This module runs that
inspection on the folder of each given file and reports its quantization part (the
verdict, config.json, the description); the shard index belongs to ``dsprep-check-index``.
"""

from __future__ import annotations

from pathlib import Path

from dsprep.findings import Finding
from dsprep.profiles import Profile
from dsprep.weights.folder import ModelDir, decode_json
from dsprep.weights.inspect import CONFIG, inspect_folder

# Keys only a model's config.json has: any other config.json (an editor's, a tool's) is skipped.
MODEL_CONFIG_KEYS = frozenset(
    {"architectures", "model_type", "quantization_config", "torch_dtype", "dtype"}
)


def is_model_config(path: Path) -> bool:
    """False for a config.json that is valid JSON but clearly not a model's (no model keys).

    Anything unreadable or malformed counts as a model config, so the check reports it.
    """
    try:
        document = decode_json(path.read_bytes())
    except (OSError, ValueError):
        return True
    return not isinstance(document, dict) or bool(MODEL_CONFIG_KEYS & document.keys())


def quant_findings(folder: Path, names: list[str], profile: Profile) -> list[Finding]:
    """Quantization findings for the given files ``names`` of ``folder``.

    ``InputError`` only when the folder itself cannot be listed.
    """
    skip_config = CONFIG in names and not is_model_config(folder / CONFIG)
    if skip_config and len(names) == 1:
        return []
    found = inspect_folder(ModelDir(folder), profile, shards=False)
    skipped = found.shown(CONFIG) if skip_config else None
    return [f for f in found.quantization_findings if f.path != skipped]
