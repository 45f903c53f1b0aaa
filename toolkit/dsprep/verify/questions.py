"""The accuracy smoke's questions (``questions.json``, written by the project) and how an
answer is compared: normalised (strip, casefold, one trailing period) and equal."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from dsprep.errors import InputError

QUESTIONS_FILE = Path(__file__).resolve().parent / "questions.json"


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    answer: str


def normalise_answer(text: str) -> str:
    """``" Paris. "`` → ``"paris"``: strip, casefold, drop one trailing period."""
    folded = text.strip().casefold()
    if folded.endswith("."):
        folded = folded[:-1].rstrip()
    return folded


def is_correct(reply: str | None, answer: str) -> bool:
    return reply is not None and normalise_answer(reply) == normalise_answer(answer)


def load_questions(path: Path | None = None) -> list[Question]:
    """The questions of ``path`` (default: the bundled ``questions.json``); a malformed file
    is an :class:`InputError` naming it."""
    source = QUESTIONS_FILE if path is None else path
    try:
        document = json.loads(source.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read questions file {source}: {exc}", path=source) from exc
    if not isinstance(document, list) or not document:
        raise InputError(
            f"{source}: must be a non-empty JSON list of {{id, question, answer}}",
            path=source,
            hint='write [{"id": "q01", "question": "…", "answer": "…"}, …]',
        )
    questions = []
    for index, item in enumerate(document):
        fields = ("id", "question", "answer")
        if not isinstance(item, dict) or not all(isinstance(item.get(k), str) for k in fields):
            raise InputError(
                f"{source}: item [{index}] needs the string keys id, question and answer",
                path=source,
                hint="give every item an id, a question and its exact short answer",
            )
        questions.append(Question(item["id"], item["question"], item["answer"]))
    return questions
