"""Benchmark: `dsprep --help` and `dsprep check --help` start-up against `import click`.

Target (issue 8): the median wall time of each is at most 1.3x that of
`python -c "import click"` with the same interpreter, measured interleaved in one run (the
order rotates from round to round). Also prints CPU time (user + sys, from ``os.wait4``),
the steadier figure on a noisy machine, with the same ratios. Exits 1 when a target is
missed. Usage: python bench/cli_startup.py [--runs N]
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

TARGET = 1.3
# As an installation runs: bytecode cached (pip compiles at install time), even where the
# shell sets PYTHONDONTWRITEBYTECODE=1.
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
BASELINE = 'python -c "import click"'


def measure(argv: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one child process."""
    start = time.perf_counter()
    child = subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=CHILD_ENV
    )
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{argv} failed")
    return elapsed, usage.ru_utime + usage.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=31)
    args = parser.parse_args()
    script = shutil.which("dsprep") or str(Path(sys.executable).parent / "dsprep")
    commands = {
        BASELINE: [sys.executable, "-c", "import click"],
        "dsprep --help": [script, "--help"],
        "dsprep check --help": [script, "check", "--help"],
    }
    for argv in commands.values():  # warm the page cache and .pyc files
        measure(argv)
    walls: dict[str, list[float]] = {name: [] for name in commands}
    cpus: dict[str, list[float]] = {name: [] for name in commands}
    names = list(commands)
    for round_ in range(args.runs):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            elapsed, cpu = measure(commands[name])
            walls[name].append(elapsed)
            cpus[name].append(cpu)
    base_wall = statistics.median(walls[BASELINE])
    base_cpu = statistics.median(cpus[BASELINE])
    print(f"{args.runs} interleaved rounds, medians (wall / CPU):")
    ok = True
    for name in names:
        wall = statistics.median(walls[name])
        cpu = statistics.median(cpus[name])
        line = (
            f"  {name:<26} wall {wall * 1000:6.1f} ms = {wall / base_wall:4.2f}x   "
            f"CPU {cpu * 1000:6.1f} ms = {cpu / base_cpu:4.2f}x"
        )
        if name != BASELINE:
            met = wall / base_wall <= TARGET
            ok = ok and met
            line += f"  {'PASS' if met else 'MISS'}: wall <= {TARGET:g}x"
        print(line)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
