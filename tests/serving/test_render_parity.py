"""Issue 10, rendering: every self-test case of templates/chat/render-cases.json, rendered by
``dsprep render`` for the served model folder, equals the prompt the real server renders for
the same OpenAI request (its ``/tokenize`` accepts messages), text and token ids alike.

A case the server rejects (HTTP 400: e.g. mapping tool-call arguments, which 0.32's request
schema refuses) differs unless dsprep rejects it too. The failure lists every differing case
with a diff (server lines ``-``, dsprep lines ``+``)."""

from __future__ import annotations

import json
from typing import Any

from dsprep.template.selftest import load_cases
from tests.serving.parity import difference, dsprep_prompt, server_prompt
from tests.serving.server import Servers


def test_every_render_case_matches_the_server(vllm_server: Servers) -> None:
    from tokenizers import Tokenizer

    server = vllm_server.deployment("correct")
    model_dir = server.model_dir
    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    differing: list[str] = []
    cases: list[dict[str, Any]] = [json.loads(json.dumps(c)) for c in load_cases()]
    assert cases
    for case in cases:
        theirs = server_prompt(server, case)
        ours = dsprep_prompt(model_dir, case)
        report = difference(case["id"], ours, theirs)
        if report is None and theirs.tokens is not None and ours.prompt is not None:
            ids = tokenizer.encode(ours.prompt, add_special_tokens=False).ids
            if ids != theirs.tokens:
                report = f"{case['id']}: same text, different token ids {ids} vs {theirs.tokens}"
        if report is not None:
            differing.append(report)
    assert not differing, (
        f"{len(differing)} of {len(cases)} render cases differ from vLLM's rendering:\n\n"
        + "\n\n".join(differing)
    )
