"""Every broken variant of the tiny W8A8 checkpoint gets its exact finding code.

Each case asserts the code, that the finding is an error (or the stated severity), that
the finding's path and message name the file, and that the message names the tensor/key.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from dsprep.findings import Finding, Severity
from dsprep.weights.check import CheckOptions, check_model_dir
from tests.weights import broken
from tests.weights.broken import DESCRIPTION, shard

SUFFIX_LOOKUP_RELEASE = "v0.13.0"


def the_finding(folder: Path, code: str, image: str | None = None) -> Finding:
    result = check_model_dir(folder, CheckOptions(image=image))
    matching = [f for f in result.findings if f.code == code]
    assert matching, f"no {code} finding; got {result.codes()}"
    assert not result.ok
    return matching[0]


# (break function, code, file the message names, text the message must contain)
CASES: list[tuple[Callable[[Path], str], str, str | None, str | None]] = [
    (broken.break_fp8_config, "fp8-weights", "config.json", "quant_method"),
    (
        broken.break_leftover_quantization_config,
        "leftover-quantization-config",
        "config.json",
        None,
    ),
    (broken.break_fa_quant_type, "leftover-quantization-config", "config.json", "without"),
    (broken.break_torch_dtype, "torch-dtype", "config.json", "'float16'"),
    (broken.break_dtype_key, "torch-dtype", "config.json", "'float32'"),
    (broken.break_misnamed_description, "misnamed-description", None, None),
    (broken.break_duplicate_description, "duplicate-description", DESCRIPTION, None),
    (broken.break_unknown_quant_type, "unknown-quant-type", DESCRIPTION, "'W4A4'"),
    (broken.break_missing_entry, "missing-description-entry", DESCRIPTION, None),
    (broken.break_gate_up, "gate-up-mismatch", DESCRIPTION, None),
    (broken.break_stray_index, "stray-index", None, None),
    (broken.break_stray_fp8_shard, "stray-fp8-shard", None, None),
    (broken.break_stray_shard, "stray-shard", None, None),
    (broken.break_missing_shard, "missing-shard", None, "puts"),
    (broken.break_tensor_not_in_shard, "tensor-not-in-shard", shard(1), None),
    (broken.break_truncated, "truncated-shard", None, "100 bytes missing"),
    (broken.break_no_description, "unverified-quantization", DESCRIPTION, None),
    (broken.break_lfs_pointer, "lfs-pointer", None, "git-lfs pointer"),
]


@pytest.mark.parametrize(
    ("damage", "code", "file_named", "text"),
    CASES,
    ids=[case[1] + ":" + case[0].__name__.removeprefix("break_") for case in CASES],
)
def test_broken_variant_has_its_code(
    w8a8_dir: Path,
    damage: Callable[[Path], str],
    code: str,
    file_named: str | None,
    text: str | None,
) -> None:
    named = damage(w8a8_dir)
    # duplicates stop the releases that glob for the description (up to 0.13; see
    # test_release_checks for the later ones)
    image = SUFFIX_LOOKUP_RELEASE if code == "duplicate-description" else None
    finding = the_finding(w8a8_dir, code, image)
    assert finding.severity is Severity.ERROR
    file_named = file_named or named  # the break function returned the file itself
    assert file_named in finding.message
    assert finding.path.startswith(str(w8a8_dir))
    if named != file_named:  # it returned a tensor or key: the message names it too
        assert named in finding.message
    if text is not None:
        assert text in finding.message
    assert finding.hint, "every finding says how to fix it"


def test_mtp_layer_coverage_matters_only_with_speculative_decoding(w8a8_dir: Path) -> None:
    """The MTP draft is built (and its entries looked up) only with --speculative-config:
    an uncovered MTP layer is an error then, a note otherwise; eh_proj and the MTP
    embed_tokens are never looked up, so they are not what the message names."""
    broken.break_mtp_not_covered(w8a8_dir)
    plain = check_model_dir(w8a8_dir)
    assert plain.ok, plain.codes()
    note = next(f for f in plain.findings if f.code == "mtp-not-covered")
    assert note.severity is Severity.INFO and "model.layers.3." in note.message
    with_mtp = check_model_dir(w8a8_dir, CheckOptions(speculative=True))
    error = next(f for f in with_mtp.findings if f.code == "mtp-not-covered")
    assert error.severity is Severity.ERROR and not with_mtp.ok
    assert "eh_proj" not in error.message and "embed_tokens" not in error.message


def test_tensor_not_in_index_names_shard_and_tensor(w8a8_dir: Path) -> None:
    home = broken.shard_of(w8a8_dir, "lm_head.weight")
    broken.break_tensor_not_in_index(w8a8_dir)
    finding = the_finding(w8a8_dir, "tensor-not-in-index")
    assert home in finding.message and "'lm_head.weight'" in finding.message
    assert finding.path.endswith(home)


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        (broken.break_scale_shape, "[out, 1]"),
        (broken.break_weight_dtype, "is BF16"),
        (broken.break_missing_offset, "is missing"),
        (broken.break_deq_scale, "is I64"),
    ],
    ids=["scale-shape", "weight-dtype", "missing-offset", "deq-scale-dtype"],
)
def test_bad_quant_tensor(w8a8_dir: Path, damage: Callable[[Path], str], problem: str) -> None:
    tensor = damage(w8a8_dir)
    weight = tensor.rsplit(".", 1)[0] + ".weight"
    finding = the_finding(w8a8_dir, "bad-quant-tensor")
    assert f"'{tensor}'" in finding.message and problem in finding.message
    assert broken.shard_of(w8a8_dir, weight) in finding.message


def test_stray_index_with_fp8_scales_only_index(w8a8_dir: Path) -> None:
    """The FP8 original's index as the only index beside a description is stray too."""
    (w8a8_dir / broken.INDEX).unlink()
    broken.break_stray_index(w8a8_dir)
    finding = the_finding(w8a8_dir, "stray-index")
    assert "model.safetensors.index.json" in finding.message
    assert "scale_inv" in finding.message


