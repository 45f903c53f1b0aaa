"""A bounded reader of safetensors shard headers: never reads tensor data.

The format: 8 bytes little-endian header length ``N``, ``N`` bytes of JSON (an object of
``name -> {"dtype", "shape", "data_offsets": [start, end]}`` plus optional ``__metadata__``),
then the data region. The reader rejects an absurd ``N`` before allocating, validates every
entry (known dtype, non-negative integer shape, offsets that match the shape and tile the
data region without gap or overlap) and reports truncation as the declared size
``8 + N + max(end)`` against the size on disk, instead of failing on it.

It is the fast path of ``dsprep check`` (a header of ~900 tensors takes well under a
millisecond); the safetensors library is the reference the tests compare it against.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import Any, NamedTuple

from dsprep.errors import InputError
from dsprep.findings import Finding
from dsprep.weights.safety import open_regular

# The safetensors library refuses headers above 100 MB; so do we, before allocating.
MAX_HEADER_BYTES = 100_000_000

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
# One shared string object per dtype: json.loads makes a new one per tensor otherwise.
_CANONICAL = {name: (name, bits) for name, bits in DTYPE_BITS.items()}
_SPAN = itemgetter(2, 3)


class TensorInfo(NamedTuple):
    """One header entry: dtype code, shape, and byte offsets inside the data region."""

    dtype: str
    shape: tuple[int, ...]
    start: int
    end: int

    @property
    def nbytes(self) -> int:
        return self.end - self.start


@dataclass(frozen=True)
class ShardHeader:
    """The parsed header of one shard plus what the file system says about it."""

    path: Path
    tensors: dict[str, TensorInfo]
    header_len: int
    size_on_disk: int
    data_bytes: int  # length of the data region the header declares (max end offset)
    metadata: dict[str, str] = field(default_factory=dict)

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

    def dtypes(self) -> set[str]:
        return {info.dtype for info in self.tensors.values()}


class HeaderError(InputError):
    """A shard's header cannot be trusted: bad length, not JSON, bad entries, bad offsets."""

    code = "bad-header"

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(
            f"{path}: {problem}",
            hint="the shard is damaged or not a safetensors file: download it again",
            path=path,
        )
        self.problem = problem


def bad_header_finding(name: str, shown: str, error: HeaderError) -> Finding:
    return Finding(
        "bad-header", shown, f"{name} has a bad header: {error.problem}", hint=error.hint
    )


def size_findings(name: str, shown: str, header: ShardHeader) -> list[Finding]:
    """``truncated-shard`` or ``oversized-shard`` when the file size is not the declared one."""
    if header.truncated:
        return [
            Finding(
                "truncated-shard",
                shown,
                f"{name} is truncated: {header.size_on_disk} bytes on disk, its header "
                f"declares {header.declared_size} ({header.missing_bytes} bytes missing)",
                hint="the download was interrupted: download this shard again",
            )
        ]
    if header.extra_bytes:
        return [
            Finding(
                "oversized-shard",
                shown,
                f"{name} has {header.extra_bytes} bytes after the data region its header "
                f"declares ({header.declared_size} bytes); safetensors refuses to load it",
                hint="the file is damaged: download this shard again",
            )
        ]
    return []


def _fail(path: Path, problem: str) -> HeaderError:
    return HeaderError(path, problem)


def read_shard_header(path: Path) -> ShardHeader:
    """Read and validate the header of the safetensors file at ``path``.

    Raises :class:`HeaderError` (code ``bad-header``) naming the file and the problem; a
    truncated data region is not an error here (see :attr:`ShardHeader.missing_bytes`).
    Opens only a regular file (a FIFO or device is refused without blocking).
    """
    path = Path(path)
    try:
        handle = open_regular(path)
    except OSError as exc:
        raise _fail(path, exc.strerror or str(exc)) from exc
    with handle:
        size = os.fstat(handle.fileno()).st_size
        if size < 8:
            raise _fail(path, f"file is {size} bytes, too short for the 8-byte header length")
        header_len = int.from_bytes(handle.read(8), "little")
        if header_len > MAX_HEADER_BYTES:
            raise _fail(path, f"header length {header_len} exceeds the 100 MB safetensors limit")
        if 8 + header_len > size:
            raise _fail(path, f"header length {header_len} runs past the end of the file")
        raw = handle.read(header_len)
    if len(raw) != header_len:
        raise _fail(path, f"header ends after {len(raw)} of {header_len} bytes")
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError
        raise _fail(path, f"header is not valid JSON: {exc}") from exc
    if type(document) is not dict:
        raise _fail(path, f"header is a JSON {type(document).__name__}, not an object")
    metadata, tensors, data_bytes = _validate(path, raw, document)
    return ShardHeader(path, tensors, header_len, size, data_bytes, metadata)


