"""The unattended launch kit under real bash, against a stateful fake docker (images,
containers, their mounts, ``exec -d``), fake npu-smi/hccn_tool and a fake vllm that serves
/health: container.sh pulls or loads and refuses another image, serve.sh runs vLLM
detached with its log and pid on the host, status.sh and stop.sh, every script re-run;
preflight's checks; the wheel of this dsprep installs and runs; the timeouts per profile."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from dsprep.launch.argv import serve_argv
from dsprep.launch.emit import validate
from dsprep.launch.kit import startup_times
from tests.conftest import CliOutcome
from tests.launch.conftest import example_document, free_port, write_cluster
from tests.launch.fakenode import FakeNode

IMAGE = "quay.io/ascend/vllm-ascend:v0.11.0rc0"
NAME = "deepseek-v31-w8a8"
MODEL = "/models/DeepSeek-V3.1-w8a8"


def local_document(weights: Path) -> dict[str, Any]:
    """Two nodes on this host's loopback; the weights mounted from a folder of the test."""
    document = example_document()
    document["nodes"] = [
        {"name": "node0", "ip": "127.0.0.1", "nic": "lo", "npus": 8},
        {"name": "node1", "ip": "127.0.0.2", "nic": "lo", "npus": 8},
    ]
    api, rpc = free_port(), free_port()
    document["ports"] = {"api": api, "dp_rpc": rpc if rpc != api else api + 1}
    document["container"] = {"mounts": [f"{weights}:/models"]}
    document["model"]["path"] = MODEL
    (weights / "DeepSeek-V3.1-w8a8").mkdir(parents=True, exist_ok=True)
    return document


@pytest.fixture
def node(tmp_path: Path) -> Iterator[FakeNode]:
    fake = FakeNode.create(tmp_path / "node")
    yield fake
    fake.kill_all()


def emit_doc(
    tmp_path: Path, run_cli: Callable[..., CliOutcome], document: dict[str, Any], *extra: str
) -> Path:
    cluster = write_cluster(tmp_path, document)
    out = tmp_path / "out"
    outcome = run_cli("emit-launch", str(cluster), "--out", str(out), *extra)
    assert outcome.exit_code == 0, outcome.stdout + outcome.stderr
    return out


@pytest.fixture
def kit(tmp_path: Path, run_cli: Callable[..., CliOutcome]) -> tuple[Path, dict[str, Any]]:
    document = local_document(tmp_path / "weights")
    return emit_doc(tmp_path, run_cli, document), document


def docker_verbs(node: FakeNode) -> list[str]:
    return [" ".join(a[1:3]) for a in node.argvs("docker")]


def test_container_sh_pulls_runs_and_is_safe_to_rerun(
    kit: tuple[Path, dict[str, Any]], node: FakeNode
) -> None:
    out, _ = kit
    script = out / "node0" / "container.sh"
    done = node.run(script)
    assert done.returncode == 0, done.stderr
    assert docker_verbs(node) == [
        "image inspect",
        f"pull {IMAGE}",
        "image inspect",
        "container inspect",
        "run --privileged",
    ]
    box = node.state()["containers"][NAME]
    assert box["image"] == IMAGE
    assert box["mounts"]["/dsprep-logs"] == str((out / "node0").resolve() / "logs")
    assert (out / "node0" / "logs").is_dir()
    again = node.run(script)
    assert again.returncode == 0
    assert f"container {NAME} is already running with {IMAGE}" in again.stdout
    assert len([a for a in node.argvs("docker") if a[1] in ("run", "pull")]) == 2
    stopped = node.state()
    stopped["containers"][NAME]["running"] = False
    (node.home / "state.json").write_text(json.dumps(stopped))
    third = node.run(script)
    assert third.returncode == 0
    assert node.argvs("docker")[-1] == ["docker", "start", NAME]


def test_container_sh_loads_the_image_file(
    tmp_path: Path, run_cli: Callable[..., CliOutcome], node: FakeNode
) -> None:
    document = local_document(tmp_path / "weights")
    archive = tmp_path / "images" / "vllm-ascend v0.11.0rc0.tar"
    document["image"]["file"] = str(archive)
    out = emit_doc(tmp_path, run_cli, document)
    missing = node.run(out / "node1" / "container.sh")
    assert missing.returncode == 1
    assert f"FAIL image {IMAGE} is not on this node and the archive {archive}" in missing.stderr
    assert "pull" not in docker_verbs(node)
    archive.parent.mkdir()
    archive.write_text(IMAGE + "\n", encoding="utf-8")  # the fake docker reads the name
    done = node.run(out / "node1" / "container.sh")
    assert done.returncode == 0, done.stderr
    assert ["docker", "load", "-i", str(archive)] in node.argvs("docker")
    assert NAME in node.state()["containers"]