def test_fp8_checkpoint_is_rejected_from_its_tensors(fp8_dir: Path) -> None:
    result = check_model_dir(fp8_dir)
    assert result.codes().count("fp8-weights") == 1
    finding = next(f for f in result.findings if f.code == "fp8-weights")
    assert "F8_E4M3" in finding.message and ".safetensors" in finding.message
    assert "unverified-quantization" not in result.codes()


def test_fp8_tensors_without_fp8_config_are_still_fp8(fp8_dir: Path) -> None:
    broken.edit_json(fp8_dir / "config.json", "quantization_config", broken._DELETE)
    assert "fp8-weights" in check_model_dir(fp8_dir).codes()


def test_clean_checkpoint_passes_with_summary(w8a8_dir: Path) -> None:
    result = check_model_dir(w8a8_dir)
    assert result.ok and result.findings == []
    data = result.payload.to_json()
    assert data["architecture"] == "DeepseekV3ForCausalLM"
    assert data["quant_types"] == {"FLOAT": 32, "W8A8": 16, "W8A8_DYNAMIC": 48}
    assert data["shards"] == 3 and data["mtp"] is True and data["mtp_layers"] == [3]
    shard_bytes = sum(p.stat().st_size for p in w8a8_dir.glob("*.safetensors"))
    assert data["total_bytes"] == shard_bytes


def test_missing_config_and_invalid_json(w8a8_dir: Path) -> None:
    (w8a8_dir / DESCRIPTION).write_text("{not json", encoding="utf-8")
    (w8a8_dir / "config.json").unlink()
    result = check_model_dir(w8a8_dir)
    assert "missing-config" in result.codes()
    invalid = next(f for f in result.findings if f.code == "invalid-json")
    assert DESCRIPTION in invalid.message and "not valid JSON" in invalid.message


@pytest.mark.parametrize("content", ["[1, 2]", "", "null", '"text"'])
def test_config_that_is_not_an_object(w8a8_dir: Path, content: str) -> None:
    (w8a8_dir / "config.json").write_text(content, encoding="utf-8")
    finding = the_finding(w8a8_dir, "invalid-json")
    assert "config.json" in finding.message


def test_misnamed_description_beside_a_good_one_is_a_warning(w8a8_dir: Path) -> None:
    extra = w8a8_dir / "quant_model_description_w8a8_dynamic.json"
    extra.write_bytes((w8a8_dir / DESCRIPTION).read_bytes())
    result = check_model_dir(w8a8_dir)
    assert result.ok
    warning = next(f for f in result.findings if f.code == "misnamed-description")
    assert warning.severity is Severity.WARNING and extra.name in warning.message


