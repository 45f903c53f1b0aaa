"""The emitted scripts run under real bash against fake vllm/docker/npu-smi/hccn_tool/ip/
ping/curl that record their argv; the recorded argv are asserted exactly, which also
proves the quoting. Plus: shellcheck and bash -n on every script, determinism, N nodes."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CliOutcome
from tests.launch.conftest import FakeTools, example_document, free_port, write_cluster

MODEL = "/opt/data/weights/Deepseek/DeepSeek-V3.1-w8a8"
NAME = "deepseek-v31-w8a8"
NPU_IPS = {
    "node0": [f"10.20.0.{i + 10}" for i in range(8)],
    "node1": [f"10.20.1.{i + 10}" for i in range(8)],
}
HEALTHY = {
    "nics": {"enp67s0f0np0": None},
    "container": "running",
    "dsprep_installed": True,
}


WEIGHTS_MOUNT = "/opt/data/weights"  # the test maps it to a folder of its own


def seed_with_npu_ips(api: int, rpc: int, weights: Path | None = None) -> dict[str, Any]:
    document = example_document()
    if weights is not None:
        (weights / "Deepseek" / "DeepSeek-V3.1-w8a8").mkdir(parents=True, exist_ok=True)
        mounts = document["container"]["mounts"]
        document["container"]["mounts"] = [*mounts, f"{weights}:{WEIGHTS_MOUNT}"]
    for node in document["nodes"]:
        node["npu_ips"] = NPU_IPS[node["name"]]
    document["ports"] = {"api": api, "dp_rpc": rpc}
    return document


def scenario_for(node: str, ip: str, **changes: Any) -> dict[str, Any]:
    return {**HEALTHY, "nics": {"enp67s0f0np0": ip}, "npu_ips": NPU_IPS[node], **changes}


def preflight_calls(node: str, peer: str, *, head: bool, dsprep: bool = True) -> list[list[str]]:
    calls = [["ip", "-o", "-4", "addr", "show", "dev", "enp67s0f0np0"], ["npu-smi", "info"]]
    for i in range(8):
        for what in ("-link", "-net_health", "-netdetect", "-gateway", "-tls"):
            calls += [["hccn_tool", "-i", str(i), what, "-g"]]
    calls += [["hccn_tool", "-i", str(i), "-ip", "-g"] for i in range(8)]
    calls += [
        ["hccn_tool", "-i", str(i), "-ping", "-g", "address", NPU_IPS[peer][i]] for i in range(8)
    ]
    if not head:
        calls.append(["ping", "-c", "1", "-W", "2", "71.10.29.114"])
    calls.append(["docker", "container", "inspect", "--format", "{{.State.Running}}", NAME])
    calls.append(["docker", "exec", NAME, "sh", "-c", "command -v dsprep >/dev/null 2>&1"])
    if dsprep:
        calls.append(["docker", "exec", NAME, "dsprep", "check", MODEL])
    return calls


@pytest.fixture
def seed_out(emit: Callable[..., tuple[Path, CliOutcome]], tmp_path: Path) -> tuple[Path, int, int]:
    api, rpc = free_port(), free_port()
    while rpc == api:
        rpc = free_port()
    out, outcome = emit(seed_with_npu_ips(api, rpc, tmp_path / "weights"))
    assert outcome.exit_code == 0, outcome.stdout + outcome.stderr
    return out, api, rpc


def test_preflight_all_pass(seed_out: tuple[Path, int, int], fake_tools: FakeTools) -> None:
    out, api, rpc = seed_out
    run = fake_tools.run(
        out / "node0" / "preflight.sh", scenario=scenario_for("node0", "71.10.29.114")
    )
    assert run.returncode == 0, run.stdout
    assert run.argvs == preflight_calls("node0", "node1", head=True)
    assert "FAIL" not in run.stdout
    assert f"PASS port {api} (ports.api) is free" in run.stdout
    assert f"PASS port {rpc} (ports.dp_rpc) is free" in run.stdout
    assert "PASS NPU 7 reaches node1 NPU ip 10.20.1.17" in run.stdout
    assert "PASS NPU TLS switch is 0 on all 8 NPUs\nSTATE tls=0\n" in run.stdout
    assert "SKIP weight sizes in " in run.stdout  # no --model-dir: no manifest
    assert run.stdout.rstrip().endswith(f"next: bash {(out / 'node0').resolve()}/serve.sh")
    run = fake_tools.run(
        out / "node1" / "preflight.sh", scenario=scenario_for("node1", "71.10.29.116")
    )
    assert run.returncode == 0, run.stdout
    assert run.argvs == preflight_calls("node1", "node0", head=False)
    assert "port" not in run.stdout.lower().replace("report", "")  # headless: no API ports


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        yield sock.getsockname()[1]


def test_preflight_failures_say_the_fix(
    emit: Callable[..., tuple[Path, CliOutcome]],
    fake_tools: FakeTools,
    busy_port: int,
    tmp_path: Path,
) -> None:
    out, outcome = emit(seed_with_npu_ips(busy_port, free_port(), tmp_path / "weights"))
    assert outcome.exit_code == 0
    scenario = scenario_for(
        "node0",
        "71.10.29.999",  # the nic holds another ip
        links_down=[3],
        unreachable=["10.20.1.15"],
        npu_health=["OK"] * 7 + ["Warning"],
        dsprep_installed=False,
    )
    run = fake_tools.run(out / "node0" / "preflight.sh", scenario=scenario)
    assert run.returncode == 1
    fails = [line for line in run.stdout.splitlines() if line.startswith("FAIL")]
    assert fails == [
        "FAIL nic enp67s0f0np0 does not hold 71.10.29.114",
        f"FAIL port {busy_port} (ports.api) is already in use",
        "FAIL npu-smi does not show NPU 7 with Health OK (Warning)",
        "FAIL NPU 3 link is not UP: link status: DOWN",
        "FAIL NPU 5 cannot reach node1 NPU ip 10.20.1.15",
    ]
    assert "fix: set nodes[0].ip or nodes[0].nic in" in run.stdout
    assert f"ss -ltnp 'sport = :{busy_port}'" in run.stdout
    wheel = "dsprep-0.1.0-py3-none-any.whl"
    installed = f"PASS dsprep 0.1.0 installed in the container from {(out / 'node0').resolve()}"
    assert f"{installed}/{wheel} (offline)" in run.stdout
    pip = ["python3", "-m", "pip", "install", "--no-index", "--find-links", "/dsprep-launch"]
    assert ["docker", "exec", NAME, *pip, "dsprep==0.1.0"] in run.argvs
    assert run.stdout.rstrip().endswith("preflight: 5 check(s) failed on node node0")


def test_preflight_missing_nic_and_container(
    seed_out: tuple[Path, int, int], fake_tools: FakeTools
) -> None:
    out, _, _ = seed_out
    scenario = {**scenario_for("node1", "71.10.29.116"), "nics": {}, "container": None}
    scenario["unreachable"] = ["71.10.29.114"]
    run = fake_tools.run(out / "node1" / "preflight.sh", scenario=scenario)
    assert run.returncode == 1
    assert "FAIL nic enp67s0f0np0 does not exist on this host" in run.stdout
    assert "FAIL head node node0 (71.10.29.114) does not answer ping" in run.stdout
    assert "FAIL container deepseek-v31-w8a8 is not running" in run.stdout
    assert run.argvs[-1] == [
        "docker",
        "container",
        "inspect",
        "--format",
        "{{.State.Running}}",
        NAME,
    ]


def test_container_sh_runs_the_seed_docker_run(
    seed_out: tuple[Path, int, int], fake_tools: FakeTools
) -> None:
    out, _, _ = seed_out
    run = fake_tools.run(out / "node1" / "container.sh", scenario={"container": None})
    assert run.returncode == 0, run.stderr
    image, inspect, docker_run = run.argvs
    assert image == ["docker", "image", "inspect", "quay.io/ascend/vllm-ascend:v0.11.0rc0"]
    assert inspect == ["docker", "container", "inspect", "--format", "{{.Config.Image}}", NAME]
    devices = [f"/dev/davinci{i}" for i in range(8)]
    devices += ["/dev/davinci_manager", "/dev/devmm_svm", "/dev/hisi_hdc"]
    mounts = [
        "/usr/local/dcmi:/usr/local/dcmi",
        "/usr/local/Ascend/driver/tools/hccn_tool:/usr/local/Ascend/driver/tools/hccn_tool",
        "/usr/local/bin/npu-smi:/usr/local/bin/npu-smi",
        "/usr/local/Ascend/driver/lib64/:/usr/local/Ascend/driver/lib64/",
        "/usr/local/Ascend/driver/version.info:/usr/local/Ascend/driver/version.info",
        "/etc/ascend_install.info:/etc/ascend_install.info",
        "/usr/share/zoneinfo/Asia/Shanghai:/etc/localtime",
        "/home:/home",
        "/opt:/opt",
        f"{out.parent / 'weights'}:{WEIGHTS_MOUNT}",
        f"{(out / 'node1').resolve()}:/dsprep-launch:ro",
        f"{(out / 'node1').resolve()}/logs:/dsprep-logs",
    ]
    expected = ["docker", "run", "--privileged", "--name", NAME, "--net=host"]
    for device in devices:
        expected += ["--device", device]
    expected.append("--shm-size=1000g")
    for mount in mounts:
        expected += ["-v", mount]
    expected += ["-itd", "quay.io/ascend/vllm-ascend:v0.11.0rc0", "bash"]
    assert docker_run == expected


def curl_request(base: str, path: str, body: str = "") -> list[str]:
    send = ["curl", "-sS", "-m", "600", f"{base}{path}"]
    return [*send, "-H", "Content-Type: application/json", "-d", body] if body else send


HEALTH = ["curl", "-sS", "-m", "10", "-o", "/dev/null", "-w", "%{http_code}"]
DSPREP_IN_CONTAINER = ["docker", "exec", NAME, "sh", "-c", "command -v dsprep >/dev/null 2>&1"]
COMPLETION = (
    '{"model":"ds-v31","prompt":"The capital of France is","max_tokens":50,"temperature":0}'
)
CURL_ONLY = f"verify: dsprep is not installed here nor in the container {NAME}: curl checks only"


DEFAULT_CHAT = (
    '{"model":"ds-v31","messages":[{"role":"user","content":"What is 17 * 23? Answer with'
    ' the number."}],"max_tokens":512,"temperature":0}'
)


def chat(thinking: bool) -> str:
    return (
        '{"model":"ds-v31","messages":[{"role":"user","content":"What is 17 * 23? Answer with'
        f' the number."}}],"max_tokens":{512 if thinking else 64},"temperature":0,'
        f'"chat_template_kwargs":{{"thinking":{"true" if thinking else "false"}}}}}'
    )


SEED_SERVER = {"reasoning_parser": False}
DSPREP_ARGS = [
    "--model",
    "ds-v31",
    "--thinking-default",
    "off",
    "--no-tools",
    "--timeout",
    "900",
]  # the seed example runs no reasoning parser


def test_verify_sends_the_seed_request_and_chats(
    seed_out: tuple[Path, int, int], fake_tools: FakeTools
) -> None:
    out, api, _ = seed_out
    base = f"http://71.10.29.114:{api}"
    run = fake_tools.run(out / "verify.sh", scenario=SEED_SERVER)
    assert run.returncode == 0, run.stdout
    assert run.argvs == [
        [*HEALTH, f"{base}/health"],
        DSPREP_IN_CONTAINER,
        curl_request(base, "/v1/models"),
        curl_request(base, "/v1/completions", COMPLETION),
        curl_request(base, "/v1/chat/completions", chat(True)),
        curl_request(base, "/v1/chat/completions", chat(False)),
        curl_request(base, "/v1/chat/completions", DEFAULT_CHAT),
    ]
    assert run.stdout.splitlines() == [
        "PASS /health answered 200",
        CURL_ONLY,
        "PASS /v1/models serves ds-v31",
        "PASS completions returns text",
        "PASS chat with thinking on",
        "PASS chat with thinking off",
        "PASS chat without chat_template_kwargs (features.thinking_default: off)",
        "verify: all requests passed",
    ]


@pytest.mark.parametrize(
    ("scenario", "failed"),
    [
        ({"answer": "banana"}, ["chat with thinking off", "chat without chat_template_kwargs"]),
        ({"served": "other-name"}, ["/v1/models serves ds-v31"]),
    ],
)
def test_verify_curl_checks_assert_content(
    seed_out: tuple[Path, int, int],
    fake_tools: FakeTools,
    scenario: dict[str, Any],
    failed: list[str],
) -> None:
    """A server that answers garbage, or serves another name, fails: not just "choices"."""
    out, _, _ = seed_out
    run = fake_tools.run(out / "verify.sh", scenario={**SEED_SERVER, **scenario})
    fails = [line for line in run.stdout.splitlines() if line.startswith("FAIL")]
    assert run.returncode == 1, run.stdout
    assert [line[5:].split(":")[0].split(" (")[0] for line in fails] == [
        name.split(" (")[0] for name in failed
    ]


def test_verify_thinking_on_with_a_reasoning_parser_needs_the_reasoning_field(
    emit: Callable[..., tuple[Path, CliOutcome]], fake_tools: FakeTools
) -> None:
    document = example_document()  # deepseek_v3 needs vLLM >= 0.12
    document["image"]["tag"] = "v0.13.0"
    document["graph"] = {"mode": "eager"}
    document["scheduler"] = {"ascend": False}
    document["features"]["reasoning_parser"] = "deepseek_v3"
    out, outcome = emit(document)
    assert outcome.exit_code == 0, outcome.stdout
    assert fake_tools.run(out / "verify.sh").returncode == 0
    run = fake_tools.run(out / "verify.sh", scenario={"reasoning_parser": False})
    assert run.returncode == 1
    assert "FAIL chat with thinking on: the response does not match" in run.stdout


def test_verify_runs_dsprep_verify_in_the_container_when_it_is_there(
    seed_out: tuple[Path, int, int], fake_tools: FakeTools
) -> None:
    out, api, _ = seed_out
    base = f"http://71.10.29.114:{api}"
    run = fake_tools.run(out / "verify.sh", scenario={"dsprep_installed": True})
    assert run.argvs[1:] == [
        DSPREP_IN_CONTAINER,
        ["docker", "exec", NAME, "dsprep", "verify", base, *DSPREP_ARGS],
    ]
    assert f"verify: dsprep verify {base} (in the container {NAME})" in run.stdout
    run = fake_tools.run(
        out / "verify.sh", scenario={"dsprep_installed": True}, VERIFY_WITH_CURL="1"
    )
    assert DSPREP_IN_CONTAINER not in run.argvs and run.argvs[1][4].endswith("/v1/models")


def test_verify_tool_call_and_base_url_argument(
    emit: Callable[..., tuple[Path, CliOutcome]], fake_tools: FakeTools
) -> None:
    document = example_document()
    document["features"]["tools"] = True
    out, _ = emit(document)
    run = fake_tools.run(
        out / "verify.sh", "http://127.0.0.1:9", scenario={**SEED_SERVER, "tool_calls": True}
    )
    assert run.returncode == 0, run.stdout
    assert run.argvs[0] == [*HEALTH, "http://127.0.0.1:9/health"]
    tool_call = run.argvs[-1]
    assert tool_call[4] == "http://127.0.0.1:9/v1/chat/completions"
    assert '"tools":[{"type":"function","function":{"name":"get_weather"' in tool_call[-1]
    assert "PASS chat tool call" in run.stdout
    run = fake_tools.run(out / "verify.sh", scenario={**SEED_SERVER, "tool_calls": False})
    assert run.returncode == 1
    assert "FAIL chat tool call: the response does not match" in run.stdout
    assert run.stdout.rstrip().endswith("verify: 1 request(s) failed")


def test_verify_health_timeout_is_bounded(
    seed_out: tuple[Path, int, int], fake_tools: FakeTools
) -> None:
    out, _, _ = seed_out
    run = fake_tools.run(
        out / "verify.sh", scenario={"health": 503}, VERIFY_TIMEOUT="0", VERIFY_INTERVAL="0"
    )
    assert run.returncode == 1
    assert len(run.argvs) == 1
    assert run.stdout.startswith("FAIL /health did not answer 200 within 0s (last status: 503)")


def test_hostile_model_path_is_one_argv_element(
    emit: Callable[..., tuple[Path, CliOutcome]], fake_tools: FakeTools
) -> None:
    hostile = """/opt/my models/it's "v3.1" $HOME `id` $(touch /tmp/pwned) \\n;"""
    document = example_document()
    document["model"]["path"] = hostile
    out, outcome = emit(document)
    assert outcome.exit_code == 0, outcome.stdout
    (out / "node1" / "logs").mkdir()
    logs = str(out / "node1" / "logs")
    run = fake_tools.run(out / "node1" / "vllm.sh", DSPREP_LOG_DIR=logs)
    assert run.returncode == 0, run.stderr
    assert run.argvs[0][:3] == ["vllm", "serve", hostile]
    run = fake_tools.run(
        out / "node0" / "preflight.sh", scenario=scenario_for("node0", "71.10.29.114")
    )
    assert ["docker", "exec", NAME, "dsprep", "check", hostile] in run.argvs


