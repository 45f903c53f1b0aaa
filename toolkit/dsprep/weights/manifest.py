"""`.dsprep/manifest.json`: what was downloaded, with sizes and SHA-256, for offline checks."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dsprep import __version__
from dsprep.atomic import atomic_write_text
from dsprep.errors import InputError
from dsprep.resources import load_schema

MANIFEST_FORMAT = "dsprep-manifest/1"
STATE_DIR = ".dsprep"
MANIFEST_NAME = "manifest.json"


@dataclass(frozen=True)
class ManifestFile:
    path: str
    size: int
    sha256: str


@dataclass
class Manifest:
    repo: str
    revision: str
    endpoint: str
    files: list[ManifestFile] = field(default_factory=list)
    tool: str = f"dsprep {__version__}"

    def to_json(self) -> dict[str, Any]:
        return {
            "format": MANIFEST_FORMAT,
            "repo": self.repo,
            "revision": self.revision,
            "endpoint": self.endpoint,
            "tool": self.tool,
            "files": [
                {"path": f.path, "size": f.size, "sha256": f.sha256}
                for f in sorted(self.files, key=lambda f: f.path)
            ],
        }


def manifest_path(model_dir: Path) -> Path:
    return Path(model_dir) / STATE_DIR / MANIFEST_NAME


def validation_errors(document: Any) -> list[str]:
    """Every schema violation of a manifest document, as ``<json path>: <message>``."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(load_schema("manifest.schema.json"))
    return [
        f"{error.json_path}: {error.message}"
        for error in sorted(validator.iter_errors(document), key=lambda e: e.json_path)
    ]


def load_manifest(path: Path) -> Manifest:
    """Read and validate a manifest; :class:`InputError` naming the file on any problem."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InputError(
            f"{path} does not exist",
            hint="download with `dsprep fetch` (it writes the manifest) or pass --sha256-file",
            path=path,
        ) from exc
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"{path} is not readable JSON: {exc}", path=path) from exc
    problems = validation_errors(document)
    if problems:
        raise InputError(
            f"{path} is not a valid dsprep manifest: " + "; ".join(problems[:5]),
            hint="re-create it with `dsprep fetch`",
            path=path,
        )
    return Manifest(
        repo=document["repo"],
        revision=document["revision"],
        endpoint=document["endpoint"],
        tool=document.get("tool", ""),
        files=[ManifestFile(f["path"], f["size"], f["sha256"]) for f in document["files"]],
    )


def write_manifest(model_dir: Path, manifest: Manifest) -> Path:
    """Write ``model_dir/.dsprep/manifest.json`` atomically (no backup: dsprep owns it)."""
    path = manifest_path(model_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(manifest.to_json(), ensure_ascii=False, indent=2) + "\n"
    atomic_write_text(path, text, backup=False)
    return path
