"""The one reader of safetensors shard headers (``check``, the index hook and ``plan``): never
reads tensor data.

The format: 8 bytes little-endian header length ``N``, ``N`` bytes of JSON (an object of
``name -> {"dtype", "shape", "data_offsets": [start, end]}`` plus an optional
``__metadata__`` object of strings), then the data region. The reader refuses an absurd
``N`` before allocating and validates every entry as the safetensors library does (known
dtype, non-negative integer shape, offsets that match the shape and tile the data region
without gap or overlap). Truncation is not an error here: the declared size
``8 + N + max(end)`` is compared with the size on disk by :func:`size_findings`.

The header is decoded in two steps (msgspec, in C): first into ``name -> raw entry``, then
the entries in chunks, so a shard of 139,000 tensors never holds them all as objects. Each
chunk goes to the caller's ``visit(names, infos)`` before the tiling is known to hold: a
caller keeps what it learns per shard and drops it when :class:`HeaderError` is raised.
The raw entries stay available to the caller (:meth:`ShardEntries.info`) for lookups by
name. The safetensors library is the reference the tests compare this reader against.
"""

from __future__ import annotations

import math
import os
from array import array
from collections.abc import Callable, Iterator
from itertools import repeat
from operator import attrgetter, itemgetter, mul, sub
from pathlib import Path
from typing import Annotated, Literal

import msgspec

from dsprep import catalogue as C
from dsprep.errors import InputError
from dsprep.findings import Finding
from dsprep.weights.folder import json_error, open_regular, permission_hint

# The safetensors library refuses headers above 100 MB; so do we, before allocating.
MAX_HEADER_BYTES = 100_000_000
CHUNK = 4096  # entries decoded at a time

# Bits per element of every dtype safetensors writes (sub-byte types pack).
DTYPE_BITS: dict[str, int] = {
    "BOOL": 8,
    "U8": 8,
    "I8": 8,
    "F8_E4M3": 8,
    "F8_E5M2": 8,
    "F8_E8M0": 8,
    "I16": 16,
    "U16": 16,
    "F16": 16,
    "BF16": 16,
    "I32": 32,
    "U32": 32,
    "F32": 32,
    "I64": 64,
    "U64": 64,
    "F64": 64,
    "C64": 64,
    "F4": 4,
    "F6_E2M3": 6,
    "F6_E3M2": 6,
}
FP8_DTYPES = frozenset({"F8_E4M3", "F8_E5M2"})
DType = Literal[
    "BOOL", "U8", "I8", "F8_E4M3", "F8_E5M2", "F8_E8M0", "I16", "U16", "F16", "BF16", "I32",
    "U32", "F32", "I64", "U64", "F64", "C64", "F4", "F6_E2M3", "F6_E3M2",
]  # fmt: skip
NonNegative = Annotated[int, msgspec.Meta(ge=0)]


class TensorInfo(msgspec.Struct, frozen=True, gc=False):
    """One header entry: dtype code, shape, and byte offsets inside the data region."""

    dtype: DType
    shape: tuple[NonNegative, ...]
    data_offsets: tuple[NonNegative, NonNegative]

    @property
    def nbytes(self) -> int:
        start, end = self.data_offsets
        return end - start


_ENTRIES = msgspec.json.Decoder(dict[str, msgspec.Raw])
_TENSOR = msgspec.json.Decoder(TensorInfo)
_METADATA = msgspec.json.Decoder(dict[str, str])
decode_tensor = _TENSOR.decode
_SHAPE = attrgetter("shape")
_DTYPE = attrgetter("dtype")
_OFFSETS = attrgetter("data_offsets")
_START = itemgetter(0)
_END = itemgetter(1)


class Chunk(msgspec.Struct, frozen=True):
    """Up to :data:`CHUNK` validated tensors of a shard, in header order."""

    names: list[str]
    infos: list[TensorInfo]
    dtypes: list[str]


Visit = Callable[[Chunk], None]


class ShardHeader(msgspec.Struct, frozen=True):
    """The validated header of one shard plus what the file system says about it."""

    path: Path
    header_len: int
    size_on_disk: int
    data_bytes: int  # length of the data region the header declares (max end offset)
    tensors: int
    dtypes: frozenset[str]
    metadata: dict[str, str] = msgspec.field(default_factory=dict)

    @property
    def declared_size(self) -> int:
        """The file size the header implies: 8 + header length + data region."""
        return 8 + self.header_len + self.data_bytes

    @property
    def missing_bytes(self) -> int:
        """How many bytes are missing at the end (0 when complete)."""
        return max(0, self.declared_size - self.size_on_disk)

    @property
    def truncated(self) -> bool:
        return self.missing_bytes > 0

    @property
    def extra_bytes(self) -> int:
        """Bytes after the declared data region (the safetensors library refuses those)."""
        return max(0, self.size_on_disk - self.declared_size)

    @property
    def has_fp8(self) -> bool:
        return not self.dtypes.isdisjoint(FP8_DTYPES)


