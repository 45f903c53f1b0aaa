"""The comment-keeping YAML rewrite behind ``--migrate`` and ``--init --image``: splices
that keep every comment they can, name the ones they cannot, and a fresh dump when the
result would not read back as the new document."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dsprep.launch.cluster_yaml import parse_yaml
from dsprep.launch.yaml_edit import edit_yaml, flow, trailing_comments


def parse(text: str) -> Any:
    return parse_yaml(text, Path("c.yaml"))


@pytest.mark.parametrize(
    "value",
    ["v0.13.0", "--async-scheduling", "1", "true", "null", "a: b", "0x1F", "", 8, 0.9, True, None,
     [4, 16], {"mode": "aclgraph", "batch_sizes": [8]}, {"OMP_NUM_THREADS": "1"}],
)  # fmt: skip
def test_flow_reads_back_as_the_value(value: Any) -> None:
    assert parse(f"key: {flow(value)}\n") == {"key": value}


TEXT = """# head comment
graph:
  mode: torchair      # theirs
  batch_sizes: [8]    # sizes
scheduler:
  ascend: true        # ascend
  # a note on chunked prefill
  chunked_prefill: false
env: {}               # exports
extra_args:
  - --block-size      # first
  - "128"
"""


def test_splices_keep_comments_and_name_the_lost() -> None:
    old = parse(TEXT)
    new = {
        "graph": {"mode": "aclgraph", "batch_sizes": [8]},
        "scheduler": {"ascend": False},
        "env": {"OMP_NUM_THREADS": "1"},
        "extra_args": ["--block-size", "128", "--async-scheduling"],
        "bind_host": "0.0.0.0",
    }
    edited = edit_yaml(TEXT, old, new, parse, {"graph.batch_sizes": "now tokens"})
    assert not edited.rewritten
    assert parse(edited.text) == new
    assert "  mode: aclgraph      # theirs\n" in edited.text
    assert "  batch_sizes: [8]    # now tokens\n" in edited.text  # same value, new meaning
    assert edited.text.startswith("# head comment\n")
    assert "# a note on chunked prefill" not in edited.text  # it went with its key
    assert edited.lost == ["# a note on chunked prefill"]
    assert '  - --block-size      # first\n  - "128"\n  - --async-scheduling\n' in edited.text
    assert trailing_comments(edited.text)["env"] == "exports"


def test_a_layout_the_splices_do_not_cover_is_written_afresh() -> None:
    text = "graph: {mode: torchair}\nscheduler: {ascend: true}  # flow\n"
    old = parse(text)
    new = {"graph": {"mode": "aclgraph"}, "scheduler": {"ascend": False}}
    edited = edit_yaml(text, old, new, lambda t: {"never": "equal"}, header="# fresh\n")
    assert edited.rewritten
    assert edited.text.startswith("# fresh\n") and parse(edited.text) == new
    assert edited.lost == ["# flow"]
