"""The node prefix of ``dsprep logs`` streams and the anatomy of one log line."""

from __future__ import annotations

from pathlib import Path

import pytest

from dsprep.diagnose import logline, nodelog
from tests.diagnose.excerpts import MESSAGES, process, vllm_line, worker_name


def test_the_node_prefix_round_trips_and_leaves_other_brackets_alone() -> None:
    line = "[ERROR] HCCL(1,python3):2025-07-23-03:49:57.177.194 [x.cc:1] boom"
    assert nodelog.format_line("node-1.a", line) == f"[node=node-1.a] {line}"
    assert nodelog.parse_line(nodelog.format_line("node-1.a", line)) == ("node-1.a", line)
    for own in (line, "[rank3]:[W806 22:23:09.1 socket.cpp:487] x", "[node0] x", "INFO x"):
        assert nodelog.parse_line(own) == (None, own)
    with pytest.raises(ValueError, match="not a node name"):
        nodelog.format_line("node 0", "x")


@pytest.mark.parametrize(
    ("name", "node"),
    [("node1.log", "node1"), ("node1.txt", "node1"), ("head", "head"), (".log", ".log")],
)
def test_a_per_node_file_names_its_node(name: str, node: str) -> None:
    assert nodelog.node_from_path(Path("/logs") / name) == node


def test_a_worker_line_gives_its_ranks_time_and_message() -> None:
    message = MESSAGES["npu-out-of-memory"]
    inner = process(
        worker_name(1, 3, 11),
        1203,
        vllm_line("ERROR", "08-14 11:52:46", "multiproc_executor.py:597", message),
    )
    parsed = logline.parse(process("EngineCore_DP1", 900, inner, colour=True))
    assert parsed.message == message
    assert str(parsed.rank) == "DP1 TP3 EP11"
    assert str(parsed.stamp) == "08-14 11:52:46" and parsed.level == "ERROR"


def test_cann_and_c10d_stamps_and_a_line_without_any() -> None:
    cann = logline.parse(MESSAGES["hccl-link-establish-timeout"])
    assert str(cann.stamp) == "07-23 03:49:57" and cann.stamp.seconds % 1 > 0.17
    c10d = logline.parse(MESSAGES["c10d-socket-timeout"])
    assert str(c10d.stamp) == "08-06 22:23:09" and str(c10d.rank) == "rank6"
    bare = logline.parse("KeyError: 'x.weight'")
    assert bare.stamp is None and not bare.rank and bare.message == "KeyError: 'x.weight'"


def test_stamps_order_by_month_day_and_time() -> None:
    early = logline.parse(vllm_line("INFO", "08-14 23:59:59", "a.py:1", "x")).stamp
    late = logline.parse(vllm_line("INFO", "08-15 00:00:00", "a.py:1", "x")).stamp
    assert early is not None and late is not None and early < late
