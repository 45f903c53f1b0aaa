"""Fixtures for the weights tests: a fresh tiny W8A8 checkpoint per test."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from dsprep.demo.checkpoint import write_fp8_checkpoint, write_w8a8_checkpoint


@pytest.fixture(scope="session")
def pristine_w8a8(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("pristine") / "w8a8"
    write_w8a8_checkpoint(folder)
    return folder


@pytest.fixture
def w8a8_dir(pristine_w8a8: Path, tmp_path: Path) -> Path:
    """A writable copy of the tiny W8A8 checkpoint (model folder inside tmp_path)."""
    folder = tmp_path / "model"
    shutil.copytree(pristine_w8a8, folder)
    return folder


@pytest.fixture
def fp8_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "fp8"
    write_fp8_checkpoint(folder)
    return folder
