"""Benchmark: `dsprep check` on the full-size DeepSeek-V3.1 W8A8 layout (sparse shards).

Writes the published DeepSeek-V3.1 shape as msmodelslim exports it (138,667 tensors,
~690 GB logical, data regions sparse) twice: in 163 shards and in 1 shard, each with its
index and description, plus the 163-shard layout with 1/100 of the data bytes. Then, in
interleaved rounds (the order rotates from round to round), each measurement a fresh
process whose CPU time (user + sys) and peak RSS come from ``os.wait4``:

- the baseline: a bare Python loop that reads and ``json.loads`` the same headers, index
  and description (in a process of its own, interpreter start included);
- ``dsprep check DIR --format json`` on each layout (the CLI as a user runs it).

Targets (issue 8): check CPU ≤ 1.5× the baseline's CPU in both layouts, peak RSS ≤ 100 MB
in both, wall ≤ 1.0 s (163 shards); and (earlier issue) 163 shards with full vs 1/100 of
the data bytes within 20 %. Prints every figure and ratio; exits 1 when a target is missed.
Usage: python bench/check_full_layout.py [--rounds N]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dsprep.demo.checkpoint import FULL_SIZE, CheckpointSpec, config_document, w8a8_layout

STEM = "quant_model_weight_w8a8_dynamic"
# Same tensor names and counts, every matrix dimension / 10: ~1/100 of the data bytes.
SMALL = FULL_SIZE.replace(
    hidden_size=717,
    intermediate_size=1843,
    moe_intermediate_size=205,
    q_lora_rank=154,
    kv_lora_rank=51,
    qk_nope_head_dim=13,
    qk_rope_head_dim=6,
    v_head_dim=13,
    vocab_size=12928,
)
ONE_SHARD = CheckpointSpec(FULL_SIZE.arch, 1)
TENSORS = 138_667  # of the full-size layout (asserted by the layout writer's child)


def write_layout(folder: Path, spec: CheckpointSpec) -> int:
    """Config, description, index and sparse shards (headers as safetensors writes them:
    in data order); the logical data bytes."""
    folder.mkdir(parents=True)
    plans = w8a8_layout(spec)
    (folder / "config.json").write_text(json.dumps(config_document(spec), indent=2))
    description = {"model_quant_type": "W8A8_DYNAMIC", "version": "1.0.0"}
    description.update({p.name: p.quant_type for p in plans})
    (folder / "quant_model_description.json").write_text(json.dumps(description, indent=2))
    per = -(-len(plans) // spec.shards)
    weight_map: dict[str, str] = {}
    total = 0
    for i in range(spec.shards):
        group = plans[i * per : (i + 1) * per]
        name = f"{STEM}-{i + 1:05d}-of-{spec.shards:05d}.safetensors"
        header: dict[str, object] = {"__metadata__": {"format": "pt"}}
        offset = 0
        for plan in group:
            header[plan.name] = {
                "dtype": plan.dtype,
                "shape": list(plan.shape),
                "data_offsets": [offset, offset + plan.nbytes],
            }
            offset += plan.nbytes
            weight_map[plan.name] = name
        raw = json.dumps(header, separators=(",", ":")).encode()
        raw += b" " * (-len(raw) % 8)
        with open(folder / name, "wb") as handle:
            handle.write(len(raw).to_bytes(8, "little") + raw)
            handle.truncate(8 + len(raw) + offset)  # sparse data region
        total += offset
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    (folder / f"{STEM}.safetensors.index.json").write_text(json.dumps(index, indent=2))
    return total


_BASELINE = """
import json, sys
from pathlib import Path
folder = Path(sys.argv[1])
for path in sorted(folder.glob("*.safetensors")):
    with open(path, "rb") as handle:
        length = int.from_bytes(handle.read(8), "little")
        json.loads(handle.read(length))
