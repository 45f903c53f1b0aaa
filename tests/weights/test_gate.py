"""``quantization_gate``: what ``dsprep fetch`` decides from config and listing alone."""

from __future__ import annotations

import shutil
from pathlib import Path

from dsprep.findings import Finding, Severity
from tests.weights import broken
from tests.weights.broken import DESCRIPTION, INDEX
from tests.weights.helpers import quantization_gate


def metadata_only(folder: Path) -> list[str]:
    """Keep the small files fetch downloads first; return the full listing."""
    listing = sorted(p.name for p in folder.iterdir())
    for path in folder.glob("*.safetensors"):
        path.unlink()
    return listing


def errors(findings: list[Finding]) -> list[str]:
    return [f.code for f in findings if f.severity is Severity.ERROR]


def test_w8a8_metadata_passes(w8a8_dir: Path) -> None:
    listing = metadata_only(w8a8_dir)
    assert errors(quantization_gate(w8a8_dir, listing)) == []


def test_fp8_config_without_description(fp8_dir: Path) -> None:
    listing = metadata_only(fp8_dir)
    codes = errors(quantization_gate(fp8_dir, listing))
    assert "fp8-weights" in codes and "unverified-quantization" not in codes


def test_fp8_looking_listing_without_description(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "config.json").write_text(
        '{"architectures": ["DeepseekV3ForCausalLM"], "torch_dtype": "bfloat16"}'
    )
    listing = ["config.json", "model-00001-of-000163.safetensors", "model.safetensors.index.json"]
    findings = quantization_gate(folder, listing)
    fp8 = next(f for f in findings if f.code == "fp8-weights")
    assert "model-00001-of-000163.safetensors" in fp8.message


def test_fp8_index_without_description(fp8_dir: Path) -> None:
    listing = metadata_only(fp8_dir)
    broken.edit_json(fp8_dir / "config.json", "quantization_config", broken._DELETE)
    findings = quantization_gate(fp8_dir, [n for n in listing if not n.startswith("model-")])
    fp8 = next(f for f in findings if f.code == "fp8-weights")
    assert "model.safetensors.index.json" in fp8.message and "scale_inv" in fp8.message


def test_no_description_no_fp8_is_unverified(w8a8_dir: Path) -> None:
    listing = metadata_only(w8a8_dir)
    (w8a8_dir / DESCRIPTION).unlink()
    listing.remove(DESCRIPTION)
    finding = next(
        f for f in quantization_gate(w8a8_dir, listing) if f.code == "unverified-quantization"
    )
    assert DESCRIPTION in finding.message


def test_misnamed_and_duplicate_from_the_listing(w8a8_dir: Path) -> None:
    listing = metadata_only(w8a8_dir)
    (w8a8_dir / DESCRIPTION).unlink()
    listing.remove(DESCRIPTION)
    misnamed = [*listing, "quant_model_description_w8a8_dynamic.json"]
    finding = next(
        f for f in quantization_gate(w8a8_dir, misnamed) if f.code == "misnamed-description"
    )
    assert "quant_model_description_w8a8_dynamic.json" in finding.message
    assert "unverified-quantization" not in errors(quantization_gate(w8a8_dir, misnamed))
    two = [*listing, "a_quant_model_description.json", "quant_model_description.json"]
    assert "duplicate-description" in errors(quantization_gate(w8a8_dir, two, "v0.13.0"))
    assert "duplicate-description" not in errors(quantization_gate(w8a8_dir, two, "v0.18.0"))


def test_config_launch_breakers(w8a8_dir: Path) -> None:
    listing = metadata_only(w8a8_dir)
    broken.break_leftover_quantization_config(w8a8_dir)
    broken.break_dtype_key(w8a8_dir)  # float32: no release runs W8A8 in it
    codes = errors(quantization_gate(w8a8_dir, listing))
    assert {"leftover-quantization-config", "torch-dtype"} <= set(codes)
    assert "fp8-weights" not in codes


def test_unknown_type_and_stray_index(w8a8_dir: Path) -> None:
    listing = metadata_only(w8a8_dir)
    broken.break_unknown_quant_type(w8a8_dir)
    codes = errors(quantization_gate(w8a8_dir, [*listing, "model.safetensors.index.json"]))
    assert "unknown-quant-type" in codes and "stray-index" in codes


def test_invalid_json_metadata(w8a8_dir: Path) -> None:
    listing = metadata_only(w8a8_dir)
    (w8a8_dir / INDEX).write_text("[")
    finding = next(f for f in quantization_gate(w8a8_dir, listing) if f.code == "invalid-json")
    assert INDEX in finding.message
    shutil.rmtree(w8a8_dir)
