"""The unpacked source of one vllm-ascend release, for the probe's vllm-ascend checks.

Looked up as ``vllm_ascend-<version>/vllm_ascend`` under ``DSPREP_UPSTREAM_SRC``, then
``~/.cache/dsprep/upstream/src`` (where the provenance tier unpacks the releases), then the
conformance cache's own ``src/``; when none holds it, the sdist is fetched from the package
registry (``pip download vllm-ascend==<version> --no-deps --no-binary :all:``) and unpacked
into the conformance cache.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

from tests.conformance.venvs import VenvError, cache_root

UPSTREAM_ENV = "DSPREP_UPSTREAM_SRC"


def _roots() -> list[Path]:
    roots = [Path(os.environ[UPSTREAM_ENV])] if os.environ.get(UPSTREAM_ENV) else []
    roots.append(Path.home() / ".cache" / "dsprep" / "upstream" / "src")
    roots.append(cache_root() / "src")
    return roots


def vllm_ascend_source(version: str) -> Path:
    """The folder holding the release's ``vllm_ascend`` package."""
    for root in _roots():
        folder = root / f"vllm_ascend-{version}"
        if (folder / "vllm_ascend" / "ascend_config.py").is_file():
            return folder
    return _download(version)


def _download(version: str) -> Path:
    downloads = cache_root() / "dl"
    downloads.mkdir(parents=True, exist_ok=True)
    sdist = downloads / f"vllm_ascend-{version}.tar.gz"
    for cached in (Path.home() / ".cache" / "dsprep" / "upstream" / "dl" / sdist.name, sdist):
        if cached.is_file():
            sdist = cached
            break
    else:
        argv = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:"]
        argv += ["-d", str(downloads), f"vllm-ascend=={version}"]
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        if done.returncode != 0 or not sdist.is_file():
            raise VenvError(f"pip download vllm-ascend=={version} failed:\n{done.stderr[-2000:]}")
    target = cache_root() / "src" / f"vllm_ascend-{version}"
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    with tarfile.open(sdist) as archive:
        archive.extractall(partial, filter="data")
    (top,) = list(partial.iterdir())  # the sdist's one top folder
    shutil.rmtree(target, ignore_errors=True)
    os.replace(top, target)
    shutil.rmtree(partial, ignore_errors=True)
    return target
