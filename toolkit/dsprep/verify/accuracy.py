"""The accuracy smoke: every question of ``questions.json`` as a chat request (thinking off,
greedy), the answer compared normalised; below the threshold is a FAIL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from dsprep import catalogue as C
from dsprep.verify.questions import Question, is_correct
from dsprep.verify.rows import Figure, Outcome
from dsprep.verify.session import DEADLINE_SPENT, DeadlineReached, RequestFailed, Session

ANSWER_MAX_TOKENS = 16


def answer(session: Session, model: str, question: Question) -> tuple[str | None, str]:
    """(the model's content, or None when the request failed; what went wrong)."""
    client = session.client()
    try:
        response = session.call(
            client.chat.completions.create,
            model=model,
            messages=[{"role": "user", "content": question.question}],
            max_tokens=ANSWER_MAX_TOKENS,
            temperature=0,
            extra_body={"chat_template_kwargs": {"thinking": False}},
        )
    except RequestFailed as error:
        return None, error.message
    except DeadlineReached:
        return None, DEADLINE_SPENT
    content = response.choices[0].message.content if response.choices else None
    return content or "", ""


def accuracy(
    session: Session, model: str, questions: list[Question], threshold: float, concurrency: int
) -> Outcome:
    name, path = "accuracy smoke", f"{session.url}/v1/chat/completions"
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        replies = list(pool.map(lambda q: answer(session, model, q), questions))
    if any(problem == DEADLINE_SPENT for _, problem in replies):
        raise DeadlineReached  # reported as the run's timeout, not as wrong answers
    samples: list[dict[str, Figure]] = []
    for question, (reply, problem) in zip(questions, replies, strict=True):
        samples.append(
            {
                "id": question.id,
                "expected": question.answer,
                "reply": reply,
                "correct": is_correct(reply, question.answer),
                **({"error": problem} if problem else {}),
            }
        )
    correct = sum(1 for s in samples if s["correct"])
    failed = sum(1 for s in samples if s["reply"] is None)
    score = correct / len(questions)
    shown: dict[str, Any] = {
        "correct": correct,
        "questions": len(questions),
        "accuracy": round(score, 3),
        "threshold": threshold,
        "failed_requests": failed,
    }
    if score >= threshold:
        outcome = Outcome.passed(name, f"{correct}/{len(questions)} correct", **shown)
    elif failed == len(questions):
        first = next((s.get("error") for s in samples if s.get("error")), "")
        message = f"{name}: all {failed} requests failed ({first})"
        outcome = Outcome.failed(name, C.VERIFY_REQUEST_FAILED(path, message), **shown)
    else:
        wrong = [s for s in samples if not s["correct"]]
        example = wrong[0]
        message = (
            f"{name}: {correct}/{len(questions)} correct ({score:.0%}, threshold "
            f"{threshold:.0%}); e.g. {example['id']} expected {example['expected']!r}, got "
            f"{example['reply']!r}"
        )
        outcome = Outcome.failed(name, C.VERIFY_ACCURACY(path, message), **shown)
    outcome.row.samples = samples
    return outcome
