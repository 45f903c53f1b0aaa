"""The exact argv of every node: ``vllm serve``, ``docker run`` and the env.sh exports.

Everything here is data (lists of strings); :mod:`dsprep.launch.scripts` quotes it for the
shell. Order follows the seed manual so that the emitted commands read like the manual's.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dsprep.family import DEFAULT_FAMILY
from dsprep.launch.cluster import Cluster, Node
from dsprep.profiles import Profile

CONTAINER_SCRIPTS_DIR = "/dsprep-launch"  # where container.sh mounts the node's folder

NPU_DEVICES = ("/dev/davinci_manager", "/dev/devmm_svm", "/dev/hisi_hdc")
DRIVER_MOUNTS = (
    "/usr/local/dcmi:/usr/local/dcmi",
    "/usr/local/Ascend/driver/tools/hccn_tool:/usr/local/Ascend/driver/tools/hccn_tool",
    "/usr/local/bin/npu-smi:/usr/local/bin/npu-smi",
    "/usr/local/Ascend/driver/lib64/:/usr/local/Ascend/driver/lib64/",
    "/usr/local/Ascend/driver/version.info:/usr/local/Ascend/driver/version.info",
    "/etc/ascend_install.info:/etc/ascend_install.info",
)


def compact_json(value: Any) -> str:
    """JSON as the manual writes it: no spaces, key order kept, non-ASCII kept."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """``extra`` merged into a copy of ``base``; nested objects merge, other values replace."""
    merged = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _set_at(target: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for key in path[:-1]:
        target = target.setdefault(key, {})
    target[path[-1]] = value


@dataclass(frozen=True)
class EngineConfig:
    """The JSON-valued flags, before quoting."""

    additional_config: dict[str, Any]
    compilation_config: dict[str, Any]
    speculative_config: dict[str, Any] | None


def engine_config(cluster: Cluster, profile: Profile) -> EngineConfig:
    """``--additional-config``/``--compilation-config``/``--speculative-config`` values."""
    launch = profile.launch
    containers: dict[str, dict[str, Any]] = {"additional_config": {}, "compilation_config": {}}
    scheduler = launch.scheduler
    if cluster.ascend_scheduler and scheduler is not None:
        config: dict[str, Any] = {"enabled": True}
        if cluster.chunked_prefill:
            config[scheduler.chunked_prefill_key] = True
        containers["additional_config"][scheduler.config_key] = config
    mode = launch.graph_modes.get(cluster.graph_mode)
    if mode is not None:
        containers["additional_config"] = deep_merge(
            containers["additional_config"], mode.additional_config
        )
        containers["compilation_config"] = deep_merge(
            containers["compilation_config"], mode.compilation_config
        )
        if cluster.graph_batch_sizes and mode.sizes is not None:
            root, *rest = mode.sizes.at
            _set_at(containers[root], tuple(rest), list(cluster.graph_batch_sizes))
    additional = deep_merge(containers["additional_config"], cluster.additional_config)
    speculative = None
    if cluster.mtp:
        speculative = {"num_speculative_tokens": cluster.mtp_tokens, "method": launch.mtp.method}
    return EngineConfig(additional, containers["compilation_config"], speculative)


def tool_parser(profile: Profile) -> str:
    """The release's vLLM tool-call parser for the model family."""
    return profile.launch.family_parsers[DEFAULT_FAMILY.name].tool


def default_kwargs_argv(cluster: Cluster, profile: Profile) -> list[str]:
    """``--default-chat-template-kwargs {"thinking":true}`` when thinking is on by default and
    the release has the flag (from vLLM 0.18 it also builds the reasoning parser with it:
    dsprep.launch.thinking)."""
    flag = profile.chat.template_defaults_flag
    if cluster.thinking_default and flag:
        return [flag, compact_json({"thinking": True})]
    return []


