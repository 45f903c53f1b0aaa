"""``emit-launch CLUSTER --image TAG [--migrate]`` and ``--init --image TAG``: a cluster file
carried to another release, the changes listed, the file rewritten atomically with a
backup and its comments kept, the result valid under the new profile; each release's
documented defaults as the --init example."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from dsprep.findings import Severity
from dsprep.launch.emit import example_text, validate
from dsprep.launch.migrate import migrate
from dsprep.profiles import all_profiles, newest_profile
from tests.conftest import CliOutcome
from tests.launch.conftest import example_document, write_cluster

Run = Callable[..., CliOutcome]
NEWER = [p.name for p in all_profiles()][1:]


@pytest.fixture
def seed(tmp_path: Path) -> Path:
    path = tmp_path / "cluster.yaml"
    path.write_text(example_text(), encoding="utf-8")
    return path


def errors_of(path: Path) -> list[str]:
    return [f.code for f in validate(path).findings if f.severity is Severity.ERROR]


def changes(result: Any, scope: str) -> dict[str, tuple[str, str]]:
    return {
        c["key"]: (c["before"], c["after"]) for c in result.payload.changes if c["scope"] == scope
    }


@pytest.mark.parametrize("tag", NEWER)
def test_the_seed_migrates_to_every_newer_release(seed: Path, tag: str) -> None:
    before = seed.read_text(encoding="utf-8")
    listed = migrate(seed, tag, write=False)
    assert seed.read_text(encoding="utf-8") == before  # listing writes nothing
    assert listed.ok, listed.findings
    assert changes(listed, "file")["image.tag"] == ("v0.11.0rc0", tag)
    written = migrate(seed, tag, write=True)
    assert written.payload.written
    assert Path(written.payload.backup or "").read_text(encoding="utf-8") == before
    assert errors_of(seed) == []
    document = yaml.safe_load(seed.read_text(encoding="utf-8"))
    assert document["image"]["tag"] == tag
    again = migrate(seed, tag, write=True)  # idempotent: nothing left to change
    assert changes(again, "file") == {} and not again.payload.written


def test_torchair_to_full_decode_graphs(seed: Path) -> None:
    result = migrate(seed, "v0.18.0", write=True)
    files = changes(result, "file")
    assert files["graph.mode"] == ("torchair", "aclgraph")
    assert files["scheduler.ascend"] == ("true", "false")
    launch = changes(result, "launch")
    assert launch["serve.sh (every node) --compilation-config"] == (
        "(absent)",
        '{"cudagraph_mode":"FULL_DECODE_ONLY","cudagraph_capture_sizes":[8]}',
    )
    assert launch["env.sh VLLM_USE_V1"] == ("1", "(unset)")
    assert launch["env.sh OMP_NUM_THREADS"] == ("100", "1")
    defaults = changes(result, "default")
    assert defaults["env.VLLM_ASCEND_ENABLE_MLAPO"] == ("0", "1")
    assert defaults["API servers on the head"][1].startswith("one per DP rank")
    advice = changes(result, "advice")
    assert advice["parallel"] == ("tp 8, dp_local 1", "tp 4, dp_local 2, dp 4")
    text = seed.read_text(encoding="utf-8")
    # dsprep's own example comments are rewritten for the new release; the rest stay
    assert "mode: aclgraph             # aclgraph | eager (the graph modes of v0.18.0)" in text
    assert "# cudagraph_capture_sizes in tokens" in text
    assert "ascend: false              # v0.18.0 has no Ascend scheduler" in text
    assert "# the same name on every node" in text
    assert text.startswith("# dsprep cluster file: one file for every node")


def test_mtp_graph_sizes_carry_the_tokens_torchair_captured(tmp_path: Path) -> None:
    document = example_document()
    document["features"].update(mtp=True, mtp_tokens=1)
    document["graph"]["batch_sizes"] = [4, 16]  # torchair: 16 > 8 dropped, 8 appended
    path = write_cluster(tmp_path, document)
    result = migrate(path, "v0.13.0", write=True)
    assert changes(result, "file")["graph.batch_sizes"] == ("[4,16]", "[8,16]")
    assert yaml.safe_load(path.read_text())["graph"]["batch_sizes"] == [8, 16]
    launch = changes(result, "launch")
    assert launch["serve.sh (every node) --speculative-config"] == (
        '{"num_speculative_tokens":1,"method":"deepseek_mtp"}',
        '{"num_speculative_tokens":1,"method":"mtp"}',
    )


def test_moved_keys_env_and_flags(tmp_path: Path) -> None:
    document = example_document()
    document["env"] = {"VLLM_USE_V1": "1", "VLLM_ASCEND_ENABLE_MLAPO": "1", "OMP_NUM_THREADS": 8}
    document["additional_config"] = {"lmhead_tensor_parallel_size": 2, "init_redundancy_expert": 16}
    document["features"]["reasoning_parser"] = "granite"
    document["extra_args"] = [
        "--speculative-config",
        '{"num_speculative_tokens":1,"method":"deepseek_mtp"}',
        "--api-server-count",
        "1",
        "--block-size",
        "128",
    ]
    path = write_cluster(tmp_path, document)
    result = migrate(path, "v0.23.0", write=True)
    migrated = yaml.safe_load(path.read_text())
    assert migrated["env"] == {"OMP_NUM_THREADS": 8}
    assert migrated["additional_config"] == {
        "finegrained_tp_config": {"lmhead_tensor_parallel_size": 2},
        "eplb_config": {"num_redundant_experts": 16},
        "enable_mlapo": True,
    }
    assert migrated["extra_args"] == [
        "--speculative-config",
        '{"num_speculative_tokens":1,"method":"mtp"}',
        "--block-size",
        "128",
    ]
    assert migrated["features"]["reasoning_parser"] == "granite"  # vLLM 0.23 has granite
    files = changes(result, "file")
    assert files["env.VLLM_USE_V1"] == ("1", "(removed)")
    assert files["env.VLLM_ASCEND_ENABLE_MLAPO"] == ("1", "additional_config.enable_mlapo = true")
    assert files["extra_args[2] --api-server-count"] == ("1", "(removed)")
    codes = {f.code for f in result.findings}
    assert "additional-config-ignored" not in codes and "env-moved" not in codes


def test_a_reasoning_parser_the_new_vllm_lacks(tmp_path: Path) -> None:
    document = example_document()
    document["image"]["tag"] = "v0.13.0"
    document["graph"] = {"mode": "aclgraph"}
    document["scheduler"] = {"ascend": False}
    document["features"]["reasoning_parser"] = "holo2"  # vLLM 0.13 only
    path = write_cluster(tmp_path, document)
    result = migrate(path, "v0.12.0rc1", write=False)
    assert changes(result, "file")["features.reasoning_parser"] == ("holo2", "deepseek_v3")


def test_comments_the_edit_cannot_keep_are_named(tmp_path: Path) -> None:
    text = example_text().replace(
        "  max_num_seqs: 8            # concurrent sequences per DP rank",
        "  max_num_seqs: 8            # concurrent sequences per DP rank\n  # ours: keep this",
    )
    text = text.replace("extra_args: []", 'extra_args: ["--api-server-count", "2"]  # to go')
    path = tmp_path / "cluster.yaml"
    path.write_text(text, encoding="utf-8")
    result = migrate(path, "v0.18.0", write=True)
    written = path.read_text(encoding="utf-8")
    assert "  # ours: keep this\n" in written
    assert "extra_args: []" in written
    assert result.payload.comments_lost == []  # the flow list keeps its trailing comment
    document = yaml.safe_load(text)
    document["scheduler"] = {"ascend": True, "chunked_prefill": False}
    document["container"] = {"name": "x"}
    path.write_text(yaml.safe_dump(document, sort_keys=False) + "# trailing words\n")
    again = migrate(path, "v0.23.0", write=True)
    assert again.payload.written and not again.payload.rewritten


def test_a_json_cluster_file_stays_json(tmp_path: Path) -> None:
    path = write_cluster(tmp_path, example_document(), "cluster.json")
    result = migrate(path, "v0.12.0rc1", write=True)
    assert result.payload.written
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["graph"]["mode"] == "aclgraph"
    assert errors_of(path) == []


def test_cli_lists_then_migrates_and_emits(seed: Path, run_cli: Run, tmp_path: Path) -> None:
    tag = newest_profile().name
    listed = run_cli("emit-launch", str(seed), "--image", tag)
    assert listed.exit_code == 0, listed.stdout
    assert listed.stdout.startswith(f"{seed}: v0.11.0rc0 → {tag} (image tag {tag})\n")
    assert "the cluster file changes:\n  image.tag: v0.11.0rc0 → " in listed.stdout
    assert f"--image {tag} --migrate rewrites it" in listed.stdout
    out = tmp_path / "out"
    done = run_cli("emit-launch", str(seed), "--image", tag, "--migrate", "--out", str(out))
    assert done.exit_code == 0, done.stdout
    assert f"rewrote {seed} (the original is kept as {seed}.dsprep-orig)" in done.stdout
    assert "wrote 18 files to" in done.stdout
    assert "FULL_DECODE_ONLY" in (out / "node0" / "vllm.sh").read_text()
    again = run_cli("emit-launch", str(seed), "--image", tag, "--format", "json")
    document = again.json()
    assert document["status"] == "ok"
    assert [c for c in document["data"]["changes"] if c["scope"] == "file"] == []


def test_cli_usage_and_unknown_tag(seed: Path, run_cli: Run, tmp_path: Path) -> None:
    assert run_cli("emit-launch", str(seed), "--migrate").exit_code == 2
    both = run_cli("emit-launch", str(seed), "--image", "v0.13.0", "--out", str(tmp_path / "o"))
    assert both.exit_code == 2 and "--image with --out needs --migrate" in both.stderr
    unknown = run_cli("emit-launch", str(seed), "--image", "v0.13.1")
    assert unknown.exit_code == 3
    assert "known: " in unknown.stderr and "nearest: v0.13.0" in unknown.stderr


def test_a_file_with_schema_errors_is_not_migrated(tmp_path: Path, run_cli: Run) -> None:
    document = example_document()
    document["nodes"][1]["ip"] = "node-1"
    path = write_cluster(tmp_path, document)
    before = path.read_text()
    outcome = run_cli("emit-launch", str(path), "--image", "v0.13.0", "--migrate")
    assert outcome.exit_code == 1
    assert "not migrated: fix the problems below first" in outcome.stdout
    assert "nodes[1].ip" in outcome.stdout
    assert path.read_text() == before


def test_a_read_only_file_is_refused(seed: Path, run_cli: Run) -> None:
    seed.chmod(0o444)
    outcome = run_cli("emit-launch", str(seed), "--image", "v0.13.0", "--migrate")
    assert outcome.exit_code == 3
    assert str(seed) in outcome.stderr
    assert "tag: v0.11.0rc0" in seed.read_text()


# --- --init --image ----------------------------------------------------------------------------


def test_init_image_of_the_seed_release_is_the_seed(tmp_path: Path, run_cli: Run) -> None:
    target = tmp_path / "c.yaml"
    assert run_cli("emit-launch", "--init", str(target), "--image", "v0.11.0rc0").exit_code == 0
    assert target.read_text(encoding="utf-8") == example_text()


@pytest.mark.parametrize("tag", NEWER)
def test_init_image_writes_the_release_guide_defaults(
    tag: str, tmp_path: Path, run_cli: Run
) -> None:
    target = tmp_path / "c.yaml"
    outcome = run_cli("emit-launch", "--init", str(target), "--image", tag)
    assert outcome.exit_code == 0, outcome.stderr
    assert f"vllm-ascend {tag}'s documented multi-node defaults" in outcome.stdout
    text = target.read_text(encoding="utf-8")
    assert f"multi-node DeepSeek-V3.1 example of vllm-ascend {tag}'s guide" in text
    assert "# the same name on every node" in text  # the example's comments stay
    document = yaml.safe_load(text)
    assert document["image"]["tag"] == tag
    assert document["parallel"] == {"tp": 4, "dp": 4, "dp_local": 2, "expert_parallel": True}
    assert errors_of(target) == []


def test_init_image_documented_values(tmp_path: Path) -> None:
    from dsprep.launch.emit import write_example

    target = tmp_path / "c.yaml"
    write_example(target, "v0.13.0")
    document = yaml.safe_load(target.read_text())
    assert document["limits"]["max_num_seqs"] == 16
    assert document["features"]["mtp"] is True and document["features"]["mtp_tokens"] == 3
    assert document["graph"] == {"mode": "aclgraph", "batch_sizes": [4, 16, 32, 48, 64]}
    assert document["extra_args"] == ["--async-scheduling"]
    assert "scheduler" not in document
    later = tmp_path / "d.yaml"
    write_example(later, "v0.23.0-a3")
    document = yaml.safe_load(later.read_text())
    assert document["image"]["tag"] == "v0.23.0-a3"
    assert "batch_sizes" not in document["graph"] and document["extra_args"] == []


def test_plan_states_the_release_guide_layout_as_advice(seed: Path, run_cli: Run) -> None:
    outcome = run_cli("plan", str(seed))
    assert outcome.exit_code == 0
    assert "Advice from vllm-ascend v0.11.0rc0's own guide (never applied):" in outcome.stdout
    assert "- parallel: tp 8, dp_local 1 → tp 4, dp_local 2, dp 4" in outcome.stdout
    text = seed.read_text()
    seed.write_text(
        text.replace("tp: 8 ", "tp: 4 ")
        .replace("dp: 2 ", "dp: 4 ")
        .replace("dp_local: 1 ", "dp_local: 2 ")
    )
    quiet = run_cli("plan", str(seed))
    assert "- parallel:" not in quiet.stdout


def test_every_release_example_emits_shellcheck_clean_scripts(tmp_path: Path, run_cli: Run) -> None:
    import subprocess
    import sys

    from dsprep.launch.emit import write_example

    scripts: list[Path] = []
    for profile in all_profiles():
        folder = tmp_path / profile.name
        folder.mkdir()
        write_example(folder / "cluster.yaml", profile.name)
        outcome = run_cli("emit-launch", str(folder / "cluster.yaml"), "--out", str(folder / "out"))
        assert outcome.exit_code == 0, outcome.stdout
        env = (folder / "out" / "node1" / "env.sh").read_text(encoding="utf-8")
        for entry in profile.launch.env:
            assert f"export {entry.name}=" in env
        scripts += sorted((folder / "out").rglob("*.sh"))
    shellcheck = Path(sys.executable).parent / "shellcheck"
    done = subprocess.run(
        [str(shellcheck), "--severity=style", *map(str, scripts)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout


def test_a_start_s_figures_are_flagged_when_the_release_changes(
    seed: Path, run_cli: Run, tmp_path: Path
) -> None:
    """limits.weights_gib / reserve_gib describe the release that ran; migrating keeps them
    (the file is the user's) and says to measure them again."""
    text = seed.read_text(encoding="utf-8").replace(
        "  gpu_memory_utilization: 0.9", "  gpu_memory_utilization: 0.9\n  weights_gib: 44.93", 1
    )
    cluster = tmp_path / "measured.yaml"
    cluster.write_text(text, encoding="utf-8")
    outcome = run_cli("emit-launch", str(cluster), "--image", "v0.23.0")
    assert outcome.exit_code == 0, outcome.stdout + outcome.stderr
    assert (
        "limits.weights_gib: 44.93 → (measure again) (a figure of a v0.11.0rc0 start;"
        in outcome.stdout
    )
    same = run_cli("emit-launch", str(cluster), "--image", "v0.11.0rc0")
    assert "measure again" not in same.stdout