def test_container_sh_refuses_a_container_of_that_name_with_another_image(
    kit: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    out, _ = kit
    other = "quay.io/ascend/vllm-ascend:v0.9.1"
    node = FakeNode.create(tmp_path / "other", images=[IMAGE])
    box = {"image": other, "running": True, "mounts": {}}
    state = {"images": [IMAGE], "containers": {NAME: box}}
    (node.home / "state.json").write_text(json.dumps(state))
    done = node.run(out / "node0" / "container.sh")
    assert done.returncode == 1
    assert f"FAIL container {NAME} already exists on this node with image {other}, not {IMAGE}" in (
        done.stderr
    )
    assert f"fix: if it is no longer needed: docker rm -f {NAME} && bash " in done.stderr
    assert not [a for a in node.argvs("docker") if a[1] in ("run", "rm", "start")]


def wait_for(predicate: Callable[[], bool], seconds: float = 20) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def status(node: FakeNode, script: Path) -> tuple[int, dict[str, str]]:
    done = node.run(script)
    pairs = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)
    return done.returncode, pairs


def test_serve_runs_detached_status_and_stop_rerun_safely(
    kit: tuple[Path, dict[str, Any]], node: FakeNode, tmp_path: Path
) -> None:
    out, document = kit
    folder = (out / "node0").resolve()
    assert node.run(folder / "container.sh").returncode == 0
    code, before = status(node, folder / "status.sh")
    assert code == 1 and before["vllm"] == "stopped" and before["container"] == "running"
    served = node.run(folder / "serve.sh")
    assert served.returncode == 0, served.stderr
    pid = (folder / "logs" / "vllm.pid").read_text().strip()
    assert f"vLLM started in {NAME} (pid {pid}); log: {folder}/logs/vllm.log" in served.stdout
    assert wait_for(lambda: status(node, folder / "status.sh")[1].get("health") == "ok")
    code, up = status(node, folder / "status.sh")
    assert code == 0
    assert up == {
        "node": "node0",
        "container": "running",
        "image": IMAGE,
        "vllm": "running",
        "pid": pid,
        "health": "ok",
        "log": f"{folder}/logs/vllm.log",
    }
    log = (folder / "logs" / "vllm.log").read_text()
    assert "INFO dsprep fake vllm: loading weights" in log
    # the argv vLLM received is the one builder's
    outcome = validate(write_cluster(tmp_path, document, "again.yaml"))
    assert outcome.cluster is not None and outcome.profile is not None
    (call,) = [c for c in node.calls() if c["argv"][0] == "vllm"]
    assert call["argv"] == serve_argv(outcome.cluster, outcome.profile, outcome.cluster.head)
    again = node.run(folder / "serve.sh")
    assert again.returncode == 0
    assert f"vLLM is already running in {NAME} (pid {pid})" in again.stdout
    assert len([c for c in node.calls() if c["argv"][0] == "vllm"]) == 1
    stopped = node.run(folder / "stop.sh")
    assert stopped.returncode == 0 and f"vLLM stopped in {NAME} (pid {pid})" in stopped.stdout
    assert wait_for(lambda: subprocess.run(["kill", "-0", pid], check=False).returncode != 0)
    assert not (folder / "logs" / "vllm.pid").exists()
    assert "vLLM is not running" in node.run(folder / "stop.sh").stdout
    removed = node.run(folder / "stop.sh", "--container")
    assert f"container {NAME} removed" in removed.stdout
    assert NAME not in node.state()["containers"]
    assert f"no container {NAME} on this node" in node.run(folder / "stop.sh", "--container").stdout
    code, gone = status(node, folder / "status.sh")
    assert code == 1 and gone["container"] == "absent" and gone["health"] == "down"


def running_container(node: FakeNode, out: Path, name: str = "node0") -> None:
    done = node.run(out / name / "container.sh")
    assert done.returncode == 0, done.stderr


ABSOLUTE = re.compile(r"(?<![\w.])(/[\w.@%+-]+(?:/[\w.@%+-]+)*)")


def fix_paths(stdout: str) -> list[str]:
    fixes = [line for line in stdout.splitlines() if line.lstrip().startswith("fix:")]
    return [p for line in fixes for p in ABSOLUTE.findall(line) if not p.startswith("/dev/tcp")]


