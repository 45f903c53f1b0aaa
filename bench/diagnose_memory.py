"""Benchmark: `dsprep diagnose` streams a 2 GB log in constant memory.

Writes a ``dsprep logs``-style stream (``[node=NAME] `` prefixed vLLM lines of two nodes,
mostly INFO lines, a failure block every ~10 MB: an OOM on node1, an HCCL timeout on
node0) at two sizes: small (default 20 MB) and large (default 2 GiB). Then, each in a
fresh process whose peak RSS and CPU time come from ``os.wait4``:

- the baseline: a bare Python loop over the large file's lines (``for line in f``);
- ``dsprep diagnose SMALL --format json`` and ``dsprep diagnose LARGE --format json``.

Peak RSS is the child's own ``VmHWM`` (``/proc/self/status``, read as it exits): the
``ru_maxrss`` that ``wait4`` reports keeps the forking parent's peak across ``exec`` on
Linux, which would hide the child's own figure behind this script's.

Target: the large run's peak RSS within 16 MB of the small run's (memory does not grow with
the input); the baseline says what merely reading costs. Prints every figure; exits 1 when
the target is missed. Usage: python bench/diagnose_memory.py [--large-mb N] [--small-mb N]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dsprep.diagnose.nodelog import format_line

TARGET_GROWTH = 16 * 1024 * 1024  # bytes of peak RSS the large run may add to the small one

_INFO = (
    "(EngineCore_DP{dp} pid=9{dp}0) (Worker_DP{dp}_TP{tp}_EP{ep} pid=12{tp}{dp}) INFO 08-14 "
    "11:{m:02d}:{s:02d} [model_runner_v1.py:2661] Loading model weights took 44.9300 GB"
)
_OOM = (
    "(EngineCore_DP1 pid=910) (Worker_DP1_TP3_EP11 pid=1231) ERROR 08-14 11:{m:02d}:{s:02d} "
    "[multiproc_executor.py:597] RuntimeError: NPU out of memory. Tried to allocate 450.00 MiB "
    "(NPU 3; 60.96 GiB total capacity; 60.30 GiB already allocated; 60.30 GiB current active; "
    "5.78 MiB free; 60.47 GiB reserved in total by PyTorch)"
)
_HCCL = (
    "[ERROR] HCCL(2717288,python3):2025-08-14-11:{m:02d}:{s:02d}.177.194 "
    "[hccl_socket_manager.cc:778] [2734049][Wait][LinkEstablish]wait socket establish "
    "timeout, role[1] rank[12] timeout[120]"
)
# Runs BODY, then writes the process's own peak RSS (VmHWM, bytes) as the last stderr line.
WRAPPER = """
import sys
code = 0
try:
{body}
except SystemExit as done:
    code = done.code or 0
with open("/proc/self/status") as status:
    hwm = next(int(x.split()[1]) * 1024 for x in status if x.startswith("VmHWM:"))
sys.stderr.write(f"\\nVmHWM {{hwm}}\\n")
sys.exit(code)
"""
BARE = "    for line in open(sys.argv[1], 'rb'):\n        pass"
DSPREP = "    from dsprep.cli.main import run\n    run(sys.argv[1:])"


def write_log(path: Path, size: int) -> int:
    """A stream of about ``size`` bytes; the number of lines written."""
    block_lines = []
    for i in range(20000):
        node, dp = ("node0", 0) if i % 2 == 0 else ("node1", 1)
        tp = i % 8
        block_lines.append(
            format_line(node, _INFO.format(dp=dp, tp=tp, ep=dp * 8 + tp, m=i % 60, s=i % 60))
        )
    block = ("\n".join(block_lines) + "\n").encode()
    written = lines = 0
    with path.open("wb", buffering=1 << 20) as out:
        n = 0
        while written < size:
            out.write(block)
            tail = (
                format_line("node1", _OOM.format(m=n % 60, s=1))
                + "\n"
                + format_line("node0", _HCCL.format(m=n % 60, s=2))
                + "\n"
            ).encode()
            out.write(tail)
            written += len(block) + len(tail)
            lines += len(block_lines) + 2
            n += 1
    return lines


def measure(argv: list[str]) -> tuple[float, float, int, int]:
    """(wall s, cpu s, peak RSS bytes, exit code) of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    err = proc.stderr.read().decode()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    peak = int(err.rstrip().rsplit("VmHWM ", 1)[1])
    return wall, usage.ru_utime + usage.ru_stime, peak, os.waitstatus_to_exitcode(status)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large-mb", type=int, default=2048)
    parser.add_argument("--small-mb", type=int, default=20)
    args = parser.parse_args()
    bare = [sys.executable, "-c", WRAPPER.format(body=BARE)]
    dsprep = [sys.executable, "-c", WRAPPER.format(body=DSPREP)]
    with tempfile.TemporaryDirectory(prefix="dsprep-bench-diagnose-") as tmp:
        small, large = Path(tmp) / "small.log", Path(tmp) / "large.log"
        write_log(small, args.small_mb << 20)
        lines = write_log(large, args.large_mb << 20)
        size = large.stat().st_size
        print(
            f"large log: {size / 2**30:.2f} GiB, {lines} lines; "
            f"small log: {small.stat().st_size / 2**20:.0f} MiB"
        )
        runs = {
            "baseline: bare line loop over the large log": [*bare, str(large)],
            "dsprep diagnose small": [*dsprep, "diagnose", str(small), "--format", "json"],
            "dsprep diagnose large": [*dsprep, "diagnose", str(large), "--format", "json"],
        }
        results = {}
        for label, argv in runs.items():
            wall, cpu, rss, code = measure(argv)
            results[label] = rss
            rate = f", {size / 2**20 / wall:.0f} MiB/s" if "large" in label else ""
            print(
                f"{label}: peak RSS {rss / 2**20:.1f} MiB, wall {wall:.1f} s, "
                f"cpu {cpu:.1f} s{rate}, exit {code}"
            )
    growth = results["dsprep diagnose large"] - results["dsprep diagnose small"]
    print(
        f"peak RSS growth small → large: {growth / 2**20:+.1f} MiB "
        f"(target ≤ {TARGET_GROWTH / 2**20:.0f} MiB)"
    )
    return 0 if growth <= TARGET_GROWTH else 1


if __name__ == "__main__":
    raise SystemExit(main())
