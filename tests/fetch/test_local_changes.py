"""A re-fetch keeps what the folder's owner changed (issue 13, item 2), and skips re-reading
what the manifest says is unchanged (the speed item)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from dsprep.demo.hub import LoopbackHub, bytes_file, folder_files
from dsprep.weights.manifest import load_manifest, manifest_path, validation_errors
from tests.conftest import CliOutcome
from tests.fetch.conftest import FLOAT16, W8A8
from tests.fetch.test_fetch import SHARD_2, fetch_args, shard_requests

Run = Callable[..., CliOutcome]


def fetched(run_cli: Run, hub: LoopbackHub, dest: Path, *extra: str) -> dict:
    outcome = run_cli(*fetch_args(hub, W8A8, dest, "--format", "json", *extra))
    assert outcome.exit_code in (0, 1), outcome.stdout + outcome.stderr
    document: dict = outcome.json()
    document["exit_code"] = outcome.exit_code
    return document


def findings_of(document: dict, code: str) -> list[dict]:
    return [f for f in document["findings"] if f["code"] == code]


def test_a_dsprep_rewrite_survives_a_second_fetch(
    run_cli: Run, hub: LoopbackHub, tmp_path: Path
) -> None:
    """``check --fix`` rewrites config.json (float16 → bfloat16) and keeps the download as
    config.json.dsprep-orig; fetching again must neither revert it nor call it an edit."""
    dest = tmp_path / "model"
    first = run_cli(*fetch_args(hub, FLOAT16, dest))
    assert first.exit_code == 1 and "[torch-dtype]" in first.stdout  # fixable, reported
    fixed = run_cli("check", str(dest), "--fix")
    assert (dest / "config.json.dsprep-orig").exists(), fixed.stdout + fixed.stderr
    ours = (dest / "config.json").read_bytes()
    assert b"bfloat16" in ours
    hub.clear_log()

    outcome = run_cli(*fetch_args(hub, FLOAT16, dest, "--format", "json"))
    again = outcome.json()
    assert hub.downloads() == []
    assert (dest / "config.json").read_bytes() == ours
    note = findings_of(again, "rewritten-by-dsprep")
    assert [(n["severity"], Path(n["path"]).name) for n in note] == [("info", "config.json")]
    assert again["data"]["kept"] == ["config.json"]
    assert findings_of(again, "local-change") == [] and findings_of(again, "torch-dtype") == []
    assert outcome.exit_code == 0


def test_a_hand_edit_is_reported_and_kept(run_cli: Run, hub: LoopbackHub, tmp_path: Path) -> None:
    dest = tmp_path / "model"
    fetched(run_cli, hub, dest)
    config = dest / "config.json"
    edited = json.loads(config.read_text())
    edited["max_position_embeddings"] = 4096  # the user's own choice
    config.write_text(json.dumps(edited, indent=2))
    mine = config.read_bytes()
    hub.clear_log()

    again = fetched(run_cli, hub, dest)
    assert hub.downloads() == []
    assert config.read_bytes() == mine
    change = findings_of(again, "local-change")
    assert len(change) == 1 and change[0]["severity"] == "warning"
    assert change[0]["path"].endswith("config.json")
    assert "--overwrite-local" in change[0]["hint"]
    assert again["data"]["kept"] == ["config.json"]
    assert again["exit_code"] == 0  # a warning: the user's edit is legitimate
    # the manifest still says what the hub serves, so check --verify-hashes tells them apart
    listed = {f.path: f for f in load_manifest(manifest_path(dest)).files}
    assert listed["config.json"].sha256 == hub.listing(W8A8)["config.json"].sha256
    assert listed["config.json"].inode is None  # no stat: it is re-examined every time


def test_overwrite_local_backs_the_edit_up_first_and_never_loses_one(
    run_cli: Run, hub: LoopbackHub, sample_repos: dict[str, Path], tmp_path: Path
) -> None:
    dest = tmp_path / "model"
    fetched(run_cli, hub, dest)
    original = (sample_repos[W8A8] / "config.json").read_bytes()
    config = dest / "config.json"
    config.write_bytes(original.replace(b"{", b'{"note": "first edit",', 1))
    first = config.read_bytes()

    replaced = fetched(run_cli, hub, dest, "--overwrite-local")
    assert config.read_bytes() == original
    assert (dest / "config.json.dsprep-local").read_bytes() == first
    assert replaced["data"]["downloaded"] == ["config.json"]
    assert replaced["data"]["backups"] == ["config.json.dsprep-local"]
    note = findings_of(replaced, "local-change")
    assert [n["severity"] for n in note] == ["info"]

    config.write_bytes(original.replace(b"{", b'{"note": "second edit",', 1))
    second = config.read_bytes()
    again = fetched(run_cli, hub, dest, "--overwrite-local")
    assert again["data"]["backups"] == ["config.json.dsprep-local.1"]
    assert (
        "moved aside as config.json.dsprep-local.1"
        in findings_of(again, "local-change")[0]["message"]
    )
    assert (dest / "config.json.dsprep-local").read_bytes() == first
    assert (dest / "config.json.dsprep-local.1").read_bytes() == second
    assert config.read_bytes() == original


def test_a_changed_shard_is_kept_then_replaced_on_request(
    run_cli: Run, hub: LoopbackHub, sample_repos: dict[str, Path], tmp_path: Path
) -> None:
    dest = tmp_path / "model"
    fetched(run_cli, hub, dest)
    shard = dest / SHARD_2
    damaged = bytearray(shard.read_bytes())
    damaged[-1] ^= 0xFF  # same size, other bytes
    shard.write_bytes(bytes(damaged))
    hub.clear_log()

    kept = fetched(run_cli, hub, dest)
    assert shard_requests(hub) == [] and shard.read_bytes() == bytes(damaged)
    assert [Path(f["path"]).name for f in findings_of(kept, "local-change")] == [SHARD_2]

    replaced = fetched(run_cli, hub, dest, "--overwrite-local")
    assert shard_requests(hub) == [SHARD_2]
    assert shard.read_bytes() == (sample_repos[W8A8] / SHARD_2).read_bytes()
    assert (dest / f"{SHARD_2}.dsprep-local").read_bytes() == bytes(damaged)
    assert replaced["exit_code"] == 0


def test_a_file_the_hub_updated_is_replaced_without_a_backup(
    run_cli: Run, sample_repos: dict[str, Path], tmp_path: Path
) -> None:
    """The old copy is the one dsprep verified (the manifest says so): nothing of the user's."""
    dest = tmp_path / "model"
    files = folder_files(sample_repos[W8A8])
    older = b'{"bos_token_id": 0, "eos_token_id": 1}\n'
    with LoopbackHub({W8A8: [*files, bytes_file("generation_config.json", older)]}) as hub:
        fetched(run_cli, hub, dest)
    assert (dest / "generation_config.json").read_bytes() == older
    newer = b'{"bos_token_id": 0, "eos_token_id": 1, "do_sample": true}\n'
    updated = [*files, bytes_file("generation_config.json", newer)]
    with LoopbackHub({W8A8: updated}) as hub:
        again = fetched(run_cli, hub, dest)
        assert [r.file_path for r in hub.downloads()] == ["generation_config.json"]
    assert (dest / "generation_config.json").read_bytes() == newer
    assert not (dest / "generation_config.json.dsprep-local").exists()
    assert findings_of(again, "local-change") == []


