"""quant_model_description.json: its name, its types, and its coverage of the shards.

vllm-ascend v0.11.0rc0 (``--quantization ascend``) globs ``*.json`` in the model folder and
keeps names ending in ``quant_model_description.json``: none → "Cannot find the config file
for ascend", two → "Found multiple config files". It then looks every linear, MoE,
embedding and lm_head layer up as ``desc[prefix + ".weight"]`` with no default, requires
gate_proj/up_proj (and experts.0's gate/up/down) to share a type, and knows only the types
in :data:`KNOWN_QUANT_TYPES`.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from itertools import repeat
from operator import itemgetter
from typing import Any

from dsprep.findings import Finding, Severity

DESCRIPTION_NAME = "quant_model_description.json"
KNOWN_QUANT_TYPES = frozenset({"FLOAT", "W8A8", "W8A8_DYNAMIC", "W4A8_DYNAMIC", "C8"})
# Description keys that are settings, not tensor names.
SETTING_KEYS = frozenset(
    {"model_quant_type", "version", "fa_quant_type", "kv_quant_type", "group_size", "metadata"}
)
MAX_PER_CODE = 20  # findings of one code beyond this are summed up in one more finding


def description_names(names: Iterable[str]) -> tuple[list[str], list[str]]:
    """(names vllm-ascend accepts, look-alikes it ignores) among a folder's file names."""
    valid: list[str] = []
    misnamed: list[str] = []
    for name in names:
        base = name.rsplit("/", 1)[-1]
        if "/" in name or not base.endswith(".json"):
            continue
        if base.endswith(DESCRIPTION_NAME):
            valid.append(name)
        elif "quant_model_description" in base:
            misnamed.append(name)
    return sorted(valid), sorted(misnamed)


def name_findings(
    display: Mapping[str, str], valid: list[str], misnamed: list[str]
) -> list[Finding]:
    """Findings about the description's file name; ``display`` maps a name to its shown path."""
    findings: list[Finding] = []
    if len(valid) > 1:
        shown = ", ".join(valid)
        findings.append(
            Finding(
                "duplicate-description",
                display[valid[0]],
                f"{len(valid)} files end in {DESCRIPTION_NAME} ({shown}); vllm-ascend stops "
                "with 'Found multiple config files'",
                hint=f"keep exactly one and name it {DESCRIPTION_NAME}",
            )
        )
    for name in misnamed:
        alone = not valid
        findings.append(
            Finding(
                "misnamed-description",
                display[name],
                f"{name} does not end in {DESCRIPTION_NAME}, so vllm-ascend ignores it"
                + (" and stops with 'Cannot find the config file for ascend'" if alone else ""),
                hint=f"rename it to {DESCRIPTION_NAME}"
                + (" (dsprep check --fix does it)" if alone and len(misnamed) == 1 else "")
                if alone
                else "delete it: the correctly named description is the one that counts",
                severity=Severity.ERROR if alone else Severity.WARNING,
            )
        )
    return findings


def capped(findings: list[Finding], code: str, what: str) -> list[Finding]:
    """At most :data:`MAX_PER_CODE` findings, plus one that counts the rest."""
    if len(findings) <= MAX_PER_CODE:
        return findings
    rest = len(findings) - MAX_PER_CODE
    last = findings[MAX_PER_CODE]
    more = Finding(
        code,
        last.path,
        f"… and {rest} more {what} like the ones above",
        hint=last.hint,
        severity=last.severity,
    )
    return [*findings[:MAX_PER_CODE], more]


def type_counts(weights: Sequence[tuple[str, Any]]) -> dict[str, int]:
    """Quant types of the ``.weight`` entries (one per layer) with their counts."""
    counts = Counter(map(str, map(itemgetter(1), weights)))
    return dict(sorted(counts.items()))


def type_findings(description: Mapping[str, Any], shown: str) -> list[Finding]:
    """Every type must be one vllm-ascend v0.11.0rc0 knows (else NotImplementedError)."""
    findings: list[Finding] = []
    try:
        if set(description.values()) <= KNOWN_QUANT_TYPES | _settings(description):
            return []
    except TypeError:  # an unhashable value (a list or object): look at each entry
        pass
    for key, value in description.items():
        if key in SETTING_KEYS or (isinstance(value, str) and value in KNOWN_QUANT_TYPES):
            continue
        findings.append(
            Finding(
                "unknown-quant-type",
                shown,
                f"key {key!r} in {os.path.basename(shown)} has type {value!r}, which vllm-ascend "
                "does not know "
                f"(known: {', '.join(sorted(KNOWN_QUANT_TYPES))})",
                hint="re-export the weights with msmodelslim for vllm-ascend",
                severity=Severity.ERROR if key.endswith(".weight") else Severity.WARNING,
            )
        )
    return capped(findings, "unknown-quant-type", "entries")


