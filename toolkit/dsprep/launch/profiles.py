"""Per-image profiles: what one vllm-ascend image version accepts, kept as data.

Each ``profiles/<name>.json`` beside this module describes one image version: its vLLM,
the graph modes and the flags or ``--additional-config`` they need, whether the Ascend
scheduler exists, the MTP method name, the reasoning parsers, the valid
``--additional-config`` keys and the environment of the multi-node guide. Rules and the
argv builder read these fields; no code branches on a version string.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from dsprep.errors import InputError

PROFILES_DIR = Path(__file__).resolve().parent / "profiles"


@dataclass(frozen=True)
class EnvEntry:
    """One export of env.sh; ``value`` may hold ``{ip}`` / ``{nic}``; ``added`` says why a
    profile adds it beyond the seed manual."""

    name: str
    value: str
    added: str = ""


@dataclass(frozen=True)
class GraphMode:
    args: tuple[str, ...]
    additional_config: dict[str, Any]
    compilation_config: dict[str, Any]
    batch_sizes_at: tuple[str, ...] | None  # where graph.batch_sizes go, e.g. additional_config…


@dataclass(frozen=True)
class Profile:
    name: str
    tags: tuple[str, ...]
    vllm_version: str
    sources: tuple[str, ...]
    graph_modes: dict[str, GraphMode]
    ascend_scheduler: bool
    mtp_method: str
    tool_call_parser: str
    reasoning_parsers: tuple[str, ...]
    reasoning_parser_advice: str
    additional_config_keys: tuple[str, ...] | None  # None: this profile does not check them
    ignored_additional_config_keys: tuple[str, ...]
    torchair_keys_need_enabled: tuple[str, ...]
    env: tuple[EnvEntry, ...]

    def matches(self, tag: str) -> bool:
        """``v0.11.0rc0`` and its variants such as ``v0.11.0rc0-openeuler`` or ``-a3``."""
        return any(tag == t or tag.startswith(t + "-") for t in self.tags)


def _profile(document: dict[str, Any]) -> Profile:
    modes = {
        name: GraphMode(
            args=tuple(mode.get("args", [])),
            additional_config=dict(mode.get("additional_config", {})),
            compilation_config=dict(mode.get("compilation_config", {})),
            batch_sizes_at=tuple(mode["batch_sizes_at"]) if mode.get("batch_sizes_at") else None,
        )
        for name, mode in document["graph_modes"].items()
    }
    keys = document.get("additional_config_keys")
    return Profile(
        name=document["name"],
        tags=tuple(document["tags"]),
        vllm_version=document["vllm_version"],
        sources=tuple(document.get("sources", [])),
        graph_modes=modes,
        ascend_scheduler=bool(document["ascend_scheduler"]),
        mtp_method=document["mtp_method"],
        tool_call_parser=document["tool_call_parser"],
        reasoning_parsers=tuple(document["reasoning_parsers"]),
        reasoning_parser_advice=document.get("reasoning_parser_advice", ""),
        additional_config_keys=tuple(keys) if keys is not None else None,
        ignored_additional_config_keys=tuple(document.get("ignored_additional_config_keys", [])),
        torchair_keys_need_enabled=tuple(document.get("torchair_keys_need_enabled", [])),
        env=tuple(EnvEntry(e["name"], e["value"], e.get("added", "")) for e in document["env"]),
    )


@cache
def all_profiles() -> tuple[Profile, ...]:
    """Every bundled profile, sorted by name."""
    profiles: list[Profile] = []
    for path in sorted(PROFILES_DIR.glob("*.json")):
        try:
            profiles.append(_profile(json.loads(path.read_text(encoding="utf-8"))))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InputError(
                f"bundled profile {path} is unreadable: {exc}",
                hint="reinstall dsprep",
                path=path,
            ) from exc
    return tuple(profiles)


def known_tags() -> list[str]:
    return sorted(tag for profile in all_profiles() for tag in profile.tags)


def find_profile(tag: str) -> Profile | None:
    """The profile for an image tag, or None when no profile knows it."""
    for profile in all_profiles():
        if profile.matches(tag):
            return profile
    return None
