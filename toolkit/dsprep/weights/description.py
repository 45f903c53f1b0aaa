"""quant_model_description.json: which file the release finds, and what it says.

How the release finds the file (``weights.description`` of the profile): up to 0.13 vLLM
globs ``*.json`` and keeps names ending in ``quant_model_description.json`` (none: "Cannot
find the config file for ascend", several: "Found multiple config files"); from 0.18
vllm-ascend opens exactly ``quant_model_description.json``. Every ``.weight`` entry the
release looks up must have a type it registers for that layer kind; layers it fuses must
share one type; layers it requires FLOAT must be FLOAT. The checks that need the shards
(coverage, companion tensors) live in :mod:`dsprep.weights.tensors`.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Mapping
from itertools import compress, repeat
from operator import add, eq
from typing import Any

import msgspec

from dsprep import catalogue as C
from dsprep.family import ModelFamily, Role
from dsprep.family.base import Architecture
from dsprep.findings import Finding, Severity
from dsprep.profiles import Fused, Profile
from dsprep.weights.fa_quant import fa_quant_findings
from dsprep.weights.index import capped

FLOAT = "FLOAT"
# Description keys that are settings, not tensor names.
SETTING_KEYS = frozenset(
    {"model_quant_type", "version", "fa_quant_type", "kv_quant_type", "kv_cache_type",
     "group_size", "metadata"}
)  # fmt: skip
LOOKALIKE = "quant_model_description"


class DescriptionNames(msgspec.Struct, frozen=True):
    """The description files of a folder as the release sees them."""

    found: list[str]  # what the release takes for the description
    misnamed: list[str]  # look-alikes it ignores

    @property
    def present(self) -> bool:
        """Some file claims to be the description (found or misnamed)."""
        return bool(self.found or self.misnamed)

    @property
    def chosen(self) -> str | None:
        """The file to read: the one found, else a lone look-alike (to check it anyway)."""
        return next(iter(self.found or self.misnamed), None)


def description_names(names: Iterable[str], profile: Profile) -> DescriptionNames:
    """Sort a folder's top-level file names by the release's lookup rule."""
    lookup = profile.weights.description
    found: list[str] = []
    misnamed: list[str] = []
    for name in names:
        if "/" in name or not name.endswith(".json"):
            continue
        if name == lookup.file or (lookup.match == "suffix" and name.endswith(lookup.file)):
            found.append(name)
        elif LOOKALIKE in name:
            misnamed.append(name)
    return DescriptionNames(sorted(found), sorted(misnamed))


def name_findings(
    names: DescriptionNames, display: Mapping[str, str], profile: Profile
) -> list[Finding]:
    """Findings about the description's file name; ``display`` maps a name to its path."""
    lookup = profile.weights.description
    release = profile.name
    findings: list[Finding] = []
    if len(names.found) > 1 and lookup.several == "error":
        shown = ", ".join(names.found)
        findings.append(
            C.DUPLICATE_DESCRIPTION(
                display[names.found[0]],
                f"{len(names.found)} files end in {lookup.file} ({shown}); vllm-ascend "
                f"{release} stops with '{lookup.several_found}'",
                hint=f"keep exactly one and name it {lookup.file}",
            )
        )
    alone = not names.found
    rule = "is not named" if lookup.match == "exact" else "does not end in"
    for name in names.misnamed:
        findings.append(
            C.MISNAMED_DESCRIPTION(
                display[name],
                f"{name} {rule} {lookup.file}, so vllm-ascend {release} ignores it"
                + (f" and stops with '{lookup.not_found}'" if alone else ""),
                hint=f"rename it to {lookup.file}"
                + (" (dsprep check --fix does it)" if len(names.misnamed) == 1 else "")
                if alone
                else "delete it: the correctly named description is the one that counts",
                severity=Severity.ERROR if alone else Severity.WARNING,
            )
        )
    return findings


class Description(msgspec.Struct, frozen=True):
    """What the header checks need of a parsed description: the ``.weight`` entries' types."""

    name: str
    shown: str
    weight_types: dict[str, str]  # name.weight -> quant type (string entries only)
    counts: dict[str, int]  # quant types of the .weight entries, for the summary
    settings: dict[str, Any]  # model_quant_type, fa_quant_type, …


