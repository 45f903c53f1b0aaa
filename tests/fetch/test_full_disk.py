"""A full disk during `dsprep fetch`: one `Error:` line, exit 3, no manifest claiming success.

The download target is a 160 KiB tmpfs mounted in a private mount namespace
(`unshare -rm`), so the real modelscope client hits a real ENOSPC; nothing is simulated.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from dsprep.demo.hub import LoopbackHub
from tests.fetch.conftest import W8A8

SCRIPT = r"""
set -eu
mount -t tmpfs -o size=160k tmpfs "$TARGET"
set +e
"$PYTHON" -m dsprep fetch "$REPO" --local-dir "$TARGET/model" \
    --endpoint "$ENDPOINT" --revision master
rc=$?
set -e
echo "rc=$rc" >&2
ls -a "$TARGET/model" "$TARGET/model/.dsprep" >&2 || true
exit "$rc"
"""


def test_full_disk_is_one_error_line_and_exit_3(hub: LoopbackHub, tmp_path: Path) -> None:
    assert shutil.which("unshare"), "util-linux `unshare` is needed for this test"
    target = tmp_path / "small"
    target.mkdir()
    env = {
        **os.environ,
        "TARGET": str(target),
        "PYTHON": sys.executable,
        "REPO": W8A8,
        "ENDPOINT": hub.endpoint,
    }
    proc = subprocess.run(
        ["unshare", "-rm", "bash", "-c", SCRIPT],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert "rc=3" in proc.stderr, proc.stderr[-3000:]
    assert proc.returncode == 3
    errors = [line for line in proc.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, proc.stderr[-3000:]
    assert "No space left on device" in errors[0] or "disk" in errors[0].lower()
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""
    # nothing looks complete: no manifest was written into the (full) target
    assert "manifest.json" not in proc.stderr.split("rc=3", 1)[1]
