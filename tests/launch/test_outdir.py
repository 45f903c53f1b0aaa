"""``emit-launch --out``: all or nothing, idempotent, the previous output recoverable, and a
user's edit to an emitted file never dropped without a copy and a finding."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dsprep.launch.emit import reserved_names
from dsprep.launch.outdir import MANIFEST_NAME
from dsprep.resources import load_schema
from tests.conftest import CliOutcome
from tests.launch.conftest import example_document, write_cluster

SERVE = "node0/serve.sh"


def snapshot(folder: Path) -> dict[str, tuple[bytes, int, int]]:
    """Every file under ``folder``: bytes, mode and mtime."""
    found = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            info = path.stat()
            found[path.relative_to(folder).as_posix()] = (
                path.read_bytes(),
                info.st_mode,
                info.st_mtime_ns,
            )
    return found


@pytest.fixture
def emit_json(
    tmp_path: Path, run_cli: Callable[..., CliOutcome]
) -> Callable[..., tuple[int, dict[str, Any]]]:
    """Write the document as cluster.yaml, emit into tmp_path/out; (exit code, JSON)."""

    def go(document: dict[str, Any] | None = None, out: str = "out") -> tuple[int, dict[str, Any]]:
        cluster = write_cluster(tmp_path, document or example_document())
        outcome = run_cli(
            "emit-launch", str(cluster), "--out", str(tmp_path / out), "--format", "json"
        )
        return outcome.exit_code, outcome.json()

    return go


def test_a_second_edit_survives_the_third_run(
    tmp_path: Path, emit_json: Callable[..., tuple[int, dict[str, Any]]]
) -> None:
    out = tmp_path / "out"
    assert emit_json()[0] == 0
    emitted = (out / SERVE).read_text(encoding="utf-8")
    (out / SERVE).write_text(emitted + "# first edit\n", encoding="utf-8")
    code, first = emit_json()
    assert code == 0
    assert (out / SERVE).read_text(encoding="utf-8") == emitted  # dsprep's script again
    assert (out / (SERVE + ".dsprep-user")).read_text(encoding="utf-8").endswith("# first edit\n")
    (out / SERVE).write_text(emitted + "# second edit\n", encoding="utf-8")
    code, second = emit_json()
    assert code == 0
    copies = {p.name: p.read_text(encoding="utf-8") for p in (out / "node0").glob("serve.sh.*")}
    assert sorted(copies) == ["serve.sh.dsprep-user", "serve.sh.dsprep-user-2"]
    assert copies["serve.sh.dsprep-user"].endswith("# first edit\n")
    assert copies["serve.sh.dsprep-user-2"].endswith("# second edit\n")
    (kept,) = [f for f in second["findings"] if f["code"] == "user-edit-kept"]
    assert kept["severity"] == "info" and kept["path"] == str(out / SERVE)
    assert "node0/serve.sh.dsprep-user-2" in kept["message"] and "your edit" in kept["message"]
    assert second["data"]["kept"] == [
        {"file": SERVE, "kept_as": SERVE + ".dsprep-user-2", "reason": "edited"}
    ]
    assert [f["code"] for f in first["findings"]].count("user-edit-kept") == 1


def test_the_text_summary_says_what_was_kept(
    tmp_path: Path, run_cli: Callable[..., CliOutcome]
) -> None:
    cluster = write_cluster(tmp_path, example_document())
    out = tmp_path / "launch"
    assert run_cli("emit-launch", str(cluster), "--out", str(out)).exit_code == 0
    (out / "verify.sh").write_text("#!/bin/bash\necho mine\n", encoding="utf-8")
    outcome = run_cli("emit-launch", str(cluster), "--out", str(out))
    assert outcome.exit_code == 0
    assert "kept your verify.sh as verify.sh.dsprep-user" in outcome.stdout
    assert f"the previous output is in {out}.dsprep-prev" in outcome.stdout
    assert "[user-edit-kept]" in outcome.stdout


def test_a_second_identical_run_changes_nothing(
    tmp_path: Path, emit_json: Callable[..., tuple[int, dict[str, Any]]]
) -> None:
    out = tmp_path / "out"
    code, first = emit_json()
    assert code == 0 and first["data"]["up_to_date"] is False
    before = snapshot(out)
    assert MANIFEST_NAME in before
    code, second = emit_json()
    assert code == 0 and second["data"]["up_to_date"] is True
    assert second["data"]["written"] == first["data"]["written"]
    assert snapshot(out) == before  # same bytes, modes and mtimes
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cluster.yaml", "out"]


def test_manifest_records_what_was_written(
    tmp_path: Path, emit_json: Callable[..., tuple[int, dict[str, Any]]]
) -> None:
    import hashlib

    code, report = emit_json()
    assert code == 0 and report["data"]["manifest"] == MANIFEST_NAME
    out = tmp_path / "out"
    manifest = json.loads((out / MANIFEST_NAME).read_text(encoding="utf-8"))
    assert list(manifest["files"]) == report["data"]["written"]
    for name, sha in manifest["files"].items():
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == sha


def test_a_failed_write_leaves_the_previous_output_untouched(
    tmp_path: Path,
    emit_json: Callable[..., tuple[int, dict[str, Any]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out = tmp_path / "out"
    assert emit_json()[0] == 0
    before = snapshot(out)
    changed = example_document()
    changed["model"]["served_name"] = "ds-v31-b"  # every script changes
    calls = {"n": 0}
    real_fsync = os.fsync

    def fail_on_the_fifth(fd: int) -> None:
        calls["n"] += 1
        if calls["n"] == 5:
            raise OSError(28, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fail_on_the_fifth)
    code, report = emit_json(changed)
    monkeypatch.undo()
    assert code == 3
    assert report["status"] == "error" and report["findings"][0]["code"] == "disk"
    assert "No space left on device" in report["findings"][0]["message"]
    assert snapshot(out) == before  # not one file of the new output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cluster.yaml", "out"]  # no staging


def test_the_previous_output_is_recoverable(
    tmp_path: Path, emit_json: Callable[..., tuple[int, dict[str, Any]]]
) -> None:
    out = tmp_path / "out"
    assert emit_json()[0] == 0
    first = {k: v[0] for k, v in snapshot(out).items()}
    changed = example_document()
    changed["model"]["served_name"] = "ds-v31-b"
    code, report = emit_json(changed)
    assert code == 0
    previous = tmp_path / "out.dsprep-prev"
    assert report["data"]["previous"] == str(previous)
    assert {k: v[0] for k, v in snapshot(previous).items()} == first
    assert b"ds-v31-b" in (out / "verify.sh").read_bytes()


def test_files_dsprep_did_not_write_move_along(
    tmp_path: Path, emit_json: Callable[..., tuple[int, dict[str, Any]]]
) -> None:
    out = tmp_path / "out"
    assert emit_json()[0] == 0
    (out / "notes.txt").write_text("mine\n", encoding="utf-8")
    (out / ".git").mkdir()
    (out / ".git" / "HEAD").write_text("ref: refs/heads/main\n", encoding="utf-8")
    (out / "node1" / "todo.md").write_text("check the NIC\n", encoding="utf-8")
    changed = example_document()
    changed["model"]["served_name"] = "ds-v31-b"
    code, report = emit_json(changed)
    assert code == 0
    assert (out / "notes.txt").read_text(encoding="utf-8") == "mine\n"
    assert (out / ".git" / "HEAD").read_text(encoding="utf-8") == "ref: refs/heads/main\n"
    assert (out / "node1" / "todo.md").read_text(encoding="utf-8") == "check the NIC\n"
    assert "user-edit-kept" not in [f["code"] for f in report["findings"]]


def test_a_file_in_the_way_of_an_emitted_one_is_kept(
    tmp_path: Path, emit_json: Callable[..., tuple[int, dict[str, Any]]]
) -> None:
    """An --out folder without a manifest (written by hand or an older dsprep)."""
    out = tmp_path / "out"
    (out / "node0").mkdir(parents=True)
    (out / "node0" / "serve.sh").write_text("my own serve\n", encoding="utf-8")
    (out / "PLAN.md").mkdir()  # a folder where a file goes: never "Is a directory"
    code, report = emit_json()
    assert code == 0, report
    assert (out / "node0" / "serve.sh.dsprep-user").read_text(encoding="utf-8") == "my own serve\n"
    assert (out / "PLAN.md.dsprep-user").is_dir() and (out / "PLAN.md").is_file()
    kept = {k["file"]: k for k in report["data"]["kept"]}
    assert set(kept) == {"node0/serve.sh", "PLAN.md"}
    assert {k["reason"] for k in kept.values()} == {"in the way"}


def test_a_removed_node_leaves_the_output(
    tmp_path: Path, emit_json: Callable[..., tuple[int, dict[str, Any]]]
) -> None:
    out = tmp_path / "out"
    three = example_document()
    three["nodes"].append(dict(three["nodes"][1], name="node2", ip="71.10.29.118"))
    three["parallel"]["dp"] = 3
    code, report = emit_json(three)
    assert code == 0, report["findings"]
    assert (out / "node2" / "serve.sh").is_file()
    code, report = emit_json()
    assert code == 0, report["findings"]
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["node0", "node1"]
    assert (tmp_path / "out.dsprep-prev" / "node2" / "serve.sh").is_file()


@pytest.mark.parametrize("name", ["PLAN.md", "verify.sh"])
def test_a_node_named_like_a_top_level_file_is_refused(
    tmp_path: Path, emit_json: Callable[..., tuple[int, dict[str, Any]]], name: str
) -> None:
    document = example_document()
    document["nodes"][1]["name"] = name
    code, report = emit_json(document)
    assert code == 1
    (finding,) = [f for f in report["findings"] if f["severity"] == "error"]
    assert finding["code"] == "cluster-schema"
    assert finding["message"].startswith("nodes[1].name: ")
    assert "emit-launch writes" in finding["message"]
    assert not (tmp_path / "out").exists()


def test_the_schema_refuses_every_reserved_name() -> None:
    node_name = load_schema("cluster.schema.json")["properties"]["nodes"]["items"]["properties"][
        "name"
    ]
    refused = next(part["not"]["enum"] for part in node_name["allOf"] if "not" in part)
    assert sorted(refused) == sorted(reserved_names())


def test_out_holding_the_current_folder_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_cli: Callable[..., CliOutcome]
) -> None:
    cluster = write_cluster(tmp_path, example_document())
    monkeypatch.chdir(tmp_path)
    outcome = run_cli("emit-launch", str(cluster), "--out", ".")
    assert outcome.exit_code == 3
    assert "holds the current folder" in outcome.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cluster.yaml"]
