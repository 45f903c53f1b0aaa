"""How a node's log line is shown when lines of several nodes interleave."""

from __future__ import annotations


def node_line(node: str, line: str) -> str:
    """``[NODE] line``: the node name in square brackets, one space, the line."""
    return f"[{node}] {line}"
