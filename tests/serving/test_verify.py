"""``dsprep verify`` against the real vLLM CPU server: the correct deployment passes every
check; each broken deployment fails exactly the checks it breaks, with the finding code that
names its fix. Plus the emitted verify.sh, both its paths (dsprep verify, and curl alone)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
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


@pytest.mark.parametrize("fraction", [0.15, 0.5])
def test_the_total_timeout_bounds_the_run(
    vllm_server: Servers,
    run_cli: Callable[..., CliOutcome],
    fraction: float,
) -> None:
    """Wherever the deadline falls within the run, it is reported as verify-timeout and the
    checks after it are not run. The limit is a fraction of a whole run timed here and now
    (a fixed one can be longer than the whole run on an idle machine)."""
    server = vllm_server.deployment("correct")
    began = time.monotonic()
    code, _ = verify(run_cli, server.url)
    assert code == 0
    full_run_seconds = time.monotonic() - began
    seconds = max(full_run_seconds * fraction, 0.1)  # --timeout's least value
    assert seconds < full_run_seconds * 0.8, f"a whole run took only {full_run_seconds:.2f} s"
    limit = f"{seconds:.3f}"
    began = time.monotonic()
    outcome = run_cli(
        "verify", server.url, "--model", SERVED_NAME, "--timeout", limit, "--format", "json"
    )
    took = time.monotonic() - began
    document = outcome.json()
    assert outcome.exit_code == 1, (limit, full_run_seconds)
    assert "verify-timeout" in [f["code"] for f in document["findings"]]
    assert statuses(document)["latency probe"] in ("FAIL", "SKIP")
    assert took < 30, took  # each request gets only what is left of the run's time


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


def test_verify_sh_on_the_correct_deployment_both_paths(
    vllm_server: Servers, run_cli: Callable[..., CliOutcome], tmp_path: Path
) -> None:
    script = emit_verify_sh(run_cli, tmp_path)
    server = vllm_server.deployment("correct")
    done = run_verify_sh(script, server.url, dsprep=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"verify: dsprep verify {server.url}" in done.stdout
    assert "PASS  accuracy smoke" in done.stdout
    done = run_verify_sh(script, server.url, dsprep=False)
    assert done.returncode == 0, done.stdout
    assert "PASS chat with thinking off" in done.stdout
    assert done.stdout.rstrip().endswith("verify: all requests passed")


@dataclass(frozen=True)
class Broken:
    """A broken deployment: the verify arguments, the failing checks with their codes, a
    fragment of the first finding's message and of its fix, and the one check the emitted
    verify.sh's curl path fails (None: not run with curl)."""

    deployment: str
    args: tuple[str, ...]
    fails: dict[str, set[str]]
    message: str
    hint: str
    curl_fails: str | None


def tools_fail(code: str) -> dict[str, set[str]]:
    return {"tool call (non-streaming)": {code}, "tool call (streaming)": {code}}


OFF = ("--thinking-default", "off")
BROKEN = [
    Broken(
        "special-markers",
        OFF,
        tools_fail("verify-special-tool-tokens"),
        "with skip_special_tokens false the call parses: get_weather(",
        'set "special": false for the tool-call markers in tokenizer.json',
        "chat tool call",
    ),
    Broken(
        "wrong-tool-parser",
        OFF,
        tools_fail("verify-wrong-tool-parser"),
        "no tool_calls; the markers came back in content '<｜tool▁calls▁begin｜>",
        "--tool-call-parser deepseek_v31",
        "chat tool call",
    ),
    Broken(
        "no-tool-parser",
        OFF,
        tools_fail("verify-no-tool-parser"),
        '"auto" tool choice requires --enable-auto-tool-choice',
        "--enable-auto-tool-choice --tool-call-parser deepseek_v31",
        "chat tool call",
    ),
    Broken(
        "no-reasoning-parser",
        OFF,
        {"chat, thinking on": {"verify-no-reasoning-parser"}},
        "the reasoning came back in content ('Think step by</think>391'",
        "--reasoning-parser deepseek_v3",
        "chat with thinking on",
    ),
    # the demo: the template thinks by default, the cluster file says off
    Broken(
        "thinking-template",
        OFF,
        {"chat, server default": {"verify-thinking-default"}},
        "the server has thinking on, but --thinking-default says off",
        "set features.thinking_default to what the template does",
        "chat without chat_template_kwargs",
    ),
    Broken(
        "thinking-template",
        ("--thinking-default", "on"),
        {"chat, server default": {"verify-default-reasoning-in-content"}},
        "thinking on by default, but the reasoning came back in content",
        """--default-chat-template-kwargs '{"thinking": true}'""",
        None,
    ),
    Broken(
        "garbage",
        OFF,
        {"accuracy smoke": {"verify-accuracy"}},
        "correct (",
        "dsprep check --verify-hashes",
        None,  # verify.sh's curl has no accuracy smoke; its one chat question is answered
    ),
]


@pytest.mark.parametrize("broken", BROKEN, ids=lambda b: f"{b.deployment}{' '.join(b.args)}")
def test_a_broken_deployment_fails_with_the_code_of_its_fix(
    vllm_server: Servers, run_cli: Callable[..., CliOutcome], broken: Broken, tmp_path: Path
) -> None:
    server = vllm_server.deployment(broken.deployment)
    code, document = verify(run_cli, server.url, *broken.args)
    assert code == 1
    assert failed(document) == broken.fails
    assert {n for n, s in statuses(document).items() if s != "PASS"} == set(broken.fails)
    first = document["findings"][0]
    assert broken.message in first["message"] and broken.hint in first["hint"], first
    if broken.deployment == "special-markers":
        row = figures(document, "tool call (non-streaming)")
        assert row == {"tool_calls": 0, "tool_calls_keeping_special_tokens": 1}
    if broken.deployment == "garbage":
        row = next(c for c in document["data"]["checks"] if c["name"] == "accuracy smoke")
        assert row["figures"]["accuracy"] < 0.9
        assert all(not s["correct"] and s["reply"] for s in row["samples"])
    if broken.curl_fails is not None:
        done = run_verify_sh(emit_verify_sh(run_cli, tmp_path), server.url, dsprep=False)
        fails = [line for line in done.stdout.splitlines() if line.startswith("FAIL")]
        assert done.returncode == 1 and len(fails) == 1, done.stdout
        assert fails[0].startswith(f"FAIL {broken.curl_fails}"), done.stdout


def test_the_fix_passes(vllm_server: Servers, run_cli: Callable[..., CliOutcome]) -> None:
    """--default-chat-template-kwargs thinking on, and verify told so: the default thinks and
    the reasoning is separated."""
    server = vllm_server.deployment("thinking-default-on")
    code, document = verify(run_cli, server.url, "--thinking-default", "on")
    assert (code, document["findings"]) == (0, [])
