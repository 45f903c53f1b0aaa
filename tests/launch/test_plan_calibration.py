"""The plan against what vLLM reports: device memory as torch sees it, the weights as the
release loads them (the reported 44.93 GiB per NPU), and ``dsprep plan --from-log`` reading
vLLM's own memory lines (written here with the releases' format strings) per node."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dsprep.diagnose.nodelog import format_line
from dsprep.launch.cluster import load_cluster
from dsprep.launch.device_memory import DEVICES, LOAD_OVERHEAD
from dsprep.launch.measured import read_figures
from dsprep.launch.plan import GIB, memory_plan
from tests.conftest import CliOutcome
from tests.diagnose.excerpts import process, vllm_line
from tests.launch.conftest import example_document, write_cluster

# Reported per NPU: DeepSeek-V3.1 W8A8, MTP on, 2 × Atlas A2 (910B, 64 GB), DP 2 × TP 8 with
# expert parallelism: "Loading model weights took 44.93 GB" (vllm-ascend#8568 as quoted in
# dsprep issue 12; GB is GiB: model_runner_v1.py divides by float(2**30)), and torch's
# total of a 910B, "Free memory on device (60.61/60.96 GiB)" (vllm-ascend#13439, ibid.).
REPORTED_WEIGHTS = 44.93 * GIB
REPORTED_TORCH_TOTAL = 60.96 * GIB
TOLERANCE = 0.01  # of the reported figure


def plan_of(tmp_path: Path, **features: Any) -> Any:
    document = example_document()
    document["features"].update(features)
    loaded = load_cluster(write_cluster(tmp_path, document))
    assert loaded.cluster is not None, loaded.findings
    return memory_plan(loaded.cluster), loaded.cluster


def test_the_weights_as_loaded_match_the_report_within_one_percent(tmp_path: Path) -> None:
    plan, _ = plan_of(tmp_path, mtp=True)
    assert (plan.ep_size, plan.tp) == (16, 8)
    assert abs(plan.loaded_weight_bytes - REPORTED_WEIGHTS) <= TOLERANCE * REPORTED_WEIGHTS
    # the checkpoint's own bytes fall short by the load overhead: 42.70 GiB, 5 % under
    shortfall = 1 - plan.weight_bytes_per_npu / REPORTED_WEIGHTS
    assert 0.04 < shortfall < 0.06
    assert plan.load_overhead_bytes == int(plan.weight_bytes_per_npu * LOAD_OVERHEAD)


def test_the_mtp_layer_counts_only_with_speculative_decoding(tmp_path: Path) -> None:
    with_mtp, _ = plan_of(tmp_path, mtp=True)
    without, _ = plan_of(tmp_path, mtp=False)
    extra = with_mtp.weight_bytes_per_npu - without.weight_bytes_per_npu
    # one MoE decoder layer (experts over EP 16, the rest over TP 8) plus its embedding and
    # head over TP 8: 1.2 … 1.4 GiB per NPU
    assert 1.2 * GIB < extra < 1.4 * GIB
    assert with_mtp.kv_layers == without.kv_layers + 1


def test_device_memory_is_what_torch_sees(tmp_path: Path) -> None:
    plan, cluster = plan_of(tmp_path)
    assert DEVICES["910B"].torch_total_bytes == int(REPORTED_TORCH_TOTAL)
    assert plan.torch_total_bytes == int(REPORTED_TORCH_TOTAL)
    assert plan.budget_bytes == int(plan.torch_total_bytes * cluster.gpu_memory_utilization)
    assert plan.hbm_bytes == 64 * GIB
    for device in DEVICES.values():
        assert device.torch_total_bytes < device.label_bytes and device.source


def rc0_node(dp: int, weights: str, available: int) -> list[str]:
    """A v0.11.0rc0 node's memory lines, with the release's format strings:
    model_runner_v1.py:2661 ``"Loading model weights took %.4f GB"``, worker_v1.py:235
    ``f"Available memory: {available_kv_cache_memory}, total memory: {total_npu_memory}"``,
    kv_cache_utils.py:1087/1091 (vLLM 0.11.0)."""
    total = int(60.96 * GIB)
    lines = []
    for tp, taken in ((0, weights), (5, "44.9100")):
        worker = f"Worker_DP{dp}_TP{tp}_EP{dp * 8 + tp}"
        for when, where, text in (
            (
                "08-14 11:50:01",
                "model_runner_v1.py:2661",
                f"Loading model weights took {float(taken):.4f} GB",
            ),
            (
                "08-14 11:52:01",
                "worker_v1.py:235",
                f"Available memory: {available + tp}, total memory: {total}",
            ),
        ):
            line = vllm_line("INFO", when, where, text)
            lines.append(process(f"EngineCore_DP{dp}", 800 + dp, process(worker, 900 + tp, line)))
    engine = f"EngineCore_DP{dp}"
    lines.append(
        process(
            engine,
            800 + dp,
            vllm_line(
                "INFO",
                "08-14 11:52:05",
                "kv_cache_utils.py:1087",
                f"GPU KV cache size: {available // 70272:,} tokens",
            ),
        )
    )
    lines.append(
        process(
            engine,
            800 + dp,
            vllm_line(
                "INFO",
                "08-14 11:52:05",
                "kv_cache_utils.py:1091",
                f"Maximum concurrency for {17450:,} tokens per request: "
                f"{available / 70272 / 17450:.2f}x",
            ),
        )
    )
    return lines


def test_from_log_reads_each_node_at_its_worst_rank(tmp_path: Path) -> None:
    stream = [format_line("node0", line) for line in rc0_node(0, "44.9300", 5 * GIB)]
    stream += [format_line("node1", line) for line in rc0_node(1, "44.9500", 4 * GIB)]
    log = tmp_path / "run.log"
    log.write_text("\n".join(stream) + "\n", encoding="utf-8")
    node0, node1 = read_figures([log])
    assert (node0.node, node1.node) == ("node0", "node1")
    assert node0.weights == pytest.approx(44.93 * GIB)  # the larger of its two ranks
    assert node1.weights == pytest.approx(44.95 * GIB)
    assert node0.available_kv == 5 * GIB and node1.available_kv == 4 * GIB  # the smaller
    assert node0.torch_total == int(60.96 * GIB)
    assert node0.kv_tokens == 5 * GIB // 70272
    assert node0.ranks == ["DP0 TP0 EP0", "DP0 TP5 EP5", "DP0"]


def test_from_log_reads_the_v018_lines(tmp_path: Path) -> None:
    """vllm-ascend 0.18.0 worker.py:270-277 (f-string, GiB = round(b / GiB_bytes, 2)) and
    :358 ``"Available KV cache memory: %.2f GiB"``."""
    free, total, util, requested = 60.61, 60.96, 0.9, 54.86
    lines = [
        vllm_line(
            "ERROR",
            "08-14 11:52:00",
            "worker.py:271",
            f"ValueError: Free memory on device "
            f"({free}/{total} GiB) on startup is less than desired GPU memory utilization "
            f"({util}, {requested} GiB). Decrease GPU memory utilization or reduce GPU "
            "memory used by other processes.",
        ),
        vllm_line(
            "INFO", "08-14 11:52:01", "worker.py:358", f"Available KV cache memory: {6.25:.2f} GiB"
        ),
    ]
    (tmp_path / "node3.log").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (node,) = read_figures([tmp_path])
    assert node.node == "node3"
    assert node.free_at_start == pytest.approx(60.61 * GIB)
    assert node.torch_total == pytest.approx(60.96 * GIB)
    assert node.available_kv == pytest.approx(6.25 * GIB)


def test_plan_from_log_prints_the_plan_beside_each_node(
    tmp_path: Path, run_cli: Callable[..., CliOutcome]
) -> None:
    document = example_document()
    document["features"]["mtp"] = True
    cluster = write_cluster(tmp_path, document)
    logs = tmp_path / "logs"
    logs.mkdir()
    for dp in (0, 1):
        (logs / f"node{dp}.log").write_text("\n".join(rc0_node(dp, "44.9300", 5 * GIB)) + "\n")
    outcome = run_cli("plan", str(cluster), "--from-log", str(logs))
    assert outcome.exit_code == 0, outcome.stderr
    out = outcome.stdout
    assert "Plan beside the release's own log lines" in out
    assert "| plan | 44.93 GiB | 60.96 GiB |" in out
    assert "| node1 | 44.93 GiB | 60.96 GiB | 5.00 GiB | 76,398 | 4.38x |" in out
    assert "node0: the log implies load overhead 5.23% (plan: 5.23%)" in out
    document_out = run_cli("plan", str(cluster), "--from-log", str(logs), "--format", "json").json()
    nodes = document_out["data"]["measured"]["nodes"]
    assert [n["node"] for n in nodes] == ["node0", "node1"]
    assert nodes[0]["implied"]["reserve"] == pytest.approx(
        int(60.96 * GIB) * 0.9 - 44.93 * GIB - 5 * GIB, rel=1e-6
    )
    missing = run_cli("plan", str(cluster), "--from-log", str(tmp_path / "nope"))
    assert missing.exit_code == 3 and "cannot read it" in missing.stderr