def _settings(description: Mapping[str, Any]) -> set[Any]:
    values: set[Any] = set()
    for key in SETTING_KEYS:
        if key in description:
            value = description[key]
            values.add(value if isinstance(value, (str, int, float, type(None))) else repr(value))
    return values


def needs_entry(name: str) -> bool:
    """Whether vllm-ascend looks ``name`` up in the description (linear/MoE/embedding/head)."""
    if not name.endswith(".weight") or "norm" in name:
        return False
    return not name.endswith(".mlp.gate.weight")  # the MoE router is never quantized


def layer_index(name: str) -> int:
    if name.startswith("model.layers."):
        part = name[13 : name.find(".", 13)]
        if part.isdigit():
            return int(part)
    return -1


def _covered(group: Collection[str], description: Mapping[str, Any]) -> bool:
    """Whether every name of ``group`` (a shard's tensors by name, or a list of names) has
    an entry: one C-level subset test (or map) per shard."""
    if isinstance(group, Mapping):
        return group.keys() <= description.keys()
    return all(map(description.__contains__, group))


def coverage_findings(
    description: Mapping[str, Any],
    shard_tensors: Iterable[Collection[str]],
    shown: str,
    *,
    weights: Sequence[tuple[str, Any]] | None = None,
    num_hidden_layers: int,
    num_nextn_predict_layers: int,
    pairs: list[Finding] | None = None,
    covered: bool = False,
) -> list[Finding]:
    """missing-description-entry, mtp-not-covered, gate-up-mismatch.

    ``shard_tensors`` holds each shard's tensors by name; the usual case (every tensor has
    an entry) is one C-level subset test per shard. ``pairs`` are the gate-up-mismatch
    findings when computed already (they need the description only); ``covered`` says
    every tensor is known to have an entry (tested already).
    """
    groups = list(shard_tensors)
    weights = weight_entries(description) if weights is None else weights
    keys = description.keys()
    missing: list[str] = []
    if not covered and not all(map(_covered, groups, repeat(description))):
        absent = {n for group in groups for n in group if n not in keys}
        missing = sorted(n for n in absent if needs_entry(n))
    regular = [n for n in missing if layer_index(n) < num_hidden_layers]
    mtp = [n for n in missing if layer_index(n) >= num_hidden_layers]
    findings = [
        Finding(
            "missing-description-entry",
            shown,
            f"{os.path.basename(shown)} has no entry for tensor {name!r}; vllm-ascend fails "
            f"with KeyError: {name!r}",
            hint=f'add "{name}": "FLOAT" (or its quant type) to the description, or '
            "re-export with msmodelslim",
        )
        for name in regular
    ]
    findings = capped(findings, "missing-description-entry", "tensors")
    if mtp and num_nextn_predict_layers > 0:
        layers = sorted({layer_index(n) for n in mtp})
        findings.append(
            Finding(
                "mtp-not-covered",
                shown,
                f"{os.path.basename(shown)} does not cover the MTP layer "
                f"{', '.join(map(str, layers))}: {len(mtp)} weights have no entry "
                f"(first: {mtp[0]!r}); msmodelslim leaves it out and "
                "vllm-ascend fails with a KeyError when it loads the MTP layer",
                hint='add the MTP layer\'s weights to the description as "FLOAT"',
            )
        )
    if pairs is None:
        from dsprep.weights.pairs import pair_findings

        pairs = pair_findings(description, weights, shown)
    return findings + pairs


def weight_entries(description: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """The ``(name.weight, type)`` entries: one per layer, the ones vllm-ascend looks up.

    Only string types: anything else is an ``unknown-quant-type`` finding already.
    """
    return [(k, v) for k, v in description.items() if k.endswith(".weight") and type(v) is str]


def description_checks(
    description: Mapping[str, Any],
    shard_tensors: Iterable[Collection[str]],
    shown: str,
    *,
    weights: Sequence[tuple[str, Any]] | None = None,
    num_hidden_layers: int,
    num_nextn_predict_layers: int,
    early: tuple[list[Finding], list[Finding]] | None = None,
    covered: bool = False,
) -> list[Finding]:
    """Everything about the description that needs only tensor names: types, coverage, pairs.

    ``early`` is :func:`early_checks` when computed already; ``covered`` as in
    :func:`coverage_findings`.
    """
    types, pairs = early if early is not None else (type_findings(description, shown), None)
    return types + coverage_findings(
        description,
        shard_tensors,
        shown,
        weights=weights,
        num_hidden_layers=num_hidden_layers,
        num_nextn_predict_layers=num_nextn_predict_layers,
        pairs=pairs,
        covered=covered,
    )


def early_checks(
    description: Mapping[str, Any], shown: str, weights: Sequence[tuple[str, Any]]
) -> tuple[list[Finding], list[Finding]]:
    """The checks that need the description alone: (unknown types, gate/up pairs)."""
    from dsprep.weights.pairs import pair_findings

    return type_findings(description, shown), pair_findings(description, weights, shown)
