"""`dsprep demo`: the main job on the bundled sample, as a list of steps, with no network.

The steps build a tiny W8A8 and a tiny FP8 DeepSeek-V3-shaped repo, serve them from a
:class:`~dsprep.demo.hub.LoopbackHub` on 127.0.0.1, fetch the W8A8 one with the real
modelscope client through ``fetch``, show the FP8 one refused before any shard transfer,
and check the result offline against its manifest. Everything (the hub's folders, the
downloaded model, the client's cache and credentials) stays inside the demo folder.

Later stages add steps by appending to :data:`DEFAULT_STEPS` (or passing their own list).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dsprep import catalogue as C
from dsprep.errors import DiskError
from dsprep.findings import Finding, JsonPayload, Result

if TYPE_CHECKING:
    from dsprep.weights.fetch import FetchSummary

W8A8_REPO = "dsprep-demo/DeepSeek-V3.1-W8A8-tiny"
FP8_REPO = "dsprep-demo/DeepSeek-V3.1-FP8-tiny"
FP8_BYTE_BUDGET = 1_000_000  # what refusing an FP8 repo may cost, whatever its size


@dataclass
class DemoContext:
    """What the steps share: the folder, the running hub, and what earlier steps made."""

    root: Path
    stack: contextlib.ExitStack
    state: dict[str, Any] = field(default_factory=dict)

    def path(self, *parts: str) -> Path:
        return self.root.joinpath(*parts)


@dataclass(frozen=True)
class StepOutcome:
    ok: bool
    summary: str
    data: dict[str, Any] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    details: list[str] = field(default_factory=list)  # lines printed under the step


@dataclass(frozen=True)
class Step:
    name: str
    run: Callable[[DemoContext], StepOutcome]


def _repo_dir(ctx: DemoContext, repo: str) -> Path:
    return ctx.path("hub", *repo.split("/"))


def _model_dir(ctx: DemoContext, repo: str) -> Path:
    return ctx.path("models", repo.split("/")[1])


def seed_transcribed_template() -> str:
    """A non-thinking, tool-less template as the manual prints it: ASCII ``|`` for ``｜``."""
    from dsprep.template.build import build_template
    from dsprep.template.tokens import BAR

    return build_template(thinking=False, tools=False).replace(BAR, "|")


def build_samples(ctx: DemoContext) -> StepOutcome:
    from dsprep.demo.checkpoint import write_fp8_checkpoint, write_w8a8_checkpoint
    from dsprep.demo.tokenizer import write_tokenizer_files

    w8a8 = write_w8a8_checkpoint(_repo_dir(ctx, W8A8_REPO))
    w8a8 += write_tokenizer_files(_repo_dir(ctx, W8A8_REPO), seed_transcribed_template())
    fp8 = write_fp8_checkpoint(_repo_dir(ctx, FP8_REPO))
    size = sum(p.stat().st_size for p in w8a8)
    return StepOutcome(
        True,
        f"wrote {W8A8_REPO} ({len(w8a8)} files, {size} bytes) and {FP8_REPO} "
        f"({len(fp8)} files) under {ctx.path('hub')}",
        {"w8a8_files": len(w8a8), "fp8_files": len(fp8), "w8a8_bytes": size},
    )


def start_hub(ctx: DemoContext) -> StepOutcome:
    from dsprep.demo.hub import LoopbackHub

    repos = {repo: _repo_dir(ctx, repo) for repo in (W8A8_REPO, FP8_REPO)}
    hub = ctx.stack.enter_context(LoopbackHub(repos))
    ctx.state["hub"] = hub
    return StepOutcome(
        True,
        f"loopback ModelScope hub serving {len(repos)} repos at {hub.endpoint}",
        {"endpoint": hub.endpoint},
    )


def _fetch(ctx: DemoContext, repo: str) -> tuple[Result[FetchSummary], int, list[str]]:
    """Fetch ``repo`` from the demo hub with an isolated client; (result, bytes, files asked)."""
    from dsprep.atomic import BACKUP_SUFFIX
    from dsprep.demo.hub import LoopbackHub
    from dsprep.weights.fetch import FetchOptions, fetch_model

    hub: LoopbackHub = ctx.state["hub"]
    model_dir = _model_dir(ctx, repo)
    # fetch keeps dsprep's own rewrites; the demo starts from the hub's files, so a second
    # run first undoes the first run's template rewrite (its .dsprep-orig is the download)
    for backup in model_dir.glob(f"*{BACKUP_SUFFIX}") if model_dir.is_dir() else []:
        os.replace(backup, backup.with_name(backup.name.removesuffix(BACKUP_SUFFIX)))
    before = len(hub.requests())
    options = FetchOptions(
        model_id=repo,
        local_dir=model_dir,
        revision=None,
        endpoint=hub.endpoint,
        cache_dir=ctx.path("client", "cache"),
        config_dir=ctx.path("client", "modelscope"),
        token="",
    )
    result = fetch_model(options)
    asked = hub.requests()[before:]
    files = [r.file_path for r in asked if r.file_path is not None]
    return result, sum(r.bytes_sent for r in asked), files


def fetch_w8a8(ctx: DemoContext) -> StepOutcome:
    result, sent, files = _fetch(ctx, W8A8_REPO)
    fetched = result.payload
    data = {**fetched.to_json(), "bytes_sent": sent, "requested": files}
    ctx.state["model_dir"] = Path(fetched.local_dir)
    summary = (
        f"fetched {W8A8_REPO} with the modelscope client: {fetched.files} files, "
        f"{sent} bytes over {len(files)} file requests, manifest at {fetched.manifest}"
    )
    return StepOutcome(result.ok, summary, data, result.errors)


def refuse_fp8(ctx: DemoContext) -> StepOutcome:
    from dsprep.weights.verdict import Quantization

    result, sent, files = _fetch(ctx, FP8_REPO)
    shards = [f for f in files if f.endswith(".safetensors")]
    refused = result.payload.refused and result.payload.verdict == Quantization.FP8.value
    ok = refused and not shards and sent < FP8_BYTE_BUDGET
    data = {"codes": result.codes(), "bytes_sent": sent, "requested": files, "shards": shards}
    summary = (
        f"{FP8_REPO} refused as {result.payload.verdict}"
        f" [{', '.join(f.code for f in result.errors)}] after reading"
        f" {', '.join(files) or 'nothing'}: {len(shards)} shards requested, {sent} bytes"
        " transferred"
    )
    findings: list[Finding] = []
    if not ok:
        findings.append(
            C.DEMO_FP8_NOT_REFUSED(
                str(_model_dir(ctx, FP8_REPO)),
                f"fetch of {FP8_REPO} was not refused cleanly (verdict "
                f"{result.payload.verdict}, {len(shards)} shards requested, {sent} bytes)",
            )
        )
    return StepOutcome(ok, summary, data, findings)


def check_w8a8(ctx: DemoContext) -> StepOutcome:
    from dsprep.weights.check import CheckOptions, check_model_dir

    model_dir: Path = ctx.state["model_dir"]
    result = check_model_dir(model_dir, CheckOptions(verify_hashes=True))
    summary = f"dsprep check --verify-hashes {model_dir}: {result.status}"
    return StepOutcome(result.ok, summary, {"codes": result.codes()}, result.errors)


def lint_template(ctx: DemoContext) -> StepOutcome:
    """The sample's template was copied from the manual with ASCII bars: --check must say so."""
    from dsprep.template.lint import check_template

    model_dir: Path = ctx.state["model_dir"]
    result = check_template(model_dir)
    bars = sum(t.lookalikes for t in result.payload.templates)
    example = f" (first: {result.findings[0].message})" if bars and result.findings else ""
    summary = (
        f"dsprep template --check {model_dir.name}: {bars} ASCII-bar look-alike "
        f"token(s) caught before serving{example}"
    )
    return StepOutcome(bars > 0, summary, {"codes": result.codes()})


