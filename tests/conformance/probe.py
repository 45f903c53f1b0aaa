"""One conformance run per profile: cells and variants built here, judged in the release's
venv by ``child/serve_probe.py`` in one child process (each case in a fork of it).

:func:`profile_run` is cached per profile for the pytest session: the venv is installed
(or reused), the tiny model folder written, every cell's and variant's argv collected, the
child run once, and the timings and disk use recorded for the summary.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from dsprep.demo.checkpoint import FULL_SIZE, config_document, w8a8_layout
from dsprep.profiles import Profile, all_profiles
from tests.conformance.cells import Cell, base_document, evaluate, matrix, node_runs
from tests.conformance.negatives import Variant, apply_variant, cluster_for_argv, variants
from tests.conformance.sources import vllm_ascend_source
from tests.conformance.venvs import VllmVenv, ensure_venv, folder_bytes

CHILD = Path(__file__).resolve().parent / "child" / "serve_probe.py"
PROFILES_ENV = "DSPREP_CONFORMANCE_PROFILES"


def selected_profiles() -> list[Profile]:
    """``DSPREP_CONFORMANCE_PROFILES``: ``oldest,newest`` (default), ``all`` or tags."""
    profiles = list(all_profiles())  # oldest release first
    wanted = os.environ.get(PROFILES_ENV, "oldest,newest").replace(" ", "")
    if wanted == "all":
        return profiles
    chosen: list[Profile] = []
    for name in wanted.split(","):
        found = {"oldest": profiles[0], "newest": profiles[-1]}.get(name)
        found = found or next((p for p in profiles if name == p.name or name in p.tags), None)
        if found is None:
            raise ValueError(f"{PROFILES_ENV}: no bundled profile {name!r}")
        if found not in chosen:
            chosen.append(found)
    return chosen


def write_model(folder: Path) -> Path:
    """A config-only DeepSeek-V3.1 folder: the published config.json, the W8A8 description
    msmodelslim writes and dsprep's demo tokenizer with dsprep's chat template (vLLM 0.23
    builds the tokenizer for the reasoning parser while making the configuration); no
    shards: nothing loads weights."""
    from dsprep.demo.tokenizer import write_tokenizer_files
    from dsprep.template.build import build_template

    folder.mkdir(parents=True, exist_ok=True)
    write_tokenizer_files(folder, build_template(thinking=True, tools=True))
    (folder / "config.json").write_text(json.dumps(config_document(FULL_SIZE), indent=1))
    description: dict[str, Any] = {"model_quant_type": "W8A8_DYNAMIC", "version": "1.0.0"}
    description.update({plan.name: plan.quant_type for plan in w8a8_layout(FULL_SIZE)})
    (folder / "quant_model_description.json").write_text(json.dumps(description))
    return folder


@dataclass
class VariantRun:
    variant: Variant
    cell: Cell | None  # None: the profile cannot express the variant
    nodes: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class ProfileRun:
    profile: Profile
    venv: VllmVenv
    cells: list[Cell]
    variants: list[VariantRun]
    outcomes: dict[str, dict[str, Any]]  # "<cell or variant id>/<node>" → probe outcome
    setup: dict[str, Any]
    probe_seconds: float
    folder: Path

    def outcome(self, case_id: str) -> dict[str, Any]:
        return self.outcomes[case_id]


FINISHED: dict[str, ProfileRun] = {}  # the runs of this session, for the summary and clean-up


def _cases(profile: Profile, workdir: Path, model: Path) -> tuple[list[Cell], list[VariantRun]]:
    cells = matrix(profile, model, workdir)
    base = base_document(profile, model)
    runs: list[VariantRun] = []
    for variant in variants(profile):
        document = apply_variant(variant, base, profile)
        if document is None:
            runs.append(VariantRun(variant, None))
            continue
        cell = evaluate(variant.id, document, workdir)
        argv_cluster = cell.cluster
        if argv_cluster is None and variant.cluster_fields is not None:
            argv_cluster = evaluate(f"{variant.id}-base", base, workdir).cluster
        nodes: list[dict[str, Any]] = []
        if argv_cluster is not None:
            nodes = node_runs(cluster_for_argv(variant, argv_cluster), profile)
        runs.append(VariantRun(variant, cell, nodes))
    return cells, runs


@cache
def profile_run(name: str) -> ProfileRun:
    profile = next(p for p in all_profiles() if p.name == name)
    venv = ensure_venv(profile.release.vllm_pip, profile.release.python)
    source = vllm_ascend_source(profile.release.vllm_ascend)
    workdir = Path(tempfile.mkdtemp(prefix=f"dsprep-conformance-{name}-"))
    model = write_model(workdir / "model")
    cells, runs = _cases(profile, workdir, model)
    cases: list[dict[str, Any]] = []
    for cell in cells:
        cases += [{"id": f"{cell.id}/{n['name']}", **n} for n in cell.nodes]
    for run in runs:
        cases += [{"id": f"{run.variant.id}/{n['name']}", **n} for n in run.nodes]
    request = workdir / "request.json"
    request.write_text(json.dumps({"vllm_ascend_src": str(source), "cases": cases}))
    result = workdir / "result.json"
    started = time.monotonic()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VLLM_", "PYTHON"))}
    done = subprocess.run(
        [str(venv.python), str(CHILD), str(request), str(result)],
        capture_output=True,
        text=True,
        env=env,
        timeout=3600,
        check=False,
    )
    seconds = time.monotonic() - started
    if done.returncode != 0 or not result.exists():
        raise RuntimeError(f"the probe failed ({done.returncode}):\n{done.stderr[-4000:]}")
    document = json.loads(result.read_text(encoding="utf-8"))
    if os.environ.get("DSPREP_CONFORMANCE_PRUNE", "") not in ("", "0"):
        shutil.rmtree(venv.path, ignore_errors=True)  # the results are in memory now
    finished = ProfileRun(
        profile, venv, cells, runs, document["cases"], document["setup"], seconds, workdir
    )
    FINISHED[name] = finished
    return finished


def cleanup(run: ProfileRun) -> None:
    if os.environ.get("DSPREP_CONFORMANCE_KEEP_WORKDIR", "") in ("", "0"):
        shutil.rmtree(run.folder, ignore_errors=True)


def venv_disk(run: ProfileRun) -> int:
    return run.venv.disk_bytes or folder_bytes(run.venv.path)
