"""What the model puts on the NPUs: weight bytes split into routed experts (spread over the
expert-parallel group), TP-sharded and replicated weights.

Measured from the shard headers (the one reader ``check`` uses, inside the folder only)
when a local copy is given; otherwise summed from the model family's W8A8 layout for
config.json's architecture (or the published one).
"""

from __future__ import annotations

from dataclasses import dataclass
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


def _totals(
    names: list[str], sizes: list[int], shape: ModelShape, mtp: bool
) -> dict[Placement, int]:
    totals = dict.fromkeys(Placement, 0)
    family, arch = shape.family, shape.arch
    for name, size in zip(names, sizes, strict=True):
        if mtp or not family.is_mtp(name, arch):  # the MTP layer loads with the draft only
            totals[family.placement(name, arch)] += size
    return totals


def weights_from_headers(model: ModelDir, shape: ModelShape, mtp: bool) -> WeightBytes | None:
    """Sum the shard headers of the folder; None when it holds no safetensors shard."""
    shards = [n for n in model.entries() if n.endswith(".safetensors")]
    if not shards:
        return None
    totals = dict.fromkeys(Placement, 0)

    def add(chunk: Chunk) -> None:
        sizes = [i.nbytes for i in chunk.infos]
        for placement, size in _totals(chunk.names, sizes, shape, mtp).items():
            totals[placement] += size

    for name in shards:
        try:
            scan_shard(model.resolve(name), add)
        except (HeaderError, FolderProblem) as exc:
            message = exc.finding.message if isinstance(exc, FolderProblem) else exc.message
            raise InputError(
                message, hint="run `dsprep check` on the model folder", path=model.display(name)
            ) from exc
    return WeightBytes(
        totals[Placement.EXPERT],
        totals[Placement.SHARDED],
        totals[Placement.REPLICATED],
        "headers",
        len(shards),
    )


@cache
def _layout_totals(family: ModelFamily, arch: Architecture, mtp: bool) -> dict[Placement, int]:
    specs = family.w8a8_layout(arch)
    return _totals(
        [s.name for s in specs], [s.nbytes for s in specs], ModelShape(family, arch, ""), mtp
    )


def weights_from_layout(shape: ModelShape, mtp: bool) -> WeightBytes:
    """The family's W8A8 layout of the architecture, summed (no shard needed)."""
    totals = _layout_totals(shape.family, shape.arch, mtp)
    return WeightBytes(
        totals[Placement.EXPERT],
        totals[Placement.SHARDED],
        totals[Placement.REPLICATED],
        shape.source,
    )
