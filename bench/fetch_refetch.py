"""Benchmark: a second `dsprep fetch` of a complete folder costs the same at 2 GB as at 20 MB.

Two repos are served by a loopback hub on 127.0.0.1: the tiny W8A8 sample plus two weight
files (``extra-weights-0000N-of-00002.bin``, handled exactly as shards are) of 10 MB each
(20 MB) or 1 GiB each (2 GiB; sparse on the hub's side). Each is fetched once into its own
folder, then every round runs the no-op re-fetch of both (order alternating), each child
recording its own ``/proc/self/io`` as it exits. The same run also times ``--verify`` (the
full re-hash every re-fetch did before), as the cost that was avoided.

Targets (issue 13, speed of fetch): the 2 GiB no-op reads no weight data (its ``rchar``
exceeds the 20 MB no-op's by under 1 MiB, and nothing is downloaded or re-hashed), and its
median wall time is at most 1.3x the 20 MB no-op's. Prints figures and ratios; exits 1 if a
target is missed.
Usage: python bench/fetch_refetch.py [--rounds N] [--gib N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dsprep.demo.checkpoint import write_w8a8_checkpoint
from dsprep.demo.hub import LoopbackHub
from fetch_common import Child, client_env, dsprep_fetch

SMALL, LARGE = "Eco-Tech/Sample-w8a8-20MB", "Eco-Tech/Sample-w8a8-2GB"
WEIGHTS = [f"extra-weights-{i:05d}-of-00002.bin" for i in (1, 2)]
TIME_TARGET = 1.3
READ_SLACK = 1 << 20  # bytes the large no-op may read beyond the small one


def build(folder: Path, each: int) -> int:
    write_w8a8_checkpoint(folder)
    for name in WEIGHTS:
        with (folder / name).open("wb") as handle:
            handle.truncate(each)  # sparse: a hole reads as zeros
    return sum(p.stat().st_size for p in folder.iterdir() if p.is_file())


def fetch(
    repo: str, dest: Path, endpoint: str, env: dict[str, str], io: Path, *extra: str
) -> Child:
    done = dsprep_fetch(repo, dest, endpoint, env, *extra, io_file=io)
    if done.returncode != 0:
        print(done.stdout[-3000:], done.stderr[-3000:], file=sys.stderr)
        raise SystemExit(f"dsprep fetch {repo} {' '.join(extra)} exited {done.returncode}")
    return done


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--gib", type=float, default=1.0, help="size of each large weight file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dsprep-bench-refetch-") as name:
        tmp = Path(name)
        sizes = {
            SMALL: build(tmp / "hub" / "small", 10 * 1000 * 1000),
            LARGE: build(tmp / "hub" / "large", int(args.gib * (1 << 30))),
        }
        env = client_env(tmp)
        io = tmp / "io.txt"
        dests = {SMALL: tmp / "models" / "small", LARGE: tmp / "models" / "large"}
        runs: dict[str, list[Child]] = {SMALL: [], LARGE: []}
        with LoopbackHub({SMALL: tmp / "hub" / "small", LARGE: tmp / "hub" / "large"}) as hub:
            firsts = {r: fetch(r, dests[r], hub.endpoint, env, io) for r in (SMALL, LARGE)}
            for round_ in range(args.rounds):
                order = [SMALL, LARGE] if round_ % 2 == 0 else [LARGE, SMALL]
                for repo in order:
                    runs[repo].append(fetch(repo, dests[repo], hub.endpoint, env, io))
            verify = fetch(LARGE, dests[LARGE], hub.endpoint, env, io, "--verify")
    print(f"{args.rounds} interleaved rounds of the no-op re-fetch, medians:")
    for repo in (SMALL, LARGE):
        first = firsts[repo]
        wall = statistics.median(c.wall for c in runs[repo])
        rchar = statistics.median(c.rchar for c in runs[repo])
        stored = statistics.median(c.read_bytes for c in runs[repo])
        print(
            f"  {repo}: {sizes[repo] / 1e6:,.0f} MB; first fetch {first.wall:.2f} s; "
            f"no-op {wall:.3f} s wall, rchar {rchar / 1e6:.1f} MB, "
            f"read_bytes {stored / 1e6:.1f} MB"
        )
    small_wall = statistics.median(c.wall for c in runs[SMALL])
    large_wall = statistics.median(c.wall for c in runs[LARGE])
    extra_read = max(c.rchar for c in runs[LARGE]) - min(c.rchar for c in runs[SMALL])
    documents = [c.json()["data"] for c in runs[LARGE]]
    nothing = all(d["downloaded"] == [] and d["hashed_bytes"] == 0 for d in documents)
    ratio = large_wall / small_wall
    print(
        f"  --verify of {LARGE}: {verify.wall:.2f} s, rchar {verify.rchar / 1e6:,.0f} MB "
        f"(hashed {verify.json()['data']['hashed_bytes'] / 1e6:,.0f} MB): "
        f"{verify.wall / large_wall:.1f}x the no-op"
    )
    print(f"no-op 2 GiB / no-op 20 MB: {ratio:.2f}x wall; the 2 GiB one read {extra_read:,} B more")
    met_time = ratio <= TIME_TARGET
    met_read = nothing and extra_read < READ_SLACK
    print(
        f"target: <= {TIME_TARGET}x wall: {'met' if met_time else 'MISSED'}; "
        f"no weight data read (< {READ_SLACK:,} bytes more, nothing hashed or downloaded): "
        f"{'met' if met_read else 'MISSED'}"
    )
    os.sync()
    return 0 if met_time and met_read else 1


if __name__ == "__main__":
    sys.exit(main())
