"""A config.json or description that is not a JSON object stops fetch before any shard
(issue 13, item 10): an array, 200,000-deep nesting, NaN or Infinity in a number."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from dsprep.demo.hub import LoopbackHub, bytes_file, folder_files
from dsprep.weights.manifest import manifest_path
from tests.conftest import CliOutcome
from tests.fetch.conftest import W8A8
from tests.fetch.test_fetch import fetch_args, shard_requests

Run = Callable[..., CliOutcome]
ODD = "odd/Sample-w8a8"


def with_config(sample: Path, config: bytes, name: str = "config.json") -> LoopbackHub:
    files = [f for f in folder_files(sample) if f.path != name]
    return LoopbackHub({ODD: [*files, bytes_file(name, config)]})


def nan_config(sample: Path, value: str) -> bytes:
    text = (sample / "config.json").read_text()
    document = json.loads(text)
    old = json.dumps(document["num_hidden_layers"])
    return text.replace(f'"num_hidden_layers": {old}', f'"num_hidden_layers": {value}').encode()


@pytest.mark.parametrize("kind", ["array", "deep", "nan", "infinity", "huge"])
def test_an_unreadable_config_is_refused_before_any_shard(
    run_cli: Run, sample_repos: dict[str, Path], tmp_path: Path, kind: str
) -> None:
    sample = sample_repos[W8A8]
    config = {
        "array": b'[{"architectures": ["DeepseekV3ForCausalLM"]}]',
        "deep": b"[" * 200_000 + b"]" * 200_000,
        "nan": nan_config(sample, "NaN"),
        "infinity": nan_config(sample, "-Infinity"),
        "huge": nan_config(sample, "1e400"),
    }[kind]
    if kind in ("nan", "infinity", "huge"):
        assert b"num_hidden_layers" in config and config != (sample / "config.json").read_bytes()
    dest = tmp_path / "model"
    with with_config(sample, config) as hub:
        outcome = run_cli(*fetch_args(hub, ODD, dest, "--format", "json"))
        assert shard_requests(hub) == []
    assert outcome.exit_code == 1, outcome.stdout + outcome.stderr
    document = outcome.json()
    invalid = [f for f in document["findings"] if f["code"] == "invalid-json"]
    assert invalid and invalid[0]["path"].endswith("config.json")
    assert document["data"]["refused"] is True and document["data"]["refused_by"] == "metadata"
    assert not manifest_path(dest).exists()
    assert (dest / "config.json").read_bytes() == config  # kept for the user to look at


def test_an_unreadable_description_is_refused_before_any_shard(
    run_cli: Run, sample_repos: dict[str, Path], tmp_path: Path
) -> None:
    name = "quant_model_description.json"
    with with_config(sample_repos[W8A8], b'["W8A8_DYNAMIC"]', name) as hub:
        outcome = run_cli(*fetch_args(hub, ODD, tmp_path / "m", "--format", "json"))
        assert shard_requests(hub) == []
    assert outcome.exit_code == 1
    invalid = [f for f in outcome.json()["findings"] if f["code"] == "invalid-json"]
    assert invalid and invalid[0]["path"].endswith(name)


def test_the_text_summary_says_no_shard_was_requested(
    run_cli: Run, sample_repos: dict[str, Path], tmp_path: Path
) -> None:
    with with_config(sample_repos[W8A8], b"[]") as hub:
        outcome = run_cli(*fetch_args(hub, ODD, tmp_path / "m"))
    assert outcome.exit_code == 1
    assert "refused:  no weight shard was requested" in outcome.stdout
    assert "config.json holds a JSON array, not an object [invalid-json]" in outcome.stdout
