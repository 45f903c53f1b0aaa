"""`dsprep emit-launch` and `dsprep plan` as a user meets them: --init, usage errors,
JSON documents, nothing written on errors, exit codes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from dsprep.launch.emit import example_text
from tests.conftest import CliOutcome
from tests.launch.conftest import example_document, write_cluster


def test_init_writes_the_annotated_example(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_cli: Callable[..., CliOutcome]
) -> None:
    monkeypatch.chdir(tmp_path)
    outcome = run_cli("emit-launch", "--init")
    assert outcome.exit_code == 0, outcome.stderr
    written = tmp_path / "cluster.yaml"
    assert written.read_text(encoding="utf-8") == example_text()
    assert "# selects the profile" in example_text()  # annotated
    assert "wrote the example cluster file cluster.yaml" in outcome.stdout
    again = run_cli("emit-launch", "--init")  # idempotent
    assert again.exit_code == 0
    assert "already there, unchanged" in again.stdout


def test_init_never_overwrites_a_different_file(
    tmp_path: Path, run_cli: Callable[..., CliOutcome]
) -> None:
    target = tmp_path / "mine.yaml"
    target.write_text("image: {tag: mine}\n", encoding="utf-8")
    outcome = run_cli("emit-launch", "--init", str(target))
    assert outcome.exit_code == 3
    assert "already exists and differs from the example" in outcome.stderr
    assert target.read_text(encoding="utf-8") == "image: {tag: mine}\n"


def test_missing_out_is_a_usage_error(tmp_path: Path, run_cli: Callable[..., CliOutcome]) -> None:
    cluster = write_cluster(tmp_path, example_document())
    outcome = run_cli("emit-launch", str(cluster))
    assert outcome.exit_code == 2
    assert "--out" in outcome.stderr


def test_json_document_lists_written_files(
    tmp_path: Path, run_cli: Callable[..., CliOutcome]
) -> None:
    cluster = write_cluster(tmp_path, example_document())
    outcome = run_cli(
        "emit-launch", str(cluster), "--out", str(tmp_path / "out"), "--format", "json"
    )
    assert outcome.exit_code == 0
    document = outcome.json()
    assert document["status"] == "ok" and document["command"] == "emit-launch"
    assert document["data"]["written"] == [
        "node0/env.sh",
        "node0/container.sh",
        "node0/preflight.sh",
        "node0/serve.sh",
        "node0/vllm.sh",
        "node0/stop.sh",
        "node0/status.sh",
        "node0/dsprep-0.1.0-py3-none-any.whl",
        "node1/env.sh",
        "node1/container.sh",
        "node1/preflight.sh",
        "node1/serve.sh",
        "node1/vllm.sh",
        "node1/stop.sh",
        "node1/status.sh",
        "node1/dsprep-0.1.0-py3-none-any.whl",
        "verify.sh",
        "PLAN.md",
    ]
    assert document["data"]["profile"] == "v0.11.0rc0"
    assert [f["code"] for f in document["findings"]] == [
        "npu-ips-not-set",
        "memory-tight",  # a warning: the scripts are still written
    ]


def test_errors_write_nothing(tmp_path: Path, run_cli: Callable[..., CliOutcome]) -> None:
    document = example_document()
    document["limits"]["max_num_batched_tokens"] = 4096
    cluster = write_cluster(tmp_path, document)
    outcome = run_cli("emit-launch", str(cluster), "--out", str(tmp_path / "out"))
    assert outcome.exit_code == 1
    assert outcome.stdout.startswith("nothing written")
    assert (
        f"{cluster}: limits.max_num_batched_tokens: 4096 < limits.max_model_len 17450"
        in outcome.stdout
    )
    assert "[batched-tokens-below-model-len]" in outcome.stdout
    assert "fix: raise limits.max_num_batched_tokens to max_model_len" in outcome.stdout
    assert not (tmp_path / "out").exists()


def test_plan_md_has_topology_commands_findings_and_memory(
    tmp_path: Path, run_cli: Callable[..., CliOutcome]
) -> None:
    document = example_document()
    document["graph"]["batch_sizes"] = [8, 16]  # a warning still writes, and is listed
    cluster = write_cluster(tmp_path, document)
    out = tmp_path / "out"
    assert run_cli("emit-launch", str(cluster), "--out", str(out)).exit_code == 0
    plan = (out / "PLAN.md").read_text(encoding="utf-8")
    for heading in ("## Topology", "## Run order", "## Exact commands", "## Findings"):
        assert heading in plan
    assert "## Memory fit (per NPU)" in plan
    assert "| node1 | 71.10.29.116 | enp67s0f0np0 | 8 | /dev/davinci0-7 | 1 |" in plan
    assert "`graph-batch-size-dropped`" in plan
    assert "`VLLM_USE_V1=1`: --headless needs the V1 engine" in plan
    assert "vllm serve /opt/data/weights/Deepseek/DeepSeek-V3.1-w8a8 --host 0.0.0.0" in plan
    assert "FITS: 0.01 GiB headroom per NPU" in plan
    assert (
        "| load: MLA's bf16 W_UK_T/W_UV copies of kv_b_proj (61 layers) | 255852544 | 0.24 |"
        in plan
    )


def test_help_shows_an_example(run_cli: Callable[..., CliOutcome]) -> None:
    for command in ("emit-launch", "plan"):
        outcome = run_cli(command, "--help")
        assert outcome.exit_code == 0
        assert "Example: dsprep " + command in outcome.stdout


def test_installed_wheel_emits_the_same_files(tmp_path: Path) -> None:
    """Profiles (package data) and templates/launch (wheel _data) work from a built wheel."""
    import subprocess
    import sys
    import zipfile

    from tests.conftest import REPO_ROOT

    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(REPO_ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = dist.glob("dsprep-*.whl")
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    cluster = write_cluster(tmp_path, example_document())
    code = (
        "import sys; from pathlib import Path; import dsprep.launch.emit as e;"
        "assert Path(e.__file__).is_relative_to(Path(sys.argv[3])), e.__file__;"
        "r = e.emit_launch(Path(sys.argv[1]), Path(sys.argv[2])); assert r.ok, r.findings"
    )
    subprocess.run(
        [sys.executable, "-c", code, str(cluster), str(tmp_path / "wheel-out"), str(site)],
        check=True,
        env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
        cwd=tmp_path,
    )
    from dsprep.launch.emit import emit_launch

    assert emit_launch(cluster, tmp_path / "checkout-out").ok
    for produced in sorted((tmp_path / "checkout-out").rglob("*")):
        if produced.is_file():
            relative = produced.relative_to(tmp_path / "checkout-out")
            assert (tmp_path / "wheel-out" / relative).read_bytes() == produced.read_bytes()


def test_readme_cluster_example_is_valid(tmp_path: Path) -> None:
    from dsprep.launch.emit import validate
    from tests.conftest import REPO_ROOT

    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### `dsprep emit-launch") :]
    block = section[section.index("```yaml\n") + 8 :]
    cluster = tmp_path / "readme.yaml"
    cluster.write_text(block[: block.index("```")], encoding="utf-8")
    outcome = validate(cluster)
    assert outcome.cluster is not None, outcome.findings
    assert [f.code for f in outcome.findings] == ["npu-ips-not-set", "memory-tight"]
