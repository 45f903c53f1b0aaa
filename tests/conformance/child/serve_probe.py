"""Runs one release's real ``vllm serve`` start-up on argv lists, up to the engine start.

This file runs inside a cached vLLM venv (not dsprep's): ``python serve_probe.py REQUEST
RESULT``. REQUEST is JSON: ``{"vllm_ascend_src": folder, "cases": [{"id", "argv", "env"}]}``;
RESULT gets ``{"vllm": version, "cases": {id: outcome}}``.

For every case a forked process sets the node's env.sh exports, sets ``sys.argv`` to the
case's argv (``vllm serve MODEL …``) and calls vLLM's own console entry point
(``vllm.entrypoints.cli.main:main``): the real parser (``make_arg_parser`` under the serve
subcommand), ``validate_parsed_serve_args``, the head's ``setup_server`` checks or the
headless ones in ``run_headless``, ``AsyncEngineArgs.from_cli_args`` and
``create_engine_config``. Nothing of that is replaced. What is replaced is where a real
start leaves the configuration and touches the machine:

- the process launches (``CoreEngineProcManager``, ``launch_core_engines``,
  ``AsyncLLM.from_vllm_config``) raise :class:`ReachedEngineStart` with the finished
  ``VllmConfig``: the argv was accepted;
- ``create_server_socket`` returns an unbound socket (no port of this machine is taken).

The platform is vLLM's own ``CpuPlatform`` (set as ``vllm.platforms._current_platform``
before anything resolves it), with what vllm-ascend's ``NPUPlatform`` adds at the same
points, taken from the release's own source wherever that code runs without an NPU:

- ``pre_register_and_update``: ``ascend`` appended to ``--quantization``'s choices (the
  release's ``vllm_ascend/platform.py`` does exactly that) and the release's quantization
  config class (the one decorated ``@register_quantization_config``) executed from its
  source file, so ``ascend`` is registered by vllm-ascend's own class;
- ``supported_quantization`` gains ``ascend`` (``NPUPlatform.supported_quantization``);
- ``check_and_update_config``: before the CPU platform's own, vllm-ascend's
  ``init_ascend_config`` (``AscendConfig`` and its nested configs), ``check_ascend_config``
  where the release has it, the ``if ascend_config.<flag>:`` checks that raise in
  ``NPUPlatform.check_and_update_config`` (:func:`platform_validation`), and the Ascend
  scheduler's ``AscendSchedulerConfig`` when enabled — imported from the release source, unchanged.

A module of the release that imports ``torch_npu`` (not installable without CANN) is
loaded statement by statement (:func:`exec_statements`): every statement that runs on this
machine runs, the others are listed; code that needs them fails when it is called and the
outcome says so (``needs_npu``).
"""

from __future__ import annotations
import __future__

import ast
import importlib.abc
import importlib.util
import json
import os
import socket
import sys
import time
import traceback
import types
from pathlib import Path
from typing import Any

STAGES = (
    "parse",
    "validate_parsed_serve_args",
    "from_cli_args",
    "create_engine_config",
    "vllm_ascend",
    "engine_start",
)


class ReachedEngineStart(BaseException):
    """The start-up reached the point where vLLM starts engine processes."""

    def __init__(self, where: str, vllm_config: Any) -> None:
        super().__init__(where)
        self.where = where
        self.vllm_config = vllm_config


# --- the release's vllm-ascend source, loaded without torch_npu ----------------------------

NPU_MODULES = ("torch_npu", "torchair", "acl", "mindie_turbo")
SKIPPED: list[str] = []  # every statement of the release's source that did not run here


def _is_npu_import_error(error: BaseException) -> bool:
    text = f"{type(error).__name__}: {error}"
    return isinstance(error, ImportError) or any(name in text for name in NPU_MODULES)


