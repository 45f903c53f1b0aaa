"""The package itself: wheel contents, bundled data, CLI conventions, docs coverage."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from dsprep.cli.main import COMMANDS
from dsprep.resources import data_root, load_schema, schemas_dir, templates_dir
from tests.conftest import REPO_ROOT, CliOutcome


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(REPO_ROOT)],
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("dsprep-*.whl")
    return built


def test_wheel_ships_templates_and_schemas(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    for folder in ("templates", "schemas"):
        source = {
            p.relative_to(REPO_ROOT / folder).as_posix()
            for p in (REPO_ROOT / folder).rglob("*")
            if p.is_file()
        }
        assert source, folder
        shipped = {
            n.removeprefix(f"dsprep/_data/{folder}/")
            for n in names
            if n.startswith(f"dsprep/_data/{folder}/")
        }
        assert source <= shipped, f"{folder} missing from wheel: {sorted(source - shipped)}"
    assert "dsprep/cli/main.py" in names
    assert "dsprep/verify/questions.json" in names  # the accuracy smoke's questions


def test_resources_load_from_an_installed_wheel(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(target)
    code = (
        "from dsprep.resources import data_root, load_schema;"
        "print(data_root());"
        "print(load_schema('manifest.schema.json')['title'])"
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    out = subprocess.run(
        [sys.executable, "-c", code],
        check=True,
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    ).stdout.splitlines()
    assert Path(out[0]) == target / "dsprep" / "_data"
    assert out[1].startswith("dsprep download manifest")


def test_resources_from_checkout() -> None:
    # The editable install used by the tests resolves to the repository's own folders.
    assert data_root() in (REPO_ROOT, REPO_ROOT / "toolkit" / "dsprep" / "_data")
    assert (templates_dir() / "chat").is_dir()
    assert (schemas_dir() / "manifest.schema.json").is_file()
    assert load_schema("manifest.schema.json")["type"] == "object"


def test_version_and_help(run_cli: Callable[..., CliOutcome]) -> None:
    from dsprep import __version__

    assert run_cli("--version").stdout.strip() == f"dsprep, version {__version__}"
    for flag in ("-h", "--help"):
        outcome = run_cli(flag)
        assert outcome.exit_code == 0
        for name in COMMANDS:
            assert name in outcome.stdout


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_has_format_option_and_example(
    name: str, run_cli: Callable[..., CliOutcome]
) -> None:
    outcome = run_cli(name, "--help")
    assert outcome.exit_code == 0, outcome.stderr
    assert "--format [text|json]" in outcome.stdout
    assert re.search(r"Example", outcome.stdout), f"dsprep {name} --help shows no example"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_is_documented_in_readme(name: str) -> None:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert f"### `dsprep {name}" in readme, f"README has no section for dsprep {name}"


def test_unknown_option_is_usage_error(run_cli: Callable[..., CliOutcome]) -> None:
    outcome = run_cli("--no-such-option")
    assert outcome.exit_code == 2
