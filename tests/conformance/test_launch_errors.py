"""Every launch error dsprep reports, fed to the release's real vLLM and vllm-ascend.

For each variant of :mod:`tests.conformance.negatives` dsprep must report its code, and
the argv dsprep would have emitted must be rejected by the release where the problem is a
start-up setting (``rejected``), or accepted where only the NPU runtime or the network
would catch it (``runtime``, with the source line), where the argv does not carry it
(``not-in-argv``), where the release silently ignores it (``ignored``) or serves the model
wrongly (``misserves``), or starts with another value than the cluster file
says (``overrides``: the engine config must hold the repeated flag's value).
"""

from __future__ import annotations

import pytest

from dsprep.profiles import all_profiles
from tests.conformance.expect import describe, matches_raises
from tests.conformance.negatives import REJECTED, fixed_variants, launch_error_codes, variants
from tests.conformance.probe import profile_run, selected_profiles

pytestmark = pytest.mark.conformance


def _variants() -> list[object]:
    return [
        pytest.param(profile.name, variant.id, id=f"{profile.name}-{variant.id}")
        for profile in selected_profiles()
        for variant in variants(profile)
    ]


@pytest.mark.parametrize(("profile_name", "variant_id"), _variants())
def test_launch_error_against_the_release(profile_name: str, variant_id: str) -> None:
    run = profile_run(profile_name)
    found = next(r for r in run.variants if r.variant.id == variant_id)
    variant = found.variant
    if found.cell is None:
        assert not variant.required, (
            f"the profile's {variant.code} data ({variant.why}) cannot be turned into a cluster"
            " file: teach tests/conformance/negatives.py the new rule kind or key"
        )
        pytest.skip(f"{profile_name} cannot express {variant.id} ({variant.why})")
    assert variant.code in found.cell.codes(None), (
        f"dsprep does not report {variant.code} for {variant.why}: "
        f"{[(f.code, f.message) for f in found.cell.findings]}"
    )
    outcomes = {n["name"]: run.outcome(f"{variant.id}/{n['name']}") for n in found.nodes}
    assert outcomes, "no argv was built for the variant"
    argv = {n["name"]: " ".join(n["argv"]) for n in found.nodes}
    evidence = "\n".join(f"[{name}] {argv[name]}\n{describe(o)}" for name, o in outcomes.items())
    if variant.expect != REJECTED:
        accepted = all(o["accepted"] for o in outcomes.values())
        assert accepted, (
            f"{variant.code} is {variant.expect} ({variant.why}; {variant.cite or 'no line'}),"
            f" but the release's configuration code rejects it:\n{evidence}"
        )
        for name, outcome in outcomes.items():
            held = {key: outcome["config"].get(key) for key in variant.config}
            assert held == variant.config, (
                f"{variant.code}: dsprep says {variant.why} overrides the cluster key, but"
                f" the engine config on {name} holds {held}, not {variant.config}:\n{evidence}"
            )
        return
    head, *headless = outcomes
    judged = {"head": [head], "headless": headless}.get(variant.nodes, list(outcomes))
    rejected = [name for name in judged if not outcomes[name]["accepted"]]
    assert rejected, (
        f"dsprep reports {variant.code} ({variant.why}), but vLLM {run.setup['vllm']} with"
        f" vllm-ascend {run.profile.release.vllm_ascend} accepts the argv on"
        f" {', '.join(judged)}:\n{evidence}"
    )
    if variant.raises:
        when = variant.name.split("-", 1)[-1]
        quoted = [
            r.raises for r in run.profile.launch.rules if any(w.endswith(when) for w in r.when)
        ]
        errors = [outcomes[name]["error"] for name in rejected]
        assert any(matches_raises(e, q) for e in errors for q in quoted or [variant.raises]), (
            f"dsprep says the release raises {variant.raises!r}; it raised:\n{evidence}"
        )


def test_every_launch_error_code_has_a_variant() -> None:
    """A new launch error code needs a variant here (and a verdict on what the release does)."""
    covered = {v.code for v in fixed_variants()}
    for profile in all_profiles():
        covered |= {v.code for v in variants(profile)}
    missing = launch_error_codes() - covered
    assert not missing, f"launch error codes without a conformance variant: {sorted(missing)}"
