"""The bounded shard-header reader, against the safetensors library as the reference."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import safetensors

from dsprep.demo.checkpoint import write_fp8_checkpoint, write_w8a8_checkpoint
from dsprep.weights.check import check_model_dir
from dsprep.weights.shards import (
    MAX_HEADER_BYTES,
    HeaderError,
    ShardHeader,
    TensorInfo,
    read_tensors,
)
from tests.weights.broken import shard, write_raw_shard


@dataclass(frozen=True)
class Read:
    """A header with its tensors, as the tests look at them."""

    header: ShardHeader
    tensors: dict[str, TensorInfo]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.header, name)


def read_shard_header(path: Path) -> Read:
    return Read(*read_tensors(path))


F32_PAIR = {"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}


def library_rejects(path: Path) -> bool:
    try:
        with safetensors.safe_open(str(path), "numpy") as handle:
            handle.keys()
    except Exception:
        return True
    return False


def test_reader_agrees_with_safetensors_on_valid_shards(tmp_path: Path) -> None:
    shards = [p for p in write_w8a8_checkpoint(tmp_path / "w") if p.suffix == ".safetensors"]
    shards += [p for p in write_fp8_checkpoint(tmp_path / "f") if p.suffix == ".safetensors"]
    for path in shards:
        header = read_shard_header(path)
        with safetensors.safe_open(str(path), "numpy") as handle:
            assert set(header.tensors) == set(handle.keys())
            assert header.metadata == handle.metadata()
            for name in handle.offset_keys():
                view = handle.get_slice(name)
                assert header.tensors[name].dtype == view.get_dtype()
                assert list(header.tensors[name].shape) == view.get_shape()
            by_offset = sorted(header.tensors, key=lambda n: header.tensors[n].data_offsets)
            assert by_offset == handle.offset_keys()
        assert header.declared_size == header.size_on_disk == path.stat().st_size
        assert not header.truncated and header.missing_bytes == 0


def test_public_api_shape(tmp_path: Path) -> None:
    """What the readers rely on: tensors, data_bytes, header_len, declared_size."""
    path = tmp_path / "one.safetensors"
    write_raw_shard(path, F32_PAIR, b"\0" * 8)
    header = read_shard_header(path)
    info = header.tensors["a"]
    assert (info.dtype, info.shape, info.data_offsets, info.nbytes) == ("F32", (2,), (0, 8), 8)
    raw_len = len(json.dumps(F32_PAIR).encode())
    assert header.header_len == raw_len and header.data_bytes == 8
    assert header.declared_size == 8 + raw_len + 8


def raw_file(path: Path, blob: bytes) -> Path:
    path.write_bytes(blob)
    return path


def json_header(document: Any, data: bytes = b"") -> bytes:
    raw = json.dumps(document).encode()
    return len(raw).to_bytes(8, "little") + raw + data


def entry(dtype: Any = "F32", shape: Any = (2,), offsets: Any = (0, 8)) -> dict[str, Any]:
    return {
        "dtype": dtype,
        "shape": list(shape) if isinstance(shape, tuple) else shape,
        "data_offsets": list(offsets) if isinstance(offsets, tuple) else offsets,
    }


HOSTILE: dict[str, tuple[bytes, str]] = {
    "empty file": (b"", "too short"),
    "seven bytes": (b"\x01" * 7, "too short"),
    "length 2^63": ((1 << 63).to_bytes(8, "little") + b"{}", "exceeds the 100 MB"),
    "length past end": ((1000).to_bytes(8, "little") + b"{}", "runs past the end"),
    "not json": ((5).to_bytes(8, "little") + b"{abc}", "not valid JSON"),
    "not utf-8": ((7).to_bytes(8, "little") + b'{"\xff":1}', "not valid JSON"),
    "json array": (json_header([1, 2]), "not an object"),
    "json string": (json_header("x"), "not an object"),
    "deep nesting": ((200_000).to_bytes(8, "little") + b"[" * 200_000, "not an object"),
    "deep object": ((200_000).to_bytes(8, "little") + b'{"a":' * 40_000, "not valid JSON"),
    "entry not object": (json_header({"a": [1]}), "'a'"),
    "unknown dtype": (json_header({"a": entry(dtype="Q8")}, b"\0" * 8), "unknown dtype 'Q8'"),
    "negative dim": (json_header({"a": entry(shape=[-2, -1])}, b"\0" * 8), "shape"),
    "bool dim": (json_header({"a": entry(shape=[True, 2])}, b"\0" * 8), "shape"),
    "float dim": (json_header({"a": entry(shape=[2.0])}, b"\0" * 8), "'a'"),
    "string dim": (json_header({"a": entry(shape="2")}, b"\0" * 8), "'a'"),
    "offsets vs shape": (json_header({"a": entry(offsets=[0, 4])}, b"\0" * 4), "needs 8"),
    "negative offset": (json_header({"a": entry(offsets=[-8, 0])}, b""), "data_offsets"),
    "three offsets": (json_header({"a": entry(offsets=[0, 4, 8])}, b"\0" * 8), "'a'"),
    "gap": (json_header({"a": entry(shape=[1], offsets=[4, 8])}, b"\0" * 8), "leaves a gap"),
    "overlap": (
        json_header(
            {"a": entry(), "b": entry(shape=[1], offsets=[4, 8])},
            b"\0" * 8,
        ),
        "overlaps",
    ),
    "metadata not strings": (json_header({"__metadata__": {"x": 1}}), "__metadata__"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE), ids=sorted(HOSTILE))
def test_hostile_header_is_a_typed_error_and_the_library_agrees(tmp_path: Path, case: str) -> None:
    blob, problem = HOSTILE[case]
    path = raw_file(tmp_path / "bad.safetensors", blob)
    with pytest.raises(HeaderError) as caught:
        read_shard_header(path)
    assert problem in caught.value.problem
    assert str(path) in str(caught.value)
    assert caught.value.code == "bad-header"
    assert library_rejects(path)


def test_huge_header_length_is_rejected_before_allocating(tmp_path: Path) -> None:
    path = tmp_path / "big.safetensors"
    with path.open("wb") as handle:
        handle.write((MAX_HEADER_BYTES + 1).to_bytes(8, "little"))
        handle.truncate(MAX_HEADER_BYTES + 100)  # sparse: the length "fits" the file
    with pytest.raises(HeaderError, match="100 MB"):
        read_shard_header(path)


def test_fifo_and_folder_are_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.safetensors"
    os.mkfifo(fifo)
    with pytest.raises(HeaderError, match="not a regular file"):
        read_shard_header(fifo)
    folder = tmp_path / "dir.safetensors"
    folder.mkdir()
    with pytest.raises(HeaderError, match="not a regular file"):
        read_shard_header(folder)


def test_truncation_is_measured_not_raised(tmp_path: Path) -> None:
    path = tmp_path / "t.safetensors"
    write_raw_shard(path, F32_PAIR, b"\0" * 3)
    header = read_shard_header(path)
    assert header.truncated and header.missing_bytes == 5
    assert library_rejects(path)  # the library only says "not fully covered"


def test_out_of_range_offsets_become_a_truncated_shard(w8a8_dir: Path) -> None:
    path = w8a8_dir / "quant_model_weight_w8a8_dynamic-00002-of-00003.safetensors"
    far = 1 << 60
    header = read_shard_header(path)
    document: dict[str, Any] = {"__metadata__": header.metadata}
    for name, info in header.tensors.items():
        document[name] = entry(info.dtype, info.shape, info.data_offsets)
    document["zz.far"] = entry("I8", (far - header.data_bytes,), (header.data_bytes, far))
    write_raw_shard(path, document, b"\0" * header.data_bytes)
    result = check_model_dir(w8a8_dir)
    truncated = next(f for f in result.findings if f.code == "truncated-shard")
    assert path.name in truncated.message and "bytes missing" in truncated.message


def test_extra_bytes_after_the_data_region(w8a8_dir: Path) -> None:
    path = w8a8_dir / shard(1)
    with path.open("ab") as handle:
        handle.write(b"\0" * 16)
    finding = next(f for f in check_model_dir(w8a8_dir).findings if f.code == "oversized-shard")
    assert shard(1) in finding.message and "16 bytes" in finding.message
    assert library_rejects(path)


@pytest.mark.parametrize("case", ["length 2^63", "not json", "json array", "overlap", "empty file"])
def test_hostile_shard_in_a_model_folder_is_a_bad_header_finding(w8a8_dir: Path, case: str) -> None:
    raw_file(w8a8_dir / shard(2), HOSTILE[case][0])
    result = check_model_dir(w8a8_dir)
    finding = next(f for f in result.findings if f.code == "bad-header")
    assert shard(2) in finding.message and HOSTILE[case][1] in finding.message
    assert not result.ok


def test_reader_never_reads_tensor_data(tmp_path: Path) -> None:
    path = tmp_path / "sparse.safetensors"
    size = 512 * 1024 * 1024
    header = {"w": entry("I8", (size,), (0, size))}
    raw = json.dumps(header).encode()
    with path.open("wb") as handle:
        handle.write(len(raw).to_bytes(8, "little") + raw)
        handle.truncate(8 + len(raw) + size)

    def rchar() -> int:
        for line in Path("/proc/self/io").read_text().splitlines():
            if line.startswith("rchar:"):
                return int(line.split()[1])
        raise AssertionError("no rchar")

    before = rchar()
    parsed = read_shard_header(path)
    read = rchar() - before
    assert parsed.data_bytes == size and not parsed.truncated
    assert read < 64 * 1024, f"read {read} bytes for a {len(raw)}-byte header"
