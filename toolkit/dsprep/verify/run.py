"""``verify_deployment``: every check against one live server, in order, within the run's
total timeout; a :class:`Result` with one row per check and a finding per FAIL."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from dsprep import catalogue as C
from dsprep.findings import Result
from dsprep.verify import chat, toolcall
from dsprep.verify.accuracy import accuracy
from dsprep.verify.expect import Expectation
from dsprep.verify.latency import latency
from dsprep.verify.questions import load_questions
from dsprep.verify.rows import Outcome, VerifyReport
from dsprep.verify.session import DeadlineReached, RequestFailed, Session, base_url


@dataclass(frozen=True)
class VerifyOptions:
    url: str
    expect: Expectation
    api_key: str = "EMPTY"
    request_timeout: float = 120.0
    total_timeout: float = 900.0
    concurrency: int = 4
    min_accuracy: float = 0.9
    questions: Path | None = None  # None: the bundled questions.json


def health(session: Session) -> Outcome:
    status, seconds = session.health()
    figures = {"status": status, "seconds": round(seconds, 4)}
    if status == 200:
        return Outcome.passed("health", "GET /health answered 200", **figures)
    message = f"health: GET /health answered {status}, not 200"
    return Outcome.failed("health", C.VERIFY_HEALTH(f"{session.url}/health", message), **figures)


def served_models(session: Session, expect: Expectation) -> tuple[Outcome, str]:
    """The check, and the name the other requests use (the expected one when served, else
    the one the server lists, so the other checks still say what else is wrong)."""
    name, path = "served model name", f"{session.url}/v1/models"
    try:
        listing = session.call(session.client().models.list)
    except RequestFailed as error:
        fallback = expect.served_name or ""
        return chat.failed_request(name, path, error), fallback
    ids = [model.id for model in listing.data]
    shown = {"served": ", ".join(ids), "expected": expect.served_name}
    if expect.served_name is None:
        if not ids:
            finding = C.VERIFY_SERVED_NAME(path, f"{name}: /v1/models lists no model")
            return Outcome.failed(name, finding, **shown), ""
        return Outcome.passed(name, f"{ids[0]!r} (not compared)", **shown), ids[0]
    if expect.served_name in ids:
        return Outcome.passed(name, f"{expect.served_name!r} is served", **shown), (
            expect.served_name
        )
    message = (
        f"{name}: /v1/models lists {', '.join(map(repr, ids)) or 'nothing'}, not "
        f"{expect.served_name!r}; clients sending {expect.served_name!r} get 404"
    )
    hint = f"set the served name at {expect.where_name}"
    finding = C.VERIFY_SERVED_NAME(path, message, hint=hint)
    return Outcome.failed(name, finding, **shown), ids[0] if ids else expect.served_name


def verify_deployment(options: VerifyOptions) -> Result[VerifyReport]:
    session = Session(
        base_url(options.url), options.api_key, options.request_timeout, options.total_timeout
    )
    questions = load_questions(options.questions)
    expect = options.expect
    session.client()  # a missing extra stops the command before any request
    report = VerifyReport(session.url, expect.served_name or "", expect.served_name)
    result: Result[VerifyReport] = Result("verify", report)

    def record(outcome: Outcome) -> None:
        report.rows.append(outcome.row)
        result.extend(outcome.findings)

    record(health(session))
    steps: list[tuple[str, Callable[[], Outcome]]] = []
    model = ""
    separates = False

    def models_step() -> Outcome:
        nonlocal model
        outcome, model = served_models(session, expect)
        report.model = model
        return outcome

    def thinking_on_step() -> Outcome:
        nonlocal separates
        outcome, separates = chat.thinking_on(session, model, expect)
        return outcome

    steps = [
        ("served model name", models_step),
        ("completion", lambda: chat.completion(session, model)),
        ("chat, thinking on", thinking_on_step),
        ("chat, thinking off", lambda: chat.thinking_off(session, model)),
        ("chat, server default", lambda: chat.thinking_default(session, model, expect, separates)),
        (
            "tool call (non-streaming)",
            lambda: toolcall.tool_call(session, model, expect, stream=False),
        ),
        ("tool call (streaming)", lambda: toolcall.tool_call(session, model, expect, stream=True)),
        (
            "accuracy smoke",
            lambda: accuracy(session, model, questions, options.min_accuracy, options.concurrency),
        ),
        ("latency probe", lambda: latency(session, model, options.concurrency)),
    ]
    for index, (name, step) in enumerate(steps):
        try:
            record(step())
        except DeadlineReached:
            rest = [n for n, _ in steps[index:]]
            message = (
                f"the total timeout ({options.total_timeout:.0f} s) was spent before {name}; "
                f"not run: {', '.join(rest)}"
            )
            record(Outcome.failed(name, C.VERIFY_TIMEOUT(session.url, message)))
            for other in rest[1:]:
                record(Outcome.skipped(other, "not run: the total timeout was spent"))
            break
    return result
