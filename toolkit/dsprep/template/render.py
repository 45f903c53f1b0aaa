"""Render a chat template for a conversation, as transformers (and so vLLM) would."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import jinja2

from dsprep.errors import InputError, MissingExtraError
from dsprep.template.content_format import gets_parts
from dsprep.template.recognize import MARKER_RE
from dsprep.template.sandbox import (
    DEFAULT_TIMEOUT,
    RenderLimitError,
    compile_bounded,
    render_bounded,
)
from dsprep.template.served import ServedDialect, served_messages, served_tools

Engine = Literal["jinja", "transformers"]
# How messages reach the template: "transformers" as sent to apply_chat_template (transformers
# 5 drops None-valued keys); a ServedDialect as a release's vLLM converts an OpenAI request
# (dsprep.template.served: arguments parsed, parts joined, content None as "").
Dialect = Literal["transformers"] | ServedDialect


class TemplateRenderError(InputError):
    """The template failed to compile or to render this conversation."""

    code = "template-render"


class SandboxViolation(InputError):
    """The template tried something the sandbox forbids (attribute walking, files, blow-ups)."""

    code = "sandbox-violation"


@dataclass(frozen=True)
class RenderRequest:
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]] | None = None
    add_generation_prompt: bool = False
    thinking: bool | None = None
    dialect: Dialect = "transformers"
    template_kwargs: dict[str, Any] = field(default_factory=dict)


_REASONING_KEYS = ("reasoning_content", "thinking", "reasoning")


def drop_none_keys(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """transformers 5's normalisation: None-valued keys removed, reasoning aliased."""
    normalised: list[dict[str, Any]] = []
    for message in messages:
        kept = {k: v for k, v in message.items() if v is not None}
        reasoning = next((kept[k] for k in _REASONING_KEYS if k in kept), None)
        if reasoning is not None:
            kept = {"thinking": reasoning, **kept, "reasoning_content": reasoning}
        normalised.append(kept)
    return normalised


def template_variables(
    request: RenderRequest, special_tokens: Mapping[str, str], source: str = ""
) -> dict[str, Any]:
    """What the template sees: special tokens, then messages, tools and the request options.

    A served dialect converts the request as that vLLM does (and refuses what it refuses with
    :class:`~dsprep.template.served.UnservableRequest`); its conversation has no None-valued
    message keys left for a transformers version to drop."""
    if isinstance(request.dialect, ServedDialect):
        parts = gets_parts(source, request.dialect.parts_for_any_content_loop)
        messages = served_messages(request.messages, request.dialect, parts)
        tools = served_tools(request.tools, request.dialect)
    else:
        messages = drop_none_keys(request.messages)
        tools = request.tools
    variables: dict[str, Any] = dict(special_tokens)
    variables.update(request.template_kwargs)
    variables.update(
        messages=messages,
        tools=tools,
        documents=None,
        add_generation_prompt=request.add_generation_prompt,
    )
    if request.thinking is not None:
        variables["thinking"] = request.thinking
    return variables


def _location(exc: jinja2.TemplateError) -> str:
    lineno = getattr(exc, "lineno", None)
    return f" (template line {lineno})" if lineno else ""


def _limit_hint(source: str, request: RenderRequest) -> str:
    """What to do about a template that hit a limit: dsprep's own is only ever stopped by
    a request too large for one prompt."""
    if MARKER_RE.search(source):
        tools = len(request.tools or [])
        return (
            f"the request ({len(request.messages)} messages, {tools} tools) is too large for"
            " one prompt: send fewer or shorter messages or tools"
        )
    return "the template is hostile or broken: replace it with dsprep template --force"


def render_with_jinja(
    source: str,
    request: RenderRequest,
    special_tokens: Mapping[str, str],
    *,
    origin: str = "chat template",
    timeout: float = DEFAULT_TIMEOUT,
) -> str:
    """The default engine: dsprep's transformers-equivalent sandbox, bounded in time and size
    (``timeout`` covers compiling and rendering)."""
    started = time.process_time()
    try:
        template = compile_bounded(source, timeout=timeout)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateRenderError(
            f"{origin}: Jinja syntax error at template line {exc.lineno}: {exc.message}",
            hint="fix the template, or replace it: dsprep template MODEL_DIR --thinking off",
            path=origin,
        ) from exc
    except RenderLimitError as exc:
        raise SandboxViolation(
            f"{origin}: {exc.message}; not compiled",
            hint="the template is hostile or broken: replace it with dsprep template --force",
            path=origin,
        ) from exc
    variables = template_variables(request, special_tokens, source)  # may refuse the request
    remaining = timeout - (time.process_time() - started)
    try:
        if remaining <= 0:
            raise RenderLimitError(f"compiling took the whole {timeout:g} s")
        return render_bounded(template, variables, timeout=remaining, time_limit=timeout)
    except RenderLimitError as exc:
        raise SandboxViolation(
            f"{origin}: {exc.message}; rendering stopped",
            hint=_limit_hint(source, request),
            path=origin,
        ) from exc
    except jinja2.exceptions.SecurityError as exc:
        raise SandboxViolation(
            f"{origin}: the template tried an unsafe operation: {exc}",
            hint="do not use this template; replace it with dsprep template --force",
            path=origin,
        ) from exc
    except Exception as exc:  # the template is code from the model repository: any error
        message = exc.message if isinstance(exc, jinja2.TemplateError) else str(exc)
        if "no loader" in str(message) or isinstance(exc, jinja2.TemplateNotFound):
            raise SandboxViolation(
                f"{origin}: the template tries to include or import another file",
                hint="chat templates must be self-contained; remove {% include %}/{% import %}",
                path=origin,
            ) from exc
        where = _location(exc) if isinstance(exc, jinja2.TemplateError) else ""
        raise TemplateRenderError(
            f"{origin}: rendering failed{where}: {type(exc).__name__}: {message}",
            hint="the template cannot handle this conversation; dsprep template rewrites it",
            path=origin,
        ) from exc


def render_with_transformers(
    model_dir: Path, request: RenderRequest, *, chat_template: str | None = None
) -> str:
    """transformers' own ``apply_chat_template`` with the model folder's tokenizer files."""
    try:
        from transformers import AutoTokenizer
    except ImportError as exc:
        raise MissingExtraError("transformers", "render") from exc
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    except Exception as exc:  # transformers raises many types for a bad folder
        raise InputError(
            f"{model_dir}: transformers cannot load the tokenizer: {exc}",
            hint="the folder needs tokenizer.json and tokenizer_config.json",
            path=model_dir,
        ) from exc
    kwargs: dict[str, Any] = dict(request.template_kwargs)
    if request.thinking is not None:
        kwargs["thinking"] = request.thinking
    messages, tools = request.messages, request.tools
    if isinstance(request.dialect, ServedDialect):
        source = chat_template or getattr(tokenizer, "chat_template", None) or ""
        parts = gets_parts(
            source if isinstance(source, str) else "", request.dialect.parts_for_any_content_loop
        )
        messages = served_messages(messages, request.dialect, parts)
        tools = served_tools(tools, request.dialect)
    try:
        rendered = tokenizer.apply_chat_template(
            messages,
            tools=tools,  # type: ignore[arg-type]
            chat_template=chat_template,
            add_generation_prompt=request.add_generation_prompt,
            tokenize=False,
            **kwargs,
        )
    except Exception as exc:
        raise TemplateRenderError(
            f"{model_dir}: transformers failed to render: {type(exc).__name__}: {exc}",
            hint="the template cannot handle this conversation; dsprep template rewrites it",
            path=model_dir,
        ) from exc
    return str(rendered)
