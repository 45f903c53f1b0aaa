"""Extractors: every list a profile states, re-derived from a release's real source.

Each module reads the unpacked sdists with :mod:`ast` (stdlib only, nothing imported from
vLLM or vllm-ascend) and says in its docstring exactly what it derives and from where:

=============================  ===============================================================
:mod:`.additional_config`      ``--additional-config`` keys vllm-ascend reads (top, nested,
                               strict containers)
:mod:`.parsers`                reasoning and tool parser names vLLM's registries hold
:mod:`.quant`                  quant types per layer kind, fused layers, model dtypes
:mod:`.flags`                  ``vllm serve`` options and their choices, the headless rule
:mod:`.compilation`            fields of vLLM's compilation / speculative / KV-transfer
                               configs, enum members
:mod:`.mtp`                    the MTP method and its accepted aliases
:mod:`.image`                  Dockerfile / PKG-INFO facts, environment variables read
=============================  ===============================================================

:func:`extract` runs them all for one release (a vllm-ascend tree and its vLLM tree).
"""

from __future__ import annotations

from dataclasses import dataclass

from tests.provenance.extract._ast import Tree
from tests.provenance.extract.additional_config import additional_config_keys
from tests.provenance.extract.compilation import compilation_fields, configs
from tests.provenance.extract.facts import (
    ConfigKeys,
    HeadlessRule,
    Image,
    Listed,
    MtpMethods,
    ServeFlags,
)
from tests.provenance.extract.flags import headless_rule, serve_flags
from tests.provenance.extract.image import env_read, image
from tests.provenance.extract.mtp import mtp_methods
from tests.provenance.extract.parsers import reasoning_parsers, tool_parsers
from tests.provenance.extract.quant import fused, model_dtypes, quant_types


@dataclass(frozen=True)
class ReleaseFacts:
    """Everything derived from one release's source."""

    ascend: Tree
    vllm: Tree
    additional_config: ConfigKeys
    reasoning_parsers: Listed
    tool_parsers: Listed
    quant_types: dict[str, Listed]
    fused: dict[str, tuple[list[str], str]] | None
    model_dtypes: Listed | None
    serve_flags: ServeFlags
    headless: HeadlessRule | None
    compilation: Listed
    compilation_members: dict[str, Listed]
    configs: dict[str, Listed]  # compilation_config, speculative_config, kv_transfer_config
    mtp: MtpMethods
    image: Image

    def env_read(self, name: str) -> str | None:
        """Where the release reads environment variable ``name`` (None: it does not)."""
        return env_read(self.vllm, self.ascend, name)


def extract(ascend: Tree, vllm: Tree, model_type: str) -> ReleaseFacts:
    """All facts of the release whose sources are ``ascend`` and ``vllm``; ``model_type``
    is the model family's config.json ``model_type`` (for the fused-layer mapping)."""
    compilation, members = compilation_fields(vllm)
    return ReleaseFacts(
        ascend=ascend,
        vllm=vllm,
        additional_config=additional_config_keys(ascend, vllm),
        reasoning_parsers=reasoning_parsers(vllm),
        tool_parsers=tool_parsers(vllm),
        quant_types=quant_types(ascend),
        fused=fused(ascend, model_type),
        model_dtypes=model_dtypes(ascend),
        serve_flags=serve_flags(vllm, ascend),
        headless=headless_rule(vllm),
        compilation=compilation,
        compilation_members=members,
        configs=configs(vllm),
        mtp=mtp_methods(vllm, ascend),
        image=image(ascend),
    )


__all__ = ["ReleaseFacts", "Tree", "extract"]
