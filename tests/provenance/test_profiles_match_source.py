"""Every list each bundled profile states, against the one derived from its release's
source (one test per profile and field; :data:`tests.provenance.compare.CHECKS` says what
each compares). A failure names the profile, the field, what is missing or extra, and where
the source has it (or what was read)."""

from __future__ import annotations

import pytest
from packaging.version import Version

from dsprep.resources import profile_files
from tests.provenance.compare import CHECKS, Context
from tests.provenance.conftest import facts_or_fail
from tests.provenance.releases import Releases

# by file name (a profile's file is named after it), so that one profile that does not load
# fails its own tests instead of the collection
PROFILES = [p.stem for p in sorted(profile_files(), key=lambda p: Version(p.stem))]


@pytest.mark.parametrize("check", list(CHECKS))
@pytest.mark.parametrize("name", PROFILES)
def test_profile_matches_its_release_source(
    name: str, check: str, releases: Releases, ctx: Context
) -> None:
    profile = releases.profiles[name]
    facts = facts_or_fail(releases, name)
    for earlier in ctx.earlier(profile):  # the checks that look back need those sources too
        facts_or_fail(releases, earlier.name)
    differences = CHECKS[check](profile, facts, ctx)
    if differences:
        pytest.fail("\n\n".join(map(str, differences)), pytrace=False)


@pytest.mark.parametrize("name", PROFILES)
def test_the_extractors_find_the_lists_in_every_release(name: str, releases: Releases) -> None:
    """A release whose layout an extractor no longer understands fails here, even where the
    profile happens to state an empty list too."""
    facts = facts_or_fail(releases, name)
    found = {
        "reasoning parsers": len(facts.reasoning_parsers),
        "tool parsers": len(facts.tool_parsers),
        "additional_config keys": len(facts.additional_config.top),
        "vllm serve options": len(facts.serve_flags.flags),
        "linear quant types": len(facts.quant_types["linear"]),
        "moe quant types": len(facts.quant_types["moe"]),
        "fused layers": len(facts.fused or {}),
        "model dtypes": len(facts.model_dtypes or []),
        "CompilationConfig fields": len(facts.compilation),
        "MTP-family names": len(facts.mtp.aliases) + bool(facts.mtp.method),
    }
    floor = {"vllm serve options": 100, "additional_config keys": 10, "tool parsers": 10}
    empty = {k: v for k, v in found.items() if v < floor.get(k, 1)}
    assert not empty, f"{name}: the extractors found (almost) nothing for {empty}"
    assert facts.headless is not None and facts.image.vllm and facts.image.cann
