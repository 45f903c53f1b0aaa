"""The finding catalogue is the one place codes live: every finding goes through it, every
kind is emitted somewhere, no code path branches on a code, the README tables are its."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

from dsprep import catalogue, errors
from dsprep.catalogue import BY_CODE, Area, readme_with_tables
from dsprep.findings import Finding, Severity
from dsprep.profiles import all_profiles
from tests.conftest import REPO_ROOT

PACKAGE = REPO_ROOT / "toolkit" / "dsprep"
SOURCES = sorted(PACKAGE.rglob("*.py"))
KIND_NAMES = {name for name, value in vars(catalogue).items() if isinstance(value, catalogue.Kind)}


def _trees() -> dict[Path, ast.Module]:
    return {path: ast.parse(path.read_text(encoding="utf-8")) for path in SOURCES}


def test_a_code_outside_the_catalogue_is_refused() -> None:
    with pytest.raises(ValueError, match=r"not in dsprep\.catalogue"):
        Finding("no-such-code", "f", "m")
    assert catalogue.FP8_WEIGHTS("f", "m").hint == catalogue.FP8_WEIGHTS.fix
    with pytest.raises(ValueError, match="never reported as info"):
        catalogue.FP8_WEIGHTS("f", "m", severity=Severity.INFO)


def test_findings_are_made_only_through_the_catalogue() -> None:
    """No ``Finding(...)`` call outside findings.py; kinds make them."""
    offenders = []
    for path, tree in _trees().items():
        if path.name in ("findings.py", "catalogue.py"):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Finding":
                offenders.append(f"{path.relative_to(REPO_ROOT)}:{node.lineno}")
    assert offenders == []


def _used_kinds() -> set[str]:
    """Kind constants referenced as ``C.NAME``/``catalogue.NAME``, codes looked up by string
    (``kind("…")``, error classes' ``code = …``) and codes profiles' rules report."""
    used: set[str] = set()
    codes: set[str] = set()
    for path, tree in _trees().items():
        if path.name == "catalogue.py":
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in KIND_NAMES:
                used.add(node.attr)
    for cls in [errors.DsprepError, *_subclasses(errors.DsprepError)]:
        codes.add(cls.code)
    codes |= {rule.code for p in all_profiles() for rule in p.launch.rules}
    return used | {name for name in KIND_NAMES if getattr(catalogue, name).code in codes}


def _subclasses(cls: type) -> list[type]:
    import dsprep.template.render
    import dsprep.weights.hubclient
    import dsprep.weights.shards  # noqa: F401

    found = []
    for sub in cls.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return found


def test_every_kind_is_emitted_somewhere() -> None:
    unused = sorted(KIND_NAMES - _used_kinds())
    assert unused == [], f"catalogue kinds nothing emits: {unused}"


def test_error_classes_carry_catalogue_codes_of_errors() -> None:
    for cls in [errors.DsprepError, *_subclasses(errors.DsprepError)]:
        kind = BY_CODE[cls.code]  # KeyError: a code outside the catalogue
        assert kind.area is Area.ERRORS or cls.__name__ == "HeaderError", cls


def test_no_code_path_branches_on_a_finding_code() -> None:
    """``x.code == …``, ``… in result.codes()`` and the like are not control flow."""
    offenders = []
    for path, tree in _trees().items():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Compare):
                continue
            parts = [node.left, *node.comparators]
            if any(getattr(part, "id", None) == "BY_CODE" for part in parts):
                continue  # validating that a code is in the catalogue
            for part in parts:
                is_code = isinstance(part, ast.Attribute) and part.attr == "code"
                is_codes = (
                    isinstance(part, ast.Call)
                    and isinstance(part.func, ast.Attribute)
                    and part.func.attr == "codes"
                )
                if is_code or is_codes:
                    offenders.append(f"{path.relative_to(REPO_ROOT)}:{node.lineno}")
    assert offenders == []


def test_readme_tables_are_the_catalogue() -> None:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert readme_with_tables(readme) == readme, (
        "README.md's finding tables differ from dsprep.catalogue: run "
        "`python -m dsprep.catalogue` in the repository root"
    )


def test_every_kind_says_what_it_means_and_how_to_fix_it() -> None:
    for kind in BY_CODE.values():
        assert kind.meaning and kind.code == kind.code.lower()
        assert kind.fix or kind.severity is Severity.INFO, kind.code
        assert kind.anchor == f"README.md#{kind.code}"


def test_the_readme_anchor_is_there() -> None:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    for kind in BY_CODE.values():
        assert f'<a id="{kind.code}"></a>' in readme, kind.code


def test_the_catalogue_module_documents_itself() -> None:
    assert "README" in (inspect.getdoc(catalogue) or "")
