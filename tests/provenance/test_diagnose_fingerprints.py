"""Every ``dsprep diagnose`` fingerprint, and every memory figure ``dsprep plan --from-log``
reads (:data:`dsprep.launch.measured.FIGURES`), re-derived from the release sources it cites
(:mod:`dsprep.diagnose.fingerprints`): the string expression at the cited line, rendered the
way Python would with a sample for each placeholder, is a line the fingerprint's regex
matches (``derive="message"``); or the cited source line is the traceback line the regex
matches (``"line"``); or the cited line holds the lookup whose KeyError it matches
(``"code"``). A citation that moved, a reworded message or a regex that no longer matches
the release's wording fails here with the rendered text."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from dsprep.diagnose.fingerprints import FINGERPRINTS, Cite, Fingerprint
from dsprep.launch.measured import FIGURES, Figure
from dsprep.profiles import all_profiles
from tests.provenance import upstream
from tests.provenance.releases import Releases

CITED = [(f, c) for f in FINGERPRINTS for c in f.cites]
FIGURE_CITES = [(f, c) for f in FIGURES for c in f.cites]


def _stringish(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _stringish(node.left) and _stringish(node.right)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
        return _stringish(node.left) and isinstance(node.right, ast.Constant)
    if isinstance(node, ast.IfExp):
        return _stringish(node.body) and _stringish(node.orelse)
    return False


def render(node: ast.AST, samples: dict[str, str]) -> str:
    """The text a string expression evaluates to, each placeholder replaced by its sample
    (``1`` unless the row names one), conditional parts taken as present."""
    if isinstance(node, ast.Constant):
        return str(node.value)
    if isinstance(node, ast.JoinedStr):
        parts = []
        for value in node.values:
            if isinstance(value, ast.FormattedValue):
                parts.append(samples.get(ast.unparse(value.value), "1"))
            else:
                parts.append(render(value, samples))
        return "".join(parts)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return render(node.left, samples) + render(node.right, samples)
    if isinstance(node, ast.BinOp) and isinstance(node.right, ast.Constant):
        return render(node.left, samples) * int(node.right.value)
    if isinstance(node, ast.IfExp):
        return render(node.body, samples)
    raise TypeError(ast.dump(node))


def message_at(path: Path, line: int, samples: dict[str, str]) -> str:
    """The rendered text of the largest string expression that spans ``line``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    spans = [
        node
        for node in ast.walk(tree)
        if _stringish(node) and node.lineno <= line <= (node.end_lineno or node.lineno)  # type: ignore[attr-defined]
    ]
    assert spans, f"{path}:{line} holds no string expression"
    widest = max(spans, key=lambda n: (n.end_lineno or 0) - n.lineno)  # type: ignore[attr-defined]
    return render(widest, samples)


def source_file(releases: Releases, cite: Cite) -> Path:
    release = releases.profiles[cite.profile].release
    version = release.vllm_pip if cite.dist == "vllm" else release.vllm_ascend
    try:
        tree = releases.tree(upstream.Sdist(cite.dist, version))
    except upstream.SourceUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)
    path = tree.root / cite.file
    assert path.is_file(), f"{cite}: {tree} has no {cite.file}"
    return path


@pytest.mark.parametrize(
    ("fingerprint", "cite"), CITED, ids=[f"{f.id}-{c.profile}" for f, c in CITED]
)
def test_the_cited_source_emits_what_the_fingerprint_matches(
    fingerprint: Fingerprint, cite: Cite, releases: Releases
) -> None:
    path = source_file(releases, cite)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert cite.line <= len(lines), f"{cite}: the file has {len(lines)} lines"
    source_line = lines[cite.line - 1]
    if fingerprint.derive == "line":
        assert fingerprint.pattern.search(source_line), f"{cite}: {source_line!r}"
    elif fingerprint.derive == "code":
        assert fingerprint.code in source_line, (
            f"{cite}: {source_line!r} lacks {fingerprint.code!r}"
        )
    else:
        text = message_at(path, cite.line, dict(fingerprint.samples))
        assert any(fingerprint.pattern.search(part) for part in text.splitlines()), (
            f"{fingerprint.id}: {cite} renders\n{text}\nwhich {fingerprint.regex!r} does not match"
        )


def test_every_fingerprint_is_cited_or_reported() -> None:
    names = {p.name for p in all_profiles()}
    for fingerprint in FINGERPRINTS:
        assert fingerprint.cites or fingerprint.reports, fingerprint.id
        assert {c.profile for c in fingerprint.cites} <= names, fingerprint.id


@pytest.mark.parametrize(
    ("figure", "cite"), FIGURE_CITES, ids=[f"{f.name}-{c.profile}" for f, c in FIGURE_CITES]
)
def test_the_cited_source_logs_the_memory_figure(
    figure: Figure, cite: Cite, releases: Releases
) -> None:
    """A logger call's %-format (``"Loading model weights took %.4f GB"``) or f-string,
    rendered with 1 for each placeholder, is a line the figure's regex reads."""
    path = source_file(releases, cite)
    text = re.sub(r"%[-\d.]*[sdfx]", "1", message_at(path, cite.line, {}))
    assert figure.pattern.search(text), f"{cite} renders {text!r}; {figure.regex!r} misses it"
