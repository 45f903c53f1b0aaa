"""Which fingerprint a line is: one combined search for the fingerprints' literal needles
per line (most lines hit nothing), then only the hit fingerprints' own regexes."""

from __future__ import annotations

import re
from collections.abc import Iterable

from dsprep.diagnose.fingerprints import FINGERPRINTS, Fingerprint

_META = set(".^$*+?{}[]\\|()")
_QUANTIFIERS = set("*+?{")
EXCEPTION = re.compile(r"^\s*(?:[\w.]+\.)?(?P<type>\w*(?:Error|Exception)): (?P<text>\S.*)$")
_EXCEPTION_NEEDLES = ("Error: ", "Exception: ")


def needle(regex: str) -> str:
    """The longest literal run a match of ``regex`` must contain (top-level only: a regex
    with ``|`` outside groups has no needle, the empty string)."""
    best, run, depth, i = "", "", 0, 0
    while i < len(regex):
        char = regex[i]
        if char == "\\" and i + 1 < len(regex):
            escaped = regex[i + 1]
            i += 2
            if escaped.isalnum():  # \d, \s, \w … a class, not a literal
                best, run = max(best, run, key=len), ""
                continue
            char = escaped
        else:
            i += 1
            if char in _META:
                if char in _QUANTIFIERS:
                    run = run[:-1]  # the char before a quantifier is optional or repeated
                if char == "(":
                    depth += 1
                elif char == ")":
                    depth -= 1
                elif char == "|" and depth == 0:
                    return ""
                best, run = max(best, run, key=len), ""
                if char == "[":  # skip the class
                    while i < len(regex) and regex[i] != "]":
                        i += 2 if regex[i] == "\\" else 1
                    i += 1
                elif char == "{":
                    while i < len(regex) and regex[i] != "}":
                        i += 1
                    i += 1
                continue
        if depth == 0:
            run += char
        else:
            best, run = max(best, run, key=len), ""
    return max(best, run, key=len)


class Matcher:
    """The fingerprints of one catalogue, searched in one pass per line."""

    def __init__(self, fingerprints: Iterable[Fingerprint] = FINGERPRINTS) -> None:
        self.fingerprints = tuple(fingerprints)
        self.by_needle: dict[str, list[Fingerprint]] = {}
        self.always: list[Fingerprint] = []
        for fingerprint in self.fingerprints:
            literal = needle(fingerprint.regex)
            if len(literal) < 6:
                self.always.append(fingerprint)
            else:
                self.by_needle.setdefault(literal, []).append(fingerprint)
        alternatives = sorted([*self.by_needle, *_EXCEPTION_NEEDLES], key=len, reverse=True)
        self._any = re.compile("|".join(map(re.escape, alternatives)))

    def candidates(self, text: str) -> list[Fingerprint] | None:
        """The fingerprints worth trying on ``text``; None when the line needs no look
        (an empty list: only an exception line, which no fingerprint's needle is in)."""
        hits = {m.group() for m in self._any.finditer(text)}
        if not hits and not self.always:
            return None
        return [f for h in hits for f in self.by_needle.get(h, ())] + self.always

    def match(
        self, message: str, candidates: list[Fingerprint]
    ) -> tuple[Fingerprint, dict[str, str]] | None:
        """The first candidate (in catalogue order) whose regex matches, with its groups."""
        for fingerprint in sorted(candidates, key=self.fingerprints.index):
            found = fingerprint.pattern.search(message)
            if found is not None:
                groups = {k: v for k, v in found.groupdict().items() if v is not None}
                return fingerprint, groups
        return None
