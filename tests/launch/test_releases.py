"""The launch checks per release, exact against each release's code (issue 9, items 10-15).

Every case starts from that release's own ``--init`` example (its guide's multi-node
defaults), which passes with no error or warning beyond the memory plan, and changes one
thing. Where releases differ, the same change is a case on each side of the difference.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dsprep.findings import Finding, Severity
from dsprep.launch.emit import validate
from dsprep.launch.examples import example_document
from dsprep.profiles import all_profiles, profile_for
from tests.launch.conftest import write_cluster

Mutation = Callable[[dict[str, Any]], None]
TAGS = [p.name for p in all_profiles()]
PLAN_CODES = {"npu-ips-not-set", "memory-concurrency-limited", "memory-tight"}
FOUR_NODES = [
    {"name": f"node{i}", "ip": f"71.10.29.{114 + i}", "nic": "enp67s0f0np0", "npus": 8}
    for i in range(4)
]


def release_document(tag: str) -> dict[str, Any]:
    return copy.deepcopy(example_document(profile_for(tag), tag))


def findings_for(tmp_path: Path, tag: str, mutate: Mutation | None = None) -> list[Finding]:
    document = release_document(tag)
    if mutate is not None:
        mutate(document)
    outcome = validate(write_cluster(tmp_path, document))
    return [f for f in outcome.findings if f.code not in PLAN_CODES]


def put(path: str, value: Any) -> Mutation:
    def apply(document: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target = document
        for part in parents:
            target = target.setdefault(part, {})
        target[last] = value

    return apply


def both(*mutations: Mutation) -> Mutation:
    def apply(document: dict[str, Any]) -> None:
        for mutation in mutations:
            mutation(document)

    return apply


def spec(method: str, tokens: int = 1) -> Mutation:
    return put(
        "extra_args",
        ["--speculative-config", f'{{"num_speculative_tokens":{tokens},"method":"{method}"}}'],
    )


@pytest.mark.parametrize("tag", TAGS)
def test_each_release_example_passes(tmp_path: Path, tag: str) -> None:
    """The release guide's multi-node example, as --init --image writes it, has no error
    and no warning but the memory plan's (the guides run more sequences of max_model_len
    than fit at once: vLLM starts and admits fewer)."""
    assert [(f.code, f.severity) for f in findings_for(tmp_path, tag)] == []


CASES: list[tuple[str, str, Mutation, str | None, Severity | None, str]] = [
    # (10) graph sizes: the torchair rule only for torchair; capture sizes by the release's rule
    ("v0.11.0rc0", "torchair appends max_num_seqs", put("graph.batch_sizes", [4]),
     "graph-batch-sizes-padded", Severity.INFO, "captured for [4, 8]"),
    ("v0.11.0", "torchair drops above max_num_seqs", put("graph.batch_sizes", [8, 32]),
     "graph-batch-size-dropped", Severity.WARNING, "[32] exceed limits.max_num_seqs 16"),
    ("v0.11.0rc0", "vLLM 0.11 takes capture sizes as given",
     both(put("graph", {"mode": "aclgraph", "batch_sizes": [3, 20000]}), put("features.mtp", True)),
     None, None, ""),
    ("v0.12.0rc1", "capture sizes above max_num_batched_tokens dropped",
     put("graph.batch_sizes", [8, 5000]), "graph-batch-size-dropped", Severity.WARNING,
     "[5000] exceed limits.max_num_batched_tokens 4096"),
    ("v0.13.0", "the guide's capture sizes above max_num_seqs are fine",
     put("graph.batch_sizes", [4, 16, 32, 48, 64]), None, None, ""),
    ("v0.18.0", "rounded up to multiples of 1 + k", put("graph.batch_sizes", [6, 64]),
     "graph-batch-sizes-padded", Severity.INFO, "captured for [8, 64]"),
    ("v0.18.0", "a size rounded past the largest is dropped", put("graph.batch_sizes", [4, 6]),
     "graph-batch-size-dropped", Severity.WARNING, "[6] round up past the largest size 6"),
    ("v0.23.0", "no size left after rounding is a start-up error",
     put("graph.batch_sizes", [1, 2]), "graph-sizes-invalid", Severity.ERROR,
     "No valid cudagraph sizes after rounding"),
    # (11) a deprecated MTP alias the release accepts is a warning; one it rejects an error
    ("v0.11.0rc0", "vLLM 0.11 takes mtp (forced to deepseek_mtp)", spec("mtp"), None, None, ""),
    ("v0.11.0", "glm4_moe_mtp is not in vLLM 0.11's literal", spec("glm4_moe_mtp"),
     "mtp-method-wrong", Severity.ERROR, "not one image v0.11.0 accepts"),
    ("v0.12.0rc1", "deepseek_mtp deprecated",
     both(put("features.mtp", False), spec("deepseek_mtp")),
     "mtp-method-wrong", Severity.WARNING, "deprecated in vLLM 0.12.0"),
    ("v0.18.0", "qwen3_5_mtp deprecated from vLLM 0.18",
     both(put("features.mtp", False), spec("qwen3_5_mtp", 3)), "mtp-method-wrong",
     Severity.WARNING, "rewritten to 'mtp'"),
    ("v0.13.0", "qwen3_5_mtp unknown to vLLM 0.13",
     both(put("features.mtp", False), spec("qwen3_5_mtp", 3)), "mtp-method-wrong",
     Severity.ERROR, "not one image v0.13.0 accepts"),
    # (12) reasoning parsers exactly as registered
    ("v0.11.0rc0", "no ernie45 in vLLM 0.11", put("features.reasoning_parser", "ernie45"),
     "reasoning-parser-unavailable", Severity.ERROR, "has no reasoning parser 'ernie45'"),
    ("v0.12.0rc1", "ernie45 from vLLM 0.12", put("features.reasoning_parser", "ernie45"),
     None, None, ""),
    ("v0.12.0rc1", "holo2 only from vLLM 0.13", put("features.reasoning_parser", "holo2"),
     "reasoning-parser-unavailable", Severity.ERROR, "has no reasoning parser 'holo2'"),
    ("v0.13.0", "holo2 in vLLM 0.13", put("features.reasoning_parser", "holo2"), None, None, ""),
    # (13) the remaining rc0 launch failures
    ("v0.11.0rc0", "lmhead tp set at all with TP 8",
     put("additional_config", {"lmhead_tensor_parallel_size": 0}), "additional-config-invalid",
     Severity.ERROR, "only supported in the pure DP scenario"),
    ("v0.11.0rc0", "oproj tp only on a PD decode node",
     # pure DP needs 4 nodes: at TP 1 and EP 16 the weights alone exceed a 910B's 60.96 GiB
     both(put("parallel", {"tp": 1, "dp": 32, "dp_local": 8}), put("nodes", FOUR_NODES),
          put("limits.gpu_memory_utilization", 1.0),
          put("additional_config", {"oproj_tensor_parallel_size": 2})),
     "additional-config-invalid", Severity.ERROR, "can only be used in D node"),
    ("v0.11.0rc0", "graph_batch_sizes_init with sizes",
     put("additional_config", {"torchair_graph_config": {"graph_batch_sizes_init": True}}),
     "additional-config-invalid", Severity.ERROR, "only valid when graph_batch_sizes is empty"),
    ("v0.11.0rc0", "use_cached_kv_cache_bytes without use_cached_graph",
     put("additional_config", {"torchair_graph_config": {"use_cached_kv_cache_bytes": True}}),
     "additional-config-invalid", Severity.ERROR, "use_cached_graph are enabled"),
    ("v0.11.0rc0", "use_cached_kv_cache_bytes with use_cached_graph",
     put("additional_config", {"torchair_graph_config": {
         "use_cached_kv_cache_bytes": True, "use_cached_graph": True}}), None, None, ""),
    ("v0.11.0", "enable_super_kernel needs TP 1",
     put("additional_config", {"multistream_overlap_shared_expert": True,
                               "torchair_graph_config": {"enable_super_kernel": True}}),
     "additional-config-invalid", Severity.ERROR, "tensor_parallel_size is 1"),
    # (14) --additional-config keys per release; ignored keys warn and say where they moved
    ("v0.12.0rc1", "lmhead tp moved to finegrained_tp_config",
     put("additional_config", {"lmhead_tensor_parallel_size": 2}), "additional-config-ignored",
     Severity.WARNING, "finegrained_tp_config.lmhead_tensor_parallel_size"),
    ("v0.13.0", "a typo", put("additional_config", {"layer_shardingg": []}),
     "additional-config-unknown-key", Severity.WARNING, "does not read 'layer_shardingg'"),
    ("v0.13.0", "layer_sharding from 0.13", put("additional_config", {"layer_sharding": []}),
     None, None, ""),
    ("v0.12.0rc1", "layer_sharding unknown to 0.12",
     put("additional_config", {"layer_sharding": []}),
     "additional-config-unknown-key", Severity.WARNING, "does not read 'layer_sharding'"),
    ("v0.18.0", "flat EPLB keys moved into eplb_config",
     put("additional_config", {"init_redundancy_expert": 16}), "additional-config-ignored",
     Severity.WARNING, "eplb_config.num_redundant_experts"),
    ("v0.18.0", "eplb_config refuses unknown keys",
     put("additional_config", {"eplb_config": {"num_redundant_expert": 16}}),
     "additional-config-invalid", Severity.ERROR, "raises ValueError on unknown eplb_config keys"),
    ("v0.13.0", "eplb_config takes unknown keys silently on 0.13",
     put("additional_config", {"eplb_config": {"num_redundant_expert": 16}}),
     "additional-config-unknown-key", Severity.WARNING, "does not read 'num_redundant_expert'"),
    ("v0.23.0", "env that became an --additional-config key",
     put("env", {"VLLM_ASCEND_ENABLE_MLAPO": "1"}), "env-moved", Severity.WARNING,
     "additional_config.enable_mlapo"),
    ("v0.13.0", "VLLM_USE_V1 exists only in vLLM 0.11", put("env", {"VLLM_USE_V1": "1"}),
     "env-moved", Severity.WARNING, "has no VLLM_USE_V1"),
    ("v0.11.0", "VLLM_USE_V1 on vLLM 0.11", put("env", {"VLLM_USE_V1": "1"}), None, None, ""),
    ("v0.12.0rc1", "finegrained oproj needs graph mode",
     both(put("graph", {"mode": "eager"}),
          put("additional_config", {"finegrained_tp_config": {"oproj_tensor_parallel_size": 2}})),
     "additional-config-invalid", Severity.ERROR, "only supported in graph mode"),
    ("v0.13.0", "finegrained sizes divide the DP size",
     put("additional_config", {"finegrained_tp_config": {"lmhead_tensor_parallel_size": 3}}),
     "additional-config-invalid", Severity.ERROR, "must divide data_parallel_size"),
    ("v0.13.0", "a finegrained size that divides", put(
        "additional_config", {"finegrained_tp_config": {"lmhead_tensor_parallel_size": 2}}),
     None, None, ""),
    ("v0.12.0rc1", "xlite refuses speculative decoding",
     put("additional_config", {"xlite_graph_config": {"enabled": True}}),
     "additional-config-invalid", Severity.ERROR, "Xlite graph mode is not compatible"),
    ("v0.23.0", "xlite takes one speculative token on 0.23",
     both(put("features.mtp_tokens", 1), put("graph.batch_sizes", [4, 16]),
          put("additional_config", {"xlite_graph_config": {"enabled": True}})), None, None, ""),
    ("v0.23.0", "xlite refuses three speculative tokens on 0.23",
     put("additional_config", {"xlite_graph_config": {"enabled": True}}),
     "additional-config-invalid", Severity.ERROR, "num_speculative_tokens=1"),
    ("v0.18.0", "the recompute scheduler only on PD nodes",
     put("additional_config", {"recompute_scheduler_enable": True}),
     "additional-config-invalid", Severity.ERROR, "PD-disaggregated"),
    ("v0.18.0", "eplb_policy_type in 0..3",
     put("additional_config", {"eplb_config": {"eplb_policy_type": 5}}),
     "additional-config-invalid", Severity.ERROR, "eplb_policy_type must in [0, 1, 2, 3]"),
    # (15) --api-server-count with --headless: the release's rule
    ("v0.13.0", "one API server passes on vLLM 0.13",
     put("extra_args", ["--api-server-count", "1"]),
     None, None, ""),
    ("v0.13.0", "two do not", put("extra_args", ["--api-server-count", "2"]),
     "headless-api-server-count", Severity.ERROR, "allows at most 1 there"),
    ("v0.18.0", "from vLLM 0.18 any value above 0 fails",
     put("extra_args", ["--api-server-count", "1"]), "headless-api-server-count", Severity.ERROR,
     "no --api-server-count above 0"),
    ("v0.23.0", "0 leaves the head without an API", put("extra_args", ["--api-server-count=0"]),
     "headless-api-server-count", Severity.ERROR, "makes the head serve no API"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("tag", "mutate", "code", "severity", "said"),
    [case[:1] + case[2:] for case in CASES],
    ids=[f"{case[0]}-{case[1]}" for case in CASES],
)
def test_release_rule(
    tmp_path: Path,
    tag: str,
    mutate: Mutation,
    code: str | None,
    severity: Severity | None,
    said: str,
) -> None:
    found = findings_for(tmp_path, tag, mutate)
    if code is None:
        assert [(f.code, f.message) for f in found] == []
        return
    matches = [f for f in found if f.code == code]
    assert matches, [(f.code, f.message) for f in found]
    assert matches[0].severity is severity
    assert said in matches[0].message, matches[0].message
    assert matches[0].hint
    assert [f for f in found if f.severity is Severity.ERROR and f.code != code] == []


def test_an_ignored_key_names_the_release_and_the_migration(tmp_path: Path) -> None:
    (found,) = findings_for(
        tmp_path, "v0.12.0rc1", put("additional_config", {"torchair_graph_config": {}})
    )
    assert found.message.startswith(
        "additional_config.torchair_graph_config: vllm-ascend v0.12.0rc1 silently ignores"
    )
    assert "--image v0.12.0rc1 --migrate" in found.hint


def test_the_graph_mode_summary_and_head_api_servers_are_in_plan_md(
    tmp_path: Path, run_cli: Callable[..., Any]
) -> None:
    cluster = write_cluster(tmp_path, release_document("v0.18.0"))
    outcome = run_cli("emit-launch", str(cluster), "--out", str(tmp_path / "out"))
    assert outcome.exit_code == 0, outcome.stdout
    plan = (tmp_path / "out" / "PLAN.md").read_text(encoding="utf-8")
    assert "API servers on the head: 4 (vLLM 0.18.0 starts one per DP rank by default)" in plan
    assert "Graph mode: aclgraph (aclgraph: --compilation-config cudagraph_mode" in plan
    serve = (tmp_path / "out" / "node1" / "vllm.sh").read_text(encoding="utf-8")
    assert '"method":"mtp"' in serve and '"num_speculative_tokens":3' in serve
