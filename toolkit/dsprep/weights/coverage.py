"""Which ``.weight`` tensors of the shards the release looks up without a description entry.

Up to 0.13 (and from 0.18 for everything but what 0.23 builds unquantized) the release
reads ``description[prefix + ".weight"]`` for every layer it builds with a quant config:
an absent entry is a KeyError when the workers build the model. It never looks up what it
builds without one (norms, the MoE router, the MTP layer's eh_proj and embed_tokens:
``weights.never_looked_up``), may skip entries (``weights.optional``: 0.23's embeddings),
or reads another entry instead (``weights.fallback``: 0.13's MTP head takes lm_head's). The
MTP layer exists only with ``--speculative-config``.
"""

from __future__ import annotations

import os

from dsprep import catalogue as C
from dsprep.family import ModelFamily, Role
from dsprep.family.base import Architecture
from dsprep.findings import Finding, Severity
from dsprep.profiles import Profile
from dsprep.weights.description import FLOAT, Description
from dsprep.weights.index import capped


def coverage_findings(
    missing: list[str],
    description: Description,
    profile: Profile,
    family: ModelFamily,
    arch: Architecture,
    *,
    speculative: bool,
) -> list[Finding]:
    """missing-description-entry for every ``missing`` .weight (a shard tensor without an
    entry) the release looks up; the MTP layer's only when the MTP draft is loaded
    (``speculative``). Roles the release never looks up or takes as optional are exempt,
    and so is a role whose ``fallback`` entry is there and FLOAT."""
    skipped = {Role(r) for r in (*profile.weights.never_looked_up,
                                 *profile.weights.optional)}  # fmt: skip
    exempt = set(family.with_role(missing, skipped, arch))
    for fallback_role, key in profile.weights.fallback.items():
        if description.weight_types.get(key) == FLOAT:  # the release reads that entry instead
            exempt.update(family.with_role(missing, {Role(fallback_role)}, arch))
    looked_up = [n for n in missing if n not in exempt]
    mtp = [n for n in looked_up if family.is_mtp(n, arch)]
    regular = [n for n in looked_up if not family.is_mtp(n, arch)]
    shown = description.shown
    base = os.path.basename(shown)
    release = f"vllm-ascend {profile.name}"
    findings = [
        C.MISSING_DESCRIPTION_ENTRY(
            shown,
            f"{base} has no entry for tensor {name!r}; {release} fails with KeyError: {name!r}",
            hint=f'add "{name}": "FLOAT" (or its quant type) to the description, or '
            "re-export with msmodelslim",
        )
        for name in regular
    ]
    findings = capped(findings, "tensors")
    if mtp:
        layers = sorted({family.layer_index(n) for n in mtp})
        when = (
            f"and {release} looks them up when it builds the MTP draft "
            f"(--speculative-config): KeyError: {mtp[0]!r}"
            if speculative
            else f"; {release} looks them up only when MTP speculative decoding is on"
        )
        findings.append(
            C.MTP_NOT_COVERED(
                shown,
                f"{base} does not cover the MTP layer {', '.join(map(str, layers))}: "
                f"{len(mtp)} weights have no entry (first: {mtp[0]!r}) {when}",
                severity=Severity.ERROR if speculative else Severity.INFO,
            )
        )
    return findings
