"""Benchmark: `dsprep fetch` of a repo of 200 small files against the bare `modelscope download`.

The repo is the tiny W8A8 sample (config.json, the description, the index, three small
shards) plus small metadata files up to 200 files, served by a loopback hub on 127.0.0.1.
Each round downloads it into a fresh folder twice, once with
`dsprep fetch REPO --local-dir D --endpoint E --revision master --max-workers W` (which also
probes the hub, gates on config.json and the description, verifies, writes the manifest
and runs `dsprep check`) and once with the bare client,
`MODELSCOPE_ENDPOINT=E modelscope download REPO --local-dir D --revision master
--max-workers W`; the order alternates from round to round.

Every file request is answered after ``--latency-ms`` (default 20 ms, a nearby hub's round
trip; the hub's own answers take well under a millisecond on loopback), which is what makes
fetching one file at a time slow: 200 files cost 200 round trips, not 200 / W.

Target (issue 13, speed of fetch): the median wall time of dsprep is at most 1.2x the bare
client's (before: 3.1x, small metadata fetched one file at a time). Prints both medians and
the ratio (wall and CPU); exits 1 if the target is missed.
Usage: python bench/fetch_metadata.py [--rounds N] [--files N] [--max-workers W] [--latency-ms N]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dsprep.demo.checkpoint import write_w8a8_checkpoint
from dsprep.demo.hub import LoopbackHub
from fetch_common import Child, client_env, dsprep_fetch, run_child

REPO = "Eco-Tech/Sample-w8a8-200-files"
TARGET = 1.2


def build_repo(folder: Path, files: int) -> int:
    write_w8a8_checkpoint(folder)
    present = sum(1 for p in folder.rglob("*") if p.is_file())
    for number in range(files - present):
        path = folder / "extra" / f"notes-{number:03d}.json"
        path.parent.mkdir(exist_ok=True)
        path.write_text(f'{{"note": {number}, "text": "{"x" * (number * 37 % 3000)}"}}\n')
    return sum(1 for p in folder.rglob("*") if p.is_file())


def _state(path: Path) -> bool:
    """dsprep's own state (.dsprep/) or the client's (.ms_download hints, locks)."""
    return any(part.startswith((".dsprep", ".ms", ".lock")) for part in path.parts)


def bare_client(dest: Path, endpoint: str, env: dict[str, str], workers: int) -> Child:
    script = shutil.which("modelscope") or str(Path(sys.executable).parent / "modelscope")
    argv = [script, "download", REPO, "--local-dir", str(dest), "--revision", "master"]
    argv += ["--max-workers", str(workers)]
    return run_child(argv, {**env, "MODELSCOPE_ENDPOINT": endpoint})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--max-workers", type=int, default=8)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dsprep-bench-meta-") as name:
        tmp = Path(name)
        count = build_repo(tmp / "repo", args.files)
        env = client_env(tmp)
        walls: dict[str, list[float]] = {"dsprep fetch": [], "modelscope download": []}
        cpus: dict[str, list[float]] = {"dsprep fetch": [], "modelscope download": []}
        with LoopbackHub({REPO: tmp / "repo"}) as hub:
            workers = args.max_workers
            for path in hub.listing(REPO):
                hub.delay(REPO, path, args.latency_ms / 1000)

            def dsprep(dest: Path) -> Child:
                extra = ("--max-workers", str(workers))
                return dsprep_fetch(REPO, dest, hub.endpoint, env, *extra, io_file=None)

            def bare(dest: Path) -> Child:
                return bare_client(dest, hub.endpoint, env, workers)

            runs = {"dsprep fetch": dsprep, "modelscope download": bare}
            for label, run in runs.items():  # warm up: page cache, .pyc files, the hub's hashes
                warm = run(tmp / "warm" / label.split()[0])
                if warm.returncode != 0:
                    print(warm.stdout[-2000:], warm.stderr[-2000:], file=sys.stderr)
                    raise SystemExit(f"{label} failed (exit {warm.returncode})")
            names = list(runs)
            for round_ in range(args.rounds):
                order = names if round_ % 2 == 0 else names[::-1]
                for label in order:
                    dest = tmp / "out" / f"{label.split()[0]}-{round_}"
                    done = runs[label](dest)
                    if done.returncode != 0:
                        print(done.stderr[-2000:], file=sys.stderr)
                        raise SystemExit(f"{label} failed in round {round_}")
                    files = sum(1 for p in dest.rglob("*") if p.is_file() and not _state(p))
                    if files != count:
                        raise SystemExit(f"{label} left {files} files, {count} expected")
                    walls[label].append(done.wall)
                    cpus[label].append(done.cpu)
                    shutil.rmtree(dest)
    dsprep_wall = statistics.median(walls["dsprep fetch"])
    bare_wall = statistics.median(walls["modelscope download"])
    dsprep_cpu = statistics.median(cpus["dsprep fetch"])
    bare_cpu = statistics.median(cpus["modelscope download"])
    ratio = dsprep_wall / bare_wall
    print(
        f"repo: {count} files from a loopback hub answering each after {args.latency_ms:g} ms, "
        f"--max-workers {workers}, {args.rounds} interleaved rounds"
    )
    print(f"modelscope download: {bare_wall:.3f} s wall, {bare_cpu:.3f} s CPU (median)")
    print(f"dsprep fetch:        {dsprep_wall:.3f} s wall, {dsprep_cpu:.3f} s CPU (median)")
    print(f"ratio:               {ratio:.2f}x wall, {dsprep_cpu / bare_cpu:.2f}x CPU")
    met = ratio <= TARGET
    verdict = "met" if met else "MISSED"
    print(f"target:              <= {TARGET}x the bare client's wall time: {verdict}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