def rewrite_template(ctx: DemoContext) -> StepOutcome:
    from dsprep.template.lint import check_template
    from dsprep.template.rewrite import RewriteOptions, rewrite

    model_dir: Path = ctx.state["model_dir"]
    # thinking off by default with tools: the model card's tool calls are non-thinking, and the
    # example cluster file says features.thinking_default: false (emit-launch checks they agree)
    result = rewrite(model_dir, RewriteOptions(thinking=False, tools=True))
    lint = check_template(model_dir)
    ok = result.ok and lint.ok
    summary = (
        f"dsprep template {model_dir.name} --thinking off --tools: {result.status}; "
        f"--check afterwards: {lint.status}"
    )
    return StepOutcome(ok, summary, {"codes": result.codes()}, result.errors + lint.errors)


def self_test_template(ctx: DemoContext) -> StepOutcome:
    from dsprep.template.prompt import self_test_model

    model_dir: Path = ctx.state["model_dir"]
    result = self_test_model(model_dir)
    tested = result.payload
    summary = (
        f"dsprep render {model_dir.name} --self-test: {result.status} "
        f"({tested.cases} cases, {tested.renders} renders, "
        f"{tested.tool_calls_checked} tool calls parsed back)"
    )
    return StepOutcome(result.ok, summary, {"codes": result.codes()}, result.errors)


def emit_launch_scripts(ctx: DemoContext) -> StepOutcome:
    from dsprep.findings import Severity
    from dsprep.launch.cluster import load_cluster
    from dsprep.launch.emit import emit_launch, write_example
    from dsprep.launch.thinking import check_template_default

    cluster = ctx.path("cluster.yaml")
    write_example(cluster)
    out = ctx.path("launch")
    result = emit_launch(cluster, out)
    written = result.payload.written
    # the rewritten template's thinking default against the file's (emit-launch --model-dir
    # runs this check; the tiny model's 4,096 positions would fail its memory plan)
    loaded = load_cluster(cluster).cluster
    model_dir: Path = ctx.state["model_dir"]
    thinking = check_template_default(loaded, model_dir) if loaded is not None else []
    agrees = "agrees" if not thinking else "DISAGREES"
    summary = (
        f"dsprep emit-launch --init {cluster.name} && dsprep emit-launch {cluster.name} "
        f"--out {out}: {result.status}, {len(written)} files (the manual's two-node example);"
        f" {model_dir.name}'s thinking default {agrees} with features.thinking_default"
    )
    ctx.state["launch_dir"] = out
    errors = result.errors + [f for f in thinking if f.severity is Severity.ERROR]
    return StepOutcome(result.ok and not thinking, summary, {"out": str(out)}, errors)


