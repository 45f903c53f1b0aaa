"""Checks beyond the schema: each mutation of the seed example yields its stable code,
naming the key path and the fix; the unmodified example yields no error or warning."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dsprep.findings import Severity
from dsprep.launch.emit import validate
from tests.launch.conftest import example_document, write_cluster

Mutation = Callable[[dict[str, Any]], None]


def _set(*path: Any, value: Any) -> Mutation:
    def apply(document: dict[str, Any]) -> None:
        target = document
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return apply


def _v012(document: dict[str, Any]) -> None:
    document["image"]["tag"] = "v0.12.0rc1"
    document["graph"] = {"mode": "aclgraph"}
    document["scheduler"] = {"ascend": False}


def _both(*mutations: Mutation) -> Mutation:
    def apply(document: dict[str, Any]) -> None:
        for mutation in mutations:
            mutation(document)

    return apply


CASES: list[tuple[str, Mutation, str, str, Severity]] = [
    ("dup ip", _set("nodes", 1, "ip", value="71.10.29.114"), "duplicate-node-ip",
     "nodes[1].ip", Severity.ERROR),
    ("dup name", _set("nodes", 1, "name", value="node0"), "duplicate-node-name",
     "nodes[1].name", Severity.ERROR),
    ("dp", _set("parallel", "dp", value=4), "dp-mismatch", "parallel.dp", Severity.ERROR),
    ("npus", _set("nodes", 1, "npus", value=4), "npus-insufficient", "nodes[1].npus",
     Severity.ERROR),
    ("idle", _set("nodes", 1, "npus", value=16), "npus-idle", "nodes[1].npus",
     Severity.WARNING),
    ("npu ips", _set("nodes", 0, "npu_ips", value=["10.0.0.1"]), "npu-ips-count",
     "nodes[0].npu_ips", Severity.ERROR),
    ("ports", _set("ports", "dp_rpc", value=8000), "port-conflict", "ports.dp_rpc",
     Severity.ERROR),
    ("low port", _set("ports", "api", value=80), "port-privileged", "ports.api",
     Severity.WARNING),
    ("env", _set("env", value={"HCCL_IF_IP": "1.1.1.1"}), "env-override-node-key",
     "env.HCCL_IF_IP", Severity.ERROR),
    ("extra", _set("extra_args", value=["--port", "9000"]), "extra-arg-conflict",
     "extra_args[0]", Severity.ERROR),
    ("batched", _set("limits", "max_num_batched_tokens", value=4096),
     "batched-tokens-below-model-len", "limits.max_num_batched_tokens", Severity.ERROR),
    ("batched chunked", _both(_set("limits", "max_num_batched_tokens", value=4096),
                              _set("graph", "batch_sizes", value=[4096]),
                              _set("scheduler", "chunked_prefill", value=True)),
     "graph-batch-size-dropped", "graph.batch_sizes", Severity.WARNING),
    ("graph size", _set("graph", "batch_sizes", value=[8, 16]), "graph-batch-size-dropped",
     "graph.batch_sizes", Severity.WARNING),
    ("eager sizes", _set("graph", "mode", value="eager"), "graph-batch-sizes-ignored",
     "graph.batch_sizes", Severity.WARNING),
    ("torchair keys", _both(_set("graph", value={"mode": "eager"}),
                            _set("additional_config",
                                 value={"torchair_graph_config": {"use_cached_graph": True}})),
     "torchair-keys-without-enabled", "additional_config.torchair_graph_config.use_cached_graph",
     Severity.ERROR),
    ("cached bytes", _set("additional_config", value={"torchair_graph_config": {
        "use_cached_kv_cache_bytes": True}}), "additional-config-invalid",
     "additional_config.torchair_graph_config.use_cached_kv_cache_bytes", Severity.ERROR),
    ("sizes init", _set("additional_config", value={"torchair_graph_config": {
        "graph_batch_sizes_init": True}}), "additional-config-invalid",
     "additional_config.torchair_graph_config.graph_batch_sizes_init", Severity.ERROR),
    ("lmhead tp", _set("additional_config", value={"lmhead_tensor_parallel_size": 2}),
     "additional-config-invalid", "additional_config.lmhead_tensor_parallel_size",
     Severity.ERROR),
    ("eager+torchair", _both(_set("graph", value={"mode": "eager"}),
                             _set("additional_config",
                                  value={"torchair_graph_config": {"enabled": True}})),
     "graph-and-eager", "additional_config.torchair_graph_config.enabled", Severity.ERROR),
    ("unknown key", _set("additional_config", value={"enable_prefetchh": True}),
     "additional-config-unknown-key", "additional_config.enable_prefetchh", Severity.WARNING),
    ("v3 parser", _set("features", "reasoning_parser", value="deepseek_v3"),
     "reasoning-parser-unavailable", "features.reasoning_parser", Severity.ERROR),
    ("r1 parser", _set("features", "reasoning_parser", value="deepseek_r1"),
     "reasoning-parser-misreads", "features.reasoning_parser", Severity.WARNING),
    ("auto tool", _set("extra_args", value=["--enable-auto-tool-choice"]),
     "tool-parser-missing", "extra_args[0]", Severity.ERROR),
    ("tool parser", _set("extra_args", value=["--enable-auto-tool-choice",
                                              "--tool-call-parser", "deepseek_v3"]),
     "tool-parser-wrong", "extra_args[1]", Severity.ERROR),
    ("api servers", _set("extra_args", value=["--api-server-count", "2"]),
     "headless-api-server-count", "extra_args[0]", Severity.ERROR),
    ("v012 torchair", _both(_v012, _set("graph", value={"mode": "torchair"})),
     "cluster-schema", "graph.mode", Severity.ERROR),
    ("v012 scheduler", _both(_v012, _set("scheduler", value={"ascend": True})),
     "ascend-scheduler-unsupported", "scheduler.ascend", Severity.WARNING),
    ("v012 ignored", _both(_v012, _set("additional_config",
                                       value={"ascend_scheduler_config": {"enabled": True}})),
     "additional-config-ignored", "additional_config.ascend_scheduler_config",
     Severity.WARNING),
    ("v012 mtp name", _both(_v012, _set("extra_args", value=[
        "--speculative-config", '{"num_speculative_tokens":1,"method":"deepseek_mtp"}'])),
     "mtp-method-wrong", "extra_args[0]", Severity.WARNING),
    ("v012 capture sizes", _both(_v012, _set("graph", "batch_sizes", value=[3, 8]),
                                 _set("features", "mtp", value=True)),
     "graph-batch-sizes-padded", "graph.batch_sizes", Severity.INFO),
    ("v012 compilation", _both(_v012, _set("extra_args", value=["--compilation-config", "{}"])),
     "extra-arg-conflict", "extra_args[0]", Severity.ERROR),
    ("too long", _both(_set("limits", "max_model_len", value=200000),
                       _set("limits", "max_num_batched_tokens", value=200000)),
     "model-len-above-max-position", "limits.max_model_len", Severity.ERROR),
    ("no fit", _set("limits", "gpu_memory_utilization", value=0.7), "memory-no-fit", "limits",
     Severity.ERROR),
    ("concurrency", _set("limits", "max_num_seqs", value=64), "memory-concurrency-limited",
     "limits", Severity.WARNING),
    ("tight", _set("limits", "max_num_seqs", value=6), "memory-tight", "limits",
     Severity.WARNING),
]  # fmt: skip


@pytest.mark.parametrize(
    ("mutate", "code", "where", "severity"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_rule(tmp_path: Path, mutate: Mutation, code: str, where: str, severity: Severity) -> None:
    document = example_document()
    mutate(document)
    cluster = write_cluster(tmp_path, document)
    outcome = validate(cluster)
    matches = [f for f in outcome.findings if f.code == code]
    assert matches, [f.code for f in outcome.findings]
    finding = matches[0]
    assert finding.severity is severity
    assert finding.path == str(cluster)
    assert finding.message.startswith(f"{where}: "), finding.message
    assert finding.hint


def test_mtp_aliases_follow_the_release(tmp_path: Path) -> None:
    """vLLM 0.11 accepts "mtp" (rc0's patch makes it deepseek_mtp): no finding; vLLM 0.12
    rewrites "deepseek_mtp" to "mtp" with a deprecation warning: a warning."""
    spec = ["--speculative-config", '{"num_speculative_tokens":1,"method":"mtp"}']
    document = example_document()
    document["extra_args"] = spec
    assert "mtp-method-wrong" not in [
        f.code for f in validate(write_cluster(tmp_path, document)).findings
    ]


def test_seed_example_has_no_error_and_one_memory_warning(tmp_path: Path) -> None:
    """The manual's cluster fits, but with the memory torch sees (60.96 GiB), the weights as
    v0.11.0rc0 loads them and the 4 GiB reserve it holds its 8 sequences of max_model_len
    with 0.01 GiB to spare: tight."""
    outcome = validate(write_cluster(tmp_path, example_document()))
    assert [(f.code, f.severity) for f in outcome.findings] == [
        ("npu-ips-not-set", Severity.INFO),
        ("memory-tight", Severity.WARNING),
    ]


def test_v012_profile_flags(tmp_path: Path) -> None:
    from dsprep.launch.argv import serve_argv

    document = example_document()
    _v012(document)
    document["features"].update(tools=True, reasoning_parser="deepseek_v3", mtp=True)
    document["graph"]["batch_sizes"] = [4, 8]
    outcome = validate(write_cluster(tmp_path, document))
    assert [f.code for f in outcome.findings if f.severity is Severity.ERROR] == []
    assert outcome.cluster is not None and outcome.profile is not None
    argv = serve_argv(outcome.cluster, outcome.profile, outcome.cluster.nodes[1])
    tail = argv[argv.index("--quantization") + 2 :]
    assert tail == [
        "--compilation-config",
        '{"cudagraph_mode":"FULL_DECODE_ONLY","cudagraph_capture_sizes":[4,8]}',
        "--speculative-config",
        '{"num_speculative_tokens":1,"method":"mtp"}',
        "--enable-auto-tool-choice",
        "--tool-call-parser",
        "deepseek_v31",
        "--reasoning-parser",
        "deepseek_v3",
    ]
    assert "--additional-config" not in argv


def test_v011_mtp_and_eager(tmp_path: Path) -> None:
    from dsprep.launch.argv import serve_argv

    document = example_document()
    document["features"]["mtp"] = True
    document["graph"] = {"mode": "eager"}
    outcome = validate(write_cluster(tmp_path, document))
    assert outcome.cluster is not None and outcome.profile is not None
    argv = serve_argv(outcome.cluster, outcome.profile, outcome.cluster.nodes[0])
    assert (
        argv[argv.index("--additional-config") + 1]
        == '{"ascend_scheduler_config":{"enabled":true}}'
    )
    assert "--enforce-eager" in argv
    spec = argv[argv.index("--speculative-config") + 1]
    assert spec == '{"num_speculative_tokens":1,"method":"deepseek_mtp"}'


def test_flags_owned_by_features_and_graph_mode(tmp_path: Path) -> None:
    """--speculative-config with features.mtp and --compilation-config where the graph mode
    writes one are conflicts (either spelling); another draft method is not judged."""
    document = example_document()
    _v012(document)
    document["features"]["mtp"] = True
    document["extra_args"] = ["--speculative-config", "{}", "--compilation-config={}"]
    outcome = validate(write_cluster(tmp_path, document))
    assert [
        (f.code, f.message, f.hint) for f in outcome.findings if f.code.startswith("extra")
    ] == [
        (
            "extra-arg-conflict",
            "extra_args[2]: --compilation-config is set by graph.mode/graph.batch_sizes on this"
            " image",
            "remove it from extra_args",
        ),
        (
            "extra-arg-conflict",
            "extra_args[0]: --speculative-config is set by features.mtp",
            "remove it from extra_args",
        ),
    ]
    document["features"]["mtp"] = False
    document["extra_args"] = ["--speculative-config", '{"method":"eagle"}']
    outcome = validate(write_cluster(tmp_path, document))
    assert not [f for f in outcome.findings if f.code in ("mtp-method-wrong", "extra-arg-conflict")]
