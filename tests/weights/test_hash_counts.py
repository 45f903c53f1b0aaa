"""``check --verify-hashes``/``--sha256-file``: the summary counts each file once, as
verified, rewritten by dsprep or failed (a mismatch is never "verified")."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

from dsprep.atomic import BACKUP_SUFFIX
from tests.conftest import CliOutcome

SHARD = "quant_model_weight_w8a8_dynamic-00002-of-00003.safetensors"


def write_sha256sums(folder: Path, target: Path) -> int:
    names = sorted(p.name for p in folder.iterdir() if p.is_file())
    lines = [f"{hashlib.sha256((folder / n).read_bytes()).hexdigest()}  {n}" for n in names]
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(names)


def test_one_mismatch_is_one_failed(
    w8a8_dir: Path, tmp_path: Path, run_cli: Callable[..., CliOutcome]
) -> None:
    sums = tmp_path / "SHA256SUMS"
    listed = write_sha256sums(w8a8_dir, sums)
    shard = w8a8_dir / SHARD
    data = bytearray(shard.read_bytes())
    data[-1] ^= 0xFF  # same size, other bytes
    shard.write_bytes(bytes(data))
    outcome = run_cli("check", str(w8a8_dir), "--sha256-file", str(sums), "--format", "json")
    assert outcome.exit_code == 1
    document = outcome.json()
    hashes = document["data"]["hashes"]
    assert (hashes["files"], hashes["verified"], hashes["rewritten"], hashes["failed"]) == (
        listed,
        listed - 1,
        0,
        1,
    )
    assert [f["path"] for f in document["findings"] if f["code"] == "hash-mismatch"] == [str(shard)]
    text = run_cli("check", str(w8a8_dir), "--sha256-file", str(sums))
    assert f"hashes:       {listed - 1} of {listed} files verified, 1 failed" in text.stdout


def test_rewritten_and_failed_are_not_counted_as_verified(
    w8a8_dir: Path, tmp_path: Path, run_cli: Callable[..., CliOutcome]
) -> None:
    sums = tmp_path / "SHA256SUMS"
    listed = write_sha256sums(w8a8_dir, sums)
    config = w8a8_dir / "config.json"
    (w8a8_dir / ("config.json" + BACKUP_SUFFIX)).write_bytes(config.read_bytes())
    config.write_text(config.read_text(encoding="utf-8").replace("{", "{ ", 1), encoding="utf-8")
    (w8a8_dir / SHARD).unlink()
    outcome = run_cli("check", str(w8a8_dir), "--sha256-file", str(sums))
    line = next(t for t in outcome.stdout.splitlines() if t.startswith("hashes:"))
    assert line == (
        f"hashes:       {listed - 2} of {listed} files verified, 1 rewritten by dsprep, 1 failed"
    )
