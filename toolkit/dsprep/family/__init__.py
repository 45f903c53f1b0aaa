"""Model families: what is specific to one family of checkpoints, kept in one module each.

A :class:`~dsprep.family.base.ModelFamily` knows its architecture names, its config keys
(with the published model's values as defaults), its tensor layout and naming (which
layer a tensor belongs to and what role it plays), its KV-cache formula, its MTP layer, the
shard naming of its FP8 original and the Ascend W8A8 repos to suggest. ``weights/``,
``launch/`` and ``demo/`` ask the family instead of restating it.

Adding a family (DeepSeek-V3.2, Kimi-K2) means one module beside ``deepseek_v3`` that
builds a :class:`ModelFamily`, and one line in :data:`FAMILIES`.
"""

from __future__ import annotations

from typing import Any

from dsprep.family.base import Architecture, ModelFamily, Role, TensorSpec
from dsprep.family.deepseek_v3 import DEEPSEEK_V3

FAMILIES: tuple[ModelFamily, ...] = (DEEPSEEK_V3,)
DEFAULT_FAMILY = DEEPSEEK_V3

__all__ = ["DEFAULT_FAMILY", "FAMILIES", "Architecture", "ModelFamily", "Role", "TensorSpec"]


def family_for(config: dict[str, Any] | None) -> ModelFamily | None:
    """The family whose architecture config.json names (None: no family knows it)."""
    if not config:
        return None
    names = config.get("architectures")
    if isinstance(names, list):
        for family in FAMILIES:
            if any(isinstance(n, str) and n in family.architectures for n in names):
                return family
    return None
