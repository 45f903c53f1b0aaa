"""``--verify-hashes`` against the manifest or a real ``sha256sum`` list."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest

from dsprep.errors import InputError
from dsprep.weights.check import CheckOptions, check_model_dir
from dsprep.weights.manifest import Manifest, ManifestFile, write_manifest
from tests.weights.broken import shard

VERIFY = CheckOptions(verify_hashes=True, max_workers=2)


def files_of(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file())


def write_good_manifest(folder: Path) -> list[Path]:
    files = files_of(folder)
    entries = [
        ManifestFile(p.name, p.stat().st_size, hashlib.sha256(p.read_bytes()).hexdigest())
        for p in files
    ]
    write_manifest(folder, Manifest("Eco-Tech/DeepSeek-V3.1-w8a8", "master", "http://x", entries))
    return files


def flip_byte(path: Path, offset: int = -1) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def test_manifest_verification_passes_and_reports_progress(w8a8_dir: Path) -> None:
    files = write_good_manifest(w8a8_dir)
    seen: list[int] = []
    options = CheckOptions(
        verify_hashes=True, max_workers=2, progress=lambda done, total: seen.append(done)
    )
    result = check_model_dir(w8a8_dir, options)
    assert result.ok, result.codes()
    assert result.payload.hashes.verified == len(files)
    total = sum(p.stat().st_size for p in files)
    assert seen == sorted(seen) and seen[-1] == total


def test_corrupt_missing_and_resized_files(w8a8_dir: Path) -> None:
    write_good_manifest(w8a8_dir)
    flip_byte(w8a8_dir / shard(1))  # same size, different content (last data byte)
    (w8a8_dir / shard(2)).unlink()
    with (w8a8_dir / "config.json").open("a") as handle:
        handle.write(" ")
    result = check_model_dir(w8a8_dir, VERIFY)
    mismatches = {f.path: f for f in result.findings if f.code == "hash-mismatch"}
    corrupt = mismatches[str(w8a8_dir / shard(1))]
    assert shard(1) in corrupt.message and "SHA-256" in corrupt.message
    resized = mismatches[str(w8a8_dir / "config.json")]
    assert "bytes" in resized.message and "config.json" in resized.message
    missing = next(f for f in result.findings if f.code == "missing-file")
    assert shard(2) in missing.message and "manifest.json" in missing.message


def test_no_manifest_is_an_input_error(w8a8_dir: Path) -> None:
    with pytest.raises(InputError, match=r"manifest\.json"):
        check_model_dir(w8a8_dir, VERIFY)


def test_real_sha256sum_list(w8a8_dir: Path, tmp_path: Path) -> None:
    names = [p.name for p in files_of(w8a8_dir)]
    listing = subprocess.run(
        ["sha256sum", *(f"./{n}" for n in names)],
        cwd=w8a8_dir,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    sums = tmp_path / "SHA256SUMS"
    sums.write_text(listing)
    options = CheckOptions(sha256_file=sums)
    assert check_model_dir(w8a8_dir, options).ok
    flip_byte(w8a8_dir / shard(3))
    result = check_model_dir(w8a8_dir, options)
    finding = next(f for f in result.findings if f.code == "hash-mismatch")
    assert shard(3) in finding.message and "SHA256SUMS" in finding.message


def test_sha256_list_cannot_reach_outside(w8a8_dir: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("outside")
    digest = hashlib.sha256(b"outside").hexdigest()
    sums = tmp_path / "SHA256SUMS"
    sums.write_text(f"{digest}  ../secret.txt\n{digest}  /etc/passwd\n")
    result = check_model_dir(w8a8_dir, CheckOptions(sha256_file=sums))
    escapes = [f for f in result.findings if f.code == "path-escape"]
    assert len(escapes) == 2
    assert "'../secret.txt'" in escapes[0].message and "'/etc/passwd'" in escapes[1].message
    assert result.payload.hashes.verified == 0


def test_malformed_sha256_list_names_the_line(w8a8_dir: Path, tmp_path: Path) -> None:
    sums = tmp_path / "SHA256SUMS"
    sums.write_text(f"{'0' * 64}  config.json\nnot a line\n")
    with pytest.raises(InputError, match=r"SHA256SUMS:2"):
        check_model_dir(w8a8_dir, CheckOptions(sha256_file=sums))


def test_file_rewritten_by_dsprep_is_a_note_when_its_backup_is_the_download(
    w8a8_dir: Path,
) -> None:
    from dsprep.atomic import atomic_write_bytes, backup_path

    write_good_manifest(w8a8_dir)
    config = w8a8_dir / "config.json"
    original = config.read_bytes()
    # what `dsprep check --fix` / `dsprep template` do: rewrite with a one-time backup
    atomic_write_bytes(config, original.replace(b'"bfloat16"', b'"bfloat16" '))
    assert backup_path(config).read_bytes() == original
    result = check_model_dir(w8a8_dir, VERIFY)
    assert result.ok, result.codes()
    note = next(f for f in result.findings if f.code == "rewritten-by-dsprep")
    assert note.severity.value == "info" and "config.json.dsprep-orig" in note.message
    # a backup that is not the download proves nothing: the mismatch stays an error
    flip_byte(backup_path(config))
    result = check_model_dir(w8a8_dir, VERIFY)
    assert "hash-mismatch" in result.codes() and not result.ok
