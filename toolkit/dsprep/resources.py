"""Access to the bundled data: ``templates/``, ``schemas/`` and ``profiles/``.

In a built wheel they live inside the package as ``dsprep/_data/…`` (hatchling
``force-include``); in a checkout or an editable install they are the top-level folders
beside ``toolkit/``. Everything that reads bundled data goes through this module.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from dsprep.errors import InputError

DATA_FOLDERS = ("templates", "schemas", "profiles")
# The package folder: the one place that locates it (importlib.resources costs 5 ms of
# start-up and gives the same path for a wheel, an editable install and a checkout).
_PACKAGE = Path(__file__).resolve().parent


@cache
def data_root() -> Path:
    """The folder holding ``templates/``, ``schemas/`` and ``profiles/`` for this installation."""
    for root in (_PACKAGE / "_data", _PACKAGE.parent.parent):  # wheel; checkout
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
