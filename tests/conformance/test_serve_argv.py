"""Every ``vllm serve`` argv dsprep emits for the matrix, through the release's real vLLM.

Per bundled profile selected (``DSPREP_CONFORMANCE_PROFILES``), per cell (2 and 4 nodes;
tp8 and tp4 × dp_local 2; plain and tools + thinking + MTP; every graph mode of the
profile, eager included) and per node (the head and every headless node): the release's
vLLM parses the argv, validates it, builds ``AsyncEngineArgs`` and the engine
configuration, vllm-ascend's own configuration code judges it, and the start-up reaches
the engine launch. A rejection anywhere fails the test with the release's message and
the source lines it came from.
"""

from __future__ import annotations

import pytest

from tests.conformance.cells import FEATURES, TOPOLOGIES
from tests.conformance.expect import describe, missing_stages
from tests.conformance.negatives import RUNTIME, fixed_variants
from tests.conformance.probe import profile_run, selected_profiles

pytestmark = pytest.mark.conformance


def _cells() -> list[object]:
    params: list[object] = []
    for profile in selected_profiles():
        for topology in TOPOLOGIES:
            for features in FEATURES:
                for mode in profile.launch.graph_modes:
                    cell = f"{topology.name}-{features}-{mode}"
                    for i in range(topology.nodes):
                        node = f"node{i}"
                        params.append(
                            pytest.param(
                                profile.name, cell, node, id=f"{profile.name}-{cell}-{node}"
                            )
                        )
    return params


# dsprep errors that only the running engine would hit (memory fit): a matrix cell may
# carry them and still be a valid start-up configuration
RUNTIME_CODES = {v.code for v in fixed_variants() if v.expect == RUNTIME}


@pytest.mark.parametrize(("profile_name", "cell_id", "node"), _cells())
def test_emitted_argv_starts(profile_name: str, cell_id: str, node: str) -> None:
    run = profile_run(profile_name)
    cell = next(c for c in run.cells if c.id == cell_id)
    assert cell.cluster is not None, [f.message for f in cell.findings]
    config_errors = cell.codes() - RUNTIME_CODES
    assert not config_errors, f"dsprep rejects a valid matrix cell: {cell.errors}"
    outcome = run.outcome(f"{cell_id}/{node}")
    argv = next(n["argv"] for n in cell.nodes if n["name"] == node)
    assert outcome["accepted"], f"{' '.join(argv)}\n{describe(outcome)}"
    assert not missing_stages(outcome), describe(outcome)

    # what the release made of it is what the cluster file says
    cluster, profile = cell.cluster, run.profile
    made = outcome["config"]
    index = int(node.removeprefix("node"))
    assert made["tensor_parallel_size"] == cluster.tp
    assert made["data_parallel_size"] == cluster.dp
    assert made["data_parallel_size_local"] == cluster.dp_local
    assert made["data_parallel_rank"] == index * cluster.dp_local
    assert made["data_parallel_master_ip"] == cluster.head.ip
    assert made["quantization"] == "ascend"
    assert made["max_model_len"] == cluster.max_model_len
    assert made["enforce_eager"] == profile.launch.graph_modes[cluster.graph_mode].eager
    if cluster.mtp:
        assert made["speculative_method"] == profile.launch.mtp.method
        assert made["num_speculative_tokens"] == cluster.mtp_tokens
    else:
        assert made["speculative_method"] is None
    engine = (
        "CoreEngineProcManager" if index else ("AsyncLLM.from_vllm_config", "launch_core_engines")
    )
    assert outcome["where"] in engine


@pytest.mark.parametrize("profile_name", [p.name for p in selected_profiles()])
def test_probe_ran_the_release(profile_name: str) -> None:
    """The child ran the profile's pip vLLM, vllm-ascend's quantization class from the
    release source and its platform patches."""
    run = profile_run(profile_name)
    assert run.setup["vllm"] == run.profile.release.vllm_pip
    assert run.setup["quantization"] is not None
    assert run.setup["platform_patches"]["applied"], run.setup["platform_patches"]
