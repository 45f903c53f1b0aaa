"""Log lines as the releases print them, built with the releases' own format strings.

``vllm_line`` is vLLM's logger format and ``process`` its per-process prefix (see
:mod:`dsprep.diagnose.logline` for the source lines); ``MESSAGES`` holds, per fingerprint,
the message its release raises or logs, written with the f-string of the cited source
(release, file, line beside each) and sample values, or the line a public report shows.
"""

from __future__ import annotations

# vllm==0.13.0 vllm/logger.py:21-25: f"{VLLM_LOGGING_PREFIX}%(levelname)s %(asctime)s "
# "[%(fileinfo)s:%(lineno)d] %(message)s", datefmt "%m-%d %H:%M:%S"
LOG_FORMAT = "%(levelname)s %(asctime)s [%(fileinfo)s:%(lineno)d] %(message)s"


def vllm_line(level: str, when: str, where: str, message: str) -> str:
    """``when`` is ``MM-DD HH:MM:SS``; ``where`` is ``file.py:line``."""
    fileinfo, lineno = where.rsplit(":", 1)
    fields = {"levelname": level, "asctime": when, "fileinfo": fileinfo, "lineno": int(lineno)}
    return LOG_FORMAT % {**fields, "message": message}


def process(worker_name: str, pid: int, line: str, *, colour: bool = False) -> str:
    """vllm==0.13.0 vllm/utils/system_utils.py:179-181 ``_add_prefix``."""
    cyan, reset = "\033[1;36m", "\033[0;0m"
    prefix = f"{cyan}({worker_name} pid={pid}){reset} " if colour else f"({worker_name} pid={pid}) "
    return prefix + line


def worker_name(dp: int, tp: int, ep: int) -> str:
    """vllm==0.13.0 vllm/v1/executor/multiproc_executor.py:846-861 (DP, TP > 1, EP on)."""
    process_name = "Worker"
    process_name += f"_DP{dp}"
    process_name += f"_TP{tp}"
    process_name += f"_EP{ep}"
    return process_name


quant_config_files = [
    "/models/ds/quant_model_description.json",
    "/models/ds/x_quant_model_description.json",
]
prefix = "model.layers.3.mlp.gate_up_proj"
proj_name, shard_quant_type, quant_type = "gate_up_proj", "W8A8_DYNAMIC", "FLOAT"
max_num_batched_tokens, max_model_len = 8192, 32768
api_server_count = 2
quant_method, quantization = "fp8", "ascend"
HANDSHAKE_TIMEOUT_MINS = 5
VLLM_ENGINE_READY_TIMEOUT_S = 600
finished = {"EngineCore_DP1": 1}
needed, available, estimated_max_len = 1.97, 0.42, 6784
free, total, utilization, requested = 50.12, 60.96, 0.9, 54.86

