"""``fa_quant_type`` (msmodelslim ``--fa_quant``), judged where the release reads it: in
the description, never as a top-level config.json key.

rc0 and 0.11.0 build DeepSeek's MLA layer as an ``Attention``, so every one of them gets an
attention quant method of that type; 0.12 and 0.13 check ``isinstance(layer, Attention)``
while their MLA layer is an ``MLAAttention``, so the key does nothing; 0.18 and 0.23 give
the method to the layers whose index is in a description key containing ``fa_k.scale``
(``weights.fa_quant_type``). A type the release does not register for attention is a
NotImplementedError when the workers build the model.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from itertools import repeat
from typing import Any

from dsprep import catalogue as C
from dsprep.findings import Finding, Severity
from dsprep.profiles import Profile

FA_QUANT_TYPE = "fa_quant_type"


def fa_quant_findings(document: Mapping[str, Any], shown: str, profile: Profile) -> list[Finding]:
    """``fa_quant_type`` in the description, judged where the release reads it: the MLA
    layers it applies to get an attention quant method of that type."""
    value = document.get(FA_QUANT_TYPE)
    rule = profile.weights.fa_quant_type
    if value is None or (rule.applies == "marked" and value == ""):
        return []  # the release does not switch it on
    base = os.path.basename(shown)
    release = f"vllm-ascend {profile.name}"
    said = f"key {FA_QUANT_TYPE!r} in {base} is {value!r}"
    if rule.applies == "none":
        return [
            C.FA_QUANT_TYPE(
                shown,
                f"{said}; {release} gives no DeepSeek MLA layer an attention quant method "
                "(its MLA layers are not the attention class it checks), so it has no effect",
                hint="nothing to do; delete the key if you expected attention quantization",
                severity=Severity.INFO,
            )
        ]
    where = "every MLA layer"
    if rule.applies == "marked":
        marked = sum(map(str.__contains__, document, repeat(rule.marker)))
        if not marked:
            return [
                C.FA_QUANT_TYPE(
                    shown,
                    f"{said}; {release} applies it only to layers named by a key containing "
                    f"{rule.marker!r}, and {base} has none, so it has no effect",
                    hint="nothing to do; the export's attention stays unquantized",
                    severity=Severity.INFO,
                )
            ]
        where = f"the layers named by its {marked} key(s) containing {rule.marker!r}"
    accepted = profile.weights.quant_types.get("attention", [])
    if isinstance(value, str) and value in accepted:
        return []
    registered = ", ".join(accepted) if accepted else "no type"
    raises = rule.raises.replace("{quant_type}", str(value))
    return [
        C.FA_QUANT_TYPE(
            shown,
            f"{said}; {release} gives {where} an attention quant method of that type but "
            f"registers {registered} for attention, and fails when it builds the model: "
            f"{raises}",
        )
    ]
