"""What the model puts on the NPUs: weight bytes split into routed experts (spread over the
expert-parallel group), TP-sharded and replicated weights.

Measured from the shard headers (the one reader ``check`` uses, inside the folder only)
when a local copy is given; otherwise summed from the model family's W8A8 layout for
config.json's architecture (or the published one).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from dsprep.errors import InputError
from dsprep.family import DEFAULT_FAMILY, ModelFamily, family_for
from dsprep.family.base import Architecture, Placement
from dsprep.weights.folder import FolderProblem, ModelDir
from dsprep.weights.shards import Chunk, HeaderError, scan_shard

CONFIG = "config.json"


@dataclass(frozen=True)
class WeightBytes:
    """Bytes of the loaded weights by placement; ``source`` says how they were obtained."""

    routed_experts: int
    sharded: int  # split over TP (attention projections, dense/shared MLP, vocab)
    replicated: int  # every NPU holds a full copy (norms, router, q_a/kv_a projections)
    source: str  # "headers" | "config" | "builtin"
    shards: int = 0
    # the same bytes by family role, then placement (what the release's load treats apart:
    # shared experts held whole, MTP tensors the drafter takes from the target)
    roles: dict[str, dict[str, int]] = field(default_factory=dict)

    def role_bytes(self, role: str, tp: int, ep: int) -> int:
        """One role's bytes on one NPU, each placement split its way."""
        divisor = {Placement.EXPERT.value: ep, Placement.SHARDED.value: tp}
        return sum(
            -(-size // divisor.get(placement, 1))
            for placement, size in self.roles.get(role, {}).items()
        )


@dataclass(frozen=True)
class ModelShape:
    family: ModelFamily
    arch: Architecture
    source: str  # "config" | "builtin"


def read_model(model_dir: Path | None) -> tuple[ModelShape, ModelDir | None]:
    """The family and architecture of ``model_dir``'s config.json (the published model's
    without a folder); :class:`InputError` naming the file when it is unusable."""
    if model_dir is None:
        return ModelShape(DEFAULT_FAMILY, DEFAULT_FAMILY.published, "builtin"), None
    model = ModelDir(Path(model_dir))
    shown = model.display(CONFIG)
    if CONFIG not in model.entries():
        raise InputError(
            f"{shown} does not exist",
            hint="--model-dir must be the model folder holding config.json",
            path=shown,
        )
    try:
        document = model.load_json_object(CONFIG)
    except FolderProblem as problem:
        raise InputError(
            problem.finding.message,
            hint="--model-dir must be the model folder holding config.json",
            path=shown,
        ) from problem
    family = family_for(document) or DEFAULT_FAMILY
    return ModelShape(family, family.from_config(document, shown), "config"), model


Totals = dict[str, dict[str, int]]  # role -> placement -> bytes


def _add(totals: Totals, names: list[str], sizes: list[int], shape: ModelShape, mtp: bool) -> None:
    family, arch = shape.family, shape.arch
    for name, size in zip(names, sizes, strict=True):
        if mtp or not family.is_mtp(name, arch):  # the MTP layer loads with the draft only
            by_placement = totals[family.role(name, arch).value]
            placement = family.placement(name, arch).value
            by_placement[placement] = by_placement.get(placement, 0) + size


def _weight_bytes(totals: Totals, source: str, shards: int = 0) -> WeightBytes:
    placed = dict.fromkeys(Placement, 0)
    for by_placement in totals.values():
        for placement, size in by_placement.items():
            placed[Placement(placement)] += size
    return WeightBytes(
        placed[Placement.EXPERT],
        placed[Placement.SHARDED],
        placed[Placement.REPLICATED],
        source,
        shards,
        {role: dict(by_placement) for role, by_placement in sorted(totals.items())},
    )


def weights_from_headers(model: ModelDir, shape: ModelShape, mtp: bool) -> WeightBytes | None:
    """Sum the shard headers of the folder; None when it holds no safetensors shard."""
    shards = [n for n in model.entries() if n.endswith(".safetensors")]
    if not shards:
        return None
    totals: Totals = defaultdict(dict)

    def add(chunk: Chunk) -> None:
        _add(totals, chunk.names, [i.nbytes for i in chunk.infos], shape, mtp)

    for name in shards:
        try:
            scan_shard(model.resolve(name), add)
        except (HeaderError, FolderProblem) as exc:
            message = exc.finding.message if isinstance(exc, FolderProblem) else exc.message
            raise InputError(
                message, hint="run `dsprep check` on the model folder", path=model.display(name)
            ) from exc
    return _weight_bytes(totals, "headers", len(shards))


@cache
def _layout_totals(family: ModelFamily, arch: Architecture, mtp: bool) -> Totals:
    specs = family.w8a8_layout(arch)
    totals: Totals = defaultdict(dict)
    _add(
        totals,
        [s.name for s in specs],
        [s.nbytes for s in specs],
        ModelShape(family, arch, ""),
        mtp,
    )
    return dict(totals)


def weights_from_layout(shape: ModelShape, mtp: bool) -> WeightBytes:
    """The family's W8A8 layout of the architecture, summed (no shard needed)."""
    return _weight_bytes(_layout_totals(shape.family, shape.arch, mtp), shape.source)
