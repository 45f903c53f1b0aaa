"""The one quantization verdict: Ascend W8A8, the FP8 original, or unverified.

``dsprep check``, the ``dsprep fetch`` gate (before any shard exists) and the
``dsprep-check-quant`` hook all decide here, from whatever evidence they have. FP8 is
what Ascend NPUs cannot compute: FP8 tensors in the model's shards say so whatever else
does; without a description, ``quant_method: fp8`` in config.json, an index listing the
FP8 block scales (``*_scale_inv``) or shards named like the FP8 original say so too.
No description and no FP8 evidence: nothing confirms Ascend W8A8 (unverified).
"""

from __future__ import annotations

import os
from enum import Enum

import msgspec

from dsprep import catalogue as C
from dsprep.family import ModelFamily
from dsprep.findings import Finding, Severity
from dsprep.profiles import Profile
from dsprep.weights.config import ModelConfig


class Quantization(str, Enum):
    ASCEND = "ascend"  # a description says how the weights are quantized
    FP8 = "fp8"
    UNVERIFIED = "unverified"


class Stage(str, Enum):
    """Who asks: the check of a folder, or fetch before the shards (with or without
    ``--allow-unverified``)."""

    CHECK = "check"
    FETCH = "fetch"
    FETCH_ALLOWING_UNVERIFIED = "fetch-allowing-unverified"


class FP8Tensor(msgspec.Struct, frozen=True):
    shard: str
    shown: str
    tensor: str
    dtype: str


class QuantEvidence(msgspec.Struct, frozen=True):
    """What is known so far; the gate has no shards, the check has them all."""

    description: bool  # a description file (found, or a lone look-alike) is present
    description_shown: str  # where the description is (or would be)
    config: ModelConfig | None = None
    fp8_index: str | None = None  # shown path of an index listing *_scale_inv tensors
    fp8_named: list[str] = msgspec.field(default_factory=list)  # shown paths of FP8-named shards
    fp8_tensors: list[FP8Tensor] = msgspec.field(default_factory=list)  # in the model's shards


class Verdict(msgspec.Struct, frozen=True):
    quantization: Quantization
    finding: Finding | None  # the fp8-weights / unverified-quantization finding

    @property
    def refuses_download(self) -> bool:
        return self.finding is not None and self.finding.severity is Severity.ERROR


def quantization_verdict(
    evidence: QuantEvidence, family: ModelFamily, profile: Profile, stage: Stage = Stage.CHECK
) -> Verdict:
    repos = " or ".join(family.w8a8_repos)
    fp8_hint = f"download an Ascend W8A8 conversion instead: {repos}"
    cannot = "Ascend NPUs cannot compute FP8"
    if evidence.fp8_tensors:
        first = evidence.fp8_tensors[0]
        shards = len({t.shard for t in evidence.fp8_tensors})
        message = (
            f"tensor {first.tensor!r} in {first.shard} is {first.dtype} ({shards} shards hold "
            f"FP8 tensors): {cannot}"
        )
        return Verdict(Quantization.FP8, C.FP8_WEIGHTS(first.shown, message, hint=fp8_hint))
    if evidence.description:
        return Verdict(Quantization.ASCEND, None)
    config = evidence.config
    if config is not None and config.says_fp8:
        name = os.path.basename(config.shown)
        message = (
            f"{name} sets quantization_config.quant_method to 'fp8' and there is no "
            f"description: this is the original FP8 checkpoint; {cannot}"
        )
        return Verdict(Quantization.FP8, C.FP8_WEIGHTS(config.shown, message, hint=fp8_hint))
    if evidence.fp8_index is not None:
        name = os.path.basename(evidence.fp8_index)
        message = (
            f"{name} lists FP8 block scales (*{family.fp8_scale_suffix}): these are the FP8 "
            f"original's weights; {cannot}"
        )
        return Verdict(Quantization.FP8, C.FP8_WEIGHTS(evidence.fp8_index, message, hint=fp8_hint))
    if evidence.fp8_named:
        named = evidence.fp8_named[0]
        message = (
            f"{len(evidence.fp8_named)} shards are named like the FP8 original "
            f"({os.path.basename(named)}) and there is no description: these are FP8 "
            f"weights; {cannot}"
        )
        return Verdict(Quantization.FP8, C.FP8_WEIGHTS(named, message, hint=fp8_hint))
    return Verdict(Quantization.UNVERIFIED, _unverified(evidence, profile, stage))


def _unverified(evidence: QuantEvidence, profile: Profile, stage: Stage) -> Finding:
    lookup = profile.weights.description
    folder = os.path.dirname(evidence.description_shown) or "."
    message = (
        f"no {lookup.file} in {folder}: nothing confirms these are Ascend W8A8 weights, and "
        f"vllm-ascend {profile.name} --quantization ascend stops with '{lookup.not_found}'"
    )
    if stage is Stage.FETCH:
        return C.UNVERIFIED_QUANTIZATION(
            evidence.description_shown,
            f"{message}; no shard was downloaded",
            hint=f"{C.UNVERIFIED_QUANTIZATION.fix}; or pass --allow-unverified to download anyway",
        )
    if stage is Stage.FETCH_ALLOWING_UNVERIFIED:
        return C.UNVERIFIED_QUANTIZATION(
            evidence.description_shown,
            f"{message} (downloading anyway: --allow-unverified)",
            severity=Severity.WARNING,
        )
    return C.UNVERIFIED_QUANTIZATION(evidence.description_shown, message)