def test_many_missing_entries_are_capped(w8a8_dir: Path) -> None:
    description = broken.read_json(w8a8_dir / DESCRIPTION)
    kept = {k: v for k, v in description.items() if ".experts." not in k}
    broken.write_json(w8a8_dir / DESCRIPTION, kept)
    result = check_model_dir(w8a8_dir)
    missing = [f for f in result.findings if f.code == "missing-description-entry"]
    assert len(missing) == 21 and "more tensors" in missing[-1].message


def test_hostile_json_types_are_findings_not_crashes(w8a8_dir: Path) -> None:
    description = broken.read_json(w8a8_dir / DESCRIPTION)
    description[broken.Q_A] = ["W8A8"]
    description[broken.UP0] = {"type": "W8A8_DYNAMIC"}
    description["model.layers.0.mlp.down_proj.weight"] = None
    description["version"] = [1, 2]
    broken.write_json(w8a8_dir / DESCRIPTION, description)
    config = broken.read_json(w8a8_dir / "config.json")
    config.update(
        architectures=5,
        num_hidden_layers="three",
        quantization_config="fp8",
        torch_dtype=["bfloat16"],
    )
    broken.write_json(w8a8_dir / "config.json", config)
    index = broken.read_json(w8a8_dir / broken.INDEX)
    index["metadata"] = "x"
    broken.write_json(w8a8_dir / broken.INDEX, index)
    result = check_model_dir(w8a8_dir)
    codes = set(result.codes())
    assert {"unknown-quant-type", "leftover-quantization-config", "torch-dtype"} <= codes
    unknown = [f.message for f in result.findings if f.code == "unknown-quant-type"]
    assert any(broken.Q_A in m and "['W8A8']" in m for m in unknown)
    assert "unexpected-architecture" in codes


def test_index_with_non_string_shards_is_invalid(w8a8_dir: Path) -> None:
    index = broken.read_json(w8a8_dir / broken.INDEX)
    index["weight_map"]["lm_head.weight"] = 3
    broken.write_json(w8a8_dir / broken.INDEX, index)
    finding = the_finding(w8a8_dir, "invalid-index")
    assert broken.INDEX in finding.message and "weight_map" in finding.message


def test_random_byte_damage_never_crashes(pristine_w8a8: Path, tmp_path: Path) -> None:
    """Seeded corruption of every kind of file: always a Result, never an exception."""
    import random
    import shutil

    rng = random.Random(20251128)
    targets = [DESCRIPTION, "config.json", broken.INDEX, shard(1), shard(2)]
    for round_number in range(60):
        folder = tmp_path / f"r{round_number}"
        shutil.copytree(pristine_w8a8, folder)
        path = folder / rng.choice(targets)
        data = bytearray(path.read_bytes())
        limit = min(len(data), 4096)  # headers and JSON live at the front
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(limit)] = rng.randrange(256)
        if rng.random() < 0.3:
            data = data[: rng.randrange(len(data))]
        path.write_bytes(bytes(data))
        result = check_model_dir(folder)
        assert result.command == "check"
        assert all(f.code and f.message for f in result.findings)


def test_an_expert_unlike_expert_0_is_named(w8a8_dir: Path) -> None:
    """The fused MoE layer loads every expert with expert 0's method."""
    odd = "model.layers.1.mlp.experts.2.down_proj.weight"
    broken.edit_json(w8a8_dir / DESCRIPTION, odd, "W8A8")
    mismatch = [f for f in check_model_dir(w8a8_dir).findings if f.code == "gate-up-mismatch"]
    assert len(mismatch) == 1
    assert odd in mismatch[0].message
    assert "model.layers.1.mlp.experts.0.down_proj.weight" in mismatch[0].message


def test_an_expert_0_unlike_its_experts_names_each_of_them(w8a8_dir: Path) -> None:
    zero = "model.layers.1.mlp.experts.0.down_proj.weight"
    broken.edit_json(w8a8_dir / DESCRIPTION, zero, "W8A8")
    mismatch = [f for f in check_model_dir(w8a8_dir).findings if f.code == "gate-up-mismatch"]
    named = sorted(f.message.split(",")[1].split()[0] for f in mismatch)
    # expert 0's own gate/down disagree (one fused layer), and experts 1-3 each differ
    # from expert 0's down_proj
    fused = "model.layers.1.mlp.experts.0.gate_proj.weight"
    experts = [f"model.layers.1.mlp.experts.{e}.down_proj.weight" for e in (1, 2, 3)]
    assert named == [fused, *experts]
    assert all(zero in f.message for f in mismatch)