def migrate_launch(ctx: DemoContext) -> StepOutcome:
    """The manual's cluster file carried to the newest bundled release: a copy of it
    migrated (``emit-launch --image TAG --migrate``), its scripts emitted, the changes
    listed."""
    import shutil

    from dsprep.atomic import backup_path
    from dsprep.launch.migrate import migrate_and_emit
    from dsprep.profiles import newest_profile

    tag = newest_profile().name
    manual = ctx.path("cluster.yaml")
    cluster = ctx.path(f"cluster-{tag}.yaml")
    backup_path(cluster).unlink(missing_ok=True)  # a new copy each run: the backup is its
    shutil.copyfile(manual, cluster)
    out = ctx.path(f"launch-{tag}")
    result = migrate_and_emit(cluster, tag, out)
    migration = result.payload.migration
    emitted = result.payload.emit
    written = emitted.written if emitted is not None else []
    details = [
        f"{scope}: {line}" for scope in ("file", "launch") for line in migration.lines(scope)
    ]
    files = len(migration.lines("file"))
    summary = (
        f"dsprep emit-launch {cluster.name} --image {tag} --migrate --out {out}: {result.status};"
        f" {migration.source} → {migration.target}, {files} change(s) to the cluster file,"
        f" {len(written)} files written"
    )
    data = {"cluster": str(cluster), "out": str(out), "changes": migration.changes}
    return StepOutcome(result.ok, summary, data, result.errors, details)


DEFAULT_STEPS: list[Step] = [
    Step("build-samples", build_samples),
    Step("start-hub", start_hub),
    Step("fetch-w8a8", fetch_w8a8),
    Step("refuse-fp8", refuse_fp8),
    Step("check", check_w8a8),
    Step("template-check", lint_template),
    Step("template-rewrite", rewrite_template),
    Step("render-self-test", self_test_template),
    Step("emit-launch", emit_launch_scripts),
    Step("migrate-launch", migrate_launch),
]


@dataclass(frozen=True)
class StepRecord(JsonPayload):
    name: str
    status: str  # ok, fail, skipped
    summary: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    details: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class DemoSummary(JsonPayload):
    dir: str
    temporary: bool
    steps: list[StepRecord]
    model_dir: str | None = None
    launch_dir: str | None = None


class DemoListener:
    """Hears about the demo as it runs (the CLI prints each step then, so an interrupted
    demo has already said where its folder is)."""

    def started(self, root: Path, temporary: bool, steps: int) -> None:
        """The folder is ready and ``steps`` steps will run."""

    def step(self, number: int, total: int, record: StepRecord) -> None:
        """Step ``number`` of ``total`` ran (or was skipped)."""


def run_demo(
    folder: Path | None = None,
    steps: Sequence[Step] = DEFAULT_STEPS,
    listener: DemoListener | None = None,
) -> Result[DemoSummary]:
    """Run ``steps`` in ``folder`` (a new temporary folder when None); stop at a failed one."""
    temporary = folder is None
    try:
        root = Path(tempfile.mkdtemp(prefix="dsprep-demo-")) if folder is None else Path(folder)
        root = root.resolve()
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DiskError(
            f"cannot create the demo folder {folder}: {exc.strerror or exc}",
            hint="pass another DIR",
            path=folder,
        ) from exc
    records: list[StepRecord] = []
    findings: list[Finding] = []
    listener = listener or DemoListener()
    listener.started(root, temporary, len(steps))
    with contextlib.ExitStack() as stack:
        ctx = DemoContext(root, stack)
        failed = False
        for number, step in enumerate(steps, start=1):
            if failed:
                record = StepRecord(step.name, "skipped")
            else:
                outcome = step.run(ctx)
                status = "ok" if outcome.ok else "fail"
                record = StepRecord(
                    step.name, status, outcome.summary, outcome.data, outcome.details
                )
                findings += outcome.findings
                if not outcome.ok:
                    failed = True
                    if not outcome.findings:
                        findings.append(
                            C.DEMO_STEP_FAILED(
                                str(root), f"step {step.name} failed: {outcome.summary}"
                            )
                        )
            records.append(record)
            listener.step(number, len(steps), record)
    model_dir = ctx.state.get("model_dir")
    launch_dir = ctx.state.get("launch_dir")
    summary = DemoSummary(
        str(root),
        temporary,
        records,
        str(model_dir) if model_dir is not None else None,
        str(launch_dir) if launch_dir is not None else None,
    )
    return Result("demo", summary, findings)
