"""Benchmark: `dsprep check --verify-hashes` against `openssl dgst -sha256`, same files.

Writes a tiny W8A8 checkpoint plus 8 × 512 MiB of real (non-sparse) blob files into a temp
dir, reads them once so they sit in the page cache, writes `.dsprep/manifest.json` with
their SHA-256, then runs paired rounds: `openssl dgst -sha256 FILES…` (one process,
sequential) and `dsprep check DIR --verify-hashes --format json` (the CLI, files hashed in
parallel by a thread pool). Prints throughput of each and the median of the paired ratios.
Target: ratio ≥ 1.6. Exits 1 if missed.  Usage: python bench/verify_hashes.py
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dsprep.demo.checkpoint import write_w8a8_checkpoint
from dsprep.weights.manifest import Manifest, ManifestFile, write_manifest

BLOBS = 8
BLOB_BYTES = 512 * 1024 * 1024  # 4 GiB in all: the CLI start-up (~0.15 s) weighs less
ROUNDS = 5
TARGET = 1.6


def write_blobs(folder: Path) -> list[Path]:
    block = bytearray(os.urandom(4 * 1024 * 1024))
    paths = []
    for i in range(BLOBS):
        path = folder / f"original-{i:02d}.bin"
        with path.open("wb") as handle:
            for j in range(BLOB_BYTES // len(block)):
                block[:8] = (i * 1_000_003 + j).to_bytes(8, "little")  # no two blocks alike
                handle.write(block)
        paths.append(path)
    return paths


def openssl_digests(files: list[Path]) -> tuple[float, dict[str, str]]:
    start = time.perf_counter()
    out = subprocess.run(
        ["openssl", "dgst", "-sha256", *map(str, files)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    elapsed = time.perf_counter() - start
    digests = {}
    for line in out.splitlines():  # SHA2-256(path)= hex
        name, _, digest = line.rpartition("= ")
        digests[name[name.index("(") + 1 : -1]] = digest.strip()
    return elapsed, digests


def dsprep_verify(folder: Path) -> float:
    script = Path(sys.executable).with_name("dsprep")
    start = time.perf_counter()
    done = subprocess.run(
        [str(script), "check", str(folder), "--verify-hashes", "--format", "json"],
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - start
    document = json.loads(done.stdout)
    if done.returncode != 0:
        raise SystemExit(f"dsprep check failed ({done.returncode}): {document['findings'][:3]}")
    hashes = document["data"]["hashes"]
    assert hashes["verified"] == hashes["files"], hashes
    return elapsed


def main() -> int:
    folder = Path(tempfile.mkdtemp(prefix="dsprep-bench-hash-")) / "model"
    try:
        write_w8a8_checkpoint(folder)
        write_blobs(folder)
        files = sorted(p for p in folder.iterdir() if p.is_file())
        total = sum(p.stat().st_size for p in files)
        for path in files:  # into the page cache
            with path.open("rb") as handle:
                while handle.read(16 * 1024 * 1024):
                    pass
        _, digests = openssl_digests(files)
        entries = [ManifestFile(p.name, p.stat().st_size, digests[str(p)]) for p in files]
        write_manifest(folder, Manifest("bench/model", "master", "http://127.0.0.1", entries))
        pairs = []
        for _ in range(ROUNDS):
            openssl_time, _ = openssl_digests(files)
            dsprep_time = dsprep_verify(folder)
            pairs.append((openssl_time, dsprep_time))
    finally:
        shutil.rmtree(folder.parent, ignore_errors=True)
    ratios = [o / d for o, d in pairs]
    gib = total / 1024**3
    openssl_median = statistics.median(o for o, _ in pairs)
    dsprep_median = statistics.median(d for _, d in pairs)
    print(
        f"{len(files)} files, {gib:.2f} GiB in the page cache, {os.cpu_count()} CPUs, "
        f"{ROUNDS} paired rounds"
    )
    print(
        f"openssl dgst -sha256 (sequential): {openssl_median:.2f} s = "
        f"{gib / openssl_median:.2f} GiB/s"
    )
    print(
        f"dsprep check --verify-hashes:      {dsprep_median:.2f} s = "
        f"{gib / dsprep_median:.2f} GiB/s"
    )
    print("paired ratios (openssl time / dsprep time): " + ", ".join(f"{r:.2f}" for r in ratios))
    ratio = statistics.median(ratios)
    met = ratio >= TARGET
    print(f"{'PASS' if met else 'MISS'}: median ratio {ratio:.2f}x >= {TARGET}x")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
