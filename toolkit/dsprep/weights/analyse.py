"""Turn a :class:`~dsprep.weights.scan.Scan` into findings and the check's summary."""

from __future__ import annotations

import os
from typing import Any

from dsprep.findings import Finding
from dsprep.weights import config as cfg
from dsprep.weights.description import (
    description_checks,
    name_findings,
    type_counts,
    weight_entries,
)
from dsprep.weights.headers import FP8_DTYPES, TensorInfo, size_findings
from dsprep.weights.quant_tensors import quant_tensor_findings
from dsprep.weights.safety import JsonProblem, PathEscape
from dsprep.weights.scan import Scan


def fp8_shards(scan: Scan) -> list[str]:
    return [name for name, header in scan.headers.items() if header.dtypes() & FP8_DTYPES]


def model_is_fp8(scan: Scan) -> bool:
    """FP8 tensors in the shards that make up the model (stray FP8 shards aside)."""
    return bool(_split_fp8(scan)[0])


def _split_fp8(scan: Scan) -> tuple[list[str], list[str]]:
    """(FP8 shards of the model, stray FP8 shards next to a W8A8 index)."""
    shards = fp8_shards(scan)
    if scan.has_description and scan.index is not None:
        indexed = set(scan.index.shards)
        return [n for n in shards if n in indexed], [n for n in shards if n not in indexed]
    return shards, []


def unverified_finding(shown: str) -> Finding:
    return Finding(
        "unverified-quantization",
        shown,
        f"no quant_model_description.json in {os.path.dirname(shown) or '.'}: nothing "
        "confirms these are Ascend W8A8 weights, and vllm-ascend --quantization ascend "
        "stops with 'Cannot find the config file for ascend'",
        hint="use an msmodelslim W8A8 export (it ships quant_model_description.json)",
    )


def analyse(scan: Scan) -> list[Finding]:
    findings = list(scan.findings)
    model_fp8, stray_fp8 = _split_fp8(scan)
    for name in model_fp8[:1]:
        tensor, info = next(
            (n, t) for n, t in scan.headers[name].tensors.items() if t.dtype in FP8_DTYPES
        )
        shown = scan.shown(name)
        findings.append(
            Finding(
                "fp8-weights",
                shown,
                f"tensor {tensor!r} in {name} is {info.dtype} ({len(model_fp8)} shards hold FP8 "
                "tensors): Ascend NPUs cannot compute in FP8",
                hint="download an Ascend W8A8 conversion instead "
                "(e.g. Eco-Tech/DeepSeek-V3.1-w8a8-mtp-QuaRot)",
            )
        )
    index_name = scan.index.name if scan.index is not None else "the index"
    for name in stray_fp8:
        shown = scan.shown(name)
        findings.append(
            Finding(
                "stray-fp8-shard",
                shown,
                f"{name} holds FP8 tensors and is not in {index_name}; vLLM loads every "
                "*.safetensors in the folder",
                hint=f"delete {shown} (a leftover of the FP8 original)",
            )
        )
    config = scan.config
    config_shown = scan.shown("config.json")
    if config is not None:
        found = cfg.config_findings(config, config_shown, has_description=scan.has_description)
        if model_fp8:  # already reported from the tensors themselves
            found = [f for f in found if f.code != "fp8-weights"]
        findings.extend(found)
    display = {n: scan.shown(n) for n in scan.valid_descriptions + scan.misnamed_descriptions}
    findings.extend(name_findings(display, scan.valid_descriptions, scan.misnamed_descriptions))
    if not scan.has_description and not model_fp8 and not (config and cfg.says_fp8(config)):
        findings.append(unverified_finding(scan.model.display("quant_model_description.json")))
    findings.extend(_shard_findings(scan, stray_fp8))
    described = scan.description is not None or scan.described is not None
    if described and not model_fp8:
        findings.extend(_description_findings(scan))
    return findings


def _shard_findings(scan: Scan, stray_fp8: list[str]) -> list[Finding]:
    findings: list[Finding] = []
    for name, header in scan.headers.items():
        if header.truncated or header.extra_bytes:
            findings += size_findings(name, scan.shown(name), header)
    index = scan.index
    if index is not None:
        indexed = set(index.shards)
        for name in scan.shard_names:
            if name in indexed or name in stray_fp8 or "/" in name:
                continue
            shown = scan.shown(name)
            findings.append(
                Finding(
                    "stray-shard",
                    shown,
                    f"{name} is not in {index.name}; vLLM loads every *.safetensors in the "
                    "folder, so its tensors get loaded too",
                    hint=f"delete {shown} or move it out of the folder",
                )
            )
    findings.extend(_duplicate_findings(scan))
    return findings


