"""The completion and the thinking checks: thinking on (reasoning separated), off (no
reasoning), and the server's default against the expected ``thinking_default``."""

from __future__ import annotations

from typing import Any

from dsprep import catalogue as C
from dsprep.verify.expect import Expectation
from dsprep.verify.reply import THINK_END, Reply, reply_from_message
from dsprep.verify.rows import Outcome
from dsprep.verify.session import RequestFailed, Session

COMPLETION_PROMPT = "The capital of France is"
CHAT_QUESTION = "What is 17 * 23? Answer with the number."
THINKING_MAX_TOKENS = 256
ANSWER_MAX_TOKENS = 64


def failed_request(name: str, path: str, error: RequestFailed) -> Outcome:
    return Outcome.failed(
        name, C.VERIFY_REQUEST_FAILED(path, f"{name}: {error.message}"), status=error.status
    )


def completion(session: Session, model: str) -> Outcome:
    name, path = "completion", f"{session.url}/v1/completions"
    client = session.client()
    try:
        response = session.call(
            client.completions.create,
            model=model,
            prompt=COMPLETION_PROMPT,
            max_tokens=16,
            temperature=0,
        )
    except RequestFailed as error:
        return failed_request(name, path, error)
    text = response.choices[0].text if response.choices else ""
    tokens = response.usage.completion_tokens if response.usage else None
    if not (text or "").strip():
        message = f"{name}: the prompt {COMPLETION_PROMPT!r} got no text back"
        return Outcome.failed(name, C.VERIFY_COMPLETION(path, message), completion_tokens=tokens)
    return Outcome.passed(name, f"{COMPLETION_PROMPT!r} → {text.strip()[:40]!r}", tokens=tokens)


def ask(session: Session, model: str, thinking: bool | None, max_tokens: int) -> Reply:
    """One chat request with ``chat_template_kwargs.thinking`` (None: none sent)."""
    extra: dict[str, Any] = {}
    if thinking is not None:
        extra["chat_template_kwargs"] = {"thinking": thinking}
    client = session.client()
    response = session.call(
        client.chat.completions.create,
        model=model,
        messages=[{"role": "user", "content": CHAT_QUESTION}],
        max_tokens=max_tokens,
        temperature=0,
        extra_body=extra or None,
    )
    message = response.choices[0].message.model_dump() if response.choices else {}
    tokens = response.usage.completion_tokens if response.usage else None
    return reply_from_message(message, tokens)


def figures(reply: Reply) -> dict[str, Any]:
    return {
        "reasoning_chars": len(reply.reasoning),
        "content_chars": len(reply.content),
        "tokens": reply.completion_tokens,
    }


def thinking_on(session: Session, model: str, expect: Expectation) -> tuple[Outcome, bool]:
    """The check, and whether the server separated the reasoning."""
    name, path = "chat, thinking on", f"{session.url}/v1/chat/completions"
    try:
        reply = ask(session, model, True, THINKING_MAX_TOKENS)
    except RequestFailed as error:
        return failed_request(name, path, error), False
    shown = figures(reply)
    if reply.reasoning.strip() and THINK_END not in reply.content:
        return Outcome.passed(name, "reasoning separated from content", **shown), True
    if THINK_END in reply.content:
        parser = expect.reasoning_parser or "the release's reasoning parser"
        message = f"{name}: the reasoning came back in content ({reply.content[:60]!r}…)"
        hint = f"start vllm serve with --reasoning-parser {parser} (features.reasoning_parser)"
        finding = C.VERIFY_NO_REASONING_PARSER(path, message, hint=hint)
        return Outcome.failed(name, finding, **shown), False
    message = f"{name}: chat_template_kwargs.thinking true, but the model did not reason"
    return Outcome.failed(name, C.VERIFY_THINKING_IGNORED(path, message), **shown), False


def thinking_off(session: Session, model: str) -> Outcome:
    name, path = "chat, thinking off", f"{session.url}/v1/chat/completions"
    try:
        reply = ask(session, model, False, ANSWER_MAX_TOKENS)
    except RequestFailed as error:
        return failed_request(name, path, error)
    shown = figures(reply)
    if reply.reasoning.strip():
        message = f"{name}: a reasoning field came back ({reply.reasoning[:60]!r})"
        return Outcome.failed(name, C.VERIFY_REASONING_WHEN_OFF(path, message), **shown)
    if THINK_END in reply.content:
        message = f"{name}: the model reasoned anyway ({THINK_END} in content)"
        return Outcome.failed(name, C.VERIFY_THINKING_IGNORED(path, message), **shown)
    if not reply.content.strip():
        message = f"{name}: the answer has no content"
        return Outcome.failed(name, C.VERIFY_COMPLETION(path, message), **shown)
    return Outcome.passed(name, f"answer {reply.content.strip()[:40]!r}, no reasoning", **shown)


def _on_off(value: bool) -> str:
    return "on" if value else "off"


def thinking_default(session: Session, model: str, expect: Expectation, separates: bool) -> Outcome:
    """No ``chat_template_kwargs``: does the server think, and as the cluster file says?"""
    name, path = "chat, server default", f"{session.url}/v1/chat/completions"
    try:
        reply = ask(session, model, None, THINKING_MAX_TOKENS)
    except RequestFailed as error:
        return failed_request(name, path, error)
    shown = {**figures(reply), "thinks": reply.thinks, "expected": expect.thinking_default}
    observed = _on_off(reply.thinks)
    if expect.thinking_default is None:
        return Outcome.passed(name, f"thinking {observed} (not compared)", **shown)
    if reply.thinks != expect.thinking_default:
        message = (
            f"{name}: without chat_template_kwargs the server has thinking {observed}, but "
            f"{expect.where_thinking} says {_on_off(expect.thinking_default)}"
        )
        return Outcome.failed(name, C.VERIFY_THINKING_DEFAULT(path, message), **shown)
    if reply.thinks and not reply.reasoning.strip() and separates:
        flag = expect.defaults_flag
        how = (
            f"start vllm serve with {flag} '{{\"thinking\": true}}'"
            if flag
            else "this release has no serve flag for it: clients must send "
            'chat_template_kwargs {"thinking": true}'
        )
        message = f"{name}: thinking on by default, but the reasoning came back in content"
        finding = C.VERIFY_DEFAULT_REASONING_IN_CONTENT(path, message, hint=how)
        return Outcome.failed(name, finding, **shown)
    return Outcome.passed(name, f"thinking {observed}, as {expect.where_thinking} says", **shown)
