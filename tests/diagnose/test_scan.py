"""``diagnose`` on whole logs: one node, several nodes (a folder, a ``dsprep logs``
stream), interleaved, with the first failure and its consequences named."""

from __future__ import annotations

from pathlib import Path

import pytest

from dsprep.diagnose.nodelog import format_line
from dsprep.diagnose.reader import MAX_LINE
from dsprep.diagnose.scan import diagnose
from dsprep.errors import InputError
from dsprep.findings import Severity
from tests.diagnose.excerpts import MESSAGES, process, vllm_line, worker_name


def worker(
    dp: int, tp: int, when: str, message: str, where: str = "multiproc_executor.py:597"
) -> str:
    line = vllm_line("ERROR", when, where, message)
    return process(
        f"EngineCore_DP{dp}", 900 + dp, process(worker_name(dp, tp, dp * 8 + tp), 1200 + tp, line)
    )


def api(when: str, message: str) -> str:
    return process("APIServer", 700, vllm_line("ERROR", when, "core_client.py:496", message))


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def two_nodes() -> tuple[list[str], list[str]]:
    """node1 runs out of HBM on all eight TP ranks; node0 then times out in HCCL and its
    front-end gives up waiting for the engines."""
    node0 = [
        process(
            "APIServer",
            700,
            vllm_line(
                "INFO", "08-14 11:40:01", "api_server.py:1896", "vLLM API server version 0.11.0"
            ),
        ),
        MESSAGES["hccl-link-establish-timeout"].replace(
            "2025-07-23-03:49:57", "2025-08-14-11:54:57"
        ),
        api("08-14 12:02:46", MESSAGES["engine-ready-timeout"]),
    ]
    node1 = [
        worker(1, tp, f"08-14 11:52:4{tp}", MESSAGES["npu-out-of-memory"])
        for tp in (5, 3, 0, 1, 2, 4, 6, 7)
    ]
    node1.append(
        process(
            "EngineCore_DP1",
            901,
            vllm_line("ERROR", "08-14 11:52:50", "core.py:708", MESSAGES["engine-init-failed"]),
        )
    )
    return node0, node1


def test_a_folder_of_node_logs_names_the_first_failure_and_its_consequences(tmp_path: Path) -> None:
    node0, node1 = two_nodes()
    write(tmp_path / "node0.log", node0)
    write(tmp_path / "node1.log", node1)
    result = diagnose([tmp_path])
    summary = result.payload
    assert summary.nodes == ["node0", "node1"] and summary.lines == 12
    first = summary.first_failure
    assert first is not None and first.code == "log-npu-out-of-memory"
    assert (
        first.node == "node1" and first.time == "08-14 11:52:40" and first.ranks[0] == "DP1 TP0 EP8"
    )
    assert first.lines == 8 and len(first.ranks) == 8  # one finding for the eight ranks
    codes = [(f.code, f.severity) for f in result.findings]
    assert codes == [
        ("log-first-failure", Severity.INFO),
        ("log-npu-out-of-memory", Severity.ERROR),
        ("log-engine-init-failed", Severity.WARNING),
        ("log-socket-timeout", Severity.WARNING),
        ("log-engine-ready-timeout", Severity.WARNING),
    ]
    consequence = next(f for f in result.findings if f.code == "log-socket-timeout")
    assert "node0 at 08-14 11:54:57" in consequence.message
    assert (
        "a consequence of log-npu-out-of-memory on node1 DP1 TP0 EP8 at 08-14 11:52:40"
        in consequence.message
    )
    assert consequence.path == f"{tmp_path / 'node0.log'}:2"
    oom = result.findings[1]
    assert (
        "NPU 3 ran out of HBM: 450.00 MiB asked for, 60.30 GiB of 60.96 GiB allocated"
        in oom.message
    )
    assert "dsprep plan" in oom.hint and "memory-no-fit" in oom.hint
    assert not result.ok


def test_a_dsprep_logs_stream_interleaves_the_nodes_and_gives_the_same_answer(
    tmp_path: Path,
) -> None:
    node0, node1 = two_nodes()
    stream: list[str] = []
    for i in range(max(len(node0), len(node1))):  # the order lines arrive in, not their time
        stream += [format_line("node0", node0[i])] if i < len(node0) else []
        stream += [format_line("node1", node1[i])] if i < len(node1) else []
    result = diagnose([write(tmp_path / "run.log", stream)])
    assert result.payload.nodes == ["node0", "node1"]
    first = result.payload.first_failure
    assert first is not None and (first.node, first.time) == ("node1", "08-14 11:52:40")
    folder = tmp_path / "folder"
    folder.mkdir()
    write(folder / "node0.log", node0)
    write(folder / "node1.log", node1)
    by_folder = diagnose([folder])
    strip = [(f.code, f.severity, f.message) for f in result.findings]
    assert strip == [(f.code, f.severity, f.message) for f in by_folder.findings]