def exec_statements(module: types.ModuleType, path: Path) -> None:
    """Run a module of the release's source statement by statement: what runs on this
    machine runs unchanged; a statement that fails (an import of torch_npu, or of a name
    only a module needing it defines) is skipped and listed in :data:`SKIPPED`. A failed
    ``from vllm_ascend.x import a, b`` still binds those of ``a, b`` that x defines."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    for node in tree.body:
        code = compile(ast.Module([node], []), str(path), "exec", dont_inherit=True)
        try:
            exec(code, module.__dict__)
        except NameError:  # an annotation naming what was skipped: evaluated lazily instead
            lazy = __future__.annotations.compiler_flag
            code = compile(ast.Module([node], []), str(path), "exec", flags=lazy, dont_inherit=True)
            try:
                exec(code, module.__dict__)
            except Exception as error:
                SKIPPED.append(
                    f"{module.__name__} line {node.lineno}: {type(error).__name__}: {error}"
                )
        except Exception as error:
            target = _import_target(module, node)
            if target is not None and target.startswith("vllm_ascend"):
                import importlib

                source = importlib.import_module(target)
                for alias in node.names:  # type: ignore[attr-defined]
                    if hasattr(source, alias.name):
                        module.__dict__[alias.asname or alias.name] = getattr(source, alias.name)
            SKIPPED.append(f"{module.__name__} line {node.lineno}: {type(error).__name__}: {error}")


def _import_target(module: types.ModuleType, node: ast.stmt) -> str | None:
    if not isinstance(node, ast.ImportFrom):
        return None
    if node.level == 0:
        return node.module
    package = module.__package__ or ""
    parts = package.split(".")
    parent = ".".join(parts[: len(parts) - node.level + 1])
    return f"{parent}.{node.module}" if node.module else parent


class ReleaseSourceFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports ``vllm_ascend`` and its modules from the release's source tree (not an
    installed package: no entry points, so neither its NPU platform nor its general
    plugins register), each through :func:`exec_statements`."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname != "vllm_ascend" and not fullname.startswith("vllm_ascend."):
            return None
        base = self.root / Path(*fullname.split("."))
        if fullname == BUILD_INFO and not base.with_suffix(".py").is_file():
            return importlib.util.spec_from_loader(fullname, loader=self)
        if (base / "__init__.py").is_file():
            return importlib.util.spec_from_file_location(
                fullname, base / "__init__.py", loader=self, submodule_search_locations=[str(base)]
            )
        if base.with_suffix(".py").is_file():
            return importlib.util.spec_from_file_location(
                fullname, base.with_suffix(".py"), loader=self
            )
        return None

    def create_module(self, spec: Any) -> None:
        return None

    def exec_module(self, module: types.ModuleType) -> None:
        if module.__name__ == BUILD_INFO and not getattr(module, "__file__", None):
            exec(build_info_text(self.root), module.__dict__)
            return
        exec_statements(module, Path(module.__file__ or ""))


BUILD_INFO = "vllm_ascend._build_info"


def build_info_text(root: Path) -> str:
    """``vllm_ascend/_build_info.py`` as the release's ``setup.py`` writes it when the image
    is built (the sdist has none): ``SOC_VERSION`` from the release's Dockerfile (the A2
    image, ``ARG SOC_VERSION="ascend910b1"``), the device type from setup.py's
    ``soc_to_device`` table where the release has one."""
    import re

    dockerfile = (root / "Dockerfile").read_text(encoding="utf-8")
    found = re.search(r'ARG SOC_VERSION="?([A-Za-z0-9_]+)', dockerfile)
    soc = found.group(1) if found else "ascend910b1"
    lines = ["# Auto-generated file", f"__soc_version__ = {soc!r}", "__sleep_mode_enabled__ = True"]
    setup = root / "setup.py"
    tree = ast.parse(setup.read_text(encoding="utf-8")) if setup.is_file() else ast.Module([], [])
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Assign)
            and getattr(node.targets[0], "id", "") == "soc_to_device"
            and isinstance(node.value, ast.Dict)
        ):
            table = ast.literal_eval(node.value)
            if soc in table:
                lines.append(f"__device_type__ = {table[soc]!r}")
    return "\n".join(lines) + "\n"


def apply_platform_patches() -> dict[str, Any]:
    """vllm-ascend's global patches (``adapt_patch(is_global_patch=True)``, which its
    ``NPUPlatform.pre_register_and_update`` runs before vLLM builds its parser): the
    ``vllm_ascend.patch.platform`` package, each of its statements that runs here."""
    import importlib

    importlib.import_module("vllm_ascend.patch.platform")
    applied = sorted(n for n in sys.modules if n.startswith("vllm_ascend.patch.platform."))
    skipped = [s for s in SKIPPED if s.startswith("vllm_ascend.patch")]
    return {"applied": applied, "skipped": skipped}


def quantization_source(root: Path) -> tuple[str, str] | None:
    """(module, class) of the release's quantization config registered as ``ascend``
    (``@register_quantization_config(ASCEND_QUANTIZATION_METHOD)``): ``quant_config`` up
    to 0.13, ``modelslim_config`` after; other registered configs are left alone."""
    folder = root / "vllm_ascend" / "quantization"
    for path in sorted(folder.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.ClassDef) and any(
                isinstance(d, ast.Call)
                and getattr(d.func, "id", "") == "register_quantization_config"
                and d.args
                and (
                    getattr(d.args[0], "id", None) == "ASCEND_QUANTIZATION_METHOD"
                    or getattr(d.args[0], "value", None) == "ascend"
                )
                for d in node.decorator_list
            ):
                return f"vllm_ascend.quantization.{path.stem}", node.name
    return None


# --- stage recording -----------------------------------------------------------------------

REACHED: list[str] = []
ASCEND: dict[str, Any] = {}


def _mark(stage: str) -> None:
    if stage not in REACHED:
        REACHED.append(stage)


def _wrap(owner: Any, attr: str, stage: str, *, classmethod_: bool = False) -> None:
    original = getattr(owner, attr)
    func = original.__func__ if classmethod_ else original

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        _mark(stage)
        return func(*args, **kwargs)

    wrapper.__name__ = getattr(func, "__name__", attr)
    wrapper.__wrapped__ = func  # type: ignore[attr-defined]
    setattr(owner, attr, classmethod(wrapper) if classmethod_ else wrapper)


def ascend_validation(vllm_config: Any, root: Path) -> None:
    """vllm-ascend's own checks of the configuration that run without an NPU, in the order
    its ``NPUPlatform.check_and_update_config`` runs them."""
    _mark("vllm_ascend")
    import importlib

    ascend_module = importlib.import_module("vllm_ascend.ascend_config")
    ASCEND["ascend_config_module"] = getattr(ascend_module, "__file__", "")
    if hasattr(ascend_module, "clear_ascend_config"):
        ascend_module.clear_ascend_config()
    ascend_config = ascend_module.init_ascend_config(vllm_config)
    ASCEND["init_ascend_config"] = True
    model_config = vllm_config.model_config
    enforce_eager = bool(getattr(model_config, "enforce_eager", False))
    if hasattr(ascend_module, "check_ascend_config"):
        ascend_module.check_ascend_config(vllm_config, enforce_eager)
        ASCEND["check_ascend_config"] = True
    platform_validation(vllm_config, ascend_config, root)
    torchair = getattr(ascend_config, "torchair_graph_config", None)
    if torchair is not None:
        ASCEND["torchair_enabled"] = bool(getattr(torchair, "enabled", False))
        ASCEND["torchair_graph_batch_sizes"] = list(getattr(torchair, "graph_batch_sizes", []))
    scheduler = getattr(ascend_config, "ascend_scheduler_config", None)
    ASCEND["ascend_scheduler_enabled"] = bool(getattr(scheduler, "enabled", False))
    if scheduler is not None and scheduler.enabled:
        schedule_config = importlib.import_module("vllm_ascend.core.schedule_config")
        made = schedule_config.AscendSchedulerConfig.initialize_from_config(
            vllm_config.scheduler_config, scheduler
        )
        ASCEND["AscendSchedulerConfig"] = {
            "max_num_batched_tokens": made.max_num_batched_tokens,
            "max_model_len": made.max_model_len,
            "enable_chunked_prefill": made.enable_chunked_prefill,
        }


def _rooted_at_ascend_config(test: ast.expr) -> bool:
    while isinstance(test, ast.Attribute):
        test = test.value
    return isinstance(test, ast.Name) and test.id == "ascend_config"


def platform_validation(vllm_config: Any, ascend_config: Any, root: Path) -> None:
    """``NPUPlatform.check_and_update_config``'s own checks of ``--additional-config``
    flags: each top-level ``if ascend_config.<flag>:`` statement of that method whose body
    raises, run from the release source as written, in its order, in the namespace of the
    release's ``vllm_ascend/platform.py``. The rest of the method (NPU graph, worker and
    device settings) is not run."""
    import importlib

    path = root / "vllm_ascend" / "platform.py"
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    method = next(
        (
            f
            for c in tree.body
            if isinstance(c, ast.ClassDef) and c.name == "NPUPlatform"
            for f in c.body
            if isinstance(f, ast.FunctionDef) and f.name == "check_and_update_config"
        ),
        None,
    )
    if method is None:
        return
    blocks = [
        st
        for st in method.body
        if isinstance(st, ast.If)
        and _rooted_at_ascend_config(st.test)
        and any(isinstance(n, ast.Raise) for n in ast.walk(st))
    ]
    if not blocks:
        return
    module = importlib.import_module("vllm_ascend.platform")
    namespace = dict(module.__dict__)
    namespace.update(
        cls=getattr(module, "NPUPlatform", None),
        vllm_config=vllm_config,
        ascend_config=ascend_config,
    )
    ran = ASCEND.setdefault("platform_blocks", [])
    for block in blocks:
        code = compile(ast.Module([block], []), str(path), "exec", dont_inherit=True)
        exec(code, namespace)
        ran.append(block.lineno)


# --- set-up, once, before the forks --------------------------------------------------------


def set_up(root: Path) -> dict[str, Any]:
    """Import vLLM, make its CPU platform current with vllm-ascend's additions, patch the
    process launches; returns what was set up (for the report)."""
    sys.meta_path.insert(0, ReleaseSourceFinder(root))
    import vllm.platforms as platforms
    from vllm.platforms.cpu import CpuPlatform

    platform = CpuPlatform()
    platforms._current_platform = platform  # what vllm.platforms.__getattr__ resolves
    patches = apply_platform_patches()
    quant = quantization_source(root)
    setup: dict[str, Any] = {
        "platform": type(platform).__qualname__,
        "quantization": quant,
        "platform_patches": patches,
    }
    quant_module: list[types.ModuleType] = []

    original_pre = CpuPlatform.pre_register_and_update.__func__  # type: ignore[attr-defined]

    def pre_register_and_update(cls: Any, parser: Any = None) -> None:
        original_pre(cls, parser)
        if not quant_module and quant is not None:
            quant_module.append(importlib.import_module(quant[0]))
        if parser is not None:  # vllm_ascend/platform.py: pre_register_and_update
            action = parser._option_string_actions.get("--quantization")
            if action is not None and action.choices and "ascend" not in action.choices:
                action.choices.append("ascend")

    CpuPlatform.pre_register_and_update = classmethod(pre_register_and_update)  # type: ignore[method-assign,assignment]
    platform.supported_quantization = [*CpuPlatform.supported_quantization, "ascend"]

    original_check = CpuPlatform.check_and_update_config.__func__  # type: ignore[attr-defined]

    def check_and_update_config(cls: Any, vllm_config: Any) -> None:
        ascend_validation(vllm_config, root)
        _mark("cpu_platform")
        original_check(cls, vllm_config)

    CpuPlatform.check_and_update_config = classmethod(check_and_update_config)  # type: ignore[method-assign,assignment]

    import vllm.entrypoints.cli.main  # noqa: F401 - imported before the forks
    import vllm.entrypoints.cli.serve as serve
    import vllm.entrypoints.openai.api_server as api_server
    from vllm.engine.arg_utils import EngineArgs
    from vllm.v1.engine.async_llm import AsyncLLM

    def stop(where: str) -> Any:
        def launch(*args: Any, **kwargs: Any) -> Any:
            _mark("engine_start")
            config = kwargs.get("vllm_config")
            if config is None:
                config = next((a for a in args if type(a).__name__ == "VllmConfig"), None)
            raise ReachedEngineStart(where, config)

        return launch

    serve.CoreEngineProcManager = stop("CoreEngineProcManager")
    serve.launch_core_engines = stop("launch_core_engines")
    AsyncLLM.from_vllm_config = classmethod(  # type: ignore[method-assign,assignment]
        lambda cls, *a, **k: stop("AsyncLLM.from_vllm_config")(*a, **k)
    )
    api_server.create_server_socket = lambda addr: socket.socket(socket.AF_INET)

    try:
        from vllm.utils.argparse_utils import FlexibleArgumentParser
    except ImportError:  # up to vLLM 0.11
        from vllm.utils import FlexibleArgumentParser  # type: ignore[no-redef]

    _wrap(FlexibleArgumentParser, "parse_args", "parse")
    _wrap(serve, "validate_parsed_serve_args", "validate_parsed_serve_args")
    _wrap(EngineArgs, "from_cli_args", "from_cli_args", classmethod_=True)
    _wrap(EngineArgs, "create_engine_config", "create_engine_config")
    setup["host_memory_bytes"] = _host_memory()
    setup["skipped_source"] = list(SKIPPED)
    import importlib.metadata

    setup["vllm"] = importlib.metadata.version("vllm")
    setup["torch"] = importlib.metadata.version("torch")
    return setup


HOST_MEMORY_ENV = "DSPREP_CONFORMANCE_HOST_MEMORY_GB"


def _host_memory() -> int:
    """The node's RAM for vLLM's host-memory checks (``CacheConfig``'s swap space: 4 GiB × tp
    must stay under 70 % of it, vllm==0.11.0 vllm/config/cache.py:208-218): an Atlas A2 node's
    RAM (default 512 GB), not this test machine's. Every ``get_cpu_memory`` vLLM has bound is
    replaced."""
    total = int(float(os.environ.get(HOST_MEMORY_ENV, "512")) * 1e9)
    import vllm.config  # noqa: F401 - binds get_cpu_memory where the checks use it

    for name, module in list(sys.modules.items()):
        if (name == "vllm" or name.startswith("vllm.")) and hasattr(module, "get_cpu_memory"):
            module.get_cpu_memory = lambda: total
    return total


# --- one case, in a forked process ---------------------------------------------------------


def _frames(error: BaseException) -> list[str]:
    """``package/file.py:line in function`` of the frames in vLLM and vllm-ascend code."""
    frames: list[str] = []
    for frame in traceback.extract_tb(error.__traceback__):
        path = frame.filename.replace(os.sep, "/")
        for marker in ("/vllm_ascend/", "/vllm/"):
            if marker in path:
                short = marker.strip("/") + "/" + path.split(marker, 1)[1]
                frames.append(f"{short}:{frame.lineno} in {frame.name}")
                break
    return frames


def summary(vllm_config: Any) -> dict[str, Any]:
    """What the release made of the argv (for the tests' sanity checks)."""
    if vllm_config is None:
        return {}
    parallel = vllm_config.parallel_config
    spec = vllm_config.speculative_config
    compilation = vllm_config.compilation_config
    return {
        "tensor_parallel_size": parallel.tensor_parallel_size,
        "data_parallel_size": parallel.data_parallel_size,
        "data_parallel_size_local": parallel.data_parallel_size_local,
        "data_parallel_rank": parallel.data_parallel_rank,
        "data_parallel_master_ip": parallel.data_parallel_master_ip,
        "enable_expert_parallel": parallel.enable_expert_parallel,
        "quantization": vllm_config.model_config.quantization,
        "enforce_eager": vllm_config.model_config.enforce_eager,
        "max_model_len": vllm_config.model_config.max_model_len,
        "max_num_seqs": vllm_config.scheduler_config.max_num_seqs,
        "speculative_method": getattr(spec, "method", None),
        "num_speculative_tokens": getattr(spec, "num_speculative_tokens", None),
        "cudagraph_mode": str(getattr(compilation, "cudagraph_mode", "")),
        "additional_config": vllm_config.additional_config,
    }


def run_case(case: dict[str, Any], log_path: Path) -> dict[str, Any]:
    REACHED.clear()
    ASCEND.clear()
    skipped_before = len(SKIPPED)
    os.environ.update(case.get("env", {}))
    sys.argv = list(case["argv"])
    from vllm.entrypoints.cli.main import main

    started = time.monotonic()
    outcome: dict[str, Any]
    try:
        main()
        outcome = {"accepted": False, "error": "main() returned without starting an engine"}
    except ReachedEngineStart as reached:
        outcome = {"accepted": True, "where": reached.where, "config": summary(reached.vllm_config)}
    except SystemExit as exit_:
        outcome = {
            "accepted": False,
            "error": f"SystemExit: {exit_.code}",
            "frames": _frames(exit_),
        }
    except BaseException as error:  # every rejection is reported, whatever its type
        outcome = {
            "accepted": False,
            "error": f"{type(error).__name__}: {error}",
            "frames": _frames(error),
            "needs_npu": _is_npu_import_error(error)
            or (isinstance(error, (NameError, AttributeError)) and bool(SKIPPED)),
        }
    outcome["reached"] = list(REACHED)
    outcome["failed_in"] = None if outcome["accepted"] else (REACHED[-1] if REACHED else "parse")
    outcome["ascend"] = dict(ASCEND)
    outcome["skipped_source"] = SKIPPED[skipped_before:]  # release statements left out here
    outcome["seconds"] = round(time.monotonic() - started, 2)
    sys.stdout.flush()
    sys.stderr.flush()
    log = log_path.read_text(encoding="utf-8", errors="replace").splitlines()
    outcome["log_tail"] = [line for line in log if line.strip()][-12:]
    return outcome


def _case_file(workdir: Path, case_id: str, suffix: str) -> Path:
    return workdir / (case_id.replace("/", "__") + suffix)


def start_case(case: dict[str, Any], workdir: Path) -> int:
    """Fork the case; the fork writes its outcome to ``<id>.json``."""
    result_path = _case_file(workdir, case["id"], ".json")
    log_path = _case_file(workdir, case["id"], ".log")
    pid = os.fork()
    if pid == 0:  # the case, with its own copy of every global vLLM keeps
        code = 0
        try:
            fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            outcome = run_case(case, log_path)
            result_path.write_text(json.dumps(outcome, default=str), encoding="utf-8")
        except BaseException:
            traceback.print_exc()
            code = 1
        finally:
            os._exit(code)
    return pid


def collect(case: dict[str, Any], workdir: Path, status: int) -> dict[str, Any]:
    result_path = _case_file(workdir, case["id"], ".json")
    if result_path.exists():
        result: dict[str, Any] = json.loads(result_path.read_text(encoding="utf-8"))
        return result
    log_path = _case_file(workdir, case["id"], ".log")
    tail = log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-20:]
    return {"accepted": False, "error": f"probe crashed (wait status {status})", "log_tail": tail}


