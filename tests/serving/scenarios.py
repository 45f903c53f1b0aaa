"""What the tiny model says, per request the tests (and ``dsprep verify``) send.

- A request carrying the ``get_weather`` tool (its name renders into the system prompt, and the
  token ``weather`` of ``get_weather`` is the key): thinking off, the tool call; thinking on, a
  short reasoning, ``</think>``, then the tool call.
- ``dsprep verify``'s chat question (one user message): thinking on, reasoning then the
  answer; off, the answer only.
- Each accuracy question of ``questions.json`` (one user message): its answer; the garbage
  model answers each with another question's answer.
"""

from __future__ import annotations

import json
from pathlib import Path

from dsprep.template.tokens import (
    TOOL_CALL_BEGIN,
    TOOL_CALL_END,
    TOOL_CALLS_BEGIN,
    TOOL_CALLS_END,
    TOOL_SEP,
)
from tests.serving.tinymodel import Answer, Completion, Script, garbage

TOOL_NAME = "get_weather"
TOOL_ARGUMENTS = {"city": "Paris"}
TOOL_KEY = "weather"  # the last token of get_weather
TOOL_CALL_TEXT = (
    f"{TOOL_CALLS_BEGIN}{TOOL_CALL_BEGIN}{TOOL_NAME}{TOOL_SEP}{json.dumps(TOOL_ARGUMENTS)}"
    f"{TOOL_CALL_END}{TOOL_CALLS_END}"
)
TOOL_REASONING = "Think step"
TOOL = {
    "type": "function",
    "function": {
        "name": TOOL_NAME,
        "description": "Get the current weather of a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "description": "The city's name"}},
            "required": ["city"],
        },
    },
}
TOOL_QUESTION = "What is the weather in Paris right now? Use the get_weather tool."

# dsprep verify's thinking question (toolkit/dsprep/verify/chat.py CHAT_QUESTION).
CHAT_QUESTION = "What is 17 * 23? Answer with the number."
CHAT_ANSWER = "391"
CHAT_REASONING = "Think step by"

# dsprep verify's completion (no chat template) and latency probe (one user message).
COMPLETION_PROMPT = "The capital of France is"
COMPLETION_TEXT = " Paris"
PROBE_PROMPT = "Count from one to one hundred in words, separated by commas."
PROBE_ANSWER = "one"

QUESTIONS_FILE = Path(__file__).resolve().parents[2] / "toolkit/dsprep/verify/questions.json"


def accuracy_answers() -> list[Answer]:
    items = json.loads(QUESTIONS_FILE.read_text(encoding="utf-8"))
    return [Answer(str(i["question"]), str(i["answer"])) for i in items]


def scripts() -> list[Script]:
    return [Script(TOOL_KEY, TOOL_CALL_TEXT, TOOL_REASONING)]


def answers(*, wrong: bool = False) -> list[Answer]:
    chat = Answer(CHAT_QUESTION, CHAT_ANSWER, CHAT_REASONING)
    probe = Answer(PROBE_PROMPT, PROBE_ANSWER)
    accuracy = accuracy_answers()
    return [chat, probe, *(garbage(accuracy) if wrong else accuracy)]


def completions() -> list[Completion]:
    return [Completion(COMPLETION_PROMPT, COMPLETION_TEXT)]