def _validate(
    path: Path, raw: bytes, document: dict[str, Any]
) -> tuple[dict[str, str], dict[str, TensorInfo], int]:
    """Validate every entry; a fast pass for clean headers, a strict one to explain failures.

    The fast pass leans on C-level operations: ``math.prod`` rejects non-numeric shapes,
    ``<<`` rejects non-integer offsets, and a byte scan of the raw header rules out
    negative numbers and booleans (no ``-``, ``true``, ``false``) before it starts.
    """
    metadata: dict[str, str] = {}
    if "__metadata__" in document:
        metadata = _metadata(path, document.pop("__metadata__"))
    if b"-" in raw or b"true" in raw or b"false" in raw:
        strict = _strict(path, document)
        return metadata, strict, _tiling(path, strict)
    tensors: dict[str, TensorInfo] = {}
    canonical = _CANONICAL
    prod = math.prod
    new = tuple.__new__
    cls = TensorInfo
    try:
        for name, entry in document.items():
            start, end = entry["data_offsets"]
            dtype, bits = canonical[entry["dtype"]]
            shape = entry["shape"]
            nbits = prod(shape) * bits
            if nbits != (end - start) << 3 or type(nbits) is not int:
                raise ValueError(name)
            tensors[name] = new(cls, (dtype, tuple(shape), start, end))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        _strict(path, document)  # raises HeaderError naming the tensor
        raise _fail(path, f"malformed tensor entry: {exc}") from exc
    return metadata, tensors, _tiling(path, tensors)


def _strict(path: Path, document: dict[str, Any]) -> dict[str, TensorInfo]:
    tensors: dict[str, TensorInfo] = {}
    for name, entry in document.items():
        if type(entry) is not dict:
            raise _fail(path, f"tensor {name!r}: entry is not an object")
        dtype = entry.get("dtype")
        shape = entry.get("shape")
        offsets = entry.get("data_offsets")
        known = _CANONICAL.get(dtype) if type(dtype) is str else None
        if known is None:
            raise _fail(path, f"tensor {name!r}: unknown dtype {dtype!r}")
        if type(shape) is not list or type(offsets) is not list or len(offsets) != 2:
            raise _fail(path, f"tensor {name!r}: shape or data_offsets missing or malformed")
        start, end = offsets
        if type(start) is not int or type(end) is not int or not 0 <= start <= end:
            raise _fail(
                path, f"tensor {name!r}: data_offsets {offsets!r} are not 0 <= start <= end"
            )
        if not all(type(dim) is int and dim >= 0 for dim in shape):
            raise _fail(path, f"tensor {name!r}: shape {shape!r} is not non-negative integers")
        bits = math.prod(shape) * known[1]
        if bits % 8 or bits // 8 != end - start:
            raise _fail(
                path,
                f"tensor {name!r}: data_offsets {offsets!r} hold {end - start} bytes "
                f"but {known[0]} {shape!r} needs {bits / 8:g}",
            )
        tensors[name] = TensorInfo(known[0], tuple(shape), start, end)
    return tensors


def _metadata(path: Path, entry: Any) -> dict[str, str]:
    if type(entry) is not dict or not all(type(v) is str for v in entry.values()):
        raise _fail(path, "__metadata__ is not an object of strings")
    return entry


def _tiling(path: Path, tensors: Any) -> int:
    """Offsets must tile ``[0, end)`` exactly, as the safetensors library demands.

    Sorted by (start, end), every start must equal the previous end: checked as one
    comparison of two tuples instead of a Python loop. Headers usually list the tensors in
    data order: when they tile as listed (no end below its start, see the callers), that
    order is the sorted one, and the sort is skipped.
    """
    if not tensors:
        return 0
    starts, ends = zip(*map(_SPAN, tensors.values()), strict=True)
    if starts[0] == 0 and starts[1:] == ends[:-1]:
        return int(ends[-1])
    spans = sorted(map(_SPAN, tensors.values()))
    starts, ends = zip(*spans, strict=True)
    if starts[0] == 0 and starts[1:] == ends[:-1]:
        return int(ends[-1])
    expected = 0
    for start, end in spans:
        if start != expected:
            problem = "overlaps the previous tensor" if start < expected else "leaves a gap"
            name = next(n for n, t in tensors.items() if _SPAN(t) == (start, end))
            raise _fail(path, f"tensor {name!r}: data_offsets {[start, end]} {problem}")
        expected = end
    raise AssertionError("unreachable")  # pragma: no cover
