"""A hostile listing cannot make `dsprep fetch` write outside --local-dir (issue 13, item 1)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from dsprep.demo.hub import LoopbackHub, bytes_file, folder_files
from dsprep.weights.folder import PathEscape
from dsprep.weights.hubclient import HubClient, RemoteFile
from dsprep.weights.listing import name_problem
from tests.conftest import CliOutcome
from tests.fetch.conftest import W8A8
from tests.fetch.test_fetch import SHARD_3, fetch_args

Run = Callable[..., CliOutcome]
EVIL = "evil/Sample-w8a8"
PAYLOAD = b'{"pwned": true}\n'


def evil_hub(sample_repos: dict[str, Path], *names: str) -> LoopbackHub:
    files = folder_files(sample_repos[W8A8]) + [bytes_file(n, PAYLOAD) for n in names]
    return LoopbackHub({EVIL: files})


def assert_refused_naming(outcome: CliOutcome, name: str) -> None:
    assert outcome.exit_code == 1, outcome.stdout + outcome.stderr
    document = outcome.json()
    escapes = [f for f in document["findings"] if f["code"] == "path-escape"]
    assert escapes and repr(name) in escapes[0]["path"], document["findings"]
    assert document["data"]["refused"] is True
    assert document["data"]["downloaded"] == []


@pytest.mark.parametrize(
    "name",
    [
        "../victim.txt",
        "../../x.json",
        "../x.safetensors",
        "sub/../../victim.txt",
        "nul\x00byte.json",
        "line\nbreak.json",
        "..\\victim.txt",
        ".dsprep/manifest.json",
        "config.json.dsprep-orig",
        "model.safetensors.incomplete",
        "x" * 201 + ".json",
        "a//b.json",
    ],
)
def test_a_listed_name_outside_the_folder_stops_the_fetch_before_any_download(
    run_cli: Run, sample_repos: dict[str, Path], tmp_path: Path, name: str
) -> None:
    victim_dir = tmp_path / "root"
    dest = victim_dir / "a" / "model"
    with evil_hub(sample_repos, name) as hub:
        outcome = run_cli(*fetch_args(hub, EVIL, dest, "--format", "json"))
        assert hub.downloads() == []  # nothing at all was requested, not even config.json
    assert_refused_naming(outcome, name)
    assert not (tmp_path / "victim.txt").exists() and not (tmp_path / "x.json").exists()
    assert not (victim_dir / "victim.txt").exists() and not (victim_dir / "a").exists()


def test_an_absolute_name_never_overwrites_that_file(
    run_cli: Run, sample_repos: dict[str, Path], tmp_path: Path
) -> None:
    victim = tmp_path / "victim.json"
    victim.write_text("mine\n")
    with evil_hub(sample_repos, str(victim)) as hub:
        outcome = run_cli(*fetch_args(hub, EVIL, tmp_path / "m", "--format", "json"))
    assert_refused_naming(outcome, str(victim))
    assert victim.read_text() == "mine\n"


def test_a_nul_in_a_listed_name_is_a_finding_not_an_internal_error(
    run_cli: Run, sample_repos: dict[str, Path], tmp_path: Path
) -> None:
    with evil_hub(sample_repos, "tok\x00enizer.json") as hub:
        outcome = run_cli(*fetch_args(hub, EVIL, tmp_path / "m"))
    assert outcome.exit_code == 1
    assert "internal error" not in outcome.stdout + outcome.stderr
    assert "'tok\\x00enizer.json'" in outcome.stdout and "[path-escape]" in outcome.stdout
    assert "the listing names files outside the folder" in outcome.stdout


def test_a_symlinked_subfolder_is_not_followed_out_of_the_folder(
    run_cli: Run, sample_repos: dict[str, Path], tmp_path: Path
) -> None:
    """``sub/x.json`` is a plain name, but ``DIR/sub`` links elsewhere: the client would
    follow it (it joins ``local_dir / name``); fetch resolves every target first."""
    outside = tmp_path / "outside"
    outside.mkdir()
    dest = tmp_path / "model"
    dest.mkdir()
    (dest / "sub").symlink_to(outside)
    with evil_hub(sample_repos, "sub/x.json") as hub:
        outcome = run_cli(*fetch_args(hub, EVIL, dest, "--format", "json"))
        assert hub.downloads() == []
    assert outcome.exit_code == 1
    escape = next(f for f in outcome.json()["findings"] if f["code"] == "path-escape")
    assert "sub/x.json" in escape["message"] and str(outside) in escape["message"]
    assert list(outside.iterdir()) == []


def test_a_partial_file_symlinked_elsewhere_is_not_appended_to(
    run_cli: Run, hub: LoopbackHub, tmp_path: Path
) -> None:
    """The client appends to ``<shard>.incomplete`` to resume: a link there is an escape."""
    outside = tmp_path / "precious.bin"
    outside.write_bytes(b"precious")
    dest = tmp_path / "model"
    dest.mkdir()
    (dest / f"{SHARD_3}.incomplete").symlink_to(outside)
    outcome = run_cli(*fetch_args(hub, W8A8, dest, "--format", "json"))
    assert outcome.exit_code == 1
    assert "path-escape" in [f["code"] for f in outcome.json()["findings"]]
    assert outside.read_bytes() == b"precious"
    assert hub.downloads() == []


def test_the_client_download_itself_stays_inside_the_folder(
    sample_repos: dict[str, Path], tmp_path: Path
) -> None:
    """HubClient.download_many, the real client's per-file download, refuses a name the
    client would resolve outside ``local_dir`` (``local_dir / '../victim.txt'``)."""
    dest = tmp_path / "inner" / "model"
    dest.mkdir(parents=True)
    with evil_hub(sample_repos, "../victim.txt") as hub:
        client = HubClient(EVIL, hub.endpoint, cache_dir=tmp_path / "cache", token="")
        listed = {f.path: f for f in client.list_files("master")}
        escaping = listed["../victim.txt"]
        with pytest.raises(PathEscape) as refused:
            client.download_many([escaping], "master", dest, 2)
        assert hub.downloads() == []
        # a plain name goes through the same call and lands where it should
        client.download_many([listed["config.json"]], "master", dest, 2)
    assert "../victim.txt" in refused.value.finding.message
    assert not (tmp_path / "inner" / "victim.txt").exists()
    assert (dest / "config.json").read_bytes() == (sample_repos[W8A8] / "config.json").read_bytes()
    assert sorted(os.listdir(dest)) == ["config.json"]
    assert isinstance(escaping, RemoteFile)


@pytest.mark.parametrize(
    "name",
    ["config.json", "sub/dir/tokenizer.json", "model-00001-of-00002.safetensors", "日本語.json"],
)
def test_plain_names_pass(name: str) -> None:
    assert name_problem(name) is None
