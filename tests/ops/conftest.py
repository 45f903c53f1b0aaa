"""The lab fixture: real sshd servers, one per node, in network namespaces the test makes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.launch.conftest import example_document, write_cluster
from tests.ops.lab import Lab

MODEL = "/models/DeepSeek-V3.1-w8a8"


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Callable[..., Lab]]:
    """``lab(count, node1={scenario}, ...)`` starts the nodes; all ended after the test."""
    made: list[Lab] = []

    def start(count: int = 2, **scenarios: dict[str, Any]) -> Lab:
        new = Lab(tmp_path / "lab")
        new.root.mkdir()
        made.append(new)
        new.start(count, {name: dict(s) for name, s in scenarios.items()})
        return new

    yield start
    for each in made:
        each.close()


def lab_cluster(lab: Lab, folder: Path, **changes: Any) -> Path:
    """A cluster file for the lab's nodes (ssh host/port per node, the kit in ``kit/``)."""
    document = example_document()
    document["nodes"] = [
        {
            "name": n.name,
            "ip": n.ip,
            "nic": n.nic,
            "npus": 8,
            "ssh": {"host": n.ip, "port": n.port},
        }
        for n in lab.nodes
    ]
    document["parallel"]["dp"] = len(lab.nodes)
    weights = folder / "weights"
    (weights / "DeepSeek-V3.1-w8a8").mkdir(parents=True, exist_ok=True)
    document["container"] = {"mounts": [f"{weights}:/models"]}
    document["model"]["path"] = MODEL
    document["launch"] = {"remote_dir": "kit"}
    document.update(changes)
    return write_cluster(folder, document)
