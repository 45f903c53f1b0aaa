"""``dsprep check DIR``: prove a weights folder is servable by vllm-ascend v0.11.0rc0.

Reads config.json, the description, the shard index and the shard headers (never tensor
data, never a file outside DIR) and returns a :class:`~dsprep.findings.Result` with stable
finding codes; optionally re-hashes the files and repairs what is safe to repair.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from dsprep.findings import Finding, Result
from dsprep.weights import config as cfg
from dsprep.weights.analyse import analyse, model_is_fp8, summary, unverified_finding
from dsprep.weights.description import description_names, name_findings, type_findings
from dsprep.weights.index import choose_index, index_names, stray_index_finding
from dsprep.weights.index_worker import load_index
from dsprep.weights.safety import ModelDir
from dsprep.weights.scan import scan_model_dir

# The FP8 original names its shards model-00001-of-000163.safetensors.
_FP8_SHARD_NAME = re.compile(r"^model-\d+-of-\d+\.safetensors$")


@dataclass(frozen=True)
class CheckOptions:
    verify_hashes: bool = False
    sha256_file: Path | None = None
    fix: bool = False
    max_workers: int | None = None
    progress: Callable[[int], None] | None = None  # bytes hashed so far, for a progress bar


def check_model_dir(model_dir: Path, options: CheckOptions = CheckOptions()) -> Result:
    """Check the folder; ``InputError`` (exit 3) only when DIR itself is unusable.

    The cyclic garbage collector is paused meanwhile: parsing ~139,000 header entries
    allocates millions of objects without cycles, and collections would double the time.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _check(Path(model_dir), options)
    finally:
        if enabled:
            gc.enable()


def _check(model_dir: Path, options: CheckOptions) -> Result:
    model = ModelDir(model_dir)
    scan = scan_model_dir(model)
    fixed: list[Finding] = []
    if options.fix:
        from dsprep.weights.fix import apply_fixes

        fixed = apply_fixes(scan, fp8_model=model_is_fp8(scan))
        if fixed:
            scan = scan_model_dir(model)
    result = Result("check", [*fixed, *analyse(scan)], summary(scan))
    result.data["fixed"] = [f.message for f in fixed]
    if options.verify_hashes or options.sha256_file is not None:
        result.extend(_hash_findings(model, options, result))
    return result


def _hash_findings(model: ModelDir, options: CheckOptions, result: Result) -> list[Finding]:
    from dsprep.weights.hashes import hash_findings, manifest_targets, sha256sum_targets

    if options.sha256_file is not None:
        targets = sha256sum_targets(options.sha256_file)
        source = str(options.sha256_file)
    else:
        targets = manifest_targets(model)
        source = model.display(".dsprep/manifest.json")
    findings, verified = hash_findings(
        model,
        targets,
        source=source,
        max_workers=options.max_workers,
        progress=options.progress,
    )
    result.data["hashes"] = {"source": source, "files": len(targets), "verified": verified}
    return findings


def quantization_gate(model_dir: Path, remote_files: Sequence[str] = ()) -> list[Finding]:
    """The config-first gate ``dsprep fetch`` runs before downloading the shards.

    ``model_dir`` holds the small metadata files fetched first (config.json, the
    description, index files); ``remote_files`` are all file names the hub lists.
    """
    model = ModelDir(Path(model_dir))
    local = model.entries()
    names = sorted({*local, *(n for n in remote_files if "/" not in n)})
    findings: list[Finding] = []
    valid, misnamed = description_names(names)
    has_description = bool(valid or misnamed)
    display = {n: model.display(n) for n in names}
    findings.extend(name_findings(display, valid, misnamed))
    fp8 = False
    config_shown = model.display("config.json")
    if "config.json" in local:
        config = model.read_json_object("config.json", findings)
        if config is not None:
            findings.extend(
                cfg.config_findings(config, config_shown, has_description=has_description)
            )
            fp8 = cfg.says_fp8(config) and not has_description
    description_name = (valid or misnamed or [""])[0]
    if description_name in local:
        description = model.read_json_object(description_name, findings)
        if description is not None:
            findings.extend(type_findings(description, model.display(description_name)))
    fp8 = _gate_indexes(model, names, local, has_description, findings) or fp8
    fp8_named = [n for n in names if _FP8_SHARD_NAME.match(n)]
    if not has_description and fp8_named and not fp8:
        fp8 = True
        findings.append(
            Finding(
                "fp8-weights",
                model.display(fp8_named[0]),
                f"the hub lists {len(fp8_named)} shards named like the FP8 original "
                f"({fp8_named[0]}) and no quant_model_description.json: these are FP8 "
                "weights, which Ascend NPUs cannot compute",
                hint="download an Ascend W8A8 conversion instead "
                "(e.g. Eco-Tech/DeepSeek-V3.1-w8a8-mtp-QuaRot)",
            )
        )
    if not has_description and not fp8:
        findings.append(unverified_finding(model.display("quant_model_description.json")))
    return findings


def _gate_indexes(
    model: ModelDir, names: list[str], local: list[str], has_description: bool, out: list[Finding]
) -> bool:
    """Stray-index and FP8 evidence from the index files; True when they say FP8."""
    main, stray = choose_index(index_names(names))
    for name in stray:
        out.append(stray_index_finding(model.display(name), model.display(main or "")))
    fp8 = False
    for name in index_names(names):
        if name not in local or name in stray:
            continue
        parsed = load_index(model, name, has_description=has_description)
        if isinstance(parsed, Finding):
            out.append(parsed)
        elif parsed.says_fp8() and not has_description:
            fp8 = True
            out.append(
                Finding(
                    "fp8-weights",
                    model.display(name),
                    f"{model.display(name)} lists FP8 block scales (*.weight_scale_inv): these "
                    "are the FP8 original's weights, which Ascend NPUs cannot compute",
                    hint="download an Ascend W8A8 conversion instead",
                )
            )
    return fp8