def parse_description(document: Mapping[str, Any], name: str, shown: str) -> Description:
    keys = list(document)
    weights = list(compress(keys, map(str.endswith, keys, repeat(".weight"))))
    weight_types = dict(zip(weights, map(document.__getitem__, weights), strict=True))
    if not all(map(isinstance, weight_types.values(), repeat(str))):  # hostile values
        weight_types = {k: v for k, v in weight_types.items() if isinstance(v, str)}
    counts = dict(sorted(Counter(weight_types.values()).items()))
    settings = {k: document[k] for k in SETTING_KEYS if k in document}
    return Description(name, shown, weight_types, counts, settings)


def description_findings(
    document: Mapping[str, Any],
    description: Description,
    profile: Profile,
    family: ModelFamily,
    arch: Architecture,
) -> list[Finding]:
    """Everything about the description that needs no shard: types, fused layers, FLOAT."""
    return (
        _type_findings(document, description, profile, family, arch)
        + _fused_findings(description, profile)
        + _float_findings(description, profile, family, arch)
        + fa_quant_findings(document, description.shown, profile)
    )


def fused_severity(profile: Profile, group: Fused) -> Severity:
    """An error when the release fuses the group in its default graph mode; a warning when
    only its other graph modes do (``except_graph_modes`` holds the default)."""
    if profile.launch.default_graph_mode in group.except_graph_modes:
        return Severity.WARNING
    return Severity.ERROR


def separately(group: Fused) -> str:
    """The graph modes in which the release loads the group's members one by one."""
    if not group.except_graph_modes:
        return ""
    modes = " or ".join(group.except_graph_modes)
    return f" (served in {modes} graph mode, it builds them as separate layers instead)"


def _accepted_kinds(profile: Profile, quant_type: str) -> set[str]:
    kinds = {str(k) for k, types in profile.weights.quant_types.items() if quant_type in types}
    return kinds | {"linear", "moe"} if quant_type == FLOAT else kinds


def _layer_kind(family: ModelFamily, name: str, arch: Architecture) -> str:
    return "moe" if family.role(name, arch) is Role.ROUTED_EXPERT else "linear"


def _type_findings(
    document: Mapping[str, Any],
    description: Description,
    profile: Profile,
    family: ModelFamily,
    arch: Architecture,
) -> list[Finding]:
    """Each ``.weight`` type must be one the release registers for that layer kind
    (NotImplementedError at load); other keys with unknown values are warnings."""
    shown = description.shown
    base = os.path.basename(shown)
    release = f"vllm-ascend {profile.name}"
    known = sorted({t for types in profile.weights.quant_types.values() for t in types} | {FLOAT})
    # a fused MoE layer reads expert 0's entries only (the others must match them: see
    # _expert_findings)
    zeros = tuple(
        f".{m.rsplit('.', 1)[0]}." for g in profile.weights.fused for m in g.members if ".0." in m
    )
    findings: list[Finding] = []
    keys, values = list(description.weight_types), list(description.weight_types.values())
    for quant_type in sorted(set(values)):
        kinds = _accepted_kinds(profile, quant_type)
        if {"linear", "moe"} <= kinds:
            continue
        for key in compress(keys, map(eq, values, repeat(quant_type))):  # C-level selection
            value = quant_type
            kind = _layer_kind(family, key, arch)
            if kind in kinds or (kind == "moe" and zeros and not any(z in key for z in zeros)):
                continue
            where = (
                f"registers it only for {', '.join(sorted(kinds))} layers"
                if kinds
                else (f"does not know it (known: {', '.join(known)})")
            )
            findings.append(
                C.UNKNOWN_QUANT_TYPE(
                    shown,
                    f"key {key!r} in {base} has type {value!r} on a {kind} layer; {release} "
                    f"{where} and fails with NotImplementedError at load",
                )
            )
    values_known = set(known)
    try:  # every value a known type (or a setting): one C-level set test
        settings = {document[k] for k in SETTING_KEYS if k in document}
        if set(document.values()) <= values_known | settings:
            return capped(findings, "entries")
    except TypeError:  # an unhashable value: walk the entries to name it
        pass
    for key, value in document.items():
        if key in SETTING_KEYS or key in description.weight_types:
            continue
        if type(value) is str and value in values_known:
            continue
        weight = key.endswith(".weight")
        findings.append(
            C.UNKNOWN_QUANT_TYPE(
                shown,
                f"key {key!r} in {base} has type {value!r}, which {release} does not know "
                f"(known: {', '.join(known)})",
                severity=Severity.ERROR if weight else Severity.WARNING,
            )
        )
    return capped(findings, "entries")


