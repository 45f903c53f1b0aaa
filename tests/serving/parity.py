"""What the real server renders for an OpenAI chat request, and what ``dsprep render`` says.

``server_prompt`` sends the request's messages (with tools and chat_template_kwargs) to vLLM's
``/tokenize`` (entrypoints/serve/tokenize/protocol.py:46-111 in 0.32: it renders through the same
chat path as /v1/chat/completions) and turns the ids back into text with ``/detokenize``
(special tokens kept). ``dsprep_prompt`` renders the same request with dsprep's renderer for
the model folder, converting the request as the newest profile's vLLM does.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.serving.server import Server


@dataclass(frozen=True)
class Rendered:
    prompt: str | None
    tokens: list[int] | None
    error: str | None = None


def chat_template_kwargs(case: Mapping[str, Any]) -> dict[str, Any]:
    kwargs = dict(case.get("template_kwargs", {}))
    if case.get("thinking") is not None:
        kwargs["thinking"] = case["thinking"]
    return kwargs


def server_prompt(server: Server, case: Mapping[str, Any]) -> Rendered:
    body: dict[str, Any] = {
        "model": server.served_name,
        "messages": case["messages"],
        "add_generation_prompt": bool(case.get("add_generation_prompt", False)),
    }
    if case.get("tools"):
        body["tools"] = case["tools"]
    kwargs = chat_template_kwargs(case)
    if kwargs:
        body["chat_template_kwargs"] = kwargs
    status, answer = server.post("/tokenize", body)
    if status != 200:
        message = (
            answer.get("error", {}).get("message", answer) if isinstance(answer, dict) else answer
        )
        return Rendered(None, None, f"HTTP {status}: {str(message)[:300]}")
    tokens = list(answer["tokens"])
    status, text = server.post("/detokenize", {"model": server.served_name, "tokens": tokens})
    assert status == 200, text
    return Rendered(str(text["prompt"]), tokens)


def dsprep_prompt(model_dir: Path, case: Mapping[str, Any]) -> Rendered:
    from dsprep.profiles import newest_profile
    from dsprep.template.prompt import render_model
    from dsprep.template.selftest import request_for
    from dsprep.template.served import ServedDialect

    # the newest profile's conversion: vLLM 0.32 is newer than every profiled release
    dialect = ServedDialect.of(newest_profile())
    try:
        prompt = render_model(model_dir, request_for(case, dialect)).prompt
    except Exception as exc:  # a rejected request is an answer too
        return Rendered(None, None, f"{type(exc).__name__}: {exc}")
    return Rendered(prompt, None)


def difference(case_id: str, ours: Rendered, theirs: Rendered) -> str | None:
    """None when equal; else a readable report of how dsprep differs from the server."""
    if ours.prompt is not None and ours.prompt == theirs.prompt:
        return None
    if theirs.prompt is None or ours.prompt is None:
        return (
            f"{case_id}: server {theirs.error or 'renders'}; dsprep {ours.error or 'renders'}"
            + (f"\n  server prompt {theirs.prompt!r}" if theirs.prompt else "")
            + (f"\n  dsprep prompt {ours.prompt!r}" if ours.prompt else "")
        )
    diff = difflib.unified_diff(
        theirs.prompt.splitlines(keepends=True),
        ours.prompt.splitlines(keepends=True),
        "vllm /tokenize",
        "dsprep render",
        n=0,
    )
    return f"{case_id}:\n" + "".join(f"  {line}" for line in diff)
