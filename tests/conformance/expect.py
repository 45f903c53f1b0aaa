"""How a probe outcome is judged: accepted all the way, or rejected with the release's
own exception."""

from __future__ import annotations

import re
from typing import Any

# the stages an accepted argv must have passed (the probe's names; the probe imports only
# the standard library at its top, so its own tuple is read here)
from tests.conformance.child.serve_probe import STAGES as REQUIRED_STAGES

# how pydantic shows an exception raised inside a config's validation
WRAPPED = {"ValueError": "Value error", "AssertionError": "Assertion failed"}


def describe(outcome: dict[str, Any]) -> str:
    """The evidence of one outcome, for assertion messages."""
    lines = [f"accepted: {outcome.get('accepted')}", f"error: {outcome.get('error')}"]
    if outcome.get("accepted"):
        made = outcome.get("config", {})
        shown = ("max_num_seqs", "speculative_method", "enforce_eager", "additional_config")
        lines.append("engine config: " + ", ".join(f"{k}={made.get(k)!r}" for k in shown))
    lines += [f"  at {frame}" for frame in outcome.get("frames", [])[-4:]]
    lines.append(f"stages reached: {outcome.get('reached')}")
    lines += [f"  log: {line}" for line in outcome.get("log_tail", [])[-4:]]
    return "\n".join(lines)


def missing_stages(outcome: dict[str, Any]) -> list[str]:
    return [s for s in REQUIRED_STAGES if s not in outcome.get("reached", [])]


def matches_raises(error: str, raises: str) -> bool:
    """``raises`` (``"RuntimeError: <key> is valid only when …"``, as a profile quotes it)
    against what the release raised: the exception type (or pydantic's wrapping of it)
    and every word outside ``<…>`` placeholders, in order."""
    kind, _, text = raises.partition(": ")
    if not (error.startswith(kind) or WRAPPED.get(kind, "\0") in error):
        return False
    wanted = re.findall(r"\w+", re.sub(r"<[^>]*>", " ", text))
    said = iter(re.findall(r"\w+", error))
    return all(any(word == w for w in said) for word in wanted)
