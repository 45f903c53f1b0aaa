"""``dsprep verify`` against the real vLLM CPU server: the correct deployment passes every
check; each broken deployment fails exactly the checks it breaks, with the finding code that
names its fix. Plus the emitted verify.sh, both its paths (dsprep verify, and curl alone)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CliOutcome
from tests.launch.conftest import example_document, write_cluster
from tests.serving.deployments import SERVED_NAME
from tests.serving.server import Servers

CHECKS = [
    "health",
    "served model name",
    "completion",
    "chat, thinking on",
    "chat, thinking off",
    "chat, server default",
    "tool call (non-streaming)",
    "tool call (streaming)",
    "accuracy smoke",
    "latency probe",
]


def verify(
    run_cli: Callable[..., CliOutcome], url: str, *args: str, name: str = SERVED_NAME
) -> tuple[int, dict[str, Any]]:
    outcome = run_cli("verify", url, "--model", name, "--format", "json", "--timeout", "600", *args)
    assert outcome.stdout, outcome.stderr
    return outcome.exit_code, outcome.json()


def statuses(document: dict[str, Any]) -> dict[str, str]:
    return {c["name"]: c["status"] for c in document["data"]["checks"]}


def failed(document: dict[str, Any]) -> dict[str, set[str]]:
    """check → the finding codes of its FAIL (a finding's message starts with its check)."""
    codes: dict[str, set[str]] = {}
    for finding in document["findings"]:
        check = next(c for c in CHECKS if finding["message"].startswith(c + ":"))
        codes.setdefault(check, set()).add(finding["code"])
    return codes


def figures(document: dict[str, Any], check: str) -> dict[str, Any]:
    row = next(c for c in document["data"]["checks"] if c["name"] == check)
    found: dict[str, Any] = row["figures"]
    return found


def test_the_correct_deployment_passes_every_check(
    vllm_server: Servers, run_cli: Callable[..., CliOutcome]
) -> None:
    server = vllm_server.deployment("correct")
    code, document = verify(run_cli, server.url, "--thinking-default", "off")
    assert (code, document["status"], document["findings"]) == (0, "ok", [])
    assert list(statuses(document).items()) == [(c, "PASS") for c in CHECKS]
    assert figures(document, "accuracy smoke")["accuracy"] == 1.0
    assert figures(document, "chat, thinking on")["reasoning_chars"] > 0
    assert figures(document, "tool call (streaming)")["tool_calls"] == 1
    latency = figures(document, "latency probe")
    assert latency["output_tokens"] == 64  # ignore_eos: the probe's fixed length
    assert latency["ttft_s"] > 0 and latency["tokens_per_s"] > 0
    assert latency["tokens_per_s_at_4"] > 0
    text = run_cli("verify", server.url, "--model", SERVED_NAME, "--thinking-default", "off")
    assert text.exit_code == 0
    assert "PASS  tool call (streaming)      get_weather(" in text.stdout
    assert text.stdout.rstrip().endswith("OK: verify found no problems")


def cluster_file(folder: Path, served_name: str) -> Path:
    """A cluster file for a release with vLLM >= 0.12 (deepseek_v3), tools on, thinking off."""
    folder.mkdir(parents=True, exist_ok=True)
    document = example_document()
    document["image"]["tag"] = "v0.13.0"
    document["graph"] = {"mode": "eager"}
    document["scheduler"] = {"ascend": False}
    document["model"]["served_name"] = served_name
    document["features"].update(
        {"tools": True, "thinking_default": False, "reasoning_parser": "deepseek_v3"}
    )
    return write_cluster(folder, document)


def test_the_cluster_file_says_what_to_expect_and_a_wrong_served_name_fails(
    vllm_server: Servers, run_cli: Callable[..., CliOutcome], tmp_path: Path
) -> None:
    server = vllm_server.deployment("correct")
    right = cluster_file(tmp_path / "right", SERVED_NAME)
    assert run_cli("verify", server.url, "--cluster", str(right)).exit_code == 0
    wrong = cluster_file(tmp_path / "wrong", "deepseek-v3.1")
    outcome = run_cli("verify", server.url, "--cluster", str(wrong), "--format", "json")
    document = outcome.json()
    assert outcome.exit_code == 1
    assert failed(document) == {"served model name": {"verify-served-name"}}
    (finding,) = document["findings"]
    assert f"lists '{SERVED_NAME}', not 'deepseek-v3.1'" in finding["message"]
    assert f"model.served_name in {wrong}" in finding["hint"]
    assert document["data"]["model"] == SERVED_NAME  # the other checks used the served one


@pytest.mark.parametrize(
    ("deployment", "args", "expected"),
    [
        (
            "special-markers",
            [],
            {
                "tool call (non-streaming)": {"verify-special-tool-tokens"},
                "tool call (streaming)": {"verify-special-tool-tokens"},
            },
        ),
        (
            "wrong-tool-parser",
            [],
            {
                "tool call (non-streaming)": {"verify-wrong-tool-parser"},
                "tool call (streaming)": {"verify-wrong-tool-parser"},
            },
        ),
        (
            "no-tool-parser",
            [],
            {
                "tool call (non-streaming)": {"verify-no-tool-parser"},
                "tool call (streaming)": {"verify-no-tool-parser"},
            },
        ),
        ("no-reasoning-parser", [], {"chat, thinking on": {"verify-no-reasoning-parser"}}),
        # the demo: template thinks by default, the cluster file says off
        ("thinking-template", [], {"chat, server default": {"verify-thinking-default"}}),
        (
            "thinking-template",
            ["--thinking-default", "on"],
            {"chat, server default": {"verify-default-reasoning-in-content"}},
        ),
        ("garbage", [], {"accuracy smoke": {"verify-accuracy"}}),
    ],
)
def test_a_broken_deployment_fails_with_the_code_of_its_fix(
    vllm_server: Servers,
    run_cli: Callable[..., CliOutcome],
    deployment: str,
    args: list[str],
    expected: dict[str, set[str]],
) -> None:
    server = vllm_server.deployment(deployment)
    code, document = verify(run_cli, server.url, *(args or ["--thinking-default", "off"]))
    assert code == 1
    assert failed(document) == expected
    assert {n for n, s in statuses(document).items() if s != "PASS"} == set(expected)
    for finding in document["findings"]:
        assert finding["hint"], finding


def test_the_fixes_pass(vllm_server: Servers, run_cli: Callable[..., CliOutcome]) -> None:
    """--default-chat-template-kwargs thinking on, told to verify: the default now thinks and
    is separated."""
    server = vllm_server.deployment("thinking-default-on")
    code, document = verify(run_cli, server.url, "--thinking-default", "on")
    assert (code, document["findings"]) == (0, [])


def test_special_markers_hint_names_the_tokenizer_and_the_kept_call(
    vllm_server: Servers, run_cli: Callable[..., CliOutcome]
) -> None:
    server = vllm_server.deployment("special-markers")
    _, document = verify(run_cli, server.url, "--thinking-default", "off")
    finding = document["findings"][0]
    assert "with skip_special_tokens false the call parses: get_weather(" in finding["message"]
    assert "tokenizer.json" in finding["hint"]
    row = figures(document, "tool call (non-streaming)")
    assert row == {"tool_calls": 0, "tool_calls_keeping_special_tokens": 1}


def test_garbage_answers_are_listed(
    vllm_server: Servers, run_cli: Callable[..., CliOutcome]
) -> None:
    server = vllm_server.deployment("garbage")
    _, document = verify(run_cli, server.url, "--thinking-default", "off")
    row = next(c for c in document["data"]["checks"] if c["name"] == "accuracy smoke")
    assert row["figures"]["accuracy"] < 0.9
    assert all(not s["correct"] and s["reply"] for s in row["samples"])


def emit_verify_sh(run_cli: Callable[..., CliOutcome], folder: Path) -> Path:
    cluster = cluster_file(folder, SERVED_NAME)
    out = folder / "out"
    outcome = run_cli("emit-launch", str(cluster), "--out", str(out))
    assert outcome.exit_code == 0, outcome.stdout
    return out / "verify.sh"


def run_verify_sh(script: Path, url: str, *, dsprep: bool) -> subprocess.CompletedProcess[str]:
    bin_dir = str(Path(sys.executable).parent)  # the project's venv: dsprep (and curl beside)
    path = f"{bin_dir}:/usr/bin:/bin" if dsprep else "/usr/bin:/bin"
    env = {"PATH": path, "HOME": os.environ.get("HOME", "/root"), "LANG": "C.UTF-8"}
    env.update({"VERIFY_TIMEOUT": "30", "VERIFY_INTERVAL": "1"})
    if not dsprep:
        env["VERIFY_WITH_CURL"] = "1"
    return subprocess.run(
        ["bash", str(script), url], env=env, capture_output=True, text=True, timeout=900
    )


def test_verify_sh_runs_dsprep_verify_when_dsprep_is_there(
    vllm_server: Servers, run_cli: Callable[..., CliOutcome], tmp_path: Path
) -> None:
    script = emit_verify_sh(run_cli, tmp_path)
    server = vllm_server.deployment("correct")
    done = run_verify_sh(script, server.url, dsprep=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"verify: dsprep verify {server.url}" in done.stdout
    assert "PASS  accuracy smoke" in done.stdout
    broken = vllm_server.deployment("no-reasoning-parser")
    done = run_verify_sh(script, broken.url, dsprep=True)
    assert done.returncode == 1 and "[verify-no-reasoning-parser]" in done.stdout


def test_verify_sh_curl_checks_assert_content(
    vllm_server: Servers, run_cli: Callable[..., CliOutcome], tmp_path: Path
) -> None:
    script = emit_verify_sh(run_cli, tmp_path)
    server = vllm_server.deployment("correct")
    done = run_verify_sh(script, server.url, dsprep=False)
    assert done.returncode == 0, done.stdout
    assert "PASS chat with thinking off" in done.stdout
    assert done.stdout.rstrip().endswith("verify: all requests passed")
    for deployment, check in [
        ("no-reasoning-parser", "chat with thinking on"),
        ("wrong-tool-parser", "chat tool call"),
        ("special-markers", "chat tool call"),
    ]:
        broken = vllm_server.deployment(deployment)
        done = run_verify_sh(script, broken.url, dsprep=False)
        fails = [line for line in done.stdout.splitlines() if line.startswith("FAIL")]
        assert done.returncode == 1, (deployment, done.stdout)
        assert [line.split(":")[0] for line in fails] == [f"FAIL {check}"], (deployment, fails)