def test_a_no_op_refetch_reads_no_file_and_verify_reads_them_all(
    run_cli: Run, hub: LoopbackHub, tmp_path: Path
) -> None:
    dest = tmp_path / "model"
    first = fetched(run_cli, hub, dest)
    document = json.loads(manifest_path(dest).read_text())
    assert validation_errors(document) == []
    assert all({"mtime_ns", "ctime_ns", "inode"} <= set(f) for f in document["files"])
    hub.clear_log()

    again = fetched(run_cli, hub, dest)
    assert again["data"]["hashed_bytes"] == 0 and hub.downloads() == []
    assert again["data"]["reused"] == sorted(first["data"]["downloaded"])

    verified = fetched(run_cli, hub, dest, "--verify")
    assert verified["data"]["hashed_bytes"] == verified["data"]["bytes"]
    assert verified["data"]["downloaded"] == []


def test_a_manifest_without_stat_records_still_loads_and_is_upgraded(
    run_cli: Run, hub: LoopbackHub, tmp_path: Path
) -> None:
    dest = tmp_path / "model"
    fetched(run_cli, hub, dest)
    path = manifest_path(dest)
    document = json.loads(path.read_text())
    for entry in document["files"]:
        for key in ("mtime_ns", "ctime_ns", "inode"):
            entry.pop(key)
    path.write_text(json.dumps(document, indent=2))
    assert validation_errors(document) == []
    assert load_manifest(path).files[0].inode is None
    checked = run_cli("check", str(dest), "--verify-hashes", "--format", "json")
    assert checked.exit_code == 0, checked.stdout
    hub.clear_log()

    again = fetched(run_cli, hub, dest)  # hashes once, then records the stat again
    assert again["data"]["hashed_bytes"] == again["data"]["bytes"]
    assert hub.downloads() == []
    assert all("inode" in f for f in json.loads(path.read_text())["files"])
    assert fetched(run_cli, hub, dest)["data"]["hashed_bytes"] == 0
