"""The cluster file holds JSON types only: YAML aliases are refused (a "billion laughs" file
stops at once, in bounded memory), and timestamps, !!binary, .nan, octal/hex/underscore
integers, duplicate keys and non-string keys are schema findings, never an internal error."""

from __future__ import annotations

import itertools
import json
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from dsprep.launch.cluster import load_cluster
from dsprep.launch.emit import example_text
from tests.conftest import CliOutcome

LEVELS = "abcdefghi"  # 9 levels of 9 aliases each: 9**9 = 387 million strings when expanded
MEMORY_LIMIT = 512 * 1024 * 1024  # a normal emit-launch needs less than half of this


def bomb_text() -> str:  # also used by tests/hooks/test_check_cluster.py
    """The example cluster file whose additional_config expands to gigabytes."""
    lines = [f'    {LEVELS[0]}: &{LEVELS[0]} ["lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for previous, level in itertools.pairwise(LEVELS):
        lines.append(f"    {level}: &{level} [{', '.join([f'*{previous}'] * 9)}]")
    text = example_text().replace("additional_config: {}", "additional_config:\n  laughs:")
    return text.replace("  laughs:", "  laughs:\n" + "\n".join(lines), 1)


def replace_line(key: str, value: str) -> str:
    """The example with the first line setting ``key`` set to ``value`` instead."""
    lines = example_text().splitlines(keepends=True)
    for i, line in enumerate(lines):
        stripped = line.lstrip()
        if stripped.startswith(f"{key}:"):
            indent = line[: len(line) - len(stripped)]
            lines[i] = f"{indent}{key}: {value}\n"
            return "".join(lines)
    raise AssertionError(f"no line sets {key}")


def limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


@pytest.mark.parametrize("command", ["emit-launch", "plan"])
def test_alias_bomb_stops_at_once_in_bounded_memory(tmp_path: Path, command: str) -> None:
    cluster = tmp_path / "cluster.yaml"
    cluster.write_text(bomb_text(), encoding="utf-8")
    args = (
        [str(cluster), "--out", str(tmp_path / "out")]
        if command == "emit-launch"
        else [str(cluster)]
    )
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "dsprep", command, *args],
        preexec_fn=limit_memory,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    elapsed = time.monotonic() - started
    assert done.returncode == 3, done.stdout + done.stderr
    assert "YAML aliases (*a) are not accepted in a cluster file" in done.stderr
    assert f"{cluster}, line " in done.stderr
    assert "MemoryError" not in done.stderr and "internal error" not in done.stderr
    assert elapsed < 20, elapsed
    assert not (tmp_path / "out").exists()


def test_a_single_alias_is_refused_too(tmp_path: Path) -> None:
    """No bound to tune: a cluster file needs no aliases at all."""
    text = example_text().replace("nic: enp67s0f0np0", "nic: &nic enp67s0f0np0", 1)
    text = text.replace("nic: enp67s0f0np0", "nic: *nic", 1)
    cluster = tmp_path / "cluster.yaml"
    cluster.write_text(text, encoding="utf-8")
    from dsprep.errors import InputError

    with pytest.raises(InputError, match=r"YAML aliases \(\*nic\) are not accepted"):
        load_cluster(cluster)


CASES = [
    # (key, value, key path of the finding, words the message must hold)
    ("gpu_memory_utilization", ".nan", "limits.gpu_memory_utilization", "NaN and infinity"),
    ("gpu_memory_utilization", "-.inf", "limits.gpu_memory_utilization", "NaN and infinity"),
    ("served_name", "!!binary aGVsbG8=", "model.served_name", "the tag !!binary"),
    ("served_name", "!!python/object:os.system x", "model.served_name", "!!python/object"),
    ("served_name", "!!timestamp 2025-10-01", "model.served_name", "!!timestamp"),
    ("served_name", "!!set {a, b}", "model.served_name", "!!set"),
    ("api", "017777", "ports.api", "octal and leading-zero numbers are not accepted"),
    ("api", "08000", "ports.api", "octal and leading-zero numbers are not accepted"),
    ("api", "0x1F40", "ports.api", "hexadecimal numbers are not accepted"),
    ("api", "8_000", "ports.api", "numbers with _ separators are not accepted"),
    ("api", "133:20", "ports.api", "base-60 numbers are not accepted"),
    ("api", "!!int 017777", "ports.api", "octal"),
    ("gpu_memory_utilization", "0_9.5", "limits.gpu_memory_utilization", "_ separators"),
]