def serve_argv(cluster: Cluster, profile: Profile, node: Node) -> list[str]:
    """``vllm serve …`` for one node: the head serves the API, the others run headless."""
    head = node.index == 0
    argv = ["vllm", "serve", cluster.model_path, "--host", cluster.bind_host]
    argv += ["--port", str(cluster.api_port)]
    if not head:
        argv.append("--headless")
    argv += ["--data-parallel-size", str(cluster.dp)]
    argv += ["--data-parallel-size-local", str(cluster.dp_local)]
    if not head:
        argv += ["--data-parallel-start-rank", str(cluster.start_rank(node))]
    argv += ["--data-parallel-address", cluster.head.ip]
    argv += ["--data-parallel-rpc-port", str(cluster.dp_rpc_port)]
    argv += ["--seed", str(cluster.seed)]
    argv += ["--served-model-name", cluster.served_name]
    argv += ["--tensor-parallel-size", str(cluster.tp)]
    if cluster.expert_parallel:
        argv.append("--enable-expert-parallel")
    argv += ["--max-num-seqs", str(cluster.max_num_seqs)]
    argv += ["--max-model-len", str(cluster.max_model_len)]
    argv += ["--max-num-batched-tokens", str(cluster.max_num_batched_tokens)]
    argv.append("--trust-remote-code")
    argv.append(
        "--enable-prefix-caching" if cluster.prefix_caching else "--no-enable-prefix-caching"
    )
    argv += ["--gpu-memory-utilization", repr(cluster.gpu_memory_utilization)]
    argv += ["--quantization", "ascend"]
    config = engine_config(cluster, profile)
    if config.additional_config:
        argv += ["--additional-config", compact_json(config.additional_config)]
    if config.compilation_config:
        argv += ["--compilation-config", compact_json(config.compilation_config)]
    mode = profile.launch.graph_modes.get(cluster.graph_mode)
    if mode is not None:
        argv += list(mode.args)
    if config.speculative_config is not None:
        argv += ["--speculative-config", compact_json(config.speculative_config)]
    if cluster.tools:
        argv += ["--enable-auto-tool-choice", "--tool-call-parser", tool_parser(profile)]
    if cluster.reasoning_parser:
        argv += ["--reasoning-parser", cluster.reasoning_parser]
    argv += default_kwargs_argv(cluster, profile)
    argv += list(cluster.extra_args)
    return argv


def node_env(
    cluster: Cluster, profile: Profile, node: Node, timeouts: Sequence[tuple[str, str]] = ()
) -> list[tuple[str, str]]:
    """The exports of env.sh, in order: the profile's, the start-up ``timeouts``
    (:func:`dsprep.launch.kit.startup_env`), then the file's ``env`` overrides."""
    exports = {
        e.name: e.value.replace("{ip}", node.ip).replace("{nic}", node.nic)
        for e in profile.launch.env
    }
    exports.update(timeouts)
    exports.update(cluster.env)  # an override keeps its place; a new name goes last
    return list(exports.items())


def docker_run_argv(
    cluster: Cluster, node: Node, scripts_mount: str, logs_mount: str | None = None
) -> list[str]:
    """The seed's ``docker run``, with the devices for this node's NPU count.

    ``-d`` is added (the script returns; you enter with ``docker exec``) and the node's
    script folder is mounted read-only at :data:`CONTAINER_SCRIPTS_DIR`;
    ``scripts_mount`` is that ``-v`` value (the caller passes a shell expansion), and
    ``logs_mount`` the read-write one of the node's log folder.
    """
    argv = ["docker", "run", "--privileged", "--name", cluster.container_name, "--net=host"]
    for i in range(node.npus):
        argv += ["--device", f"/dev/davinci{i}"]
    for device in NPU_DEVICES:
        argv += ["--device", device]
    argv.append(f"--shm-size={cluster.shm_size}")
    for mount in (*DRIVER_MOUNTS, *cluster.mounts):
        argv += ["-v", mount]
    argv += ["-v", scripts_mount]
    if logs_mount is not None:
        argv += ["-v", logs_mount]
    argv += ["-itd", cluster.image, "bash"]
    return argv
