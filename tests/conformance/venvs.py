"""The cached vLLM virtual environments the conformance tier runs its child in.

One venv per vLLM version, ``<cache>/vllm-<version>`` (cache: ``DSPREP_CONFORMANCE_CACHE``,
default ``~/.cache/dsprep/conformance``), made with the profile's Python when it is on PATH
and holding the normal ``vllm`` wheel from the package registry with the torch it pins. It
is built under ``vllm-<version>.partial`` and renamed only once ``pip`` succeeded, so a
killed install never looks complete; a stamp records how long it took and how big it is.
A lock per version keeps two runs from installing the same one; before an install the free
disk must be at least ``DSPREP_CONFORMANCE_MIN_FREE_GB`` (default 15 GB).
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

CACHE_ENV = "DSPREP_CONFORMANCE_CACHE"
MIN_FREE_ENV = "DSPREP_CONFORMANCE_MIN_FREE_GB"
STAMP_NAME = ".dsprep-conformance.json"
DEFAULT_MIN_FREE_GB = 15.0
# What every vllm-ascend image installs beside vLLM and that vLLM's start-up needs here:
# env.sh exports VLLM_USE_MODELSCOPE=True, so vLLM imports modelscope to read the model
# (vllm-ascend==0.11.0rc0 Dockerfile:56-57 ``pip install modelscope 'ray>=2.47.1' …``, the
# same line in every later release's Dockerfile; ray comes with vLLM's own requirements).
IMAGE_EXTRAS = ("modelscope",)


class VenvError(RuntimeError):
    """The venv for one vLLM version could not be made (disk, registry, pip)."""


@dataclass(frozen=True)
class VllmVenv:
    """A ready venv: its folder, its python, and what its install cost."""

    vllm: str
    path: Path
    python_version: str
    install_seconds: float
    disk_bytes: int
    reused: bool

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"


def cache_root(env: str = CACHE_ENV, folder: str = "conformance") -> Path:
    """``$env``, or ``~/.cache/dsprep/<folder>`` (the serving tier keeps its venv beside)."""
    configured = os.environ.get(env)
    root = Path(configured) if configured else Path.home() / ".cache" / "dsprep" / folder
    return root.expanduser().resolve()


def venv_path(vllm: str) -> Path:
    return cache_root() / f"vllm-{vllm}"


def folder_bytes(path: Path) -> int:
    """Bytes on disk under ``path`` (hard links counted once)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for folder, _dirs, files in os.walk(path):
        for name in files:
            try:
                st = os.lstat(os.path.join(folder, name))
            except OSError:
                continue
            if (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            total += st.st_blocks * 512
    return total


def interpreter(python_version: str) -> str | None:
    """A working ``pythonX.Y`` for the profile's Python: on PATH, or a pyenv version."""
    candidates = [shutil.which(f"python{python_version}")]
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates += sorted(
        str(p) for p in pyenv.glob(f"{python_version}.*/bin/python{python_version}")
    )
    for candidate in candidates:
        if candidate and subprocess.run([candidate, "-c", ""], capture_output=True).returncode == 0:
            return candidate
    return None


def read_stamp(path: Path, name: str = STAMP_NAME) -> dict[str, object] | None:
    """A complete venv's stamp (None: no stamp, or no python: not a finished install)."""
    try:
        stamp = json.loads((path / name).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return stamp if isinstance(stamp, dict) and (path / "bin" / "python").exists() else None


def from_stamp(vllm: str, path: Path, stamp: dict[str, object], reused: bool) -> VllmVenv:
    return VllmVenv(
        vllm=vllm,
        path=path,
        python_version=str(stamp.get("python", "")),
        install_seconds=float(stamp.get("install_seconds", 0.0)),  # type: ignore[arg-type]
        disk_bytes=int(stamp.get("disk_bytes", 0)),  # type: ignore[call-overload]
        reused=reused,
    )


def _check_free_disk(root: Path) -> None:
    need = float(os.environ.get(MIN_FREE_ENV, DEFAULT_MIN_FREE_GB)) * 1e9
    free = shutil.disk_usage(root).free
    if free < need:
        raise VenvError(
            f"{root}: {free / 1e9:.1f} GB free, an install of vLLM with torch needs about"
            f" {need / 1e9:.0f} GB; remove a cached venv there (rm -r {root}/vllm-<version>)"
            f" or set {MIN_FREE_ENV}"
        )


def _run(argv: list[str], log: Path) -> None:
    with log.open("ab") as out:
        out.write(f"$ {' '.join(argv)}\n".encode())
        out.flush()
        done = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        tail = log.read_text(encoding="utf-8", errors="replace").splitlines()[-15:]
        raise VenvError(f"{argv[0]} exited {done.returncode} (log {log}):\n" + "\n".join(tail))


def ensure_venv(vllm: str, python_version: str) -> VllmVenv:
    """The venv holding ``vllm==<vllm>``; installed on first use, reused afterwards."""
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    path = venv_path(vllm)
    with (root / f".vllm-{vllm}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        stamp = read_stamp(path)
        python = interpreter(python_version)
        wanted = python is not None
        if (
            stamp is not None
            and wanted
            and not str(stamp.get("python", "")).startswith(f"{python_version}.")
        ):
            stamp = None  # made with another Python than the profile's: made again
        if stamp is not None:
            missing = [e for e in IMAGE_EXTRAS if e not in stamp.get("extras", [])]  # type: ignore[operator]
            if missing:  # a venv made before an extra was added: add it in place
                log = root / f"vllm-{vllm}.install.log"
                pip = [str(path / "bin" / "python"), "-m", "pip", "install", "--no-cache-dir"]
                _run([*pip, f"vllm=={vllm}", *missing], log)
                stamp["extras"] = list(IMAGE_EXTRAS)
                stamp["disk_bytes"] = folder_bytes(path)
                (path / STAMP_NAME).write_text(json.dumps(stamp, indent=1) + "\n", "utf-8")
            return from_stamp(vllm, path, stamp, reused=True)
        _check_free_disk(root)
        partial = path.with_name(path.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        shutil.rmtree(path, ignore_errors=True)  # a venv without its stamp is not complete
        log = root / f"vllm-{vllm}.install.log"
        log.unlink(missing_ok=True)
        started = time.monotonic()
        _run([python or sys.executable, "-m", "venv", str(partial)], log)
        pip = [str(partial / "bin" / "python"), "-m", "pip", "install", "--no-cache-dir"]
        _run([*pip, "--upgrade", "pip"], log)
        _run([*pip, f"vllm=={vllm}", *IMAGE_EXTRAS], log)
        seconds = time.monotonic() - started
        version = subprocess.run(
            [str(partial / "bin" / "python"), "-c", "import sys; print(sys.version.split()[0])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        stamp = {
            "vllm": vllm,
            "python": version,
            "install_seconds": round(seconds, 1),
            "disk_bytes": folder_bytes(partial),
            "extras": list(IMAGE_EXTRAS),
        }
        (partial / STAMP_NAME).write_text(json.dumps(stamp, indent=1) + "\n", encoding="utf-8")
        os.replace(partial, path)
        return from_stamp(vllm, path, stamp, reused=False)


if __name__ == "__main__":  # python tests/conformance/venvs.py VLLM_VERSION PYTHON_VERSION
    made = ensure_venv(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "3.11")
    print(json.dumps(made.__dict__, default=str, indent=1))
