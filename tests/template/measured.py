"""Run dsprep in a child process under a 2 GiB address-space limit; its CPU time, wall time
and peak RSS.

A regression then fails fast (MemoryError in the child, or the timeout) instead of swapping
the machine. The child measures itself: ``ru_maxrss`` of its own process, and the CPU and wall
time of the command alone (not of the interpreter's start). Bounds are asserted on CPU time,
which other work on a busy machine does not inflate (the sandbox's own limit is CPU time too).
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ADDRESS_SPACE = 2 * 2**30
CHILD = r"""
import contextlib, io, json, resource, sys, time
limit, kind, *args = sys.argv[1:]
resource.setrlimit(resource.RLIMIT_AS, (int(limit), int(limit)))
from dsprep.cli.main import main
from dsprep.hooks.check_template import main as hook
from dsprep.template.render import RenderRequest, render_with_jinja
from dsprep.errors import DsprepError
out, err = io.StringIO(), io.StringIO()
started, cpu_started = time.monotonic(), time.process_time()
with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
    try:
        if kind == "render":  # args: a template file
            source = open(args[0], encoding="utf-8").read()
            request = RenderRequest([{"role": "user", "content": "hi"}])
            try:
                result = {"code": 0, "prompt_chars": len(render_with_jinja(source, request, {}))}
            except DsprepError as error:
                result = {"code": error.code, "message": error.message, "hint": error.hint}
        elif kind == "hook":
            result = {"code": hook(args)}
        else:
            try:
                main(args, standalone_mode=True)
            except SystemExit as exit:
                result = {"code": exit.code}
    except BaseException as exc:
        result = {"code": "crash", "message": f"{type(exc).__name__}: {exc}"}
result["wall"] = time.monotonic() - started
result["cpu"] = time.process_time() - cpu_started
result["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
result["stdout"], result["stderr"] = out.getvalue(), err.getvalue()
print(json.dumps(result))
"""


@dataclass
class Measured:
    code: Any  # exit code, or a finding code for kind "render", or "crash"
    wall: float  # seconds the command took in the child
    rss_mb: float  # the child's peak resident size
    result: dict[str, Any]

    @property
    def cpu(self) -> float:
        """CPU seconds the command used in the child (what the bounds are asserted on)."""
        return float(self.result["cpu"])

    @property
    def output(self) -> str:
        return str(self.result.get("stdout", "")) + str(self.result.get("stderr", ""))

    def json(self) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(self.result["stdout"])
        return document


def measure(kind: str, *args: str | Path, timeout: float = 30) -> Measured:
    """``kind`` is ``render`` (a template file through render_with_jinja), ``hook``
    (dsprep-check-template ARGS) or ``cli`` (dsprep ARGS)."""
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(ADDRESS_SPACE), kind, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    lines = done.stdout.strip().splitlines()
    assert done.returncode == 0 and lines, done.stderr[-2000:]
    result = json.loads(lines[-1])
    return Measured(result["code"], result["wall"], result["rss_mb"], result)