@pytest.mark.parametrize(("key", "value", "where", "words"), CASES)
def test_values_json_cannot_hold_are_schema_findings(
    tmp_path: Path,
    run_cli: Callable[..., CliOutcome],
    key: str,
    value: str,
    where: str,
    words: str,
) -> None:
    cluster = tmp_path / "cluster.yaml"
    cluster.write_text(replace_line(key, value), encoding="utf-8")
    outcome = run_cli("plan", str(cluster), "--format", "json")
    assert outcome.exit_code == 1, outcome.stdout
    errors = [f for f in outcome.json()["findings"] if f["severity"] == "error"]
    assert [(f["code"], f["message"].split(":")[0]) for f in errors] == [("cluster-schema", where)]
    assert words in errors[0]["message"]
    assert "(line " in errors[0]["message"]


def test_a_timestamp_stays_a_string(tmp_path: Path, run_cli: Callable[..., CliOutcome]) -> None:
    cluster = tmp_path / "cluster.yaml"
    cluster.write_text(replace_line("tag", "2025-10-01"), encoding="utf-8")
    outcome = run_cli("plan", str(cluster), "--format", "json")
    assert outcome.exit_code == 1
    (error,) = [f for f in outcome.json()["findings"] if f["severity"] == "error"]
    assert error["code"] == "unknown-image-tag" and "'2025-10-01'" in error["message"]


def test_octal_port_is_not_silently_8191(tmp_path: Path) -> None:
    cluster = tmp_path / "cluster.yaml"
    cluster.write_text(replace_line("api", "017777"), encoding="utf-8")
    loaded = load_cluster(cluster)
    assert loaded.cluster is None
    assert "YAML 1.1 reads 017777 as 8191" in loaded.findings[0].message


def test_duplicate_key_names_the_key_and_both_lines(tmp_path: Path) -> None:
    text = example_text()
    lines = text.splitlines(keepends=True)
    first = next(i for i, line in enumerate(lines) if line.lstrip().startswith("api:"))
    indent = lines[first][: len(lines[first]) - len(lines[first].lstrip())]
    lines.insert(first + 1, f"{indent}api: 9000\n")
    cluster = tmp_path / "cluster.yaml"
    cluster.write_text("".join(lines), encoding="utf-8")
    loaded = load_cluster(cluster)
    assert loaded.cluster is None
    (finding,) = loaded.findings
    assert finding.code == "cluster-schema"
    assert finding.message.startswith("ports.api: the key 'api' is given twice")
    assert f"at lines {first + 1} and {first + 2}" in finding.message


def test_non_string_key_is_a_finding(tmp_path: Path) -> None:
    cluster = tmp_path / "cluster.yaml"
    cluster.write_text(example_text().replace("env: {}", "env: {1: one}"), encoding="utf-8")
    loaded = load_cluster(cluster)
    assert loaded.cluster is None
    assert any(
        f.message.startswith("env.1: the key '1' is not a string") for f in loaded.findings
    ), loaded.findings


def test_other_schema_errors_are_still_reported_beside(tmp_path: Path) -> None:
    text = replace_line("api", "017777").replace("dp_rpc: 13389", "dp_rpc: many", 1)
    cluster = tmp_path / "cluster.yaml"
    cluster.write_text(text, encoding="utf-8")
    loaded = load_cluster(cluster)
    assert [f.message.split(":")[0] for f in loaded.findings] == ["ports.api", "ports.dp_rpc"]


def test_json_cluster_nan_and_duplicate_keys(tmp_path: Path) -> None:
    import yaml

    document = yaml.safe_load(example_text())
    text = json.dumps(document)
    text = text.replace('"gpu_memory_utilization": 0.9', '"gpu_memory_utilization": NaN')
    text = text.replace('"api": 8000', '"api": 8000, "api": 9000')
    cluster = tmp_path / "cluster.json"
    cluster.write_text(text, encoding="utf-8")
    loaded = load_cluster(cluster)
    assert [f.message.split(":")[0] for f in loaded.findings] == [
        "limits.gpu_memory_utilization",
        "ports.api",
    ]
    assert "given twice" in loaded.findings[1].message


def test_oversized_cluster_file_is_refused(tmp_path: Path) -> None:
    from dsprep.errors import InputError

    cluster = tmp_path / "cluster.yaml"
    cluster.write_text(example_text() + "#" * (2 * 1024 * 1024) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match="a cluster file is a few KB"):
        load_cluster(cluster)


def test_deep_nesting_is_bad_input(tmp_path: Path) -> None:
    from dsprep.errors import InputError

    cluster = tmp_path / "cluster.yaml"
    cluster.write_text("additional_config: " + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8")
    with pytest.raises(InputError, match="nests too deeply"):
        load_cluster(cluster)