def test_four_nodes_get_their_start_ranks(
    emit: Callable[..., tuple[Path, CliOutcome]], fake_tools: FakeTools
) -> None:
    document = example_document()
    document["nodes"] = [
        {"name": f"n{i}", "ip": f"10.1.0.{i + 1}", "nic": "eth0", "npus": 8} for i in range(4)
    ]
    document["parallel"] = {"tp": 4, "dp": 8, "dp_local": 2, "expert_parallel": True}
    out, outcome = emit(document)
    assert outcome.exit_code == 0, outcome.stdout
    names = sorted(p.name for p in out.iterdir())
    assert names == [".dsprep-emit.json", "PLAN.md", "n0", "n1", "n2", "n3", "verify.sh"]
    ranks = []
    for i in range(4):
        (out / f"n{i}" / "logs").mkdir()
        run = fake_tools.run(out / f"n{i}" / "vllm.sh", DSPREP_LOG_DIR=str(out / f"n{i}" / "logs"))
        argv = run.argvs[0]
        assert argv[argv.index("--data-parallel-address") + 1] == "10.1.0.1"
        assert argv[argv.index("--data-parallel-size") + 1] == "8"
        assert argv[argv.index("--data-parallel-size-local") + 1] == "2"
        assert ("--headless" in argv) is (i > 0)
        rank = argv[argv.index("--data-parallel-start-rank") + 1] if i else "0"
        assert ("--data-parallel-start-rank" in argv) is (i > 0)
        ranks.append(int(rank))
    assert ranks == [0, 2, 4, 6]
    plan = (out / "PLAN.md").read_text(encoding="utf-8")
    assert (
        "| n3 | 10.1.0.4 | eth0 | 8 | /dev/davinci0-7 | 6, 7 | headless, DP start rank 6 |" in plan
    )


