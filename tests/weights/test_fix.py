"""``check --fix``: atomic, backed up, idempotent; a failed write leaves the original intact."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from dsprep.atomic import BACKUP_SUFFIX
from dsprep.errors import DiskError
from dsprep.findings import Severity
from dsprep.weights.check import CheckOptions, check_model_dir
from tests.conftest import CliOutcome
from tests.weights import broken
from tests.weights.broken import DESCRIPTION

FIX = CheckOptions(fix=True)


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.iterdir())}


def test_fix_removes_leftover_and_sets_dtype_with_backup(w8a8_dir: Path) -> None:
    broken.break_leftover_quantization_config(w8a8_dir)
    broken.break_torch_dtype(w8a8_dir)
    original = (w8a8_dir / "config.json").read_bytes()
    result = check_model_dir(w8a8_dir, FIX)
    assert result.ok, result.codes()
    fixed = [f for f in result.findings if f.code == "fixed"]
    assert len(fixed) == 2 and all(f.severity is Severity.INFO for f in fixed)
    assert any("quantization_config" in f.message for f in fixed)
    assert any("'torch_dtype'" in f.message and "bfloat16" in f.message for f in fixed)
    config = json.loads((w8a8_dir / "config.json").read_text())
    assert "quantization_config" not in config and config["torch_dtype"] == "bfloat16"
    assert (w8a8_dir / ("config.json" + BACKUP_SUFFIX)).read_bytes() == original
    assert result.payload.fixed == [f.message for f in fixed]


def test_fix_is_idempotent(w8a8_dir: Path) -> None:
    broken.break_leftover_quantization_config(w8a8_dir)
    broken.break_misnamed_description(w8a8_dir)
    first = check_model_dir(w8a8_dir, FIX)
    assert first.ok and first.codes().count("fixed") == 2
    before = snapshot(w8a8_dir)
    second = check_model_dir(w8a8_dir, FIX)
    assert second.ok and "fixed" not in second.codes()
    assert snapshot(w8a8_dir) == before  # byte-identical, mtimes unchanged


def test_fix_renames_a_lone_misnamed_description(w8a8_dir: Path) -> None:
    misnamed = broken.break_misnamed_description(w8a8_dir)
    content = (w8a8_dir / misnamed).read_bytes()
    result = check_model_dir(w8a8_dir, FIX)
    assert result.ok, result.codes()
    assert (w8a8_dir / DESCRIPTION).read_bytes() == content
    assert not (w8a8_dir / misnamed).exists()
    assert (w8a8_dir / (misnamed + BACKUP_SUFFIX)).read_bytes() == content
    assert "misnamed-description" not in result.codes()


def test_fix_adds_torch_dtype_when_missing_and_fixes_dtype_key(w8a8_dir: Path) -> None:
    broken.break_dtype_key(w8a8_dir)
    result = check_model_dir(w8a8_dir, FIX)
    config = json.loads((w8a8_dir / "config.json").read_text())
    assert config["dtype"] == "bfloat16" and "torch_dtype" not in config
    assert result.ok


def test_fix_leaves_what_is_not_safe(w8a8_dir: Path) -> None:
    broken.break_unknown_quant_type(w8a8_dir)
    broken.break_duplicate_description(w8a8_dir)
    before = snapshot(w8a8_dir)
    result = check_model_dir(w8a8_dir, CheckOptions(fix=True, image="v0.13.0"))
    assert {"unknown-quant-type", "duplicate-description"} <= set(result.codes())
    assert "fixed" not in result.codes()
    assert snapshot(w8a8_dir) == before


def test_fix_deletes_a_block_without_quant_method(w8a8_dir: Path) -> None:
    """``quantization_config: {fa_quant_type: …}`` replaces the description at load (it has
    no quant_method): deleting it is the repair, as msmodelslim itself does."""
    broken.break_fa_quant_type(w8a8_dir)
    assert "leftover-quantization-config" in check_model_dir(w8a8_dir).codes()
    result = check_model_dir(w8a8_dir, FIX)
    assert result.ok, result.codes()
    assert "quantization_config" not in json.loads((w8a8_dir / "config.json").read_text())


def test_fix_does_not_touch_an_fp8_checkpoint(fp8_dir: Path) -> None:
    before = snapshot(fp8_dir)
    result = check_model_dir(fp8_dir, FIX)
    assert "fp8-weights" in result.codes() and "fixed" not in result.codes()
    assert snapshot(fp8_dir) == before


def test_failing_replace_leaves_the_original_byte_identical(
    w8a8_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken.break_leftover_quantization_config(w8a8_dir)
    config = w8a8_dir / "config.json"
    original = config.read_bytes()

    def refuse(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(DiskError, match=r"config\.json"):
        check_model_dir(w8a8_dir, FIX)
    monkeypatch.undo()
    assert config.read_bytes() == original
    leftovers = [p.name for p in w8a8_dir.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []


def test_cli_fix_failure_is_exit_3(
    w8a8_dir: Path, run_cli: Callable[..., CliOutcome], monkeypatch: pytest.MonkeyPatch
) -> None:
    broken.break_torch_dtype(w8a8_dir)
    original = (w8a8_dir / "config.json").read_bytes()

    def refuse(src: object, dst: object) -> None:
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(os, "replace", refuse)
    outcome = run_cli("check", str(w8a8_dir), "--fix", "--format", "json")
    monkeypatch.undo()
    assert outcome.exit_code == 3
    document = outcome.json()
    assert document["status"] == "error" and "config.json" in document["findings"][0]["message"]
    assert (w8a8_dir / "config.json").read_bytes() == original


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="chown to another user needs root")
SERVICE_UID = SERVICE_GID = 65534  # the user the model folder belongs to (not root)


@needs_root
def test_fix_as_root_keeps_owner_group_and_mode(w8a8_dir: Path) -> None:
    broken.break_torch_dtype(w8a8_dir)
    misnamed = broken.break_misnamed_description(w8a8_dir)
    for name in ("config.json", misnamed):
        os.chown(w8a8_dir / name, SERVICE_UID, SERVICE_GID)
        (w8a8_dir / name).chmod(0o640)
    result = check_model_dir(w8a8_dir, FIX)
    assert result.ok and result.codes().count("fixed") == 2, result.codes()
    for name in ("config.json", DESCRIPTION, "config.json" + BACKUP_SUFFIX):
        info = (w8a8_dir / name).stat()
        assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (
            SERVICE_UID,
            SERVICE_GID,
            0o640,
        ), name


def test_fix_refuses_a_read_only_config_unless_forced(
    w8a8_dir: Path, run_cli: Callable[..., CliOutcome]
) -> None:
    broken.break_torch_dtype(w8a8_dir)
    config = w8a8_dir / "config.json"
    config.chmod(0o444)
    original = config.read_bytes()
    outcome = run_cli("check", str(w8a8_dir), "--fix", "--format", "json")
    assert outcome.exit_code == 3
    (error,) = outcome.json()["findings"]
    assert error["code"] == "disk"
    assert str(config) in error["message"] and "read-only" in error["message"]
    assert "--force" in error["hint"]
    assert config.read_bytes() == original
    forced = run_cli("check", str(w8a8_dir), "--fix", "--force", "--format", "json")
    assert forced.exit_code == 0, forced.stdout
    assert json.loads(config.read_text())["torch_dtype"] == "bfloat16"
    assert stat.S_IMODE(config.stat().st_mode) == 0o444


def test_fix_of_a_description_symlinked_outside_ends_in_path_escape(
    w8a8_dir: Path, tmp_path: Path, run_cli: Callable[..., CliOutcome]
) -> None:
    misnamed = broken.break_misnamed_description(w8a8_dir)
    outside = tmp_path / "elsewhere" / misnamed
    outside.parent.mkdir()
    os.replace(w8a8_dir / misnamed, outside)
    (w8a8_dir / misnamed).symlink_to(outside)
    content = outside.read_bytes()
    before = sorted(p.name for p in w8a8_dir.iterdir())
    for args in ((), ("--fix",)):
        outcome = run_cli("check", str(w8a8_dir), *args, "--format", "json")
        assert outcome.exit_code == 1, outcome.stdout
        findings = outcome.json()["findings"]
        escapes = [f for f in findings if f["code"] == "path-escape"]
        assert len(escapes) == 1, findings  # reported once, by the check
        assert escapes[0]["path"] == str(w8a8_dir / misnamed)
        assert "outside the model folder" in escapes[0]["message"]
        assert "fixed" not in [f["code"] for f in findings]
    assert sorted(p.name for p in w8a8_dir.iterdir()) == before  # nothing renamed or written
    assert outside.read_bytes() == content
