"""The deployments the serving tier starts: a model variant plus the server's flags.

Model variants (built once per session by :func:`build_variant`):
- ``correct``: the tool-call markers not special (as the fix leaves them), right answers.
- ``special-markers``: the markers flagged ``"special": true`` — vLLM's default decoding
  (skip_special_tokens) strips them before the tool parser looks.
- ``garbage``: right format, every accuracy question answered with another one's answer.
- ``thinking-template``: the template's own default is thinking on (what ``dsprep template
  --thinking on`` writes), nothing else changed.

Deployments (``DEPLOYMENTS[name]`` → variant and flags beyond the model): ``correct`` is what
``dsprep emit-launch`` means to run; every other one breaks one thing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from tests.serving import scenarios
from tests.serving.tinymodel import MARKERS_PLAIN, MARKERS_SPECIAL, TinyModel, build_model

SERVED_NAME = "deepseek-v3.1-tiny"
TOOL_PARSER = "deepseek_v31"
REASONING_PARSER = "deepseek_v3"


VARIANTS = ("correct", "special-markers", "garbage", "thinking-template")


def build_variant(variant: str, folder: Path) -> TinyModel:
    if variant not in VARIANTS:
        raise ValueError(f"unknown model variant {variant!r}")
    return build_model(
        folder,
        scenarios.scripts(),
        scenarios.answers(wrong=variant == "garbage"),
        scenarios.completions(),
        special=MARKERS_SPECIAL if variant == "special-markers" else MARKERS_PLAIN,
        thinking_default=variant == "thinking-template",
    )


@dataclass(frozen=True)
class Deployment:
    variant: str
    tool_parser: str | None = TOOL_PARSER
    auto_tool_choice: bool = True
    reasoning_parser: str | None = REASONING_PARSER
    default_template_kwargs: dict[str, object] | None = None
    served_name: str = SERVED_NAME

    def args(self, chat_template: Path) -> list[str]:
        argv = ["--chat-template", str(chat_template), "--served-model-name", self.served_name]
        if self.tool_parser:
            argv += ["--tool-call-parser", self.tool_parser]
        if self.auto_tool_choice:
            argv += ["--enable-auto-tool-choice"]
        if self.reasoning_parser:
            argv += ["--reasoning-parser", self.reasoning_parser]
        if self.default_template_kwargs is not None:
            argv += ["--default-chat-template-kwargs", json.dumps(self.default_template_kwargs)]
        return argv


DEPLOYMENTS: dict[str, Deployment] = {
    "correct": Deployment("correct"),
    "special-markers": Deployment("special-markers"),
    "garbage": Deployment("garbage"),
    # a parser that exists but reads another format (Hermes' <tool_call> JSON)
    "wrong-tool-parser": Deployment("correct", tool_parser="hermes"),
    "no-tool-parser": Deployment("correct", tool_parser=None, auto_tool_choice=False),
    "no-reasoning-parser": Deployment("correct", reasoning_parser=None),
    # the template's default is thinking off; the server turns it on for every request
    "thinking-default-on": Deployment("correct", default_template_kwargs={"thinking": True}),
    # the template thinks by default, the server is not told: the parser does not separate
    "thinking-template": Deployment("thinking-template"),
}
