"""The shapes of what the extractors derive: names with the place the source defines each
(a citation in the profiles' own ``<dist>==<version> <file>:<line>`` format), and what was
read, for messages about a name the source lacks."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True)
class Listed:
    """A list derived from the source: each name → where the source defines or reads it."""

    names: dict[str, str]
    read: str  # what was read, e.g. "vllm==0.12.0 vllm/reasoning/__init__.py (…)"

    def __contains__(self, name: object) -> bool:
        return name in self.names

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)

    def set(self) -> set[str]:
        return set(self.names)


@dataclass(frozen=True)
class ConfigKeys:
    """What vllm-ascend's config code reads from ``--additional-config``.

    ``top``: every top-level key read. ``nested``: for a key whose value is read as a dict,
    the keys read inside it. ``open``: keys whose dict is kept whole (every key copied onto
    an object) with no known consumer, so no key list exists. ``strict``: dicts whose
    unknown keys raise at start-up (the citation is the ``raise``).
    """

    top: Listed
    nested: dict[str, Listed] = field(default_factory=dict)
    open: dict[str, str] = field(default_factory=dict)
    strict: dict[str, str] = field(default_factory=dict)

    def reads(self, path: list[str]) -> bool:
        """Whether ``path`` (``["torchair_graph_config", "enabled"]``) is a key path read;
        below the second level (``prefetch_ratio.attn``) keys are not derived and pass."""
        if not path or path[0] not in self.top:
            return False
        if len(path) == 1 or path[0] in self.open:
            return True
        return path[0] in self.nested and path[1] in self.nested[path[0]]


@dataclass(frozen=True)
class ServeFlags:
    """``vllm serve`` options: every option string → where it is added, and the choices of
    the options that restrict their values."""

    flags: dict[str, str]
    choices: dict[str, list[str]]
    read: str


@dataclass(frozen=True)
class HeadlessRule:
    """The largest ``--api-server-count`` a ``--headless`` node accepts, what it raises above
    it, where; and whether the head defaults to one API server per data-parallel rank."""

    max_api_server_count: int
    raises: str
    at: str
    head_per_dp_rank: bool
    head_at: str


AliasStatus = Literal["accepted", "deprecated"]


@dataclass(frozen=True)
class MtpMethods:
    """The speculative method a DeepSeek MTP draft ends up with (``method``) and every other
    MTP-family name the release accepts for it, silently or with a deprecation warning."""

    method: str
    method_at: str
    aliases: dict[str, AliasStatus]
    alias_at: dict[str, str]
    read: str


@dataclass(frozen=True)
class Image:
    """What the release's ``Dockerfile`` and ``PKG-INFO`` say."""

    vllm_ascend: str
    vllm: str  # VLLM_TAG without its "v"
    cann: str
    python: str
    at: dict[str, str]
