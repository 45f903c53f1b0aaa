"""The hub's file listing, checked name by name before anything is joined to the folder.

A listing is untrusted input: a name like ``../victim.txt``, ``/etc/x``, ``a\\b`` or one
carrying a NUL would make a naive ``local_dir / name`` create or overwrite a file outside
``--local-dir``. Every listed name must be a plain relative POSIX path: no empty, ``.`` or
``..`` component, no leading ``/`` or drive, no backslash, no control character, valid
UTF-8, not under dsprep's own ``.dsprep/`` state, not one of the names dsprep or the client
use for backups and partial files, and short enough that those names still fit.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from dsprep import catalogue as C
from dsprep.findings import Finding
from dsprep.weights.hubclient import RemoteFile
from dsprep.weights.index import capped
from dsprep.weights.manifest import STATE_DIR

# A component plus the longest suffix written beside it (".dsprep-local.99", ".parallel_tmp",
# the client's "_<start>_<end>" range parts) must fit a file system's 255-byte NAME_MAX.
MAX_COMPONENT_BYTES = 200
MAX_PATH_BYTES = 1024  # whole relative path; a checkpoint's names are far shorter
MAX_DEPTH = 16
# Names dsprep (backups, atomic-write temp files) and the modelscope client (partial
# downloads) write beside a file.
RESERVED = re.compile(
    r"(\.dsprep-orig|\.dsprep-local(\.\d+)?|\.incomplete|\.parallel_tmp|\.dsprep-\w{8}\.tmp)$"
)


def name_problem(name: str) -> str | None:
    """Why ``name`` may not be joined to the model folder; None when it is a plain name."""
    if not isinstance(name, str) or not name:
        return "is not a file name"
    if any(unicodedata.category(ch) in ("Cc", "Cf") for ch in name):
        return "contains a control or invisible formatting character (NUL, newline, …)"
    try:
        encoded = name.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid UTF-8"
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return "is an absolute path"
    if "\\" in name:
        return "contains a backslash (a Windows path separator)"
    parts = name.split("/")
    if ".." in parts:
        return "climbs out of the folder with '..'"
    if any(part in ("", ".") for part in parts):
        return "has an empty or '.' component (not a normalized relative path)"
    if parts[0].casefold() == STATE_DIR:
        return f"is inside {STATE_DIR}/, dsprep's own state folder"
    if RESERVED.search(parts[-1]):
        return "ends like a backup or partial file dsprep or the client writes"
    if len(encoded) > MAX_PATH_BYTES:
        return f"is {len(encoded)} bytes long (at most {MAX_PATH_BYTES})"
    if len(parts) > MAX_DEPTH:
        return f"is {len(parts)} folders deep (at most {MAX_DEPTH})"
    longest = max(len(part.encode("utf-8")) for part in parts)
    if longest > MAX_COMPONENT_BYTES:
        return f"has a {longest}-byte component (at most {MAX_COMPONENT_BYTES})"
    return None


def listing_findings(listing: Sequence[RemoteFile], where: str) -> list[Finding]:
    """A ``path-escape`` finding for every listed name that is not a plain relative path."""
    findings: list[Finding] = []
    for remote in listing:
        problem = name_problem(remote.path)
        if problem is None:
            continue
        shown = repr(remote.path) if isinstance(remote.path, str) else "<no name>"
        findings.append(
            C.PATH_ESCAPE(
                shown,
                f"the hub's listing of {where} names {shown}, which {problem}; it would "
                "land outside the model folder or over dsprep's own files, so nothing was "
                "downloaded",
                hint="this repo's listing is broken or hostile: report it to its owner; "
                "--include/--exclude cannot skip it",
            )
        )
    return capped(findings, "listed names")
