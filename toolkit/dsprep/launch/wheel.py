"""A wheel of the running dsprep, for a container without network: emit-launch puts it in
every node folder and preflight.sh installs it offline (``pip install --no-index``).

It is packed from the files this dsprep runs from (the package and its bundled data, laid
out as the built wheel lays them out: ``dsprep/_data/{templates,schemas,profiles}``) and the
installed distribution's metadata, so it is exactly the code that wrote the scripts.
Deterministic: sorted entries, fixed timestamps, no ``__pycache__``.
"""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from functools import cache
from pathlib import Path

from dsprep import __version__
from dsprep.resources import DATA_FOLDERS, data_root

_PACKAGE = Path(__file__).resolve().parent.parent
_EPOCH = (1980, 1, 1, 0, 0, 0)


def wheel_name() -> str:
    return f"dsprep-{__version__}-py3-none-any.whl"


def _package_files() -> dict[str, bytes]:
    """``{archive path: bytes}`` of the package and its data."""
    files: dict[str, bytes] = {}
    for path in sorted(_PACKAGE.rglob("*")):
        relative = path.relative_to(_PACKAGE)
        if not path.is_file() or "__pycache__" in relative.parts or path.suffix == ".pyc":
            continue
        files[f"dsprep/{relative.as_posix()}"] = path.read_bytes()
    root = data_root()
    if root != _PACKAGE / "_data":  # a checkout or an editable install: data beside toolkit/
        for folder in DATA_FOLDERS:
            for path in sorted((root / folder).rglob("*")):
                if path.is_file() and "__pycache__" not in path.parts:
                    inside = path.relative_to(root).as_posix()
                    files[f"dsprep/_data/{inside}"] = path.read_bytes()
    return files


def _metadata() -> tuple[str, str]:
    """METADATA and entry_points.txt from the installed distribution's own fields (the
    same from an editable install and a wheel); a minimal METADATA when dsprep runs from a
    folder that was never installed."""
    from importlib import metadata

    lines = ["Metadata-Version: 2.1", "Name: dsprep", f"Version: {__version__}"]
    try:
        dist = metadata.distribution("dsprep")
    except metadata.PackageNotFoundError:
        return "\n".join(lines) + "\n", ""
    fields = dist.metadata
    for key in ("Summary", "Requires-Python"):
        value = fields[key] if key in fields else None  # noqa: SIM401 (no .get on it)
        if value:
            lines.append(f"{key}: {value}")
    requires = sorted(r for r in fields.get_all("Requires-Dist") or [] if "extra ==" not in r)
    lines += [f"Requires-Dist: {r}" for r in requires]
    scripts = sorted((e.name, e.value) for e in dist.entry_points if e.group == "console_scripts")
    entry_points = "".join(f"{name} = {value}\n" for name, value in scripts)
    return "\n".join(lines) + "\n", ("[console_scripts]\n" + entry_points) if scripts else ""


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}\n"


@cache
def wheel_bytes() -> bytes:
    """The wheel, as bytes."""
    files = dict(sorted(_package_files().items()))
    info = f"dsprep-{__version__}.dist-info"
    metadata_text, entry_points = _metadata()
    files[f"{info}/METADATA"] = metadata_text.encode("utf-8")
    files[f"{info}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: dsprep emit-launch\nRoot-Is-Purelib: true\n"
        b"Tag: py3-none-any\n"
    )
    if entry_points:
        files[f"{info}/entry_points.txt"] = entry_points.encode("utf-8")
    record = "".join(_record_line(name, data) for name, data in files.items())
    files[f"{info}/RECORD"] = (record + f"{info}/RECORD,,\n").encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            entry = zipfile.ZipInfo(name, date_time=_EPOCH)
            entry.external_attr = 0o644 << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(entry, data)
    return buffer.getvalue()
