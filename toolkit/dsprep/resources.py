"""Access to the bundled data: ``templates/``, ``schemas/`` and ``profiles/``.

In a built wheel they live inside the package as ``dsprep/_data/…`` (hatchling
``force-include``); in a checkout or an editable install they are the top-level folders
beside ``toolkit/``. Everything that reads bundled data goes through this module.
"""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

from dsprep.errors import InputError

DATA_FOLDERS = ("templates", "schemas", "profiles")


@cache
def data_root() -> Path:
    """The folder holding ``templates/``, ``schemas/`` and ``profiles/`` for this installation."""
    package = Path(str(files("dsprep")))
    for root in (package / "_data", package.parent.parent):  # wheel; checkout (toolkit/dsprep)
        if all((root / folder).is_dir() for folder in DATA_FOLDERS):
            return root
    raise InputError(
        "dsprep's bundled data (templates/, schemas/, profiles/) is missing from this installation",
        hint="reinstall dsprep from a wheel or a full checkout",
    )


def templates_dir() -> Path:
    return data_root() / "templates"


def chat_templates_dir() -> Path:
    return templates_dir() / "chat"


def schemas_dir() -> Path:
    return data_root() / "schemas"


def schema_path(name: str) -> Path:
    return schemas_dir() / name


def profiles_dir() -> Path:
    return data_root() / "profiles"


def profile_files() -> list[Path]:
    """The bundled release profiles, one JSON file each."""
    return sorted(profiles_dir().glob("*.json"))


@cache
def load_schema(name: str) -> dict[str, Any]:
    """A bundled JSON Schema by file name, e.g. ``manifest.schema.json``."""
    path = schema_path(name)
    try:
        schema: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read bundled schema {path}: {exc}", path=path) from exc
    return schema
