"""What the unattended launch kit needs beyond the argv: where logs and the pid live, where
the weights are on the host, the weights list preflight checks, and the start-up timeouts.

The timeouts are dsprep's estimate from the shard count and bytes (stated in PLAN.md with
their inputs); the variable names and defaults they set come from the release profile.
"""

from __future__ import annotations

import math
import posixpath
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from dsprep.launch.cluster import Cluster
from dsprep.launch.plan import MemoryPlan
from dsprep.profiles import Profile

LOGS_MOUNT = "/dsprep-logs"  # where container.sh mounts the node's log folder (read-write)
LOG_NAME = "vllm.log"
PID_NAME = "vllm.pid"
WEIGHTS_LIST = "weights.tsv"  # size<TAB>sha256<TAB>path, one file of the manifest a line

# dsprep's load estimate (not a vLLM fact): every node reads every shard once from its disk.
READ_BYTES_PER_S = 512 * 1024**2  # a local NVMe read of large files, conservatively
SECONDS_PER_SHARD = 1  # open + header parse + mmap per shard
WARMUP_S = 300  # KV cache allocation, graph capture, the first forward passes
MARGIN = 1.5  # the wait is the estimate times this, rounded up to whole minutes
HEALTH_AFTER_READY_S = 300  # API server start after every engine is ready
SHARD_BYTES_GUESS = 4 * 1024**3  # without a shard count: bytes / 4 GiB shards
_SAFE_PATH = re.compile(r"^[^\x00-\x1f\x7f]+$")


def log_dir_word(cluster: Cluster) -> str:
    """The host log folder as one shell word (``$here`` is the node folder at run time)."""
    if cluster.log_dir:
        return shlex.quote(cluster.log_dir)
    return '"$here/logs"'


def host_model_path(cluster: Cluster) -> str | None:
    """``model.path`` as the host sees it, through the ``container.mounts`` that holds it
    (the longest container path that contains it); None when no mount does."""
    best: tuple[int, str] | None = None
    for mount in cluster.mounts:
        host, container = mount.split(":")[:2]
        container = container.rstrip("/") or "/"
        model = cluster.model_path
        inside = model == container or model.startswith(container.rstrip("/") + "/")
        if inside and (best is None or len(container) > best[0]):
            rest = posixpath.relpath(model, container)
            best = (len(container), posixpath.normpath(posixpath.join(host, rest)))
    return best[1] if best else None


@dataclass(frozen=True)
class WeightFile:
    path: str  # relative to the model folder
    size: int
    sha256: str


def manifest_weights(model_dir: Path | None) -> list[WeightFile]:
    """Every file ``dsprep fetch``'s manifest records for ``model_dir`` (empty: none)."""
    if model_dir is None:
        return []
    from dsprep.weights.manifest import recorded_files

    recorded = recorded_files(Path(model_dir))
    return [
        WeightFile(path, entry.size, entry.sha256)
        for path, entry in sorted(recorded.items())
        if _SAFE_PATH.match(path) and "\t" not in path
    ]


def weights_tsv(files: list[WeightFile]) -> str:
    return "".join(f"{f.size}\t{f.sha256}\t{f.path}\n" for f in files)


