"""One thinking default across the chat template, features.thinking_default, the reasoning
parser and --default-chat-template-kwargs (dsprep.launch.thinking)."""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from dsprep.demo.tokenizer import write_tokenizer_files
from dsprep.findings import Finding
from dsprep.launch.cluster import load_cluster
from dsprep.launch.emit import emit_launch, validate
from dsprep.launch.examples import example_for
from dsprep.launch.thinking import check_template_default
from dsprep.profiles import profile_for
from dsprep.template.build import build_template
from tests.conftest import CliOutcome
from tests.launch.conftest import write_cluster


def document_for(tag: str, **features: Any) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(example_for(profile_for(tag), tag))
    document.setdefault("features", {}).update(features)
    return document


def codes(path: Path) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for f in validate(path).findings:
        found.setdefault(f.code, []).append(f.message)
    return found


def template_findings(path: Path, model_dir: Path) -> list[Finding]:
    """What emit-launch --model-dir adds for the folder's template (its memory plan needs
    the weights, which these folders do not have)."""
    cluster = load_cluster(path).cluster
    assert cluster is not None
    return check_template_default(cluster, model_dir)


def model_with_template(folder: Path, *, thinking: bool) -> Path:
    write_tokenizer_files(folder, build_template(thinking=thinking))
    return folder


def test_a_template_that_defaults_otherwise_is_an_error(tmp_path: Path) -> None:
    cluster = write_cluster(tmp_path, document_for("v0.23.0", thinking_default=False))
    on = model_with_template(tmp_path / "on", thinking=True)
    off = model_with_template(tmp_path / "off", thinking=False)
    found = template_findings(cluster, on)
    assert [(f.code, f.severity.value) for f in found] == [("thinking-mismatch", "error")]
    assert "features.thinking_default: off, but the chat template" in found[0].message
    assert "defaults to thinking on" in found[0].message
    assert f"dsprep template {on} --thinking off" in (found[0].hint or "")
    assert template_findings(cluster, off) == []
    bare = tmp_path / "bare"
    bare.mkdir()
    warned = template_findings(cluster, bare)
    assert [(f.code, f.severity.value) for f in warned] == [("thinking-mismatch", "warning")]


def test_thinking_on_by_default_reaches_the_parser_only_through_the_defaults_flag(
    tmp_path: Path,
) -> None:
    old = write_cluster(
        tmp_path,
        document_for("v0.13.0", thinking_default=True, reasoning_parser="deepseek_v3"),
        "old.yaml",
    )
    old_messages = codes(old).get("thinking-mismatch", [])
    assert len(old_messages) == 1 and "request's kwargs only" in old_messages[0]
    assert "serving_chat.py:591-594" in old_messages[0]  # the cited source line
    new = write_cluster(
        tmp_path,
        document_for("v0.23.0", thinking_default=True, reasoning_parser="deepseek_v3"),
        "new.yaml",
    )
    assert "thinking-mismatch" not in codes(new)
    out = tmp_path / "launch"
    result = emit_launch(new, out)
    assert result.ok, [f.message for f in result.findings]
    serve = (out / "node0" / "vllm.sh").read_text(encoding="utf-8")
    assert shlex.join(["--default-chat-template-kwargs", '{"thinking":true}']) in serve
    plan = (out / "PLAN.md").read_text(encoding="utf-8")
    assert '`"chat_template_kwargs": {"thinking": true}`' in plan
    assert "`message.reasoning` (separated by deepseek_v3)" in plan
    assert "Nothing sent: thinking on (the emitted `--default-chat-template-kwargs`" in plan


def test_thinking_on_without_a_parser_is_an_error_and_off_needs_no_flag(tmp_path: Path) -> None:
    none = write_cluster(tmp_path, document_for("v0.23.0", thinking_default=True), "none.yaml")
    assert "no reasoning parser is set" in codes(none)["thinking-mismatch"][0]
    off = write_cluster(tmp_path, document_for("v0.23.0", thinking_default=False), "off.yaml")
    out = tmp_path / "launch"
    assert emit_launch(off, out).ok
    assert "--default-chat-template-kwargs" not in (out / "node0" / "vllm.sh").read_text("utf-8")
    assert "Nothing sent: thinking off (the chat template's own default" in (
        out / "PLAN.md"
    ).read_text("utf-8")


def test_tools_with_thinking_on_by_default_is_a_warning(tmp_path: Path) -> None:
    document = document_for(
        "v0.23.0", thinking_default=True, reasoning_parser="deepseek_v3", tools=True
    )
    cluster = write_cluster(tmp_path, document)
    found = [f for f in validate(cluster).findings if f.code == "tools-with-thinking"]
    assert [f.severity.value for f in found] == ["warning"]
    assert "non-thinking mode" in found[0].message
    assert "thinking_default: false" in (found[0].hint or "")
    json.dumps(document)  # the document stays plain data


def test_emit_launch_model_dir_reports_the_mismatch_and_writes_nothing(
    tmp_path: Path, run_cli: Callable[..., CliOutcome]
) -> None:
    cluster = write_cluster(tmp_path, document_for("v0.23.0", thinking_default=False))
    model = model_with_template(tmp_path / "model", thinking=True)
    (model / "config.json").write_text("{}", encoding="utf-8")  # the plan's built-in shape
    out = tmp_path / "launch"
    outcome = run_cli(
        "emit-launch",
        str(cluster),
        "--model-dir",
        str(model),
        "--out",
        str(out),
        "--format",
        "json",
    )
    assert outcome.exit_code == 1, outcome.stdout
    assert "thinking-mismatch" in {f["code"] for f in outcome.json()["findings"]}
    assert not out.exists()
    fixed = model_with_template(tmp_path / "model", thinking=False)
    again = run_cli("emit-launch", str(cluster), "--model-dir", str(fixed), "--out", str(out))
    assert again.exit_code == 0, again.stdout
