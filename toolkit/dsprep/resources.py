"""Access to the bundled data (``templates/`` and ``schemas/``).

In a built wheel they live inside the package as ``dsprep/_data/{templates,schemas}``
(hatchling ``force-include``); in a checkout or an editable install they are the
top-level ``templates/`` and ``schemas/`` folders beside ``toolkit/``.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from dsprep.errors import InputError

_PACKAGE_DIR = Path(__file__).resolve().parent


@cache
def data_root() -> Path:
    """The folder holding ``templates/`` and ``schemas/`` for this installation."""
    bundled = _PACKAGE_DIR / "_data"
    if (bundled / "schemas").is_dir():
        return bundled
    checkout = _PACKAGE_DIR.parent.parent  # toolkit/dsprep -> repository root
    if (checkout / "schemas").is_dir() and (checkout / "templates").is_dir():
        return checkout
    raise InputError(
        "dsprep's bundled data (templates/, schemas/) is missing from this installation",
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


@cache
def load_schema(name: str) -> dict[str, Any]:
    """A bundled JSON Schema by file name, e.g. ``manifest.schema.json``."""
    path = schema_path(name)
    try:
        schema: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read bundled schema {path}: {exc}", path=path) from exc
    return schema
