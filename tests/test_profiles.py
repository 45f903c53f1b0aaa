"""The bundled release profiles: valid by the committed schema, every fact sourced, named
after their release, and found by every tag they claim."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from packaging.version import Version

from dsprep import profiles
from dsprep.errors import InputError
from dsprep.resources import profile_files, schema_path


def test_the_committed_schema_is_generated_from_the_structs() -> None:
    committed = schema_path("profile.schema.json").read_text(encoding="utf-8")
    assert committed == profiles.schema_text(), "run: python -m dsprep.profiles"


@pytest.mark.parametrize("path", profile_files(), ids=lambda p: p.name)
def test_each_bundled_profile_is_valid_by_the_schema_and_sourced(path: Path) -> None:
    schema = json.loads(schema_path("profile.schema.json").read_text(encoding="utf-8"))
    document = json.loads(path.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    errors = [e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(document)]
    assert errors == []
    profile = profiles.decode_profile(path.read_bytes(), path.name)  # sources checked too
    assert path.stem == profile.name  # the loader finds a tag's profile by its file name
    assert profile.name in profile.tags


def test_the_schema_refuses_an_unsourced_fact_and_an_unknown_key() -> None:
    schema = json.loads(schema_path("profile.schema.json").read_text(encoding="utf-8"))
    document = json.loads(profile_files()[0].read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    unsourced = json.loads(json.dumps(document))
    del unsourced["weights"]["sources"]["fused"]
    assert any("fused" in e.message for e in validator.iter_errors(unsourced))
    unknown = json.loads(json.dumps(document))
    unknown["launch"]["graph_mode"] = "eager"
    assert any("graph_mode" in e.message for e in validator.iter_errors(unknown))
    bad_source = json.loads(json.dumps(document))
    bad_source["weights"]["sources"]["fused"] = "quant_config.py line 180"
    assert list(validator.iter_errors(bad_source))


def test_a_profile_without_a_source_is_refused_at_load() -> None:
    document = json.loads(profile_files()[0].read_text(encoding="utf-8"))
    del document["chat"]["sources"][next(iter(document["chat"]["sources"]))]
    with pytest.raises(InputError, match=r"chat\.sources does not match its facts"):
        profiles.decode_profile(json.dumps(document).encode(), "broken.json")


def test_profiles_are_ordered_by_release_and_the_newest_is_the_default() -> None:
    releases = [Version(p.release.vllm_ascend) for p in profiles.all_profiles()]
    assert releases == sorted(releases)
    assert profiles.profile_for(None) == profiles.all_profiles()[-1]


def test_every_tag_and_variant_finds_its_profile() -> None:
    for profile in profiles.all_profiles():
        for tag in profile.tags:
            assert profiles.profile_for(tag) == profile
            for variant in profile.variants:
                assert profiles.profile_for(tag + variant) == profile


def test_an_unknown_tag_names_the_known_and_the_nearest() -> None:
    newest = profiles.all_profiles()[-1].name
    with pytest.raises(InputError) as refused:
        profiles.profile_for(newest + "x")
    assert f"nearest: {newest}" in refused.value.message
    assert "known:" in refused.value.message
    assert profiles.find_profile(newest + "-a9") is None


def test_the_readme_table_lists_every_bundled_profile() -> None:
    from tests.conftest import REPO_ROOT

    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("<!-- profiles:begin -->") : readme.index("<!-- profiles:end -->")]
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    expected = []
    for p in profiles.all_profiles():
        modes = ", ".join(p.launch.graph_modes)
        expected.append(
            f"| `{p.name}` | {p.release.vllm} | {p.release.cann} | {p.launch.default_graph_mode} "
            f"| {modes} | {', '.join(p.variants)} |"
        )
    assert rows == expected


def test_the_release_lines_of_issue_9_are_bundled() -> None:
    """Every release line operators run, with the image variants its Dockerfiles build."""
    assert [p.name for p in profiles.all_profiles()] == [
        "v0.11.0rc0",
        "v0.11.0",
        "v0.12.0rc1",
        "v0.13.0",
        "v0.18.0",
        "v0.23.0",
    ]
    newest = profiles.profile_for("v0.23.0-a5-openeuler")
    assert newest.release.vllm_ascend == "0.23.0.post1"  # facts read from 0.23.0.post1
    assert (newest.release.vllm, newest.release.python) == ("0.23.0", "3.12")
    assert profiles.find_profile("v0.18.0-a5") is None  # A5 images start with 0.23


@pytest.mark.parametrize("profile", profiles.all_profiles(), ids=lambda p: p.name)
def test_weights_facts_name_what_exists(profile: profiles.Profile) -> None:
    """Roles are the family's, fused exceptions are graph modes of the release, a marked
    fa_quant_type names its marker, every quant method is a type the release registers."""
    from dsprep.family import Role

    weights = profile.weights
    roles = {*weights.never_looked_up, *weights.optional, *weights.must_be_float}
    assert roles | set(weights.fallback) <= {r.value for r in Role}
    for group in weights.fused:
        assert set(group.except_graph_modes) <= set(profile.launch.graph_modes)
        assert "{prefix}" in group.message and "{prefix}" in group.float_message
    assert (weights.fa_quant_type.applies == "marked") is bool(weights.fa_quant_type.marker)
    registered = {t for kind in ("linear", "moe") for t in weights.quant_types.get(kind, [])}
    assert set(weights.methods) <= registered