def test_a_missing_hccn_tool_is_one_fail_and_fixes_name_paths_on_the_node(
    kit: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    out, _ = kit
    node = FakeNode.create(tmp_path / "bare", tools=("docker", "npu-smi", "vllm"))
    try:
        running_container(node, out)
        done = node.run(out / "node0" / "preflight.sh")
    finally:
        node.kill_all()
    fails = [line for line in done.stdout.splitlines() if line.startswith("FAIL")]
    assert done.returncode == 1
    assert fails == [
        "FAIL hccn_tool is neither on this host's PATH nor at"
        " /usr/local/Ascend/driver/tools/hccn_tool: the NPU network checks left out"
    ], done.stdout
    assert not node.argvs("hccn_tool")
    assert "PASS NPU 7 is free (no process, 3400 of 65536 MB HBM in use)" in done.stdout
    for path in fix_paths(done.stdout):
        assert Path(path).exists(), (path, done.stdout)


def test_preflight_tls_busy_npus_hccn_conf_and_driver(
    kit: tuple[Path, dict[str, Any]], node: FakeNode
) -> None:
    out, _ = kit
    running_container(node, out)
    node.scenario(tls={"3": 1}, npu_procs={"2": 4242}, hbm_used={"5": 40000})
    (node.home / "hccn.conf").unlink()
    (node.home / "version.info").unlink()
    done = node.run(out / "node0" / "preflight.sh")
    assert done.returncode == 1
    fails = [line for line in done.stdout.splitlines() if line.startswith("FAIL")]
    conf, info = node.home / "hccn.conf", node.home / "version.info"
    assert fails == [
        f"FAIL {conf} is missing or empty: the NPU network of this node is not configured",
        f"FAIL {info} is missing: no Ascend driver on this host",
        "FAIL NPU 2 is in use by process(es) 4242",
        "FAIL NPU 5 has 40000 of 65536 MB HBM in use with no process listed",
        "FAIL NPU TLS switch differs or is unknown: NPU0=0 NPU1=0 NPU2=0 NPU3=1 NPU4=0 NPU5=0"
        " NPU6=0 NPU7=0 (HCCL then cannot connect: EI0006 socket timeout, or EI0016 on"
        " Ascend HDK 25.2.0 and later)",
    ]
    assert "STATE tls=" not in done.stdout
    assert "hccn_tool -tls -s enable 0" not in done.stdout  # the fix loops over the NPUs
    assert "-tls -s enable 0; done" in done.stdout


def write_manifest(model: Path, files: dict[str, bytes]) -> None:
    entries = []
    for name, data in files.items():
        (model / name).write_bytes(data)
        entries.append(
            {"path": name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        )
    (model / ".dsprep").mkdir()
    (model / ".dsprep" / "manifest.json").write_text(
        json.dumps(
            {
                "format": "dsprep-manifest/1",
                "repo": "Eco-Tech/DeepSeek-V3.1-w8a8-mtp-QuaRot",
                "revision": "master",
                "endpoint": "https://www.modelscope.cn",
                "files": entries,
            }
        )
    )


def test_preflight_checks_weight_sizes_and_with_verify_their_hashes(
    tmp_path: Path, run_cli: Callable[..., CliOutcome], node: FakeNode
) -> None:
    document = local_document(tmp_path / "weights")
    model = tmp_path / "weights" / "DeepSeek-V3.1-w8a8"
    header = b'{"__metadata__":{}}'.ljust(56)  # a shard with no tensor: 64 bytes
    shard = len(header).to_bytes(8, "little") + header
    shards = {f"quant_model_weight_w8a8-0000{i}-of-00002.safetensors": shard for i in (1, 2)}
    write_manifest(model, {**shards, "tokenizer.json": b"{}"})
    (model / "config.json").write_text("{}", encoding="utf-8")  # the plan's shape: built-in
    out = emit_doc(tmp_path, run_cli, document, "--model-dir", str(model))
    listed = (out / "node0" / "weights.tsv").read_text().splitlines()
    assert len(listed) == 3 and listed[0].startswith("64\t")
    running_container(node, out)
    good = node.run(out / "node0" / "preflight.sh", "--verify")
    assert f"PASS weights in {model}: all 3 files with the manifest's sizes and SHA-256" in (
        good.stdout
    ), good.stdout
    first = next(iter(shards))
    (model / first).write_bytes(b"y" * 64)  # same size, other bytes
    sized = node.run(out / "node0" / "preflight.sh")
    assert f"PASS weights in {model}: all 3 files with the manifest's sizes" in sized.stdout
    hashed = node.run(out / "node0" / "preflight.sh", "--verify")
    assert f"FAIL weights in {model}: 0 missing, 0 of another size, 1 with another SHA-256" in (
        hashed.stdout
    )
    (model / first).write_bytes(b"y" * 10)
    (model / "tokenizer.json").unlink()
    short = node.run(out / "node0" / "preflight.sh")
    assert (
        f"FAIL weights in {model}: 1 missing, 1 of another size, 0 with another SHA-256 of 3"
        f" (first: {first} has 10 bytes, the manifest 64)"
    ) in short.stdout
    for path in fix_paths(short.stdout):
        assert Path(path).exists(), path


def test_preflight_installs_the_wheel_offline_when_the_container_lacks_dsprep(
    kit: tuple[Path, dict[str, Any]], node: FakeNode
) -> None:
    out, _ = kit
    running_container(node, out)
    done = node.run(out / "node0" / "preflight.sh")
    pip = [a for a in node.argvs("docker") if "pip" in a]
    install = ["install", "--no-index", "--find-links", "/dsprep-launch", "dsprep==0.1.0"]
    assert pip == [["docker", "exec", NAME, "python3", "-m", "pip", *install]]
    assert "PASS dsprep 0.1.0 installed in the container from" in done.stdout
    assert ["docker", "exec", NAME, "dsprep", "check", MODEL] in node.argvs("docker")
    node.run(out / "node0" / "preflight.sh")  # installed now: no second install
    assert len([a for a in node.argvs("docker") if "pip" in a]) == 1


def test_the_wheel_in_the_folder_installs_offline_and_runs(
    kit: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    out, _ = kit
    (wheel,) = (out / "node0").glob("dsprep-*.whl")
    target = tmp_path / "site"
    install = ["install", "-q", "--no-index", "--no-deps", "--target", str(target), str(wheel)]
    subprocess.run(
        [sys.executable, "-m", "pip", *install],
        check=True,
        capture_output=True,
    )
    code = (
        "import dsprep, dsprep.resources as r, sys;"
        "assert dsprep.__file__.startswith(sys.argv[1]), dsprep.__file__;"
        "print(r.data_root()); import dsprep.profiles as p; print(len(p.all_profiles()))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(target)],
        env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    root, count = done.stdout.split()
    assert root == str(target / "dsprep" / "_data") and int(count) >= 6
    assert (target / "bin" / "dsprep").exists()


def test_timeouts_come_from_the_profile_and_the_estimate(
    tmp_path: Path, run_cli: Callable[..., CliOutcome]
) -> None:
    new = tmp_path / "v023.yaml"
    assert run_cli("emit-launch", "--init", str(new), "--image", "v0.23.0").exit_code == 0
    out = tmp_path / "out023"
    assert run_cli("emit-launch", str(new), "--out", str(out)).exit_code == 0
    outcome = validate(new)
    times = startup_times(outcome.plan, [])
    assert times.load_s > 600  # 163-odd shards do not load in vLLM's default 600 s
    env = (out / "node1" / "env.sh").read_text()
    assert f"export VLLM_ENGINE_READY_TIMEOUT_S={times.engine_ready_s}\n" in env
    assert "HCCL_CONNECT_TIMEOUT" not in env
    plan = (out / "PLAN.md").read_text()
    assert f"`VLLM_ENGINE_READY_TIMEOUT_S={times.engine_ready_s}` in env.sh" in plan
    assert "vllm==0.23.0 vllm/envs.py:760-761" in plan
    assert f'timeout_s="${{VERIFY_TIMEOUT:-{times.health_s}}}"' in (out / "verify.sh").read_text()
    old = tmp_path / "rc0.yaml"
    assert run_cli("emit-launch", "--init", str(old)).exit_code == 0
    assert run_cli("emit-launch", str(old), "--out", str(tmp_path / "outrc0")).exit_code == 0
    assert "VLLM_ENGINE_READY_TIMEOUT_S" not in (tmp_path / "outrc0/node0/env.sh").read_text()
    plan = (tmp_path / "outrc0" / "PLAN.md").read_text()
    assert "waits a fixed 600 s for every engine's first message" in plan
    assert "vllm==0.11.0 vllm/v1/engine/core_client.py:495" in plan


def test_a_hostile_log_dir_and_image_file_stay_one_path(
    tmp_path: Path, run_cli: Callable[..., CliOutcome], node: FakeNode
) -> None:
    document = local_document(tmp_path / "weights")
    logs = tmp_path / """logs it's "x" $HOME `id` $(touch pwned)"""
    archive = tmp_path / "img $HOME `id`.tar"
    archive.write_text(IMAGE + "\n", encoding="utf-8")
    document["launch"] = {"log_dir": str(logs)}
    document["image"]["file"] = str(archive)
    out = emit_doc(tmp_path, run_cli, document)
    assert node.run(out / "node1" / "container.sh").returncode == 0
    assert ["docker", "load", "-i", str(archive)] in node.argvs("docker")
    assert node.state()["containers"][NAME]["mounts"]["/dsprep-logs"] == str(logs)
    served = node.run(out / "node1" / "serve.sh")
    assert served.returncode == 0, served.stderr
    assert (logs / "vllm.pid").read_text().strip().isdigit()
    assert wait_for(lambda: "headless engine ready" in (logs / "vllm.log").read_text())
    assert not (tmp_path / "pwned").exists() and not Path("pwned").exists()
    assert node.run(out / "node1" / "stop.sh", "--container").returncode == 0
