"""Benchmark: `pre-commit run --all-files` with every dsprep hook on a fixture model repo.

Builds a git repository of a tiny W8A8 model (config.json, quant_model_description.json,
the shard index, three small shards, tokenizer.json and tokenizer_config.json with dsprep's
chat template), installs both hook environments the way pre-commit does it (`repo: local`,
`language: python`: dsprep from a pip install of this checkout, pre-commit-hooks from PyPI),
warms each up once, then alternates runs of

- every dsprep hook (`pre-commit run --all-files -c dsprep.yaml`), and
- pre-commit-hooks' `check-json` alone on the same repo (`-c check-json.yaml`),

and compares medians. Targets: dsprep median ≤ 1.0 s and ≤ 3× the check-json median.
Prints figures and ratios; exits 1 if a target is missed.
Usage: python bench/hooks_precommit.py [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.hooks.precommit_repo import (
    REPO_ROOT,
    check_json_config,
    clean_env,
    git,
    local_dsprep_config,
    pre_commit,
    write_model_files,
)

TARGET_SECONDS = 1.0
TARGET_RATIO = 3.0


def timed_run(repo: Path, env: dict[str, str], config: str) -> float:
    start = time.perf_counter()
    done = pre_commit(repo, env, "run", "--all-files", "-c", config)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"pre-commit failed on the good fixture repo:\n{done.stdout}{done.stderr}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9, help="timed runs per side (default 9)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dsprep-bench-hooks-") as tmp:
        root = Path(tmp)
        env = clean_env(root / "pre-commit-home")
        repo = root / "model-repo"
        repo.mkdir()
        write_model_files(repo)
        (repo / "dsprep.yaml").write_text(local_dsprep_config(REPO_ROOT), encoding="utf-8")
        (repo / "check-json.yaml").write_text(check_json_config(), encoding="utf-8")
        git(repo, env, "init", "-q", "-b", "main")
        git(repo, env, "add", "-A")
        git(repo, env, "commit", "-q", "--no-verify", "-m", "fixture model")
        files = git(repo, env, "ls-files").split()
        print(f"fixture repo: {len(files)} files ({', '.join(sorted(files))})")
        start = time.perf_counter()
        for config in ("dsprep.yaml", "check-json.yaml"):
            pre_commit(repo, env, "install-hooks", "-c", config, check=True)
        print(f"hook environments installed in {time.perf_counter() - start:.1f} s (not timed)")
        for config in ("dsprep.yaml", "check-json.yaml"):  # warm-up
            timed_run(repo, env, config)
        ours: list[float] = []
        baseline: list[float] = []
        for _ in range(args.runs):
            ours.append(timed_run(repo, env, "dsprep.yaml"))
            baseline.append(timed_run(repo, env, "check-json.yaml"))
    median_ours = statistics.median(ours)
    median_base = statistics.median(baseline)
    ratio = median_ours / median_base
    print(f"runs per side:             {args.runs} (alternating, after one warm-up each)")
    print(f"dsprep hooks (all 4):      median {median_ours:.3f} s  (min {min(ours):.3f} s)")
    print(f"check-json alone:          median {median_base:.3f} s  (min {min(baseline):.3f} s)")
    print(f"ratio dsprep / check-json: {ratio:.2f}x")
    failed = []
    if median_ours > TARGET_SECONDS:
        failed.append(f"median {median_ours:.3f} s > {TARGET_SECONDS} s")
    if ratio > TARGET_RATIO:
        failed.append(f"ratio {ratio:.2f}x > {TARGET_RATIO}x")
    if failed:
        print("FAIL: " + "; ".join(failed))
        return 1
    print(f"OK: targets met (≤ {TARGET_SECONDS} s, ≤ {TARGET_RATIO}x check-json)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
