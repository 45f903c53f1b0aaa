"""``dsprep check`` never opens a path outside DIR, whatever the folder's files say.

An audit hook (``open`` is raised by ``open()`` and ``os.open``) records every path
opened during a check; the tests assert that none lies outside the model folder.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from dsprep.resources import data_root
from dsprep.weights.check import CheckOptions, check_model_dir
from tests.weights import broken
from tests.weights.broken import INDEX, shard
from tests.weights.helpers import quantization_gate

_RECORDING: list[list[str]] = []


def _hook(event: str, args: tuple[object, ...]) -> None:
    if event == "open" and _RECORDING and isinstance(args[0], (str, bytes, os.PathLike)):
        _RECORDING[-1].append(os.fsdecode(args[0]))


sys.addaudithook(_hook)


@contextmanager
def opened_paths() -> Iterator[list[str]]:
    paths: list[str] = []
    _RECORDING.append(paths)
    try:
        yield paths
    finally:
        _RECORDING.pop()


# Code and bundled data may be opened (a lazy import, dsprep's own schemas); nothing else.
_ALLOWED = tuple(
    os.path.realpath(p) + os.sep for p in {sys.prefix, sys.base_prefix, str(data_root())}
)


def assert_all_inside(paths: list[str], folder: Path) -> None:
    root = os.path.realpath(folder)
    outside = [p for p in paths if not os.path.realpath(p).startswith((root + os.sep, *_ALLOWED))]
    assert outside == [], f"opened outside {root}: {outside}"
    assert paths, "the recorder saw no opens at all"


@pytest.mark.parametrize("name", ["../../etc/passwd", "/etc/passwd", "sub/../../x.safetensors"])
def test_index_entry_outside_is_a_path_escape(w8a8_dir: Path, name: str) -> None:
    index = broken.read_json(w8a8_dir / INDEX)
    index["weight_map"]["model.layers.0.mlp.down_proj.weight"] = name
    broken.write_json(w8a8_dir / INDEX, index)
    with opened_paths() as paths:
        result = check_model_dir(w8a8_dir)
    assert_all_inside(paths, w8a8_dir)
    escape = next(f for f in result.findings if f.code == "path-escape")
    assert repr(name) in escape.message and INDEX in escape.message
    assert not result.ok


def test_symlinked_shard_to_etc_is_never_opened(w8a8_dir: Path) -> None:
    target = w8a8_dir / shard(2)
    target.unlink()
    target.symlink_to("/etc/passwd")
    with opened_paths() as paths:
        result = check_model_dir(w8a8_dir)
    assert_all_inside(paths, w8a8_dir)
    escape = next(f for f in result.findings if f.code == "path-escape")
    assert shard(2) in escape.message and "/etc/passwd" in escape.message


def test_symlinked_config_and_description_outside(w8a8_dir: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.json"
    outside.write_text('{"torch_dtype": "float16"}')
    for name in ("config.json", "quant_model_description.json"):
        (w8a8_dir / name).unlink()
        (w8a8_dir / name).symlink_to(outside)
    with opened_paths() as paths:
        result = check_model_dir(w8a8_dir)
    assert_all_inside(paths, w8a8_dir)
    escaped = {f.path for f in result.findings if f.code == "path-escape"}
    assert escaped == {
        str(w8a8_dir / "config.json"),
        str(w8a8_dir / "quant_model_description.json"),
    }


def test_symlink_inside_the_folder_is_fine(w8a8_dir: Path) -> None:
    real = w8a8_dir / "blobs" / shard(1)
    real.parent.mkdir()
    (w8a8_dir / shard(1)).rename(real)
    (w8a8_dir / shard(1)).symlink_to(Path("blobs") / shard(1))
    assert check_model_dir(w8a8_dir).ok


def test_manifest_symlink_escape_while_hashing(w8a8_dir: Path) -> None:
    from tests.weights.test_hashes import write_good_manifest

    write_good_manifest(w8a8_dir)
    (w8a8_dir / "config.json").unlink()
    (w8a8_dir / "config.json").symlink_to("/etc/hostname")
    with opened_paths() as paths:
        result = check_model_dir(w8a8_dir, CheckOptions(verify_hashes=True))
    assert_all_inside(paths, w8a8_dir)
    assert any(f.code == "path-escape" and "config.json" in f.message for f in result.findings)


def test_gate_reads_nothing_outside(w8a8_dir: Path) -> None:
    (w8a8_dir / "config.json").unlink()
    (w8a8_dir / "config.json").symlink_to("/etc/passwd")
    with opened_paths() as paths:
        findings = quantization_gate(w8a8_dir, ["../../etc/shadow", "config.json"])
    assert all(not p.startswith("/etc") for p in paths)
    assert any(f.code == "path-escape" for f in findings)


def test_fifo_shard_does_not_block(w8a8_dir: Path) -> None:
    (w8a8_dir / shard(3)).unlink()
    os.mkfifo(w8a8_dir / shard(3))
    result = check_model_dir(w8a8_dir)
    finding = next(f for f in result.findings if f.code == "bad-header")
    assert shard(3) in finding.message and "not a regular file" in finding.message


def _bad_description_json(folder: Path) -> str:
    (folder / broken.DESCRIPTION).write_text("{not json")
    return broken.DESCRIPTION


def _index_not_an_object(folder: Path) -> str:
    (folder / INDEX).write_text("[]")
    return INDEX


def _description_not_for_these_shards(folder: Path) -> str:
    """Quantized entries the shards do not hold: the quant fast path cannot decide."""
    broken.edit_json(folder / broken.DESCRIPTION, "model.layers.0.extra.weight", "W8A8_DYNAMIC")
    return broken.DESCRIPTION


def _stray_shard_without_entry(folder: Path) -> str:
    """A shard outside the index whose weight the description does not know."""
    header = {"extra.proj.weight": {"dtype": "BF16", "shape": [2], "data_offsets": [0, 4]}}
    broken.write_raw_shard(folder / "extra.safetensors", header, b"\0" * 4)
    return "extra.safetensors"


def _unindexed_tensor_without_entry(folder: Path) -> str:
    """A header tensor neither the index nor the description knows."""
    broken.break_tensor_not_in_index(folder)
    broken.edit_json(folder / broken.DESCRIPTION, "lm_head.weight", broken._DELETE)
    return "lm_head.weight"


_DAMAGES = [
    lambda folder: "",
    broken.break_tensor_not_in_index,
    broken.break_tensor_not_in_shard,
    broken.break_missing_shard,
    broken.break_stray_index,
    broken.break_truncated,
    broken.break_stray_shard,
    broken.break_stray_fp8_shard,
    broken.break_lfs_pointer,
    broken.break_misnamed_description,
    broken.break_duplicate_description,
    broken.break_no_description,
    broken.break_unknown_quant_type,
    broken.break_missing_entry,
    broken.break_gate_up,
    broken.break_mtp_not_covered,
    broken.break_scale_shape,
    broken.break_weight_dtype,
    broken.break_missing_offset,
    broken.break_deq_scale,
    broken.break_torch_dtype,
    _bad_description_json,
    _index_not_an_object,
    _description_not_for_these_shards,
    _stray_shard_without_entry,
    _unindexed_tensor_without_entry,
]


@pytest.mark.parametrize("damage", _DAMAGES)
def test_chunked_headers_give_the_same_findings(
    w8a8_dir: Path, monkeypatch: pytest.MonkeyPatch, damage: Callable[[Path], str]
) -> None:
    """Headers are decoded chunk by chunk; chunks of 7 tensors (a weight and its scales
    split across chunks and shards) change no finding and no summary."""
    import dsprep.weights.shards as shards

    damage(w8a8_dir)
    whole = check_model_dir(w8a8_dir)
    monkeypatch.setattr(shards, "CHUNK", 7)
    chunked = check_model_dir(w8a8_dir)
    assert chunked.findings == whole.findings
    assert chunked.payload == whole.payload