def _duplicate_findings(scan: Scan) -> list[Finding]:
    """A tensor in two shards (with an index, tensor-not-in-index already says which)."""
    if scan.index is not None or len(scan.headers) < 2:
        return []
    total = sum(len(h.tensors) for h in scan.headers.values())
    if len(all_tensors(scan)) == total:
        return []
    seen: dict[str, str] = {}
    findings: list[Finding] = []
    for name, header in scan.headers.items():
        for tensor in header.tensors:
            if tensor in seen:
                shown = scan.shown(name)
                findings.append(
                    Finding(
                        "duplicate-tensor",
                        shown,
                        f"tensor {tensor!r} in {name} is also in {seen[tensor]}",
                        hint="keep one copy: delete the shard that does not belong",
                    )
                )
            seen.setdefault(tensor, name)
    return findings[:20]


def all_tensors(scan: Scan) -> dict[str, TensorInfo]:
    """Every tensor of every parsed shard by name (computed once per scan)."""
    if scan.merged is None:
        merged: dict[str, TensorInfo] = {}
        for header in scan.headers.values():
            merged.update(header.tensors)
        scan.merged = merged
    return scan.merged


def _description_findings(scan: Scan) -> list[Finding]:
    assert scan.description_name is not None
    shown = scan.shown(scan.description_name)
    config = scan.config or {}
    groups = [header.tensors for header in scan.headers.values()]

    def shard_of(tensor: str) -> str:
        for name, header in scan.headers.items():
            if tensor in header.tensors:
                return scan.shown(name)
        return shown

    # Judged as the bfloat16 model vllm-ascend needs (a torch_dtype finding covers the rest).
    if scan.described is not None:  # the child checked the description
        findings = list(scan.described.findings)
        if scan.quant_static is not None:
            return findings + quant_tensor_findings(
                {}, [], groups, shard_of, static=scan.quant_static
            )
        if scan.description is None:  # the fast path could not decide: walk it here
            try:
                scan.description = scan.model.load_json_object(scan.description_name)
            except (JsonProblem, PathEscape):  # changed since the child read it
                return findings
        weights = weight_entries(scan.description)
        return findings + quant_tensor_findings(scan.description, weights, groups, shard_of)
    description = scan.description
    assert description is not None
    weights = weight_entries(description)
    scan.weights = weights
    findings = description_checks(
        description,
        groups,
        shown,
        weights=weights,
        num_hidden_layers=cfg.int_key(config, "num_hidden_layers", 1 << 30),
        num_nextn_predict_layers=cfg.int_key(config, "num_nextn_predict_layers"),
    )
    return findings + quant_tensor_findings(description, weights, groups, shard_of)


def summary(scan: Scan) -> dict[str, Any]:
    config = scan.config or {}
    layers = cfg.int_key(config, "num_hidden_layers", 1 << 30)
    nextn = cfg.int_key(config, "num_nextn_predict_layers")
    groups = [header.tensors for header in scan.headers.values()]
    markers = ("input_layernorm.weight", "eh_proj.weight", "enorm.weight", "embed_tokens.weight")
    mtp_layers = [
        i
        for i in range(layers, layers + max(nextn, 1))
        if layers < 1 << 30
        if any(f"model.layers.{i}.{marker}" in group for marker in markers for group in groups)
    ]
    return {
        "model_dir": str(scan.model.path),
        "architecture": cfg.architecture(config) if config else "unknown",
        "quant_types": _quant_types(scan),
        "description": scan.description_name,
        "index": scan.index.name if scan.index is not None else None,
        "shards": len(scan.headers),
        "tensors": sum(len(h.tensors) for h in scan.headers.values()),
        "total_bytes": sum(h.declared_size for h in scan.headers.values()),
        "bytes_on_disk": sum(h.size_on_disk for h in scan.headers.values()),
        "mtp": bool(nextn and mtp_layers),
        "mtp_layers": mtp_layers,
    }


def _quant_types(scan: Scan) -> dict[str, int]:
    if scan.described is not None:
        return scan.described.counts
    if scan.weights is not None:
        return type_counts(scan.weights)
    return type_counts(weight_entries(scan.description or {}))
