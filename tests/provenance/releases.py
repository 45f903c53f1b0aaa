"""The bundled profiles' releases, their sources fetched and their facts extracted once
per run, and the :class:`~tests.provenance.compare.Context` the checks share.

``python -m tests.provenance.releases`` prints every difference of every bundled profile
(exit 1 when there is one, 3 when a source is unavailable): the same checks as the tests,
in one report.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping

from dsprep.family import DEFAULT_FAMILY
from dsprep.profiles import Profile, all_profiles
from tests.provenance import upstream
from tests.provenance.compare import CHECKS, Context, Difference, emitted_options
from tests.provenance.extract import ReleaseFacts, Tree, extract


class Releases(Mapping[str, ReleaseFacts]):
    """Profile name → the facts of its release, extracted on first use. A source that could
    not be fetched fails every later use with the same message (no second attempt)."""

    def __init__(self, profiles: tuple[Profile, ...]) -> None:
        self.profiles = {p.name: p for p in profiles}
        self._facts: dict[str, ReleaseFacts] = {}
        self._failed: dict[upstream.Sdist, upstream.SourceUnavailable] = {}
        self._trees: dict[upstream.Sdist, Tree] = {}

    def tree(self, sdist: upstream.Sdist) -> Tree:
        if sdist in self._failed:
            raise self._failed[sdist]
        if sdist not in self._trees:
            try:
                root = upstream.source(sdist, log=True)
            except upstream.SourceUnavailable as exc:
                self._failed[sdist] = exc
                raise
            self._trees[sdist] = Tree(root, upstream.normalize(sdist.name), sdist.version)
        return self._trees[sdist]

    def __getitem__(self, name: str) -> ReleaseFacts:
        if name not in self._facts:
            release = self.profiles[name].release
            ascend = self.tree(upstream.Sdist("vllm-ascend", release.vllm_ascend))
            vllm = self.tree(upstream.Sdist("vllm", release.vllm_pip))
            self._facts[name] = extract(ascend, vllm, DEFAULT_FAMILY.name)
        return self._facts[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.profiles)

    def __len__(self) -> int:
        return len(self.profiles)


def context(profiles: tuple[Profile, ...], releases: Mapping[str, ReleaseFacts]) -> Context:
    emitted, values = emitted_options()
    return Context(profiles, releases, DEFAULT_FAMILY.name, emitted, values)


def differences(profile: Profile, check: str, ctx: Context) -> list[Difference]:
    return CHECKS[check](profile, ctx.facts[profile.name], ctx)


def main() -> int:
    profiles = all_profiles()
    ctx = context(profiles, Releases(profiles))
    found = 0
    try:
        for profile in profiles:
            for check in CHECKS:
                for difference in differences(profile, check, ctx):
                    found += 1
                    print(f"{difference}\n")
    except upstream.SourceUnavailable as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 3
    names = ", ".join(p.name for p in profiles)
    print(
        f"{found} difference(s) in {len(profiles)} profile(s) ({names}), {len(CHECKS)} checks each"
    )
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
