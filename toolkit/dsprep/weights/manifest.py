"""`.dsprep/manifest.json`: what was downloaded, with sizes and SHA-256, for offline checks.

Each file may also carry the stat it had when dsprep last verified it (``mtime_ns``,
``ctime_ns``, ``inode``; ``size`` is there anyway): a later ``dsprep fetch`` that finds
the same stat skips re-reading the file (``--verify`` re-hashes anyway). Manifests written
before these keys existed load as they are; their files are simply hashed once more.
"""

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


STAT_KEYS = ("mtime_ns", "ctime_ns", "inode")


@dataclass(frozen=True)
class ManifestFile:
    path: str
    size: int
    sha256: str
    # the stat of the file when it was verified; None when not known (or not verified)
    mtime_ns: int | None = None
    ctime_ns: int | None = None
    inode: int | None = None

    def to_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"path": self.path, "size": self.size, "sha256": self.sha256}
        for key in STAT_KEYS:
            value = getattr(self, key)
            if value is not None:
                entry[key] = value
        return entry

    @classmethod
    def from_json(cls, entry: dict[str, Any]) -> ManifestFile:
        stat = {key: entry[key] for key in STAT_KEYS if key in entry}
        return cls(entry["path"], entry["size"], entry["sha256"], **stat)


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
            "files": [f.to_json() for f in sorted(self.files, key=lambda f: f.path)],
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
        files=[ManifestFile.from_json(f) for f in document["files"]],
    )


def recorded_files(model_dir: Path) -> dict[str, ManifestFile]:
    """The files an existing manifest records, by path; {} when there is none or it is not
    readable. Lenient and fast (no schema validation): only well-typed entries are kept,
    and the caller trusts a record only as far as the file's stat still matches it."""
    try:
        document = json.loads(manifest_path(model_dir).read_bytes())
        entries = document["files"] if document.get("format") == MANIFEST_FORMAT else []
    except (OSError, ValueError, AttributeError, KeyError, TypeError):
        return {}
    records: dict[str, ManifestFile] = {}
    for entry in entries if isinstance(entries, list) else []:
        if well_typed_entry(entry):
            record = ManifestFile.from_json(entry)
            records[record.path] = record
    return records


ENTRY_KEYS = {"path", "size", "sha256"}


def well_typed_entry(entry: Any) -> bool:
    """A ``files[]`` entry with exactly the known keys, each of its type (path checks apart)."""
    if not isinstance(entry, dict) or not ENTRY_KEYS <= set(entry) <= {*ENTRY_KEYS, *STAT_KEYS}:
        return False
    numbers = [entry["size"], *(entry[k] for k in STAT_KEYS if k in entry)]
    return (
        isinstance(entry["path"], str)
        and isinstance(entry["sha256"], str)
        and all(type(n) is int and n >= 0 for n in numbers)
    )


def write_manifest(model_dir: Path, manifest: Manifest) -> Path:
    """Write ``model_dir/.dsprep/manifest.json`` atomically (no backup: dsprep owns it)."""
    path = manifest_path(model_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(manifest.to_json(), ensure_ascii=False, indent=2) + "\n"
    atomic_write_text(path, text, backup=False)
    return path