def run_all(cases: list[dict[str, Any]], workdir: Path) -> dict[str, Any]:
    """Every case in its own fork, ``DSPREP_CONFORMANCE_JOBS`` (default: the cores) at once,
    each killed after ``DSPREP_CONFORMANCE_CASE_TIMEOUT`` seconds (default 300)."""
    jobs = max(1, int(os.environ.get("DSPREP_CONFORMANCE_JOBS", os.cpu_count() or 1)))
    limit = float(os.environ.get("DSPREP_CONFORMANCE_CASE_TIMEOUT", "300"))
    pending = list(cases)
    running: dict[int, tuple[dict[str, Any], float]] = {}
    outcomes: dict[str, Any] = {}
    while pending or running:
        while pending and len(running) < jobs:
            case = pending.pop(0)
            running[start_case(case, workdir)] = (case, time.monotonic() + limit)
        for pid, (case, deadline) in list(running.items()):
            done, status = os.waitpid(pid, os.WNOHANG)
            if not done and time.monotonic() > deadline:
                os.kill(pid, 9)
                done, status = os.waitpid(pid, 0)
                outcomes[case["id"]] = {"accepted": False, "error": f"timed out after {limit} s"}
                del running[pid]
            elif done:
                outcomes[case["id"]] = collect(case, workdir, status)
                del running[pid]
        time.sleep(0.05)
    return outcomes


# Nothing may reach another host: no hub look-ups, no usage report; vLLM's caches (model
# inspection results) beside this venv, so releases do not overwrite each other's.
OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "VLLM_NO_USAGE_STATS": "1",
    "DO_NOT_TRACK": "1",
    "VLLM_CACHE_ROOT": str(Path(sys.prefix) / "vllm-cache"),
}


def main() -> None:
    os.environ.update(OFFLINE_ENV)
    request = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    result_path = Path(sys.argv[2])
    workdir = result_path.parent / (result_path.stem + ".cases")
    workdir.mkdir(parents=True, exist_ok=True)
    setup = set_up(Path(request["vllm_ascend_src"]))
    cases = run_all(request["cases"], workdir)
    result = {"setup": setup, "cases": cases}
    result_path.write_text(json.dumps(result, indent=1, default=str), encoding="utf-8")


if __name__ == "__main__":
    main()
