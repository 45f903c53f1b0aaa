"""``dsprep verify`` without a server: a URL that is no URL, or a port nobody listens on,
is exit 3 with one ``Error:`` line (or one JSON error document), no traceback."""

from __future__ import annotations

import socket
from collections.abc import Callable

from tests.conftest import CliOutcome


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_an_unreachable_server_is_exit_3_with_one_error_line(
    run_cli: Callable[..., CliOutcome],
) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    outcome = run_cli("verify", url, "--request-timeout", "5")
    assert outcome.exit_code == 3
    assert outcome.stdout == ""
    lines = outcome.stderr.splitlines()
    assert lines[0].startswith(f"Error: {url}/health: the server does not answer")
    assert lines[1].startswith("Hint: ")
    assert "Traceback" not in outcome.stderr


def test_an_invalid_url_is_exit_3_as_json(run_cli: Callable[..., CliOutcome]) -> None:
    outcome = run_cli("verify", "localhost:8000", "--format", "json")
    assert outcome.exit_code == 3
    document = outcome.json()
    assert document["status"] == "error" and document["command"] == "verify"
    assert document["findings"][0]["code"] == "bad-input"
    assert "is not an http(s) URL" in document["findings"][0]["message"]


def test_a_missing_cluster_file_is_exit_3(run_cli: Callable[..., CliOutcome]) -> None:
    outcome = run_cli("verify", "http://127.0.0.1:1", "--cluster", "/nonexistent/cluster.yaml")
    assert outcome.exit_code == 3
    assert outcome.stderr.startswith("Error: ")
