"""config.json: the model family, its architecture keys, a left-over quantization_config
and the model dtype.

vLLM reads ``quantization_config`` from config.json before the description file. What a
block left there does depends on the release (``weights.leftover_quantization_config``):
up to 0.11 the ascend method takes any block itself for the description (a KeyError on
the first lookup, when the workers build the model); from 0.12 a block with
``quant_method`` contradicts ``--quantization ascend`` (a ValueError at start), and one
without ``quant_method`` (even ``{}``: vLLM writes ``quant_method: ""`` into it) still
replaces the description, which is then never read. A top-level ``fa_quant_type`` is read
by nothing (:mod:`dsprep.weights.fa_quant` judges the description's). The model dtype must
be one the release supports and the one the checkpoint was exported for: static W8A8
``deq_scale`` is F32 in a bfloat16 export and I64 in a float16 one; ``--fix`` writes that
dtype, and none over an export whose tensors say both.
"""

from __future__ import annotations

import os
from typing import Any

import msgspec

from dsprep import catalogue as C
from dsprep.errors import InputError
from dsprep.family import DEFAULT_FAMILY, ModelFamily, family_for
from dsprep.family.base import Architecture
from dsprep.findings import Finding, Severity
from dsprep.profiles import Profile

DTYPE_KEYS = ("torch_dtype", "dtype")  # newer transformers write ``dtype``
DEFAULT_DTYPE = "bfloat16"  # what msmodelslim's W8A8 exports of DeepSeek-V3.1 are


class ModelConfig(msgspec.Struct, frozen=True):
    """A parsed config.json and what follows from it."""

    shown: str
    document: dict[str, Any]
    family: ModelFamily
    known_family: bool
    arch: Architecture
    arch_problem: str  # why the architecture keys were not usable ("" when they were)

    @property
    def quantization_config(self) -> Any:
        return self.document.get("quantization_config")

    @property
    def quant_method(self) -> str:
        block = self.quantization_config
        if isinstance(block, dict):
            return str(block.get("quant_method", "")).lower()
        return ""

    @property
    def says_fp8(self) -> bool:
        return self.quant_method == "fp8"

    def dtypes(self) -> dict[str, Any]:
        """The dtype keys config.json sets (``torch_dtype`` and/or ``dtype``) and their values."""
        return {key: self.document[key] for key in DTYPE_KEYS if key in self.document}

    def architecture_names(self) -> str:
        archs = self.document.get("architectures")
        if isinstance(archs, list) and archs and all(isinstance(a, str) for a in archs):
            return ",".join(archs)
        return str(self.document.get("model_type", "unknown"))


def parse_config(document: dict[str, Any], shown: str) -> ModelConfig:
    family = family_for(document)
    known = family is not None
    family = family or DEFAULT_FAMILY
    try:
        arch, problem = family.from_config(document, shown), ""
    except InputError as exc:
        arch, problem = family.published, exc.message
    return ModelConfig(shown, document, family, known, arch, problem)


def config_findings(
    config: ModelConfig, profile: Profile, *, has_description: bool
) -> list[Finding]:
    """What config.json alone tells: architecture, its keys, a left-over quantization_config."""
    findings: list[Finding] = []
    name = os.path.basename(config.shown)
    if config.arch_problem:
        findings.append(C.BAD_CONFIG_VALUE(config.shown, config.arch_problem))
    block = config.quantization_config
    if has_description and "quantization_config" in config.document:
        leftover = profile.weights.leftover_quantization_config
        if config.quant_method:
            what = leftover.with_method.replace("{method}", config.quant_method)
        else:
            what = leftover.without_method
        if config.quant_method:
            kind = config.quant_method
        elif isinstance(block, dict):
            kind = "without quant_method: " + (", ".join(map(str, block)) or "empty")
        else:
            kind = type(block).__name__
        findings.append(
            C.LEFTOVER_QUANTIZATION_CONFIG(
                config.shown,
                f"{name} has a leftover key 'quantization_config' ({kind}) beside the "
                f"description; on vllm-ascend {profile.name} {what}",
            )
        )
    if "fa_quant_type" in config.document:
        findings.append(
            C.FA_QUANT_TYPE(
                config.shown,
                f"{name} has a top-level key 'fa_quant_type': vllm-ascend {profile.name} reads "
                "fa_quant_type only from the description, so this key does nothing",
                hint="delete it from config.json, or set it in quant_model_description.json",
                severity=Severity.INFO,
            )
        )
    if not config.known_family:
        findings.append(
            C.UNEXPECTED_ARCHITECTURE(
                config.shown,
                f"key 'architectures' in {name} is {config.architecture_names()!r}, which no "
                f"model family dsprep knows names (it checks it as {config.family.title})",
            )
        )
    return findings


def dtype_findings(
    config: ModelConfig,
    profile: Profile,
    exported_as: str | None,
    evidence: str,
    *,
    mixed: bool = False,
) -> list[Finding]:
    """The model dtype must be supported and match the export (``exported_as``: the dtype
    the checkpoint's tensors say, with ``evidence`` naming the tensor; None: unknown, or
    ``mixed``: the tensors say two dtypes, which the shard checks report)."""
    values = config.dtypes()
    name = os.path.basename(config.shown)
    wanted = exported_as or DEFAULT_DTYPE
    if mixed:
        return []  # no dtype serves a mixed export: bad-quant-tensor names the odd tensors
    if not values:
        return [
            C.TORCH_DTYPE(
                config.shown,
                f"{name} has no 'torch_dtype' key; vllm-ascend {profile.name} then picks the "
                f"model dtype without it (not from what the scales need), and this export is "
                f"{wanted}" + (f" ({evidence})" if evidence else ""),
                hint=f'set "torch_dtype": "{wanted}" (dsprep check --fix does it)',
                severity=Severity.WARNING,
            )
        ]
    findings: list[Finding] = []
    for key, value in values.items():
        if value not in profile.weights.model_dtypes:
            findings.append(
                C.TORCH_DTYPE(
                    config.shown,
                    f"key {key!r} in {name} is {value!r}; vllm-ascend {profile.name} runs W8A8 "
                    f"models in {' or '.join(profile.weights.model_dtypes)} only",
                    hint=f'set "{key}": "{wanted}" (dsprep check --fix does it)',
                )
            )
        elif exported_as is not None and value != exported_as:
            findings.append(
                C.TORCH_DTYPE(
                    config.shown,
                    f"key {key!r} in {name} is {value!r} but the checkpoint is a {exported_as} "
                    f"export ({evidence}); vllm-ascend {profile.name} would load its W8A8 "
                    f"scales as {value} tensors, silently corrupting them",
                    hint=f'set "{key}": "{exported_as}" (dsprep check --fix does it); to serve '
                    f"in {value}, re-export the weights for {value} with msmodelslim",
                )
            )
    return findings


def fixed_dtype(
    config: ModelConfig, profile: Profile, exported_as: str | None, *, mixed: bool = False
) -> str | None:
    """The dtype ``--fix`` writes, or None when nothing needs (or may) change: never one the
    export's tensors contradict (a ``mixed`` export gets none)."""
    if mixed:
        return None
    wanted = exported_as or DEFAULT_DTYPE
    values = config.dtypes()
    if not values:
        return wanted
    wrong = any(
        v not in profile.weights.model_dtypes or (exported_as is not None and v != exported_as)
        for v in values.values()
    )
    return wanted if wrong else None
