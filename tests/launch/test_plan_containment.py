"""``dsprep plan --model-dir DIR`` opens nothing outside DIR: config.json and the shards are
read through ``ModelDir``, and a symlink out of the folder is refused before it is opened.
An audit hook in a child process records every file the command opens."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from dsprep.demo.checkpoint import write_w8a8_checkpoint
from tests.launch.conftest import example_document, write_cluster

# Runs `dsprep ARGS` with every open() recorded (sys.addaudithook sees each one, including
# the C-level opens of io.open and os.open) and written, resolved, to the file named first.
CHILD = """
import json, os, sys
opened = []
def hook(event, args):
    if event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
        opened.append(os.path.realpath(os.fsdecode(args[0])))
sys.addaudithook(hook)
record, *argv = sys.argv[1:]
from dsprep.cli.main import main
try:
    code = main.main(argv, prog_name="dsprep", standalone_mode=False)
except SystemExit as done:
    code = done.code
with open(record, "w") as out:  # recorded too, and harmless: it is outside the check
    json.dump({"code": code, "opened": opened}, out)
"""


def run_plan(tmp_path: Path, model: Path) -> tuple[int, list[str], str]:
    cluster = write_cluster(tmp_path, example_document())
    record = tmp_path / "opened.json"
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(record), "plan", str(cluster), "--model-dir", str(model)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    result = json.loads(record.read_text(encoding="utf-8"))
    return result["code"], result["opened"], done.stdout + done.stderr


def test_plan_reads_the_folder_and_only_it(tmp_path: Path) -> None:
    model = tmp_path / "model"
    write_w8a8_checkpoint(model)
    code, opened, output = run_plan(tmp_path, model)
    assert code in (0, 1), output  # the plan ran (the small demo model may not fit)
    assert "measured from 3 shard header(s)" in output, output
    real = os.path.realpath(model)
    inside = {p for p in opened if p.startswith(real + os.sep)}
    assert os.path.join(real, "config.json") in inside  # the hook sees the reads
    assert any(p.endswith(".safetensors") for p in inside)


def test_a_symlink_out_of_the_folder_is_never_opened(tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    write_w8a8_checkpoint(outside)
    model = tmp_path / "model"
    model.mkdir()
    for entry in outside.iterdir():  # every file of the folder links out of it
        (model / entry.name).symlink_to(entry)
    code, opened, output = run_plan(tmp_path, model)
    assert code == 3, output
    assert "outside" in output or "escape" in output, output
    real = os.path.realpath(outside)
    assert [p for p in opened if p.startswith(real + os.sep)] == []