class HeaderError(InputError):
    """A shard's header cannot be trusted: bad length, not JSON, bad entries, bad offsets."""

    code = C.BAD_HEADER.code

    def __init__(self, path: Path, problem: str, *, hint: str = C.BAD_HEADER.fix) -> None:
        super().__init__(f"{path}: {problem}", hint=hint, path=path)
        self.problem = problem


class ShardEntries:
    """The raw entries of a shard being read, for lookups by tensor name."""

    def __init__(self, entries: dict[str, msgspec.Raw]) -> None:
        self._entries = entries
        self.raw = entries.get  # the raw entry of a name (decode_tensor decodes it), or None

    def __contains__(self, name: str) -> bool:
        return name in self._entries

    def names(self) -> Iterator[str]:
        return iter(self._entries)

    def info(self, name: str) -> TensorInfo | None:
        """The entry of ``name`` (already validated by the reader), or None."""
        raw = self._entries.get(name)
        return None if raw is None else _TENSOR.decode(raw)


def read_header_bytes(path: Path) -> tuple[bytes, int]:
    """(the JSON header, the file size), bounded; :class:`HeaderError` when unreadable."""
    try:
        handle = open_regular(path)
    except OSError as exc:
        hint = permission_hint(str(path)) if isinstance(exc, PermissionError) else C.BAD_HEADER.fix
        raise HeaderError(path, exc.strerror or str(exc), hint=hint) from exc
    with handle:
        size = os.fstat(handle.fileno()).st_size
        if size < 8:
            raise HeaderError(path, f"file is {size} bytes, too short for the 8-byte header length")
        header_len = int.from_bytes(handle.read(8), "little")
        if header_len > MAX_HEADER_BYTES:
            raise HeaderError(
                path, f"header length {header_len} exceeds the 100 MB safetensors limit"
            )
        if 8 + header_len > size:
            raise HeaderError(path, f"header length {header_len} runs past the end of the file")
        raw = handle.read(header_len)
    if len(raw) != header_len:
        raise HeaderError(path, f"header ends after {len(raw)} of {header_len} bytes")
    return raw, size


def scan_shard(
    path: Path,
    visit: Visit | None = None,
    entries_seen: Callable[[ShardEntries], None] | None = None,
) -> ShardHeader:
    """Read and validate the header of the safetensors file at ``path``.

    ``visit(names, infos)`` gets the tensors chunk by chunk in header order;
    ``entries_seen`` gets the shard's :class:`ShardEntries` once every chunk validated
    (before the tiling check). Raises :class:`HeaderError` naming the file and the problem.
    """
    path = Path(path)
    raw, size = read_header_bytes(path)
    header_len = len(raw)
    try:
        entries = _ENTRIES.decode(raw)
    except msgspec.ValidationError as exc:
        got = str(exc).rsplit("got `", 1)[-1].rstrip("`") if "got `" in str(exc) else "value"
        kind = {"str": "string", "int": "number", "float": "number", "bool": "boolean"}
        raise HeaderError(path, f"header is a JSON {kind.get(got, got)}, not an object") from exc
    except msgspec.DecodeError as exc:
        raise HeaderError(path, f"header is not valid JSON: {json_error(raw, exc)}") from exc
    except RecursionError as exc:
        raise HeaderError(path, "header is not valid JSON: nested too deeply") from exc
    del raw
    metadata = _metadata(path, entries.pop("__metadata__", None))
    names = list(entries)
    raws = list(entries.values())
    starts, ends = array("Q"), array("Q")
    dtypes: set[str] = set()
    for at in range(0, len(names), CHUNK):
        chunk_names = names[at : at + CHUNK]
        infos = _decode(path, chunk_names, raws[at : at + CHUNK])
        chunk = Chunk(chunk_names, infos, list(map(_DTYPE, infos)))
        offsets = list(map(_OFFSETS, infos))
        _check_sizes(path, chunk, offsets)
        starts.extend(map(_START, offsets))
        ends.extend(map(_END, offsets))
        dtypes.update(chunk.dtypes)
        if visit is not None:
            visit(chunk)
    del raws
    if entries_seen is not None:
        entries_seen(ShardEntries(entries))
    data_bytes = _tiling(path, names, starts, ends)
    return ShardHeader(path, header_len, size, data_bytes, len(names), frozenset(dtypes), metadata)


