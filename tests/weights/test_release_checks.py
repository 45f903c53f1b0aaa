"""The weights checks per release (issue 9): each case is a real checkpoint variant (shards
and description rewritten) judged by every bundled release, with what that release's
code does with it written out here, release by release, from its source (the profiles'
``weights.sources`` cite the lines)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dsprep.findings import Finding, Severity
from dsprep.profiles import profile_for
from dsprep.weights.check import CheckOptions, check_model_dir
from tests.weights import broken
from tests.weights.broken import DESCRIPTION, edit_json, read_json, write_json
from tests.weights.helpers import (
    as_dynamic,
    as_float,
    as_static,
    float16_export,
    reshaped,
    rewrite_checkpoint,
    typed,
    with_dtype,
)

RELEASES = ["v0.11.0rc0", "v0.11.0", "v0.12.0rc1", "v0.13.0", "v0.18.0", "v0.23.0"]
LAYER = "model.layers.1.self_attn"
Q_A, KV_A, KV_B, O_PROJ = (f"{LAYER}.{m}" for m in ("q_a_proj", "kv_a_proj_with_mqa",
                                                     "kv_b_proj", "o_proj"))  # fmt: skip
MTP = "model.layers.3"  # the tiny model's MTP layer (num_hidden_layers = 3)


def check(folder: Path, image: str, **options: bool) -> list[Finding]:
    return check_model_dir(folder, CheckOptions(image=image, **options)).findings


def errors(findings: list[Finding]) -> list[str]:
    return [f.code for f in findings if f.severity is Severity.ERROR]


def only(findings: list[Finding], code: str) -> Finding:
    matching = [f for f in findings if f.code == code]
    assert len(matching) == 1, [f.code for f in findings]
    return matching[0]


def per_release(*fails_on: str) -> list[tuple[str, bool]]:
    """(release, whether it fails) for every bundled release."""
    assert set(fails_on) <= set(RELEASES)
    return [(release, release in fails_on) for release in RELEASES]


# --- (1) eh_proj and the MTP embed_tokens; the MTP head ------------------------------------


@pytest.mark.parametrize("image", RELEASES)
def test_mtp_eh_proj_and_embed_tokens_need_no_entry(w8a8_dir: Path, image: str) -> None:
    """eh_proj is a plain nn.Linear and the MTP embed_tokens a VocabParallelEmbedding
    without quant_config in every release: never looked up, even with the MTP draft."""
    description = read_json(w8a8_dir / DESCRIPTION)
    for leaf in ("eh_proj.weight", "embed_tokens.weight"):
        del description[f"{MTP}.{leaf}"]
    write_json(w8a8_dir / DESCRIPTION, description)
    findings = check(w8a8_dir, image, speculative=True)
    assert findings == [], [f.message for f in findings]


@pytest.mark.parametrize(
    ("image", "fails"), per_release("v0.11.0rc0", "v0.11.0", "v0.12.0rc1", "v0.18.0")
)
def test_the_mtp_head_entry_per_release(w8a8_dir: Path, image: str, fails: bool) -> None:
    """The MTP head (a ParallelLMHead built with quant_config) is looked up; 0.13 falls back
    to lm_head.weight for a '.head' prefix without an entry, 0.23 builds an embedding
    without an entry unquantized."""
    edit_json(w8a8_dir / DESCRIPTION, f"{MTP}.shared_head.head.weight", broken._DELETE)
    findings = check(w8a8_dir, image, speculative=True)
    if fails:
        assert "mtp-not-covered" in errors(findings)
        assert "shared_head.head.weight" in only(findings, "mtp-not-covered").message
    else:
        assert findings == [], [f.message for f in findings]


def test_the_mtp_head_fallback_needs_a_float_lm_head(w8a8_dir: Path) -> None:
    """0.13's fallback reads lm_head.weight's entry: a quantized lm_head does not excuse the
    missing MTP head entry."""
    description = read_json(w8a8_dir / DESCRIPTION)
    del description[f"{MTP}.shared_head.head.weight"]
    del description["lm_head.weight"]
    write_json(w8a8_dir / DESCRIPTION, description)
    codes = errors(check(w8a8_dir, "v0.13.0", speculative=True))
    assert "mtp-not-covered" in codes and "missing-description-entry" in codes


# --- (2) MTP coverage only with --speculative ------------------------------------------------


@pytest.mark.parametrize("image", RELEASES)
def test_mtp_layer_coverage_is_an_error_only_with_speculative(w8a8_dir: Path, image: str) -> None:
    broken.break_mtp_not_covered(w8a8_dir)
    plain = check(w8a8_dir, image)
    assert errors(plain) == []
    assert only(plain, "mtp-not-covered").severity is Severity.INFO
    drafted = only(check(w8a8_dir, image, speculative=True), "mtp-not-covered")
    assert drafted.severity is Severity.ERROR
    assert image in drafted.message and "KeyError" in drafted.message
    assert "eh_proj" not in drafted.message and "embed_tokens" not in drafted.message


# --- (3) q_a_proj and kv_a_proj_with_mqa where the release fuses them ------------------------


def _fused_qkv_a(image: str) -> Severity | None:
    """rc0 builds q_a_proj and kv_a_proj_with_mqa as separate ReplicatedLinear layers;
    0.11.0 fuses them except in its torchair model; every later release fuses them."""
    if image == "v0.11.0rc0":
        return None
    if image == "v0.11.0" and profile_for(image).launch.default_graph_mode == "torchair":
        return Severity.WARNING
    return Severity.ERROR


@pytest.mark.parametrize("image", RELEASES)
def test_q_a_and_kv_a_share_a_quant_type_where_fused(w8a8_dir: Path, image: str) -> None:
    rewrite_checkpoint(w8a8_dir, as_dynamic(KV_A))
    findings = check(w8a8_dir, image)
    expected = _fused_qkv_a(image)
    mismatches = [f for f in findings if f.code == "gate-up-mismatch"]
    if expected is None:
        assert findings == [], [f.message for f in findings]
        return
    (finding,) = mismatches
    assert finding.severity is expected
    assert f"{Q_A}.weight" in finding.message and f"{KV_A}.weight" in finding.message
    assert f"Not all shards of {LAYER}.fused_qkv_a_proj" in finding.message
    assert ("torchair" in finding.message) is (image == "v0.11.0")


@pytest.mark.parametrize("image", RELEASES)
def test_q_a_and_kv_a_share_float_ness_where_fused(w8a8_dir: Path, image: str) -> None:
    rewrite_checkpoint(w8a8_dir, as_float(KV_A))
    findings = check(w8a8_dir, image)
    expected = _fused_qkv_a(image)
    if expected is None:
        assert findings == [], [f.message for f in findings]
        return
    finding = only(findings, "gate-up-mismatch")
    assert finding.severity is expected
    assert "'FLOAT'" in finding.message
    assert f"Detected some but not all shards of {LAYER}.fused_qkv_a_proj" in finding.message


# --- (4) kv_b_proj FLOAT from 0.13 -----------------------------------------------------------


@pytest.mark.parametrize(("image", "fails"), per_release("v0.13.0", "v0.18.0", "v0.23.0"))
def test_a_quantized_kv_b_proj(w8a8_dir: Path, image: str, fails: bool) -> None:
    """Up to 0.12 the MLA impl dequantizes kv_b_proj after loading; from 0.13 it asserts
    an unquantized method (after the whole load)."""
    rewrite_checkpoint(w8a8_dir, as_dynamic(KV_B))
    findings = check(w8a8_dir, image)
    if not fails:
        assert findings == [], [f.message for f in findings]
        return
    finding = only(findings, "must-be-float")
    assert finding.severity is Severity.ERROR
    assert f"{KV_B}.weight" in finding.message and "AssertionError" in finding.message


# --- (5) fa_quant_type where the release reads it; a quantization_config without method ------


@pytest.mark.parametrize(
    ("image", "severity"),
    [
        ("v0.11.0rc0", Severity.ERROR),  # every MLA layer is an Attention: NotImplementedError
        ("v0.11.0", Severity.ERROR),
        ("v0.12.0rc1", Severity.INFO),  # MLA layers are MLAAttention: no effect
        ("v0.13.0", Severity.INFO),
        ("v0.18.0", Severity.INFO),  # no layer marked by an fa_k.scale key: no effect
        ("v0.23.0", Severity.INFO),
    ],
)
def test_fa_quant_type_in_the_description(w8a8_dir: Path, image: str, severity: Severity) -> None:
    edit_json(w8a8_dir / DESCRIPTION, "fa_quant_type", "FAKQuant")
    finding = only(check(w8a8_dir, image), "fa-quant-type")
    assert finding.severity is severity
    assert "'FAKQuant'" in finding.message and DESCRIPTION in finding.message
    if severity is Severity.ERROR:
        assert "NotImplementedError" in finding.message


@pytest.mark.parametrize(
    ("image", "fa_type", "fails"),
    [
        ("v0.11.0rc0", "C8", False),  # rc0/0.11.0 register C8 and W8A8 for attention
        ("v0.11.0", "W8A8", False),
        ("v0.18.0", "FAKQuant", False),  # 0.18/0.23: FAKQuant and INT8_DYNAMIC
        ("v0.23.0", "INT8_DYNAMIC", False),
        ("v0.18.0", "C8", True),
        ("v0.23.0", "W8A8", True),
    ],
)
def test_fa_quant_type_on_marked_layers(
    w8a8_dir: Path, image: str, fa_type: str, fails: bool
) -> None:
    description = read_json(w8a8_dir / DESCRIPTION)
    description["fa_quant_type"] = fa_type
    description[f"{LAYER}.fa_k.scale"] = fa_type  # msmodelslim's marker of a quantized layer
    write_json(w8a8_dir / DESCRIPTION, description)
    findings = [f for f in check(w8a8_dir, image) if f.code == "fa-quant-type"]
    if not fails:
        assert findings == []
        return
    (finding,) = findings
    assert finding.severity is Severity.ERROR and "fa_k.scale" in finding.message
    assert "FAKQuant, INT8_DYNAMIC" in finding.message


@pytest.mark.parametrize("image", RELEASES)
def test_a_top_level_fa_quant_type_is_read_by_nothing(w8a8_dir: Path, image: str) -> None:
    edit_json(w8a8_dir / "config.json", "fa_quant_type", "FAKQuant")
    findings = check(w8a8_dir, image)
    assert errors(findings) == []
    assert only(findings, "fa-quant-type").severity is Severity.INFO


KEY_ERROR = {
    "v0.11.0rc0": "KeyError: 'model.embed_tokens.weight'",
    "v0.11.0": "KeyError: 'model.embed_tokens.weight'",
    "v0.12.0rc1": "KeyError: 'model.embed_tokens.weight'",
    "v0.13.0": "KeyError: 'model.embed_tokens.weight'",
    "v0.18.0": "KeyError: 'model.embed_tokens.weight'",
    "v0.23.0": "KeyError: 'model.layers.0.self_attn.q_a_proj.weight'",  # embeddings optional
}


@pytest.mark.parametrize("image", RELEASES)
@pytest.mark.parametrize("block", [{"fa_quant_type": "FAKQuant"}, {}], ids=["fa-block", "empty"])
def test_a_quantization_config_without_quant_method(
    w8a8_dir: Path, image: str, block: dict[str, str]
) -> None:
    """The ascend method takes such a block for the description (vLLM writes
    quant_method '' into an empty one, so {} is no exception, 0.18+ included) and never
    reads quant_model_description.json."""
    edit_json(w8a8_dir / "config.json", "quantization_config", block)
    finding = only(check(w8a8_dir, image), "leftover-quantization-config")
    assert finding.severity is Severity.ERROR
    assert KEY_ERROR[image] in finding.message and "ValueError" not in finding.message


# --- (6) the leftover FP8 block ---------------------------------------------------------------


@pytest.mark.parametrize("image", RELEASES)
def test_a_leftover_fp8_block_says_what_the_release_raises(w8a8_dir: Path, image: str) -> None:
    """Up to 0.11 the ascend method overrides every block on an NPU and takes the FP8 one
    for the description (a KeyError when the workers build the model); from 0.12 a block
    with quant_method fp8 contradicts --quantization ascend (a ValueError at start)."""
    broken.break_leftover_quantization_config(w8a8_dir)
    message = only(check(w8a8_dir, image), "leftover-quantization-config").message
    if image in ("v0.11.0rc0", "v0.11.0"):
        assert "KeyError: 'model.embed_tokens.weight'" in message and "ValueError" not in message
    else:
        assert "ValueError: Quantization method specified in the model config (fp8)" in message
        assert "KeyError" not in message


# --- (7) quant types per layer kind and release -----------------------------------------------


def _expert(name: str) -> bool:
    return ".mlp.experts." in name


def _o_proj(name: str) -> bool:
    return name.startswith(O_PROJ + ".")


# (variant, the releases that refuse it)
TYPE_CASES = {
    # static W8A8 routed experts: the W8A8 MoE method is gone from 0.13
    "W8A8-moe": (
        [as_static(lambda p: ".mlp.experts." in p)],
        {"v0.13.0", "v0.18.0", "v0.23.0"},
    ),
    # C8 is an attention type only (and gone from 0.13): never a linear's
    "C8-linear": ([typed("C8", _o_proj)], set(RELEASES)),
    # W8A8_MIX (the static W8A8 tensors) from 0.12
    "W8A8_MIX-linear": ([typed("W8A8_MIX", _o_proj)], {"v0.11.0rc0", "v0.11.0"}),
    "W8A16-linear": ([typed("W8A16", _o_proj)], {"v0.11.0rc0", "v0.11.0", "v0.12.0rc1"}),
    "W4A4_FLATQUANT_DYNAMIC-linear": ([typed("W4A4_FLATQUANT_DYNAMIC", _o_proj)], {"v0.11.0rc0"}),
    "W4A4_DYNAMIC-linear": (
        [typed("W4A4_DYNAMIC", _o_proj)],
        {"v0.11.0rc0", "v0.11.0", "v0.12.0rc1", "v0.13.0"},
    ),
    "W4A16-moe": ([typed("W4A16", _expert)], {"v0.11.0rc0", "v0.11.0"}),
    "W8A8_MXFP8-moe": (
        [typed("W8A8_MXFP8", _expert)],
        {"v0.11.0rc0", "v0.11.0", "v0.12.0rc1", "v0.13.0"},
    ),
    "W4A8_MXFP-linear": (
        [typed("W4A8_MXFP", _o_proj)],
        {"v0.11.0rc0", "v0.11.0", "v0.12.0rc1", "v0.13.0", "v0.18.0"},
    ),
}


@pytest.mark.parametrize("image", RELEASES)
@pytest.mark.parametrize("case", sorted(TYPE_CASES))
def test_quant_types_per_layer_kind(w8a8_dir: Path, case: str, image: str) -> None:
    transforms, refused_by = TYPE_CASES[case]
    rewrite_checkpoint(w8a8_dir, *transforms)
    findings = check(w8a8_dir, image)
    if image not in refused_by:
        assert findings == [], [f.message for f in findings]
        return
    refused = [f for f in findings if f.severity is Severity.ERROR]
    assert refused and {f.code for f in refused} == {"unknown-quant-type"}
    assert ".weight'" in refused[0].message  # an entry the release reads
    assert image in refused[0].message and "NotImplementedError" in refused[0].message


# --- (8) the model dtype is the export's ----------------------------------------------------


@pytest.mark.parametrize("image", RELEASES)
def test_a_float16_export_is_judged_and_fixed_as_float16(w8a8_dir: Path, image: str) -> None:
    rewrite_checkpoint(w8a8_dir, float16_export)
    finding = only(check(w8a8_dir, image), "torch-dtype")  # config.json says bfloat16
    assert "float16 export" in finding.message and ".deq_scale is I64" in finding.message
    assert '"torch_dtype": "float16"' in finding.hint and "re-export" in finding.hint
    fixed = check_model_dir(w8a8_dir, CheckOptions(image=image, fix=True))
    assert fixed.ok, fixed.codes()
    assert read_json(w8a8_dir / "config.json")["torch_dtype"] == "float16"
    edit_json(w8a8_dir / "config.json", "torch_dtype", broken._DELETE)
    check_model_dir(w8a8_dir, CheckOptions(image=image, fix=True))
    assert read_json(w8a8_dir / "config.json")["torch_dtype"] == "float16"


@pytest.mark.parametrize("image", RELEASES)
def test_fix_writes_no_dtype_over_a_mixed_export(w8a8_dir: Path, image: str) -> None:
    """Some deq_scale F32 (bfloat16), some I64 (float16): no model dtype loads both right,
    so --fix leaves the dtype alone (bad-quant-tensor names the odd tensors)."""
    rewrite_checkpoint(w8a8_dir, with_dtype(f"{O_PROJ}.deq_scale", "I64"))
    edit_json(w8a8_dir / "config.json", "torch_dtype", broken._DELETE)
    result = check_model_dir(w8a8_dir, CheckOptions(image=image, fix=True))
    assert "bad-quant-tensor" in result.codes() and "torch-dtype" not in result.codes()
    assert "torch_dtype" not in read_json(w8a8_dir / "config.json")


# --- (9) a scalar input_scale / input_offset -------------------------------------------------


def _scalar_on_fused(image: str) -> Severity | None:
    """rc0's per-tensor params have no weight_loader (default_weight_loader fills them from
    one value); from 0.11.0 they take the layer's loader, and MergedColumnParallelLinear's
    asserts [1] (0.11.0 fuses q_a/kv_a outside torchair only)."""
    return _fused_qkv_a(image)


@pytest.mark.parametrize("image", RELEASES)
@pytest.mark.parametrize("leaf", ["input_scale", "input_offset"])
def test_a_scalar_per_tensor_scale(w8a8_dir: Path, image: str, leaf: str) -> None:
    rewrite_checkpoint(w8a8_dir, reshaped(f"{O_PROJ}.{leaf}", ()), reshaped(f"{Q_A}.{leaf}", ()))
    findings = check(w8a8_dir, image)
    expected = _scalar_on_fused(image)
    if expected is None:
        assert findings == [], [f.message for f in findings]
        return
    finding = only(findings, "bad-quant-tensor")  # o_proj (RowParallelLinear) reshapes it
    assert finding.severity is expected
    assert f"'{Q_A}.{leaf}'" in finding.message and "fused_qkv_a_proj" in finding.message
    assert "AssertionError" in finding.message


# --- (16) how the description is found; entries 0.23 makes optional ---------------------------


@pytest.mark.parametrize(("image", "fails"), per_release("v0.18.0", "v0.23.0"))
def test_a_description_found_by_its_suffix(w8a8_dir: Path, image: str, fails: bool) -> None:
    """Up to 0.13 vLLM globs *.json ending in quant_model_description.json; from 0.18
    vllm-ascend opens exactly quant_model_description.json."""
    (w8a8_dir / DESCRIPTION).rename(w8a8_dir / f"w8a8_{DESCRIPTION}")
    findings = check(w8a8_dir, image)
    if not fails:
        assert findings == [], [f.message for f in findings]
        return
    finding = only(findings, "misnamed-description")
    assert finding.severity is Severity.ERROR
    assert "ModelSlim Quantization Config Not Found" in finding.message


@pytest.mark.parametrize(
    ("image", "fails"), per_release("v0.11.0rc0", "v0.11.0", "v0.12.0rc1", "v0.13.0")
)
def test_a_look_alike_beside_the_description(w8a8_dir: Path, image: str, fails: bool) -> None:
    (w8a8_dir / f"old_{DESCRIPTION}").write_bytes((w8a8_dir / DESCRIPTION).read_bytes())
    findings = check(w8a8_dir, image)
    if fails:
        assert "Found multiple config files for ascend" in (
            only(findings, "duplicate-description").message
        )
    else:
        assert errors(findings) == []
        assert only(findings, "misnamed-description").severity is Severity.WARNING


@pytest.mark.parametrize(
    ("image", "fails"),
    per_release("v0.11.0rc0", "v0.11.0", "v0.12.0rc1", "v0.13.0", "v0.18.0"),
)
def test_embedding_and_lm_head_entries(w8a8_dir: Path, image: str, fails: bool) -> None:
    """0.23 builds a VocabParallelEmbedding / ParallelLMHead without an entry unquantized;
    every earlier release looks their entries up (KeyError)."""
    description = read_json(w8a8_dir / DESCRIPTION)
    for name in ("model.embed_tokens.weight", "lm_head.weight"):
        del description[name]
    (w8a8_dir / DESCRIPTION).write_text(json.dumps(description), encoding="utf-8")
    findings = check(w8a8_dir, image)
    if fails:
        assert errors(findings) == ["missing-description-entry"] * 2
    else:
        assert findings == [], [f.message for f in findings]