MESSAGES: dict[str, str] = {
    # vllm==0.11.0 vllm/model_executor/model_loader/weight_utils.py:289
    "vllm-config-not-found": f"ValueError: Cannot find the config file for {quantization}",
    # vllm-ascend==0.18.0 vllm_ascend/quantization/modelslim_config.py:629
    "modelslim-config-not-found": "ERROR: ModelSlim Quantization Config Not Found",
    # vllm==0.13.0 weight_utils.py:317
    "vllm-multiple-config-files": (
        f"ValueError: Found multiple config files for {quantization}: {quant_config_files}"
    ),
    # vllm-ascend==0.11.0rc0 vllm_ascend/quantization/quant_config.py:152 (Python's KeyError line)
    "description-lookup-keyerror": "KeyError: 'model.layers.61.mlp.experts.0.gate_proj.weight'",
    # vllm-ascend==0.11.0rc0 quant_config.py:147-150
    "fused-float-mismatch": (
        f"ValueError: Detected some but not all shards of {prefix} "
        "are quantized. All shards of fused layers "
        "to have the same precision."
    ),
    # vllm-ascend==0.11.0rc0 vllm_ascend/quantization/utils.py:47-50
    "fused-type-mismatch": (
        f"ValueError: Not all shards of {prefix} are quantized with same quant type."
        f"Shard {proj_name} uses {shard_quant_type}, but another shard"
        f"use {quant_type}. Please check quantization config."
    ),
    # vllm-ascend==0.11.0rc0 vllm_ascend/core/schedule_config.py:68-75
    "ascend-scheduler-batched-tokens": (
        "ValueError: Ascend scheduler is enabled without chunked prefill feature. "
        f"Argument max_num_batched_tokens ({max_num_batched_tokens}) is "
        f"smaller than max_model_len ({max_model_len}). "
        "This effectively limits the maximum sequence length to "
        "max_num_batched_tokens and makes vLLM reject longer "
        "sequences. Please increase max_num_batched_tokens or "
        "decrease max_model_len."
    ),
    # vllm==0.11.0 vllm/config/scheduler.py:237-243 (inside pydantic's ValidationError)
    "vllm-scheduler-batched-tokens": (
        f"  Value error, max_num_batched_tokens ({max_num_batched_tokens}) is "
        f"smaller than max_model_len ({max_model_len}). "
        "This effectively limits the maximum sequence length to "
        "max_num_batched_tokens and makes vLLM reject longer sequences."
    ),
    # vllm-ascend==0.11.0rc0 vllm_ascend/ascend_config.py:142-143
    "torchair-key-without-enabled": (
        "RuntimeError: graph_batch_sizes is valid only when Torchair graph mode is enabled"
    ),
    # vllm==0.11.0 vllm/entrypoints/cli/serve.py:83
    "headless-api-server-count": "ValueError: api_server_count can't be set in headless mode",
    # vllm==0.18.0 vllm/entrypoints/cli/serve.py:61-65
    "headless-api-server-count-any": (
        f"ValueError: --api-server-count={api_server_count} cannot be "
        "used with --headless (no API servers are started in "
        "headless mode)."
    ),
    # vllm==0.13.0 vllm/entrypoints/openai/api_server.py:1341-1344
    "invalid-parser": (
        "KeyError: 'invalid reasoning parser: deepseek_v4 "
        "(chose from { deepseek_r1,deepseek_v3,glm45 })'"
    ),
    # Python's argparse for vllm==0.11.0 vllm/engine/arg_utils.py:628 (choices=…)
    "argparse-invalid-parser": (
        "vllm serve: error: argument --reasoning-parser: invalid choice: 'deepseek_v3' "
        "(choose from 'deepseek_r1', 'glm45', 'granite')"
    ),
    # vllm==0.13.0 vllm/config/model.py:936-941
    "fp8-vs-ascend": (
        "ValueError: Quantization method specified in the model config "
        f"({quant_method}) does not match the quantization "
        f"method specified in the `quantization` argument "
        f"({quantization})."
    ),
    # vllm-ascend==0.13.0 vllm_ascend/attention/mla_v1.py:785 (the traceback's source line)
    "kv-b-proj-assert": (
        "    assert isinstance(self.kv_b_proj.quant_method, UnquantizedLinearMethod)"
    ),
    # vllm==0.11.0 vllm/v1/engine/core_client.py:496-497
    "engine-ready-timeout": (
        "TimeoutError: Timed out waiting for engines to sendinitial message on input socket."
    ),
    # vllm==0.18.0 vllm/v1/engine/core_client.py:621-628
    "engine-ready-timeout-env": (
        f"TimeoutError: Timed out waiting for engine core processes to "
        f"start. This is often caused by slow weight loading "
        f"for large models. Waited "
        f"{VLLM_ENGINE_READY_TIMEOUT_S}s (configured by "
        f"VLLM_ENGINE_READY_TIMEOUT_S). To increase the "
        f"timeout, set the environment variable: "
        f"VLLM_ENGINE_READY_TIMEOUT_S=<seconds>"
    ),
    # vllm==0.11.0 vllm/v1/engine/core.py:646-648
    "front-end-handshake-timeout": (
        "RuntimeError: Did not receive response from front-end "
        f"process within {HANDSHAKE_TIMEOUT_MINS} "
        f"minutes"
    ),
    # vllm==0.18.0 vllm/v1/engine/utils.py:1031-1034
    "engine-init-failed": (
        "RuntimeError: Engine core initialization failed. "
        "See root cause above. "
        f"Failed core proc(s): {finished}"
    ),
    # https://github.com/vllm-project/vllm-ascend/issues/5461
    "hccl-get-socket-timeout": (
        "[PID: 749] 2025-12-29-03:16:15.787.356 Get_Socket_Timeout(EI0006): Getting socket "
        "times out. Reason: 1. The remote does not initiate a connect request."
    ),
    # https://github.com/vllm-project/vllm-ascend/issues/1955
    "hccl-link-establish-timeout": (
        "[ERROR] HCCL(2717288,python3):2025-07-23-03:49:57.177.194 [hccl_socket_manager.cc:778]"
        " [2734049][Wait][LinkEstablish]wait socket establish timeout, role[1] rank[12] "
        "timeout[120]"
    ),
    # https://github.com/vllm-project/vllm-ascend/issues/2248
    "c10d-socket-timeout": (
        "[rank6]:[W806 22:23:09.971726955 socket.cpp:487] [c10d] waitForInput: socket "
        "SocketImpl(fd=109, addr=[::ffff:7.150.11.200]:38930, remote=[::ffff:7.150.11.200]"
        ":47904) timed out after 1800000ms"
    ),
    # https://github.com/vllm-project/vllm-ascend/issues/2378
    "npu-out-of-memory": (
        "RuntimeError: NPU out of memory. Tried to allocate 450.00 MiB (NPU 3; 60.96 GiB total "
        "capacity; 60.30 GiB already allocated; 60.30 GiB current active; 5.78 MiB free; "
        "60.47 GiB reserved in total by PyTorch) If reserved memory is >> allocated memory try "
        "setting max_split_size_mb to avoid fragmentation."
    ),
    # vllm==0.23.0 vllm/v1/core/kv_cache_utils.py:740-744
    "kv-cache-one-sequence": (
        f"ValueError: To serve at least one request with the model's max seq len "
        f"({max_model_len}), ({needed:.2f} GiB KV "
        f"cache is needed, which is larger than the available KV cache "
        f"memory ({available:.2f} GiB). Based on the available memory, "
        f"the estimated maximum model length is {estimated_max_len}. "
    ),
    # vllm==0.11.0 vllm/v1/core/kv_cache_utils.py:699-701
    "kv-cache-none": (
        "ValueError: No available memory for the cache blocks. "
        "Try increasing `gpu_memory_utilization` when initializing the engine."
    ),
    # vllm-ascend==0.18.0 vllm_ascend/worker/worker.py:270-277 (GiB = round(b / GiB_bytes, 2))
    "free-memory-below-utilization": (
        f"ValueError: Free memory on device "
        f"({free}/"
        f"{total} GiB) on startup "
        f"is less than desired GPU memory utilization "
        f"({utilization}, "
        f"{requested} GiB). Decrease GPU memory "
        f"utilization or reduce GPU memory used by other processes."
    ),
    # vllm-ascend==0.11.0rc0 vllm_ascend/worker/worker_v1.py:212-216
    "memory-profiling-error": (
        "AssertionError: Error in memory profiling. "
        f"Initial free memory {60_000_000_000}, current free memory"
        f" {60_500_000_000}. This happens when the NPU memory was "
        "not properly cleaned up before initializing the vLLM instance."
    ),
}
