"""The shape every model family module fills in: roles, architecture, layout, formulas."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from enum import Enum
from itertools import compress, repeat
from typing import Any

import msgspec

from dsprep.errors import InputError


class Role(str, Enum):
    """What a checkpoint tensor is, as the release's model code sees it.

    Profiles name roles (``weights.never_looked_up``, ``optional``, ``must_be_float``).
    """

    EMBEDDING = "embed_tokens"
    NORM = "norm"
    ATTENTION = "attention"  # q_a_proj, q_b_proj, kv_a_proj_with_mqa, o_proj
    KV_B = "kv_b_proj"
    ROUTER = "router"  # the MoE gate (and its correction bias): never quantized
    DENSE_MLP = "dense_mlp"
    SHARED_EXPERT = "shared_expert"
    ROUTED_EXPERT = "routed_expert"  # loaded through the fused MoE method
    LM_HEAD = "lm_head"
    MTP_EMBEDDING = "mtp_embed_tokens"
    MTP_EH_PROJ = "mtp_eh_proj"
    MTP_NORM = "mtp_norm"
    MTP_HEAD = "mtp_head"
    OTHER = "other"


class Placement(str, Enum):
    """How the weights of a role are spread over the NPUs of one DP rank."""

    EXPERT = "expert"  # split over the expert-parallel group
    SHARDED = "sharded"  # split over tensor parallelism
    REPLICATED = "replicated"  # a full copy on every NPU


class Architecture(msgspec.Struct, frozen=True):
    """A family's config.json keys the tools read; subclasses list them with the published
    model's values as defaults."""

    num_hidden_layers: int
    num_nextn_predict_layers: int
    max_position_embeddings: int

    @classmethod
    def from_config(cls, document: dict[str, Any], source: str) -> Architecture:
        """The keys of ``document`` (missing ones take the published values); a key that is
        not a non-negative integer is an :class:`InputError` naming ``source`` and the key."""
        values: dict[str, int] = {}
        for item in msgspec.structs.fields(cls):
            raw = document.get(item.name, item.default)
            if type(raw) is not int or raw < 0:
                raise InputError(
                    f"{source}: key {item.name!r} is {raw!r}, not a non-negative integer",
                    hint="fix config.json (it must be the model's own config.json)",
                    path=source,
                )
            values[item.name] = raw
        return cls(**values)

    @property
    def mtp_layers(self) -> range:
        """The MTP layers' indices: they follow the decoder layers."""
        return range(self.num_hidden_layers, self.num_hidden_layers + self.num_nextn_predict_layers)


class TensorSpec(msgspec.Struct, frozen=True):
    """One tensor of a checkpoint layout: header dtype, shape, and its description entry."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    quant_type: str  # FLOAT, W8A8, W8A8_DYNAMIC (W8A8 layout) or FP8 (the FP8 original)

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * DTYPE_BYTES[self.dtype]


DTYPE_BYTES = {"I8": 1, "I32": 4, "I64": 8, "F32": 4, "BF16": 2, "F16": 2, "F8_E4M3": 1}


class ModelFamily(msgspec.Struct, frozen=True, eq=False):
    """Everything specific to one family of checkpoints (see :mod:`dsprep.family`)."""

    name: str
    title: str
    architectures: tuple[str, ...]
    architecture: type[Architecture]
    published: Architecture  # the published model's config (the built-in default)
    role: Callable[[str, Architecture], Role]
    layer_index: Callable[[str], int]  # -1 for tensors outside the decoder layers
    placement: Callable[[str, Architecture], Placement]
    role_markers: dict[Role, str]  # a substring every tensor of the role has (a cheap filter)
    w8a8_layout: Callable[[Architecture], list[TensorSpec]]
    fp8_layout: Callable[[Architecture], list[TensorSpec]]
    kv_bytes_per_token: Callable[[Architecture, int, int], int]  # (arch, layers, dtype bytes)
    kv_formula: str  # how kv_bytes_per_token counts, for the memory plan's text
    # what a release's load adds beside the checkpoint (the profiles' ``memory`` section says
    # which): MLA's bf16 W_UK_T/W_UV copies per NPU for (arch, tp, attention layers), and
    # one rotary (positions × rope dim) bf16 table
    absorbed_kv_b_bytes: Callable[[Architecture, int, int], int]
    rope_table_bytes: Callable[[Architecture], int]
    fp8_shard_name: re.Pattern[str]  # how the FP8 original names its shards
    w8a8_repos: tuple[str, ...]  # ModelScope repos of Ascend W8A8 conversions
    mtp_markers: tuple[str, ...]  # tensor name tails that only the MTP layer has
    fp8_scale_suffix: str  # tensors only an FP8 block-scaled checkpoint has

    def from_config(self, document: dict[str, Any], source: str) -> Architecture:
        return self.architecture.from_config(document, source)

    def is_mtp(self, name: str, arch: Architecture) -> bool:
        return self.layer_index(name) >= arch.num_hidden_layers

    def with_role(self, names: Iterable[str], roles: set[Role], arch: Architecture) -> list[str]:
        """The names whose role is one of ``roles`` (a substring filter first, then
        :attr:`role` on the few candidates)."""
        markers = tuple(self.role_markers.get(r, "") for r in roles)
        candidates: Iterable[str] = names
        if "" not in markers:  # C-level substring tests, one pass per marker
            names = list(names)
            matched: set[str] = set()
            for marker in markers:
                matched.update(compress(names, map(str.__contains__, names, repeat(marker))))
            candidates = compress(names, map(matched.__contains__, names))
        return [n for n in candidates if self.role(n, arch) in roles]
