"""The one node-prefix format of a multi-node log: ``[node=NAME] <the node's own line>``.

``dsprep logs`` writes every line it collects from a node with :func:`format_line`;
``dsprep diagnose`` reads such a stream back with :func:`parse_line`. The prefix is
``[node=`` + the node's name (the cluster file's ``nodes[i].name``: letters, digits, ``_ . -``,
starting with a letter or digit, at most 63 characters) + ``] `` and then the line exactly
as the node printed it (ANSI colours included). The ``node=`` keyword keeps the prefix apart
from what the logs themselves start lines with: CANN's ``[ERROR] HCCL(…)``, torch's
``[rank3]:[W806 …]``, vLLM's ``(EngineCore_DP0 pid=…)``.

A folder of per-node logs names the node by the file name instead (:func:`node_from_path`):
``node1.log``, ``node1.txt`` and ``node1`` are node ``node1``.
"""

from __future__ import annotations

import re
from pathlib import Path

NODE_NAME = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}"
_PREFIX = re.compile(rf"\[node=({NODE_NAME})\] ")
_LOG_SUFFIXES = (".log", ".txt", ".out", ".err")


def format_line(node: str, line: str) -> str:
    """``line`` (without its newline) as ``dsprep logs`` writes it for ``node``."""
    if not re.fullmatch(NODE_NAME, node):
        raise ValueError(f"{node!r} is not a node name (letters, digits, _ . -)")
    return f"[node={node}] {line}"


def parse_line(text: str) -> tuple[str | None, str]:
    """``(node, line)`` of a prefixed line; ``(None, text)`` for a line without the prefix."""
    found = _PREFIX.match(text) if text.startswith("[node=") else None
    if found is None:
        return None, text
    return found.group(1), text[found.end() :]


def node_from_path(path: Path) -> str:
    """The node a per-node log file stands for: its name without a log suffix."""
    name = path.name
    for suffix in _LOG_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name
