"""Benchmark: `dsprep --help` start-up against `python -c pass`, in one run.

Target (issue: foundation): the median wall time of `dsprep --help` is at most 3x that of
`python -c pass` with the same interpreter (no heavy imports at start-up). Runs both
interleaved, prints medians and the ratio, exits 1 when the target is missed.
Usage: python bench/cli_startup.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

TARGET = 3.0
# As an installation runs: bytecode cached (pip compiles at install time), even where the
# shell sets PYTHONDONTWRITEBYTECODE=1.
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def wall(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(
        argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=CHILD_ENV
    )
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()
    script = shutil.which("dsprep") or str(Path(sys.executable).parent / "dsprep")
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "dsprep --help": [script, "--help"],
        "dsprep check --help": [script, "check", "--help"],
    }
    for argv in commands.values():  # warm the page cache and .pyc files
        wall(argv)
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.runs):
        for name, argv in commands.items():
            times[name].append(wall(argv))
    base = statistics.median(times["python -c pass"])
    print(f"{args.runs} interleaved runs each, medians:")
    ok = True
    for name, samples in times.items():
        median = statistics.median(samples)
        ratio = median / base
        line = f"  {name:<22} {median * 1000:7.1f} ms = {ratio:4.2f}x python -c pass"
        if name == "dsprep --help":
            met = ratio <= TARGET
            ok = ok and met
            line += f"  ({'PASS' if met else 'MISS'}: <= {TARGET:g}x)"
        print(line)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
