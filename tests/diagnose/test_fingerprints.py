"""The fingerprint catalogue: each row matches the line its release prints (built from the
source's format string) and no other row does; its cause renders from the line; every
code it names exists; the diagnose kinds are all used."""

from __future__ import annotations

import pytest

from dsprep import catalogue
from dsprep.catalogue import Area
from dsprep.diagnose import logline
from dsprep.diagnose.fingerprints import ALL_RELEASES, BY_ID, FINGERPRINTS, Fingerprint
from dsprep.diagnose.matcher import Matcher, needle
from dsprep.profiles import all_profiles
from tests.diagnose.excerpts import MESSAGES

MATCHER = Matcher()


def test_every_fingerprint_has_an_excerpt_and_every_excerpt_a_fingerprint() -> None:
    assert set(MESSAGES) == set(BY_ID)


@pytest.mark.parametrize("fingerprint", FINGERPRINTS, ids=lambda f: f.id)
def test_the_release_line_matches_its_fingerprint_only(fingerprint: Fingerprint) -> None:
    message = logline.parse(MESSAGES[fingerprint.id]).message
    matching = [f.id for f in FINGERPRINTS if f.pattern.search(message)]
    assert matching == [fingerprint.id]
    candidates = MATCHER.candidates(message)
    assert candidates is not None and fingerprint in candidates, needle(fingerprint.regex)
    hit = MATCHER.match(message, candidates)
    assert hit is not None and hit[0] is fingerprint
    groups = hit[1]
    cause = fingerprint.cause.format_map({**groups, "layer": "layer 61"})
    assert "?" not in cause and "{" not in cause
    fingerprint.fix.format_map({**groups, "layer": "layer 61"})


@pytest.mark.parametrize("fingerprint", FINGERPRINTS, ids=lambda f: f.id)
def test_each_row_names_real_codes_releases_and_a_source(fingerprint: Fingerprint) -> None:
    for code in fingerprint.caught_by:
        assert catalogue.kind(code).area is not Area.DIAGNOSE, code
    assert fingerprint.kind.area is Area.DIAGNOSE
    assert fingerprint.releases and set(fingerprint.releases) <= set(ALL_RELEASES)
    assert fingerprint.cites or fingerprint.reports
    assert fingerprint.derive in ("message", "line", "code")
    assert len(needle(fingerprint.regex)) >= 6, "a line would be tried on every regex"
    for report in fingerprint.reports:
        assert report.url.startswith("https://github.com/")
        assert fingerprint.pattern.search(report.quote), report.url


def test_all_releases_are_the_bundled_profiles() -> None:
    assert tuple(p.name for p in all_profiles()) == ALL_RELEASES


def test_every_failure_kind_of_the_diagnose_area_has_a_fingerprint() -> None:
    used = {f.kind.code for f in FINGERPRINTS}
    summary = {catalogue.LOG_FIRST_FAILURE.code, catalogue.LOG_UNRECOGNISED_ERROR.code}
    assert {k.code for k in catalogue.kinds(Area.DIAGNOSE)} == used | summary


def test_ids_are_unique_and_releases_follow_the_citations() -> None:
    assert len(BY_ID) == len(FINGERPRINTS)
    assert BY_ID["kv-b-proj-assert"].releases == ("v0.13.0", "v0.18.0", "v0.23.0")
    assert BY_ID["vllm-config-not-found"].releases == ALL_RELEASES[:4]
    assert BY_ID["hccl-get-socket-timeout"].releases == ALL_RELEASES


@pytest.mark.parametrize(
    ("regex", "expected"),
    [
        (r"Cannot find the config file for (?P<m>\w+)", "Cannot find the config file for "),
        (r"the models?'s max seq len \((?P<n>\d+)\)", "'s max seq len ("),
        (r"a|b", ""),
        (r"(?<!Argument )max_num \(x\)", "max_num (x)"),
        (r"\[c10d\] .*timed out", "timed out"),
    ],
)
def test_needle_is_a_literal_every_match_contains(regex: str, expected: str) -> None:
    assert needle(regex) == expected
