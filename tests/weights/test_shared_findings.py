"""``dsprep check``, the fetch gate and the ``dsprep-check-index`` hook describe one problem
with one finding: the same code, path, message and hint (they build it in one place), and
each reports it once (an indexed shard that cannot be read is not read twice)."""

from __future__ import annotations

import os
from pathlib import Path

from dsprep.findings import Finding
from dsprep.profiles import profile_for
from dsprep.weights.check import check_model_dir
from dsprep.weights.index_files import index_findings
from tests.weights import broken
from tests.weights.broken import INDEX
from tests.weights.helpers import quantization_gate


def hook(folder: Path, name: str) -> list[Finding]:
    return index_findings(folder, [name], profile_for(None))


def only(findings: list[Finding], code: str, text: str = "") -> Finding:
    found = [f for f in findings if f.code == code and text in f.message]
    assert len(found) == 1, findings
    return found[0]


def test_truncated_shard(w8a8_dir: Path) -> None:
    name = broken.break_truncated(w8a8_dir)
    from_check = only(check_model_dir(w8a8_dir).findings, "truncated-shard")
    assert from_check == only(hook(w8a8_dir, name), "truncated-shard")
    assert from_check.message.startswith(f"{name} is truncated: ")


def test_bad_header(w8a8_dir: Path) -> None:
    name = broken.shard(2)
    broken.write_raw_shard(w8a8_dir / name, b"[1]")
    said = f"{name} has a bad header: "
    from_check = only(check_model_dir(w8a8_dir).findings, "bad-header", said)
    assert from_check == only(hook(w8a8_dir, name), "bad-header", said)
    assert from_check.path == str(w8a8_dir / name) and "not an object" in from_check.message


def test_broken_symlink(w8a8_dir: Path) -> None:
    name = "extra.safetensors"
    os.symlink("nowhere.safetensors", w8a8_dir / name)
    from_check = only(check_model_dir(w8a8_dir).findings, "missing-shard")
    assert from_check == only(hook(w8a8_dir, name), "missing-shard")
    assert from_check.message == f"{name} is a broken symlink"


def test_fp8_index_beside_the_description(w8a8_dir: Path) -> None:
    """The FP8 original's index as the only index: stray, and said why, by all three."""
    document = broken.read_json(w8a8_dir / INDEX)
    document["weight_map"]["model.layers.0.mlp.down_proj.weight_scale_inv"] = broken.shard(1)
    broken.write_json(w8a8_dir / "model.safetensors.index.json", document)
    (w8a8_dir / INDEX).unlink()
    name = "model.safetensors.index.json"
    from_check = only(check_model_dir(w8a8_dir).findings, "stray-index")
    from_gate = only(quantization_gate(w8a8_dir), "stray-index")
    from_hook = only(hook(w8a8_dir, name), "stray-index")
    assert from_check == from_gate == from_hook
    assert "(it lists the FP8 original's *_scale_inv tensors)" in from_check.message