def _decode(path: Path, names: list[str], chunk: list[msgspec.Raw]) -> list[TensorInfo]:
    """The chunk's entries (one C-level map); on a bad one, which tensor and why."""
    try:
        return list(map(_TENSOR.decode, chunk))
    except (msgspec.ValidationError, msgspec.DecodeError):
        pass
    for name, entry in zip(names, chunk, strict=True):
        try:
            _TENSOR.decode(entry)
        except msgspec.ValidationError as exc:
            raise HeaderError(path, f"tensor {name!r}: {_entry_problem(exc)}") from exc
    raise AssertionError("unreachable")  # pragma: no cover


def _entry_problem(error: msgspec.ValidationError) -> str:
    text = str(error)
    if text.startswith("Invalid enum value"):
        value = text.removeprefix("Invalid enum value ").split(" - at", 1)[0]
        return f"unknown dtype {value}"
    return text.replace("`", "")


def _check_sizes(path: Path, chunk: Chunk, offsets: list[tuple[int, int]]) -> None:
    """Each entry's offsets hold exactly ``prod(shape) × bits / 8`` bytes (C-level maps)."""
    elements = map(math.prod, map(_SHAPE, chunk.infos))
    bits = list(map(mul, elements, map(DTYPE_BITS.__getitem__, chunk.dtypes)))
    spans = list(map(sub, map(_END, offsets), map(_START, offsets)))
    if bits == list(map(mul, spans, repeat(8))):
        return
    for name, info, span, need in zip(chunk.names, chunk.infos, spans, bits, strict=True):
        start, end = info.data_offsets
        if span < 0:
            raise HeaderError(
                path, f"tensor {name!r}: data_offsets {[start, end]} are not start <= end"
            )
        if need != span * 8:
            raise HeaderError(
                path,
                f"tensor {name!r}: data_offsets {[start, end]} hold {span} bytes but "
                f"{info.dtype} {list(info.shape)} needs {need / 8:g}",
            )


def _metadata(path: Path, entry: msgspec.Raw | None) -> dict[str, str]:
    if entry is None:
        return {}
    try:
        return _METADATA.decode(entry)
    except msgspec.ValidationError as exc:
        raise HeaderError(path, "__metadata__ is not an object of strings") from exc


def _tiling(path: Path, names: list[str], starts: array[int], ends: array[int]) -> int:
    """Offsets must tile ``[0, end)`` exactly, as the safetensors library demands; the data
    region's length. Headers list their tensors in data order (the library writes them so):
    then one comparison of two arrays decides; otherwise the spans are sorted first."""
    if not names:
        return 0
    if starts[0] == 0 and starts[1:] == ends[:-1]:
        return int(ends[-1])
    order = sorted(range(len(names)), key=lambda i: (starts[i], ends[i]))
    expected = 0
    for i in order:
        if starts[i] != expected:
            problem = "overlaps the previous tensor" if starts[i] < expected else "leaves a gap"
            raise HeaderError(
                path, f"tensor {names[i]!r}: data_offsets {[starts[i], ends[i]]} {problem}"
            )
        expected = ends[i]
    return expected


def read_tensors(path: Path) -> tuple[ShardHeader, dict[str, TensorInfo]]:
    """The header and every tensor by name (tests and small tools; ``check`` streams)."""
    tensors: dict[str, TensorInfo] = {}

    def keep(chunk: Chunk) -> None:
        tensors.update(zip(chunk.names, chunk.infos, strict=True))

    return scan_shard(path, keep), tensors


def bad_header_finding(name: str, shown: str, error: HeaderError) -> Finding:
    return C.BAD_HEADER(shown, f"{name} has a bad header: {error.problem}", hint=error.hint)


def size_findings(name: str, shown: str, header: ShardHeader) -> list[Finding]:
    """``truncated-shard`` or ``oversized-shard`` when the file size is not the declared one."""
    if header.truncated:
        return [
            C.TRUNCATED_SHARD(
                shown,
                f"{name} is truncated: {header.size_on_disk} bytes on disk, its header "
                f"declares {header.declared_size} ({header.missing_bytes} bytes missing)",
            )
        ]
    if header.extra_bytes:
        return [
            C.OVERSIZED_SHARD(
                shown,
                f"{name} has {header.extra_bytes} bytes after the data region its header "
                f"declares ({header.declared_size} bytes); safetensors refuses to load it",
            )
        ]
    return []