def test_only_timeouts_the_earliest_is_the_failure_the_later_ones_follow(tmp_path: Path) -> None:
    hccl = MESSAGES["hccl-get-socket-timeout"]
    write(tmp_path / "node0.log", [hccl.replace("2025-12-29-03:16:15", "2025-12-29-03:18:15")])
    write(tmp_path / "node1.log", [hccl])
    result = diagnose([tmp_path])
    assert [(f.code, f.severity) for f in result.findings] == [
        ("log-first-failure", Severity.INFO),
        ("log-socket-timeout", Severity.ERROR),
        ("log-socket-timeout", Severity.WARNING),
    ]
    assert result.findings[1].path.endswith("node1.log:1")


def test_the_same_root_cause_on_two_nodes_is_two_errors(tmp_path: Path) -> None:
    traceback = [
        "Traceback (most recent call last):",
        '  File "/vllm-workspace/vllm-ascend/vllm_ascend/quantization/quant_config.py", '
        "line 152, in is_layer_skipped_ascend",
        "    is_skipped = self.quant_description[prefix + '.weight'] == \"FLOAT\"",
        MESSAGES["description-lookup-keyerror"],
    ]
    for node, when in (("node0", "11:00:03"), ("node1", "11:00:01")):
        head = process(
            "EngineCore_DP0",
            800,
            vllm_line("ERROR", f"08-14 {when}", "core.py:700", "EngineCore failed to start."),
        )
        write(
            tmp_path / f"{node}.log",
            [head, *(process("EngineCore_DP0", 800, t) for t in traceback)],
        )
    result = diagnose([tmp_path])
    errors = result.errors
    assert [f.code for f in errors] == ["log-description-key-missing"] * 2
    first = result.payload.first_failure
    assert (
        first is not None and first.node == "node1" and first.time == "08-14 11:00:01"
    )  # the traceback's own time
    assert (
        "'model.layers.61.mlp.experts.0.gate_proj.weight' (layer 61, the MTP layer)"
        in errors[0].message
    )
    assert "missing-description-entry" in errors[0].hint


@pytest.mark.parametrize("fingerprint", sorted(MESSAGES))
def test_each_failure_alone_is_reported_with_its_fix(tmp_path: Path, fingerprint: str) -> None:
    log = write(tmp_path / "head.log", [api("08-14 12:00:00", MESSAGES[fingerprint])])
    result = diagnose([log])
    first = result.payload.first_failure
    assert first is not None and first.fingerprint == fingerprint and not result.ok
    assert result.findings[1].hint and result.findings[1].path == f"{log}:1"


def test_no_known_failure_is_ok_and_an_unknown_exception_is_a_warning(tmp_path: Path) -> None:
    fine = write(tmp_path / "fine.log", [api("08-14 12:00:00", "INFO nothing wrong")] * 3)
    result = diagnose([fine])
    assert result.ok and result.findings == [] and result.payload.first_failure is None
    odd = write(
        tmp_path / "odd.log", [api("08-14 12:00:00", "RuntimeError: a new kind of trouble")]
    )
    result = diagnose([odd])
    assert result.ok and [f.code for f in result.findings] == ["log-unrecognised-error"]
    assert "odd: RuntimeError: a new kind of trouble" in result.findings[0].message


def test_an_overlong_line_is_cut_not_held(tmp_path: Path) -> None:
    log = tmp_path / "long.log"
    log.write_bytes(b"x" * (5 * MAX_LINE) + b"\n" + MESSAGES["kv-cache-none"].encode() + b"\n")
    result = diagnose([log])
    assert result.payload.lines == 2
    assert result.payload.first_failure is not None and result.payload.first_failure.line == 2


def test_unreadable_inputs_stop_with_bad_input(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read it"):
        diagnose([tmp_path / "missing.log"])
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="holds no log files"):
        diagnose([empty])


def test_a_raw_traceback_takes_the_time_of_the_info_line_before_it(tmp_path: Path) -> None:
    """An uncaught exception prints without vLLM's header; an INFO line of the logger is
    never matched itself (failures are raised, not logged at INFO) but gives the time."""
    lines = [
        process("EngineCore_DP0", 800, vllm_line("INFO", "08-14 10:59:58", "core.py:77", "x")),
        process(
            "EngineCore_DP0",
            800,
            vllm_line("INFO", "08-14 11:00:00", "core.py:77", MESSAGES["kv-cache-none"]),
        ),
        process("EngineCore_DP0", 800, "Traceback (most recent call last):"),
        process("EngineCore_DP0", 800, MESSAGES["kv-b-proj-assert"]),
        process("EngineCore_DP0", 800, "AssertionError"),
    ]
    result = diagnose([write(tmp_path / "node0.log", lines)])
    first = result.payload.first_failure
    assert first is not None and first.fingerprint == "kv-b-proj-assert"
    assert (first.time, first.line, first.lines) == ("08-14 11:00:00", 4, 1)
    assert [f.code for f in result.errors] == ["log-kv-b-proj-quantized"]
