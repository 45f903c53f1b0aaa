"""The --init example reproduces the seed manual (sections 4.1-4.4) flag for flag.

The expected argv and exports below are transcribed from the manual, with its shell
variables ($local_ip, $node0_ip, $nic_name) resolved to the values it sets. Differences
a profile adds on purpose are listed in DELIBERATE_* with their reason.
"""

from __future__ import annotations

import json
import shlex
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.launch.conftest import FakeTools, example_document

SEED_NODE0 = [
    "vllm", "serve", "/opt/data/weights/Deepseek/DeepSeek-V3.1-w8a8",
    "--host", "0.0.0.0",
    "--port", "8000",
    "--data-parallel-size", "2",
    "--data-parallel-size-local", "1",
    "--data-parallel-address", "71.10.29.114",
    "--data-parallel-rpc-port", "13389",
    "--seed", "1024",
    "--served-model-name", "ds-v31",
    "--tensor-parallel-size", "8",
    "--enable-expert-parallel",
    "--max-num-seqs", "8",
    "--max-model-len", "17450",
    "--max-num-batched-tokens", "17450",
    "--trust-remote-code",
    "--no-enable-prefix-caching",
    "--gpu-memory-utilization", "0.9",
    "--quantization", "ascend",
    "--additional-config",
    '{"ascend_scheduler_config":{"enabled":true},'
    '"torchair_graph_config":{"enabled":true,"graph_batch_sizes":[8]}}',
]  # fmt: skip

SEED_NODE1 = [
    "vllm", "serve", "/opt/data/weights/Deepseek/DeepSeek-V3.1-w8a8",
    "--host", "0.0.0.0",
    "--port", "8000",
    "--headless",
    "--data-parallel-size", "2",
    "--data-parallel-size-local", "1",
    "--data-parallel-start-rank", "1",
    "--data-parallel-address", "71.10.29.114",
    "--data-parallel-rpc-port", "13389",
    "--seed", "1024",
    "--tensor-parallel-size", "8",
    "--served-model-name", "ds-v31",
    "--max-num-seqs", "8",
    "--max-model-len", "17450",
    "--max-num-batched-tokens", "17450",
    "--enable-expert-parallel",
    "--trust-remote-code",
    "--no-enable-prefix-caching",
    "--gpu-memory-utilization", "0.9",
    "--quantization", "ascend",
    "--additional-config",
    '{"ascend_scheduler_config":{"enabled":true},'
    '"torchair_graph_config":{"enabled":true,"graph_batch_sizes":[8]}}',
]  # fmt: skip

SEED_ENV_COMMON = {
    "VLLM_USE_MODELSCOPE": "True",
    "GLOO_SOCKET_IFNAME": "enp67s0f0np0",
    "TP_SOCKET_IFNAME": "enp67s0f0np0",
    "HCCL_SOCKET_IFNAME": "enp67s0f0np0",
    "HCCL_OP_EXPANSION_MODE": "AIV",
    "PYTORCH_NPU_ALLOC_CONF": "expandable_segments:True",
    "OMP_PROC_BIND": "false",
    "OMP_NUM_THREADS": "100",
    "HCCL_BUFFSIZE": "1024",
}
SEED_ENV = {
    "node0": {"HCCL_IF_IP": "71.10.29.114", **SEED_ENV_COMMON},
    "node1": {"HCCL_IF_IP": "71.10.29.116", **SEED_ENV_COMMON},
}

# What the v0.11.0rc0 profile adds on purpose, with the reason.
DELIBERATE_ENV = {
    "VLLM_USE_V1": (
        "1",
        "--headless needs the V1 engine; vllm-ascend's v0.11.0rc0 multi-node guide sets it",
    ),
}
DELIBERATE_ARGV: dict[str, tuple[str, str]] = {}  # none: the serve argv is the seed's
JSON_FLAGS = {"--additional-config", "--compilation-config", "--speculative-config"}


def flags(argv: list[str]) -> dict[str, Any]:
    """``{flag: value or True}``; JSON values parsed; positional args under ``_pos``."""
    parsed: dict[str, Any] = {"_pos": []}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg.startswith("--"):
            assert arg not in parsed, f"{arg} given twice"
            nxt = argv[i + 1] if i + 1 < len(argv) else None
            if nxt is not None and not nxt.startswith("--"):
                parsed[arg] = json.loads(nxt) if arg in JSON_FLAGS else nxt
                i += 2
                continue
            parsed[arg] = True
        else:
            parsed["_pos"].append(arg)
        i += 1
    return parsed


def serve_argv_from_script(script: Path) -> list[str]:
    """The argv of the `exec vllm serve …` line of vllm.sh, parsed with shlex."""
    text = script.read_text(encoding="utf-8").replace("\\\n", " ")
    (line,) = [ln for ln in text.splitlines() if ln.startswith("exec vllm serve")]
    return shlex.split(line)[1:]


def sourced_env(script: Path) -> dict[str, str]:
    """What `source env.sh` exports, read back from real bash."""
    out = subprocess.run(
        ["env", "-i", "bash", "--noprofile", "--norc", "-c", f"source {script} && env -0"],
        capture_output=True,
        check=True,
    ).stdout.decode()
    env = dict(item.split("=", 1) for item in out.split("\0") if item)
    for name in ("PWD", "SHLVL", "_"):
        env.pop(name, None)
    return env


def test_seed_argv_flag_for_flag(emit: Callable[..., tuple[Path, Any]]) -> None:
    out, outcome = emit(example_document())
    assert outcome.exit_code == 0, outcome.stdout + outcome.stderr
    for node, seed in (("node0", SEED_NODE0), ("node1", SEED_NODE1)):
        ours = serve_argv_from_script(out / node / "vllm.sh")
        expected = flags(seed)
        for flag, (value, _reason) in DELIBERATE_ARGV.items():
            expected[flag] = value
        assert flags(ours) == expected, node


def test_seed_env_exports(emit: Callable[..., tuple[Path, Any]]) -> None:
    out, _ = emit(example_document())
    for node, seed in SEED_ENV.items():
        exported = sourced_env(out / node / "env.sh")
        expected = dict(seed)
        for name, (value, reason) in DELIBERATE_ENV.items():
            assert reason
            expected[name] = value
        assert exported == expected, node


def test_serve_sh_execs_that_argv_with_that_env(
    emit: Callable[..., tuple[Path, Any]], fake_tools: FakeTools
) -> None:
    # Running vllm.sh (what serve.sh starts in the container) under real bash with a fake
    # vllm: the argv vllm receives is the seed's.
    out, _ = emit(example_document())
    names = sorted({*SEED_ENV_COMMON, "HCCL_IF_IP", *DELIBERATE_ENV})
    for node, seed in (("node0", SEED_NODE0), ("node1", SEED_NODE1)):
        logs = out / node / "logs"
        logs.mkdir()
        run = fake_tools.run(
            out / node / "vllm.sh", scenario={"env_names": names}, DSPREP_LOG_DIR=str(logs)
        )
        assert run.returncode == 0, run.stderr
        (record,) = run.records
        assert flags(record["argv"]) == flags(seed)
        assert record["env"] == {
            **SEED_ENV[node],
            **{k: v for k, (v, _) in DELIBERATE_ENV.items()},
        }


def test_additional_config_bytes_match_the_seed(emit: Callable[..., tuple[Path, Any]]) -> None:
    # Beyond parsed-JSON equality, the manual's compact spelling is kept byte for byte.
    out, _ = emit(example_document())
    ours = serve_argv_from_script(out / "node0" / "vllm.sh")
    assert ours[ours.index("--additional-config") + 1] == SEED_NODE0[-1]
