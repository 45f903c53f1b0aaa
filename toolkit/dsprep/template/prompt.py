"""``dsprep render``: a model folder's chat template applied to a conversation file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dsprep.errors import InputError
from dsprep.findings import JsonPayload, Result
from dsprep.template.render import (
    Dialect,
    Engine,
    RenderRequest,
    render_with_jinja,
    render_with_transformers,
)
from dsprep.template.selftest import self_test_text
from dsprep.template.served import ServedDialect
from dsprep.template.source import TemplateSource, read_json, read_source
from dsprep.template.tokens import TokenizerFiles, load_tokenizer_files, split_on_added_tokens


@dataclass(frozen=True)
class TokenPiece:
    """One token of the rendered prompt (its fields are the JSON keys of ``tokens``)."""

    text: str
    id: int | None  # None: the tokenizers library or tokenizer.json is not there
    added_token: bool


@dataclass(frozen=True)
class RenderedPrompt(JsonPayload):
    """What ``dsprep render`` prints (the JSON ``data``)."""

    template: str  # where the template came from (file, and key in the config)
    engine: Engine
    prompt: str
    tokens: list[TokenPiece] | None = None  # with --tokens: the prompt as the tokenizer cuts it
    # how the request reached the template: "vllm X (profile vY)" or "transformers"
    dialect: str = "transformers"


@dataclass(frozen=True)
class SelfTestSummary(JsonPayload):
    """What ``dsprep render --self-test`` ran (the JSON ``data``)."""

    template: str
    engine: Engine
    cases: int
    renders: int
    tool_calls_checked: int


def load_conversation(path: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]] | None]:
    """Messages (a JSON list, or an object with ``messages`` and optional ``tools``), from a
    regular file: a FIFO or a device is refused, never read (it would block for ever)."""
    from dsprep.template.source import parse_json, read_text

    text = read_text(path, hint="pass the conversation as a regular JSON file")
    document = parse_json(text, path)
    tools = None
    if isinstance(document, dict):
        tools = document.get("tools")
        document = document.get("messages")
    if not isinstance(document, list) or not all(isinstance(m, dict) for m in document):
        raise InputError(
            f"{path}: expected a JSON list of messages (objects with role and content)",
            hint='write e.g. [{"role": "user", "content": "Hello"}]',
            path=path,
        )
    if not document:
        raise InputError(f"{path}: the conversation is empty", hint="add a message", path=path)
    return document, load_tools_value(tools, path)


def load_tools_value(value: Any, path: Path) -> list[dict[str, Any]] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
        raise InputError(
            f"{path}: tools must be a JSON list of tool objects",
            hint='write e.g. [{"type": "function", "function": {"name": "f", "parameters": {}}}]',
            path=path,
        )
    return value


def load_tools(path: Path) -> list[dict[str, Any]] | None:
    """Tools (a JSON list) from a regular file (a FIFO is refused, never read)."""
    return load_tools_value(read_json(path), path)


def select_template(source: TemplateSource, tools: list[dict[str, Any]] | None) -> tuple[str, str]:
    """The template transformers would pick: ``tool_use`` with tools, else ``default``."""
    by_name = {entry.name: entry for entry in source.entries}
    if source.layout != "config-list":
        entry = source.entries[0]
    elif tools is not None and "tool_use" in by_name:
        entry = by_name["tool_use"]
    elif "default" in by_name:
        entry = by_name["default"]
    else:
        raise InputError(
            f"{source.path}: several chat templates and none is named 'default'",
            hint="name one of them 'default'",
            path=source.path,
        )
    return entry.text, source.location(entry)


def token_pieces(prompt: str, tokenizer: TokenizerFiles) -> list[TokenPiece]:
    """The prompt as the model's tokenizer cuts it (tokenizers library if installed)."""
    tokenizer_json = tokenizer.folder / "tokenizer.json"
    if tokenizer_json.is_file():
        try:
            from tokenizers import Tokenizer
        except ImportError:
            pass
        else:
            try:
                model = Tokenizer.from_file(str(tokenizer_json))
            except Exception as exc:  # the Rust side raises plain Exception
                raise InputError(
                    f"{tokenizer_json}: the tokenizers library cannot load it: {exc}",
                    path=tokenizer_json,
                ) from exc
            encoding = model.encode(prompt, add_special_tokens=False)
            pieces = []
            for token_id, (start, end) in zip(encoding.ids, encoding.offsets, strict=True):
                text = prompt[start:end]
                pieces.append(TokenPiece(text, token_id, text in tokenizer.added_tokens))
            return pieces
    return [
        TokenPiece(piece, None, piece in tokenizer.added_tokens)
        for piece in split_on_added_tokens(prompt, tokenizer.added_tokens)
    ]


def render_model(
    model_dir: Path,
    request: RenderRequest,
    *,
    engine: Engine = "jinja",
    with_tokens: bool = False,
) -> RenderedPrompt:
    source = read_source(model_dir)
    template, origin = select_template(source, request.tools)
    tokenizer = load_tokenizer_files(source.folder)
    if engine == "transformers":
        prompt = render_with_transformers(source.folder, request)
    else:
        prompt = render_with_jinja(template, request, tokenizer.special_tokens, origin=origin)
    tokens = token_pieces(prompt, tokenizer) if with_tokens else None
    return RenderedPrompt(origin, engine, prompt, tokens, dialect_label(request.dialect))


def dialect_label(dialect: Dialect) -> str:
    if isinstance(dialect, ServedDialect):
        return f"{dialect.label} (profile {dialect.release})"
    return "transformers"


def self_test_model(model_dir: Path, *, engine: Engine = "jinja") -> Result[SelfTestSummary]:
    """``--self-test``: the bundled cases through the folder's template; failures are findings."""
    source = read_source(model_dir)
    return self_test_source(source, load_tokenizer_files(source.folder), engine=engine)


def self_test_source(
    source: TemplateSource, tokenizer: TokenizerFiles, *, engine: Engine = "jinja"
) -> Result[SelfTestSummary]:
    """:func:`self_test_model` for a template source and tokenizer files already read."""
    template, origin = select_template(source, None)

    def transformers(request: RenderRequest) -> str:
        return render_with_transformers(source.folder, request)

    report = self_test_text(
        template, tokenizer, origin, transformers=transformers if engine == "transformers" else None
    )
    summary = SelfTestSummary(
        origin, engine, report.cases, report.renders, report.tool_calls_checked
    )
    return Result("render --self-test", summary, list(report.findings))