@dataclass(frozen=True)
class StartupTimes:
    """The load estimate and the waits sized from it (seconds)."""

    shards: int
    weight_bytes: int
    basis: str  # where shards and bytes came from
    load_s: int
    engine_ready_s: int  # what VLLM_ENGINE_READY_TIMEOUT_S is set to (where it exists)
    health_s: int  # verify.sh's default /health wait

    def lines(self, profile: Profile) -> list[str]:
        """PLAN.md's Timeouts section."""
        t = profile.launch.timeouts
        gib = self.weight_bytes / 1024**3
        out = [
            f"- Load estimate: {self.shards} shards, {gib:.1f} GiB ({self.basis}):"
            f" {gib:.1f} GiB / {READ_BYTES_PER_S // 1024**2} MiB/s + {self.shards} ×"
            f" {SECONDS_PER_SHARD} s + {WARMUP_S} s warm-up = {self.load_s} s"
            " (dsprep's estimate; each node reads every shard from its own disk).",
        ]
        cited = profile.launch.sources.get("timeouts")
        cited = cited if isinstance(cited, list) else [cited]
        guide = "; ".join(str(c) for c in cited if "HCCL_CONNECT_TIMEOUT" in str(c))
        source = "; ".join(str(c) for c in cited if "HCCL_CONNECT_TIMEOUT" not in str(c))
        if t.engine_ready_env:
            out.append(
                f"- `{t.engine_ready_env}={self.engine_ready_s}` in env.sh (the estimate ×"
                f" {MARGIN}, in whole minutes; vLLM {profile.launch.vllm}'s default is"
                f" {t.engine_ready_default_s} s: {source})."
            )
        else:
            verdict = (
                f"the estimate ({self.load_s} s) exceeds it: start the headless nodes first"
                " and keep their load short (weights on local disk, page cache warm), or use"
                " an image whose vLLM has VLLM_ENGINE_READY_TIMEOUT_S (v0.18.0 and later)"
                if self.load_s > t.engine_ready_default_s
                else "the estimate fits in it"
            )
            out.append(
                f"- Engine ready wait: vLLM {profile.launch.vllm} waits a fixed"
                f" {t.engine_ready_default_s} s for every engine's first message, no variable"
                f" raises it ({source}); {verdict}."
            )
        if t.hccl_connect_s is not None:
            out.append(f"- `HCCL_CONNECT_TIMEOUT={t.hccl_connect_s}` in env.sh ({guide}).")
        else:
            out.append(
                "- `HCCL_CONNECT_TIMEOUT`: not exported: the release's multi-node DeepSeek-V3.1"
                f" guide sets none ({guide}), so HCCL's own default applies; set it in the"
                " cluster file's `env` if your nodes start far apart."
            )
        out.append(
            f"- verify.sh waits up to {self.health_s} s for `/health` (the engine wait +"
            f" {HEALTH_AFTER_READY_S} s for the API server; VERIFY_TIMEOUT overrides it);"
            " `dsprep up` waits as long."
        )
        return out


def startup_times(plan: MemoryPlan | None, weights: list[WeightFile]) -> StartupTimes:
    """The estimate from the manifest's shards (exact), else the plan's weight bytes."""
    shard_files = [w for w in weights if w.path.endswith(".safetensors")]
    if shard_files:
        shards, total = len(shard_files), sum(w.size for w in shard_files)
        basis = "the manifest of --model-dir"
    else:
        w = plan.weights if plan is not None else None
        total = (w.routed_experts + w.sharded + w.replicated) if w is not None else 0
        shards = w.shards if w is not None and w.shards else math.ceil(total / SHARD_BYTES_GUESS)
        basis = (
            "the shard headers of --model-dir"
            if w is not None and w.shards
            else f"the memory plan's weight bytes, shards of {SHARD_BYTES_GUESS // 1024**3} GiB"
            " assumed"
        )
    load = math.ceil(total / READ_BYTES_PER_S) + shards * SECONDS_PER_SHARD + WARMUP_S
    ready = math.ceil(load * MARGIN / 60) * 60
    return StartupTimes(shards, total, basis, load, ready, ready + HEALTH_AFTER_READY_S)


def startup_env(times: StartupTimes, profile: Profile) -> list[tuple[str, str]]:
    """The exports the timeouts add to env.sh (before the cluster file's own ``env``)."""
    t = profile.launch.timeouts
    exports: list[tuple[str, str]] = []
    if t.engine_ready_env:
        exports.append((t.engine_ready_env, str(times.engine_ready_s)))
    if t.hccl_connect_s is not None:
        exports.append(("HCCL_CONNECT_TIMEOUT", str(t.hccl_connect_s)))
    return exports
