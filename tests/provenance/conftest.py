"""The provenance tier: run only when asked for.

``bash tests/run`` (pytest over ``tests/``) does not collect this folder: it downloads
release sources and is run on purpose, by ``bash tests/provenance/run``, by naming a path
inside it (``pytest tests/provenance``) or with ``DSPREP_PROVENANCE=1``. Asked for, it never
skips: a source that is neither cached nor downloadable fails the tests that need it, with
the reason and the fix (the extractor, cache and comparison unit tests need no network).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from dsprep.errors import InputError
from dsprep.profiles import Profile, all_profiles
from tests.provenance import upstream
from tests.provenance.compare import Context
from tests.provenance.releases import Releases, context

TIER = Path(__file__).resolve().parent
SELECT_ENV = "DSPREP_PROVENANCE"
_NOT_RUN = pytest.StashKey[bool]()


def _inside_tier(path: Path) -> bool:
    return path == TIER or TIER in path.parents


def selected(config: pytest.Config) -> bool:
    """The tier was asked for: ``DSPREP_PROVENANCE=1`` or a path argument inside it."""
    if os.environ.get(SELECT_ENV, "") not in ("", "0"):
        return True
    base = Path(config.invocation_params.dir)
    for argument in config.invocation_params.args:
        if argument.startswith("-"):
            continue
        candidate = (base / argument.split("::", 1)[0]).resolve()
        if candidate.exists() and _inside_tier(candidate):
            return True
    return False


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    if _inside_tier(Path(collection_path).resolve()) and not selected(config):
        config.stash[_NOT_RUN] = True
        return True
    return None


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    if config.stash.get(_NOT_RUN, False):
        terminalreporter.write_line(
            "provenance tier (tests/provenance) not run: it re-derives the profiles' lists from "
            f"the releases' sources; run it with `bash tests/provenance/run` (or {SELECT_ENV}=1)"
        )


@pytest.fixture(scope="session")
def profiles() -> tuple[Profile, ...]:
    try:
        return all_profiles()
    except InputError as exc:
        pytest.fail(f"the bundled profiles do not load: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def releases(profiles: tuple[Profile, ...]) -> Releases:
    return Releases(profiles)


@pytest.fixture(scope="session")
def ctx(profiles: tuple[Profile, ...], releases: Releases) -> Context:
    return context(profiles, releases)


def facts_or_fail(releases: Releases, name: str) -> Any:
    """The release facts of profile ``name``; a clear failure when a source is unavailable."""
    try:
        return releases[name]
    except upstream.SourceUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)
