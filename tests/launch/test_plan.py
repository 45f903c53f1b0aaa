"""The memory-fit plan: the seed fits with stated numbers (all 8 sequences, 0.01 GiB left); a
failing plan names limits that do fit (and one step more that does not); shard headers give
exact weight bytes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from dsprep.demo.checkpoint import CheckpointSpec, write_w8a8_checkpoint
from dsprep.family import DEFAULT_FAMILY
from dsprep.launch.footprint import ModelShape, weights_from_layout
from dsprep.launch.plan import GIB
from tests.conftest import CliOutcome
from tests.launch.conftest import example_document, plan_for, write_cluster


def test_seed_starts_with_stated_numbers(tmp_path: Path) -> None:
    plan, _ = plan_for(tmp_path, example_document())
    # MLA: (512 + 64) values × 61 layers × 2 bytes (bf16)
    assert plan.kv_bytes_per_token == 576 * 61 * 2 == 70272
    assert plan.tokens_per_seq == 17536  # 17450 rounded up to 128-token blocks
    assert plan.kv_bytes_per_npu == 8 * 17536 * 70272
    assert plan.ep_size == 16
    # the memory torch sees on a 910B, not its 64 GiB of HBM
    assert plan.budget_bytes == int(int(60.96 * GIB) * 0.9)
    # v0.11.0rc0's load keeps bf16 W_UK_T/W_UV (16 heads × 512 × (128 + 128) per layer) and
    # three 163840 × 64 bf16 rotary tables beside the checkpoint's tensors
    assert [item.bytes for item in plan.load_items] == [
        61 * 16 * 512 * 256 * 2,
        3 * 163840 * 64 * 2,
    ]
    assert plan.loaded_weight_bytes == plan.weight_bytes_per_npu + 255852544 + 62914560
    assert plan.fits and plan.max_num_seqs_fit == 8  # all 8 sequences, with almost nothing left
    assert 0 < plan.headroom_bytes < 0.05 * GIB
    # routed experts of 58 MoE layers: 256 × (gate, up: int8 2048 × 7168 + bf16 scale and
    # offset per output channel; down: int8 7168 × 2048 + its scale and offset)
    per_expert = 2 * (2048 * 7168 + 2048 * 4) + (7168 * 2048 + 7168 * 4)
    assert plan.weights.routed_experts == 58 * 256 * per_expert
    builtin = ModelShape(DEFAULT_FAMILY, DEFAULT_FAMILY.published, "builtin")
    assert weights_from_layout(builtin, False).routed_experts > 600 * GIB


@pytest.mark.parametrize("knob", ["max_num_seqs", "max_model_len"])
def test_no_fit_names_the_largest_value_that_fits(tmp_path: Path, knob: str) -> None:
    document = example_document()
    document["limits"]["max_num_seqs"] = 32
    plan, _ = plan_for(tmp_path, document)
    assert not plan.fits
    best = plan.max_num_seqs_fit if knob == "max_num_seqs" else plan.max_model_len_fit
    assert best > 0
    document["limits"][knob] = best
    document["limits"]["max_num_batched_tokens"] = document["limits"]["max_model_len"]
    assert plan_for(tmp_path, document)[0].fits
    document["limits"][knob] = best + (1 if knob == "max_num_seqs" else 129)
    assert not plan_for(tmp_path, document)[0].fits


def test_weights_alone_too_big_says_add_nodes(tmp_path: Path) -> None:
    document = example_document()
    document["nodes"] = document["nodes"][:1]
    document["parallel"]["dp"] = 1
    plan, cluster = plan_for(tmp_path, document)
    assert plan.max_model_len_fit == 0 and plan.max_num_seqs_fit == 0
    from dsprep.launch.plan import plan_findings

    (finding,) = plan_findings(plan, cluster)
    assert finding.code == "memory-no-fit"
    assert "add nodes" in finding.hint


def header_bytes(folder: Path, *, mtp: bool, layers: int) -> dict[str, int]:
    """Independent count with the safetensors library itself."""
    from safetensors import safe_open

    sizes = {"BF16": 2, "F16": 2, "F32": 4, "I8": 1, "I32": 4, "I64": 8}
    totals = {"expert": 0, "sharded": 0, "replicated": 0}
    for shard in sorted(folder.glob("*.safetensors")):
        with safe_open(str(shard), framework="numpy") as handle:
            for name in handle.keys():  # noqa: SIM118 - safe_open is not a mapping
                if not mtp and f"layers.{layers}." in name:
                    continue
                piece = handle.get_slice(name)
                count = 1
                for dim in piece.get_shape():
                    count *= dim
                where = DEFAULT_FAMILY.placement(name, CheckpointSpec().arch).value
                totals[where] += count * sizes[piece.get_dtype()]
    return totals


@pytest.mark.parametrize("mtp", [False, True])
def test_model_dir_headers_give_exact_weight_bytes(tmp_path: Path, mtp: bool) -> None:
    spec = CheckpointSpec()
    model = tmp_path / "model"
    write_w8a8_checkpoint(model, spec)
    document = example_document()
    document["features"]["mtp"] = mtp
    plan, _ = plan_for(tmp_path, document, model)
    weights = plan.weights
    assert weights.source == "headers" and weights.shards == spec.shards
    expected = header_bytes(model, mtp=mtp, layers=spec.arch.num_hidden_layers)
    assert (weights.routed_experts, weights.sharded, weights.replicated) == (
        expected["expert"],
        expected["sharded"],
        expected["replicated"],
    )
    assert plan.kv_layers == spec.arch.num_hidden_layers + (1 if mtp else 0)
    assert plan.kv_bytes_per_token == (16 + 8) * plan.kv_layers * 2
    # the config-only estimate of the same shape lands close to the measured bytes
    (model / "x").mkdir()
    (model / "x" / "config.json").write_bytes((model / "config.json").read_bytes())
    estimate, _ = plan_for(tmp_path, document, model / "x")
    assert estimate.weights.source == "config"
    measured = weights.routed_experts + weights.sharded + weights.replicated
    estimated = sum(
        (estimate.weights.routed_experts, estimate.weights.sharded, estimate.weights.replicated)
    )
    assert abs(estimated - measured) / measured < 0.15


def test_plan_cli_text_and_json(tmp_path: Path, run_cli: Callable[..., CliOutcome]) -> None:
    document = example_document()
    document["limits"].update(max_num_seqs=4, max_model_len=8192, max_num_batched_tokens=8192)
    document["graph"]["batch_sizes"] = [4]
    cluster = write_cluster(tmp_path, document)
    outcome = run_cli("plan", str(cluster))
    assert outcome.exit_code == 0
    assert "Weights estimated from the built-in DeepSeek-V3.1 shape" in outcome.stdout
    assert "FITS: " in outcome.stdout and "headroom per NPU" in outcome.stdout
    assert outcome.stdout.rstrip().endswith("OK: plan found no problems")
    outcome = run_cli("plan", str(cluster), "--format", "json")
    memory = outcome.json()["data"]["memory"]
    assert memory["fits"] is True
    assert memory["kv_bytes_per_token"] == 70272


def test_plan_cli_model_dir_without_config(
    tmp_path: Path, run_cli: Callable[..., CliOutcome]
) -> None:
    cluster = write_cluster(tmp_path, example_document())
    (tmp_path / "empty").mkdir()
    outcome = run_cli("plan", str(cluster), "--model-dir", str(tmp_path / "empty"))
    assert outcome.exit_code == 3
    assert "config.json does not exist" in outcome.stderr


def test_model_dir_config_without_shards_is_named_config(tmp_path: Path) -> None:
    """A config.json that sets no shape key still counts as read: the plan says config.json,
    not the built-in shape, and does not tell the user to pass --model-dir again."""
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}", encoding="utf-8")
    plan, cluster = plan_for(tmp_path, example_document(), model)
    assert plan.weights.source == "config"
    from dsprep.launch.plan import plan_lines

    assert plan_lines(plan, cluster)[0].startswith("Weights estimated from config.json")


def test_more_sequences_than_fit_start_with_fewer(
    tmp_path: Path, run_cli: Callable[..., CliOutcome]
) -> None:
    """vLLM checks at start only that one sequence of max_model_len fits the KV cache:
    max_num_seqs of them not fitting is a warning with how many do, not an error."""
    from dsprep.launch.plan import plan_findings, plan_lines

    document = example_document()
    document["limits"]["max_num_seqs"] = 32
    plan, cluster = plan_for(tmp_path, document)
    assert not plan.fits and plan.starts
    (finding,) = plan_findings(plan, cluster)
    assert finding.code == "memory-concurrency-limited"
    assert f"holds at most {plan.max_num_seqs_fit} of them at once" in finding.message
    assert plan_lines(plan, cluster)[-1].startswith("STARTS, BUT NOT AT FULL CONCURRENCY")
    document["limits"]["gpu_memory_utilization"] = 0.72
    plan, cluster = plan_for(tmp_path, document)
    assert not plan.starts
    assert [f.code for f in plan_findings(plan, cluster)] == ["memory-no-fit"]
    outcome = run_cli("plan", str(write_cluster(tmp_path, document)), "--format", "json")
    assert outcome.exit_code == 1
    assert outcome.json()["data"]["memory"]["starts"] is False


def test_the_reserve_names_what_hccl_takes_of_it(tmp_path: Path) -> None:
    """CANN: each HCCL communicator occupies 2 × HCCL_BUFFSIZE (MB) outside torch; the
    manual's 1024 makes two of them fill the 4 GiB estimate, and the plan says so."""
    from dsprep.launch.plan import plan_lines

    plan, cluster = plan_for(tmp_path, example_document())
    assert plan.hccl_per_communicator_bytes == 2 * 1024 * 1024**2
    text = "\n".join(plan_lines(plan, cluster))
    assert "2 × HCCL_BUFFSIZE = 2.00 GiB per communicator" in text
    assert "two would fill the 4.00 GiB reserve estimate" in text
    document = example_document()
    document["env"] = {"HCCL_BUFFSIZE": "200"}
    plan, cluster = plan_for(tmp_path, document)
    assert plan.hccl_per_communicator_bytes == 400 * 1024**2
    assert "two would fill" not in "\n".join(plan_lines(plan, cluster))
