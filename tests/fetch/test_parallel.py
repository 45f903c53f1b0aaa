"""Small metadata downloads in parallel, ``--max-workers`` at a time (the speed item)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from dsprep.demo.hub import HubRequest, LoopbackHub, bytes_file, folder_files
from tests.conftest import CliOutcome
from tests.fetch.conftest import W8A8
from tests.fetch.test_fetch import fetch_args

Run = Callable[..., CliOutcome]
EXTRA = [f"extra/notes-{i}.json" for i in range(8)]


def most_at_once(requests: list[HubRequest]) -> int:
    events = sorted([(r.started, 1) for r in requests] + [(r.ended, -1) for r in requests])
    running = peak = 0
    for _, step in events:
        running += step
        peak = max(peak, running)
    return peak


@pytest.mark.parametrize(("workers", "low", "high"), [(1, 1, 1), (4, 2, 4)])
def test_metadata_is_fetched_max_workers_at_a_time(
    run_cli: Run, sample_repos: dict[str, Path], tmp_path: Path, workers: int, low: int, high: int
) -> None:
    files = folder_files(sample_repos[W8A8]) + [bytes_file(n, b'{"n": 1}\n') for n in EXTRA]
    with LoopbackHub({W8A8: files}) as hub:
        for name in EXTRA:
            hub.delay(W8A8, name, 0.25)
        outcome = run_cli(*fetch_args(hub, W8A8, tmp_path / "m", "--max-workers", str(workers)))
        extra = [r for r in hub.downloads() if r.file_path in EXTRA]
    assert outcome.exit_code == 0, outcome.stdout + outcome.stderr
    assert sorted(r.file_path or "" for r in extra) == sorted(EXTRA)
    assert low <= most_at_once(extra) <= high
    assert (tmp_path / "m" / EXTRA[0]).read_bytes() == b'{"n": 1}\n'