json.loads(next(folder.glob("*.safetensors.index.json")).read_bytes())
json.loads((folder / "quant_model_description.json").read_bytes())
"""

# An installed dsprep runs from compiled bytecode (pip compiles at install time); a shell
# with PYTHONDONTWRITEBYTECODE=1 (as set on these machines) would recompile every module
# on every run instead. The children run as an installation does: bytecode cached.
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def measure(argv: list[str]) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds user + sys, peak RSS MB) of one child process."""
    start = time.perf_counter()
    child = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=CHILD_ENV)
    assert child.stdout is not None
    out = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"{argv[:3]} exited {code}: {out.decode()[-500:]}")
    return elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def check_argv(folder: Path) -> list[str]:
    script = Path(sys.executable).with_name("dsprep")
    return [str(script), "check", str(folder), "--format", "json"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--write", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.write is not None:
        full = write_layout(args.write / "full", FULL_SIZE)
        write_layout(args.write / "one", ONE_SHARD)
        print(full, write_layout(args.write / "small", SMALL))
        return 0
    root = Path(tempfile.mkdtemp(prefix="dsprep-bench-check-"))
    rounds: list[dict[str, tuple[float, float, float]]] = []
    try:
        layouts = {"163": root / "full", "1": root / "one", "small": root / "small"}
        t0 = time.perf_counter()
        # Written by a child: this process stays small, so the children it starts (whose
        # peak RSS is measured) inherit nothing of the layouts' memory.
        written = subprocess.run(
            [sys.executable, __file__, "--write", str(root)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()
        full_bytes, small_bytes = int(written[0]), int(written[1])
        print(
            f"layouts written in {time.perf_counter() - t0:.1f} s: {TENSORS} tensors,"
            f" {full_bytes / 1e9:.0f} GB logical, in 163 shards and in 1 shard"
            f" (the 1/100 layout: {small_bytes / 1e9:.1f} GB)"
        )
        steps = {
            "baseline 163": [sys.executable, "-c", _BASELINE, str(layouts["163"])],
            "baseline 1": [sys.executable, "-c", _BASELINE, str(layouts["1"])],
            "check 163": check_argv(layouts["163"]),
            "check 1": check_argv(layouts["1"]),
            "check small": check_argv(layouts["small"]),
        }
        for argv in steps.values():  # warm the page cache and the bytecode
            measure(argv)
        names = list(steps)
        for i in range(args.rounds):
            shift = i % len(names)
            order = names[shift:] + names[:shift]
            rounds.append({name: measure(steps[name]) for name in order})
    finally:
        shutil.rmtree(root, ignore_errors=True)

    def med(name: str, what: int) -> float:
        return statistics.median(r[name][what] for r in rounds)

    def ratio(a: str, b: str, what: int) -> float:
        return statistics.median(r[a][what] / r[b][what] for r in rounds)

    print(f"medians of {args.rounds} interleaved rounds, each measurement a fresh process:")
    for name in names:
        print(
            f"  {name:<13} wall {med(name, 0):.3f} s  CPU {med(name, 1):.3f} s"
            f"  peak RSS {max(r[name][2] for r in rounds):.0f} MB"
        )
    cpu_163 = ratio("check 163", "baseline 163", 1)
    cpu_1 = ratio("check 1", "baseline 1", 1)
    small = ratio("check 163", "check small", 1)
    print(f"  check CPU / baseline CPU: 163 shards {cpu_163:.2f}x, 1 shard {cpu_1:.2f}x")
    print(f"  check CPU, full / 1/100 data bytes: {small:.2f}")
    walls = sorted(r["check 163"][0] for r in rounds)
    print(f"  (check 163 wall per round, sorted: {' '.join(f'{t:.2f}' for t in walls)} s)")
    rss = {n: max(r[n][2] for r in rounds) for n in ("check 163", "check 1")}
    targets = {
        "check CPU <= 1.5x baseline (163 shards)": cpu_163 <= 1.5,
        "check CPU <= 1.5x baseline (1 shard)": cpu_1 <= 1.5,
        "peak RSS <= 100 MB (163 shards)": rss["check 163"] <= 100,
        "peak RSS <= 100 MB (1 shard)": rss["check 1"] <= 100,
        "wall <= 1.0 s (163 shards)": med("check 163", 0) <= 1.0,
        "full within 20% of 1/100 data bytes": abs(small - 1) <= 0.20,
    }
    for name, met in targets.items():
        print(f"{'PASS' if met else 'MISS'}: {name}")
    return 0 if all(targets.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