def _fused_findings(description: Description, profile: Profile) -> list[Finding]:
    """Fused layers share one type (and FLOAT-ness); a fused MoE layer takes expert 0's
    method for every expert, so every expert must have expert 0's type."""
    types = description.weight_types
    shown = description.shown
    base = os.path.basename(shown)
    findings: list[Finding] = []
    for group in profile.weights.fused:
        first, *others = group.members
        tail = f".{first}.weight"
        keys = list(compress(types, map(str.endswith, types, repeat(tail))))
        prefixes = [k[: -len(tail)] for k in keys]
        firsts = list(map(types.__getitem__, keys))
        for other in others:
            seconds = list(map(types.get, map(add, prefixes, repeat(f".{other}.weight"))))
            if seconds == firsts:
                continue
            for prefix, a, b in zip(prefixes, firsts, seconds, strict=True):
                if b is None or a == b:
                    continue
                mixed_float = (a == FLOAT) != (b == FLOAT) and group.float_message
                template = group.float_message if mixed_float else group.message
                message = template.replace("{prefix}", f"{prefix}.{group.module}")
                findings.append(
                    C.GATE_UP_MISMATCH(
                        shown,
                        f"in {base}, {prefix}.{first}.weight is {a!r} but {prefix}.{other}.weight"
                        f" is {b!r}; vllm-ascend {profile.name} loads them as one layer "
                        f"({group.module}) and fails when it builds the model: ValueError: "
                        f"{message}{separately(group)}",
                        severity=fused_severity(profile, group),
                    )
                )
        experts = [m for m in group.members if ".0." in m]  # the fused MoE layer's experts
        if experts:
            findings += _expert_findings(types, shown, profile, experts[0])
    return capped(findings, "layers")


def _expert_findings(
    types: Mapping[str, str], shown: str, profile: Profile, member: str
) -> list[Finding]:
    """Every routed expert has expert 0's type: the fused MoE layer has one method.

    ``member`` names expert 0 in the profile's fused group (``experts.0.gate_proj``). An
    expert can differ from its expert 0 only where one of the two has a type other than
    the commonest type of all experts: only those entries (and, for an expert 0 of
    another type, its layer's experts) are looked at one by one."""
    head = member.partition(".0.")[0]  # experts
    marker = f".{head}."
    experts = list(compress(types, map(str.__contains__, types, repeat(marker))))
    if not experts:
        return []
    kinds = list(map(types.__getitem__, experts))
    if len(set(kinds)) == 1:  # one type for every expert (a C-level set, the usual case)
        return []
    common = Counter(kinds).most_common(1)[0][0]
    odd = [n for n, t in zip(experts, kinds, strict=True) if t != common]
    pairs: list[tuple[str, str]] = []  # (an expert, its expert 0) that disagree
    for name in odd:
        zero = _zero(name, marker)
        if zero != name:
            pairs.append((name, zero))
        else:  # an expert 0 of another type: every expert of its layer and leaf
            before, _, after = name.partition(f"{marker}0.")
            pairs += [
                (other, name)
                for other in experts
                if other.startswith(before + marker)
                and other.endswith("." + after)
                and other != name
                and types[other] != types[name]
            ]
    base = os.path.basename(shown)
    seen: set[tuple[str, str]] = set()
    findings = []
    for name, zero in pairs:
        want = types.get(zero)
        if want is None or want == types[name] or (name, zero) in seen:
            continue
        seen.add((name, zero))
        findings.append(
            C.GATE_UP_MISMATCH(
                shown,
                f"in {base}, {name} is {types[name]!r} but {zero} is {want!r}; vllm-ascend "
                f"{profile.name} loads every expert of the layer with expert 0's method",
                hint="give all experts of a layer the same type",
            )
        )
    return findings


def _zero(name: str, marker: str) -> str:
    """``….experts.7.up_proj.weight`` → ``….experts.0.up_proj.weight``."""
    at = name.rfind(marker) + len(marker)
    end = name.find(".", at)
    return f"{name[:at]}0{name[end:]}"


def _float_findings(
    description: Description, profile: Profile, family: ModelFamily, arch: Architecture
) -> list[Finding]:
    """Layers the release requires FLOAT (kv_b_proj from 0.13: an assert after the load)."""
    if not profile.weights.must_be_float:
        return []
    roles = {Role(r) for r in profile.weights.must_be_float}
    types = description.weight_types
    findings = []
    for key in family.with_role(types, roles, arch):
        value = types[key]
        if value == FLOAT:
            continue
        findings.append(
            C.MUST_BE_FLOAT(
                description.shown,
                f"key {key!r} in {os.path.basename(description.shown)} is {value!r}; vllm-ascend "
                f"{profile.name} requires this layer unquantized and fails after loading every "
                "weight (AssertionError)",
            )
        )
    return capped(findings, "entries")