def test_output_is_deterministic_and_idempotent(
    tmp_path: Path, run_cli: Callable[..., CliOutcome]
) -> None:
    cluster = write_cluster(tmp_path, example_document())
    trees = []
    for name in ("a", "b", "a"):
        outcome = run_cli("emit-launch", str(cluster), "--out", str(tmp_path / name))
        assert outcome.exit_code == 0
        trees.append(
            {
                p.relative_to(tmp_path / name).as_posix(): (
                    p.read_bytes(),
                    p.stat().st_mode & 0o777,
                )
                for p in sorted((tmp_path / name).rglob("*"))
                if p.is_file()
            }
        )
    assert trees[0] == trees[1] == trees[2]
    assert trees[0]["node0/serve.sh"][1] == 0o755
    assert trees[0]["PLAN.md"][1] == 0o644
    assert not any(".dsprep-orig" in name for name in trees[0])


def all_emitted_scripts(root: Path, emit_many: list[Path]) -> list[Path]:
    return sorted(p for out in emit_many for p in out.rglob("*.sh"))


def test_shellcheck_and_bash_n_on_every_emitted_script(
    tmp_path: Path, run_cli: Callable[..., CliOutcome]
) -> None:
    variants: list[dict[str, Any]] = []
    seed = seed_with_npu_ips(8000, 13389)
    variants.append(seed)
    hostile = example_document()
    hostile["model"]["path"] = """/opt/it's "x" $HOME `id` $(reboot) !"""
    hostile["env"] = {"WEIRD": 'a\'b "c" $d `e`', "OMP_NUM_THREADS": 10}
    hostile["image"]["file"] = "/srv/it's $x `id`.tar"
    hostile["launch"] = {"log_dir": '/var/log/"ds" $HOME', "remote_dir": "opt/dsprep"}
    variants.append(hostile)
    v012 = example_document()
    v012["image"]["tag"] = "v0.12.0rc1"
    v012["graph"] = {"mode": "aclgraph"}
    v012["scheduler"] = {"ascend": False}
    v012["features"].update(tools=True, reasoning_parser="deepseek_v3", mtp=True)
    variants.append(v012)
    three = example_document()
    three["nodes"].append({"name": "node2", "ip": "71.10.29.118", "nic": "eth1", "npus": 8})
    three["parallel"].update(tp=4, dp=6, dp_local=2)
    variants.append(three)
    outs = []
    for i, document in enumerate(variants):
        folder = tmp_path / f"v{i}"
        folder.mkdir()
        outcome = run_cli(
            "emit-launch", str(write_cluster(folder, document)), "--out", str(folder / "out")
        )
        assert outcome.exit_code == 0, outcome.stdout
        outs.append(folder / "out")
    scripts = all_emitted_scripts(tmp_path, outs)
    assert len(scripts) == 7 * (2 + 2 + 2 + 3) + 4  # per-node scripts + verify.sh each
    shellcheck = Path(__import__("sys").executable).parent / "shellcheck"
    done = subprocess.run(
        [str(shellcheck), "--severity=style", *map(str, scripts)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout
    for script in scripts:
        assert subprocess.run(["bash", "-n", str(script)], check=False).returncode == 0, script
        text = script.read_text(encoding="utf-8")
        if script.name == "env.sh":  # sourced, must not change the caller's shell options
            assert "\nset " not in text and text.startswith("# shellcheck shell=bash ")
        else:
            assert text.startswith("#!/usr/bin/env bash\n")
            assert "\nset -euo pipefail\n" in text
