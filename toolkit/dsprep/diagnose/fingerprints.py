"""Every failure ``dsprep diagnose`` recognises in a log, once: the line's regex, the
releases that emit it and where (release, file, line; or a public report for HCCL/CANN
messages, which no vllm-ascend or vLLM source holds), the cause, the fix and the dsprep
finding that would have caught it before the start.

The finding code is the row's ``kind`` (:mod:`dsprep.catalogue`, area ``diagnose``); several
rows share a kind when releases word one failure differently. ``cause`` and ``fix`` are
templates over the regex's named groups (plus ``{layer}``, see :mod:`dsprep.diagnose.scan`).
``consequence`` marks failures that usually follow one elsewhere (a peer that died): they
are reported as consequences when a failure that is not one is in the logs too.

How the provenance tier re-derives a row (tests/provenance/test_diagnose_fingerprints.py):
``derive="message"``: the string expression at the cited line, rendered with ``1`` (or the
row's ``samples``) for each placeholder, gives a line the regex matches; ``"line"``: the cited
source line itself is what Python prints in the traceback and the regex matches it;
``"code"``: the cited line holds ``code`` (the lookup whose KeyError the regex matches).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property

from dsprep import catalogue as C
from dsprep.catalogue import Kind

# The bundled profiles' names, oldest first (a test keeps it equal to profiles/*.json).
ALL_RELEASES = ("v0.11.0rc0", "v0.11.0", "v0.12.0rc1", "v0.13.0", "v0.18.0", "v0.23.0")


@dataclass(frozen=True)
class Cite:
    """``<dist> of <profile>'s release, <file>:<line>``."""

    profile: str
    dist: str  # "vllm" (the profile's release.vllm_pip) or "vllm-ascend"
    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.profile} {self.dist} {self.file}:{self.line}"


@dataclass(frozen=True)
class Report:
    """A public report that shows the line (for messages of CANN, HCCL and torch_npu)."""

    url: str
    quote: str


@dataclass(frozen=True)
class Fingerprint:
    id: str
    kind: Kind
    regex: str
    cause: str
    fix: str
    caught_by: tuple[str, ...]  # dsprep finding codes
    check: str  # the dsprep command that reports them
    cites: tuple[Cite, ...] = ()
    reports: tuple[Report, ...] = ()
    derive: str = "message"
    code: str = ""
    consequence: bool = False
    samples: tuple[tuple[str, str], ...] = field(default=())

    @cached_property
    def pattern(self) -> re.Pattern[str]:
        return re.compile(self.regex)

    @property
    def releases(self) -> tuple[str, ...]:
        """The bundled releases that emit it: those cited, or every one for a message of
        CANN/HCCL/torch_npu (the image's CANN prints it whatever the release)."""
        if not self.cites:
            return ALL_RELEASES
        cited = {c.profile for c in self.cites}
        return tuple(r for r in ALL_RELEASES if r in cited)


def _at(dist: str, *places: str) -> tuple[Cite, ...]:
    """Citations written ``"<profile> <file>:<line>"``."""
    cites = []
    for place in places:
        profile, where = place.split(" ", 1)
        file, line = where.rsplit(":", 1)
        cites.append(Cite(profile, dist, file, int(line)))
    return tuple(cites)


def vllm_at(file: str, *profile_lines: str) -> tuple[Cite, ...]:
    """vLLM citations of one file: ``"<profile>:<line>"`` each."""
    return _at("vllm", *(f"{p.split(':')[0]} {file}:{p.split(':')[1]}" for p in profile_lines))


def ascend_at(file: str, *profile_lines: str) -> tuple[Cite, ...]:
    return _at(
        "vllm-ascend", *(f"{p.split(':')[0]} {file}:{p.split(':')[1]}" for p in profile_lines)
    )


WEIGHT_UTILS = "vllm/model_executor/model_loader/weight_utils.py"
MODELSLIM = "vllm_ascend/quantization/modelslim_config.py"
QUANT_CONFIG = "vllm_ascend/quantization/quant_config.py"
QUANT_UTILS = "vllm_ascend/quantization/utils.py"
CHECK_WEIGHTS = "dsprep check MODEL_DIR"
CHECK_LAUNCH = "dsprep emit-launch CLUSTER (and dsprep-check-cluster)"
PLAN = "dsprep plan CLUSTER --model-dir MODEL_DIR"
PREFLIGHT = "preflight.sh from dsprep emit-launch (cross-node NPU ping, with nodes[i].npu_ips)"

FINGERPRINTS: tuple[Fingerprint, ...] = (
    Fingerprint(
        "vllm-config-not-found",
        C.LOG_DESCRIPTION_NOT_FOUND,
        r"Cannot find the config file for (?P<method>[\w-]+)",
        "vLLM found no *.json ending in quant_model_description.json in the model folder "
        "(--quantization {method})",
        "name the description quant_model_description.json (a MindIE name such as "
        "quant_model_description_w8a8_dynamic.json does not count)",
        ("misnamed-description", "unverified-quantization"),
        CHECK_WEIGHTS,
        vllm_at(WEIGHT_UTILS, "v0.11.0rc0:289", "v0.11.0:289", "v0.12.0rc1:314", "v0.13.0:314"),
    ),
    Fingerprint(
        "modelslim-config-not-found",
        C.LOG_DESCRIPTION_NOT_FOUND,
        r"ERROR: ModelSlim Quantization Config Not Found",
        "vllm-ascend found no file named exactly quant_model_description.json in the model "
        "folder (from 0.18 the name must match exactly; a suffix no longer counts)",
        "rename the description to quant_model_description.json",
        ("misnamed-description", "unverified-quantization"),
        CHECK_WEIGHTS,
        ascend_at(MODELSLIM, "v0.18.0:629", "v0.23.0:819"),
    ),
    Fingerprint(
        "vllm-multiple-config-files",
        C.LOG_DESCRIPTION_DUPLICATE,
        r"Found multiple config files for (?P<method>[\w-]+): (?P<files>\[.*\])",
        "more than one file ends in quant_model_description.json: {files}",
        "keep exactly one, named quant_model_description.json",
        ("duplicate-description",),
        CHECK_WEIGHTS,
        vllm_at(WEIGHT_UTILS, "v0.11.0rc0:292", "v0.11.0:292", "v0.12.0rc1:317", "v0.13.0:317"),
        samples=(("quant_config_files", "['/m/quant_model_description.json', '/m/x.json']"),),
    ),
    Fingerprint(
        "description-lookup-keyerror",
        C.LOG_DESCRIPTION_KEY_MISSING,
        r"^KeyError: '(?P<key>(?:\w+\.)+weight)'$",
        "the description has no entry {key!r} ({layer}); the release looks every layer up as "
        "quant_description[prefix + '.weight']",
        'add "{key}" to quant_model_description.json ("FLOAT" for the MTP layer and '
        "unquantized layers), or re-export with msmodelslim",
        ("missing-description-entry", "mtp-not-covered", "leftover-quantization-config"),
        CHECK_WEIGHTS,
        ascend_at(QUANT_CONFIG, "v0.11.0rc0:152", "v0.11.0:170", "v0.12.0rc1:168")
        + ascend_at(QUANT_UTILS, "v0.13.0:71")
        + ascend_at(MODELSLIM, "v0.18.0:292", "v0.23.0:381"),
        derive="code",
        code="quant_description[prefix + ",
    ),
    Fingerprint(
        "fused-float-mismatch",
        C.LOG_FUSED_SHARDS_MIXED,
        r"Detected some but not all shards of (?P<prefix>\S+) are quantized",
        "some shards of the fused layer {prefix} are FLOAT and some quantized",
        "describe every shard of {prefix} alike (re-export with msmodelslim)",
        ("gate-up-mismatch",),
        CHECK_WEIGHTS,
        ascend_at(QUANT_CONFIG, "v0.11.0rc0:148", "v0.11.0:157", "v0.12.0rc1:164", "v0.13.0:184")
        + ascend_at(MODELSLIM, "v0.18.0:529", "v0.23.0:697"),
    ),
    Fingerprint(
        "fused-type-mismatch",
        C.LOG_FUSED_SHARDS_MIXED,
        r"Not all shards of (?P<prefix>\S+) are quantized with same quant type",
        "the shards of the fused layer {prefix} have different quant types",
        "give every shard of {prefix} one quant type (re-export with msmodelslim)",
        ("gate-up-mismatch",),
        CHECK_WEIGHTS,
        ascend_at(QUANT_UTILS, "v0.11.0rc0:48", "v0.11.0:52", "v0.12.0rc1:65", "v0.13.0:67")
        + ascend_at(MODELSLIM, "v0.18.0:287", "v0.23.0:374"),
    ),
    Fingerprint(
        "ascend-scheduler-batched-tokens",
        C.LOG_BATCHED_TOKENS_BELOW_MODEL_LEN,
        r"Ascend scheduler is enabled without chunked prefill feature\. Argument "
        r"max_num_batched_tokens \((?P<batched>\d+)\) is smaller than max_model_len "
        r"\((?P<model_len>\d+)\)",
        "the Ascend scheduler without chunked prefill needs max_num_batched_tokens "
        "({batched}) ≥ max_model_len ({model_len})",
        "raise --max-num-batched-tokens to {model_len} (limits.max_num_batched_tokens), or "
        "enable chunked prefill (scheduler.chunked_prefill: true)",
        ("batched-tokens-below-model-len",),
        CHECK_LAUNCH,
        ascend_at("vllm_ascend/core/schedule_config.py", "v0.11.0rc0:69", "v0.11.0:69"),
    ),
    Fingerprint(
        "vllm-scheduler-batched-tokens",
        C.LOG_BATCHED_TOKENS_BELOW_MODEL_LEN,
        r"(?<!Argument )max_num_batched_tokens \((?P<batched>\d+)\) is smaller than "
        r"max_model_len \((?P<model_len>\d+)\)",
        "chunked prefill is off and max_num_batched_tokens ({batched}) < max_model_len "
        "({model_len})",
        "raise --max-num-batched-tokens to {model_len}, or enable chunked prefill",
        ("batched-tokens-below-model-len",),
        CHECK_LAUNCH,
        vllm_at(
            "vllm/config/scheduler.py",
            "v0.11.0rc0:238",
            "v0.11.0:238",
            "v0.12.0rc1:254",
            "v0.13.0:256",
            "v0.18.0:257",
            "v0.23.0:265",
        ),
    ),
    Fingerprint(
        "torchair-key-without-enabled",
        C.LOG_TORCHAIR_KEYS_WITHOUT_ENABLED,
        r"(?P<key>\w+) is valid only when Torchair graph mode (?:is enabled|and use_cached_graph)",
        "torchair_graph_config.{key} is set while torchair_graph_config.enabled is false",
        'set "enabled": true in torchair_graph_config (graph.mode: torchair), or remove {key}',
        ("torchair-keys-without-enabled",),
        CHECK_LAUNCH,
        ascend_at("vllm_ascend/ascend_config.py", "v0.11.0rc0:143", "v0.11.0:180"),
    ),
    Fingerprint(
        "headless-api-server-count",
        C.LOG_HEADLESS_API_SERVER_COUNT,
        r"api_server_count can't be set in headless mode",
        "--api-server-count above 1 on a --headless node",
        "remove --api-server-count from extra_args (it reaches every node)",
        ("headless-api-server-count",),
        CHECK_LAUNCH,
        vllm_at("vllm/entrypoints/cli/serve.py", "v0.11.0rc0:83", "v0.11.0:83", "v0.12.0rc1:83")
        + vllm_at("vllm/entrypoints/cli/serve.py", "v0.13.0:83"),
    ),
    Fingerprint(
        "headless-api-server-count-any",
        C.LOG_HEADLESS_API_SERVER_COUNT,
        r"--api-server-count=(?P<count>\d+) cannot be used with --headless",
        "--api-server-count={count} on a --headless node (from vLLM 0.18 any value above 0)",
        "remove --api-server-count from extra_args (the head starts one API server per DP "
        "rank by default)",
        ("headless-api-server-count",),
        CHECK_LAUNCH,
        vllm_at("vllm/entrypoints/cli/serve.py", "v0.18.0:62", "v0.23.0:64"),
    ),
    Fingerprint(
        "invalid-parser",
        C.LOG_INVALID_PARSER,
        r"invalid (?P<what>tool call|reasoning) parser: (?P<name>\S+) \(chose from",
        "the {what} parser {name!r} is not registered in this release's vLLM",
        "use a {what} parser the release registers (the profile lists them)",
        ("reasoning-parser-unavailable", "tool-parser-wrong"),
        CHECK_LAUNCH,
        vllm_at(
            "vllm/entrypoints/openai/api_server.py",
            "v0.11.0rc0:1824",
            "v0.11.0:1831",
            "v0.12.0rc1:1754",
            "v0.13.0:1342",
            "v0.18.0:499",
            "v0.23.0:516",
        )
        + vllm_at("vllm/config/structured_outputs.py", "v0.12.0rc1:80"),
    ),
    Fingerprint(
        "argparse-invalid-parser",
        C.LOG_INVALID_PARSER,
        r"argument --(?P<option>reasoning-parser|tool-call-parser): invalid choice: "
        r"'?(?P<name>[^' ]+)'?",
        "--{option} {name} is not among the choices of this release's vLLM (argparse)",
        "use a parser the release registers (vLLM 0.11 has no deepseek_v3 reasoning parser)",
        ("reasoning-parser-unavailable", "tool-parser-wrong"),
        CHECK_LAUNCH,
        vllm_at("vllm/engine/arg_utils.py", "v0.11.0rc0:628", "v0.11.0:628"),
        derive="code",
        code="choices=list(ReasoningParserManager.reasoning_parsers)",
    ),
    Fingerprint(
        "fp8-vs-ascend",
        C.LOG_FP8_VS_ASCEND,
        r"Quantization method specified in the model config \((?P<model>[\w-]+)\) does not "
        r"match the quantization method specified in the `quantization` argument "
        r"\((?P<argument>[\w-]+)\)",
        "config.json's quantization_config says {model}, the command line --quantization "
        "{argument}",
        "delete quantization_config from config.json (dsprep check --fix does it)",
        ("leftover-quantization-config", "fp8-weights"),
        CHECK_WEIGHTS,
        vllm_at("vllm/config/model.py", "v0.12.0rc1:1047", "v0.13.0:937", "v0.18.0:950")
        + vllm_at("vllm/config/model.py", "v0.23.0:1069"),
    ),
    Fingerprint(
        "kv-b-proj-assert",
        C.LOG_KV_B_PROJ_QUANTIZED,
        r"^\s*assert isinstance\(self\.kv_b_proj\.quant_method, UnquantizedLinearMethod\)",
        "kv_b_proj is quantized; the release's MLA attention needs it unquantized (checked "
        "after the whole load)",
        'describe every kv_b_proj as "FLOAT" and store it unquantized (re-export with msmodelslim)',
        ("must-be-float",),
        CHECK_WEIGHTS,
        ascend_at("vllm_ascend/attention/mla_v1.py", "v0.13.0:785", "v0.18.0:863", "v0.23.0:924"),
        derive="line",
    ),
    Fingerprint(
        "engine-ready-timeout",
        C.LOG_ENGINE_READY_TIMEOUT,
        r"Timed out waiting for engines to send ?initial message on input socket",
        "the front-end waited 10 minutes for an engine's first message",
        "find the failure before it on the engines' nodes",
        ("npu-ips-not-set",),
        PREFLIGHT,
        vllm_at(
            "vllm/v1/engine/core_client.py",
            "v0.11.0rc0:496",
            "v0.11.0:496",
            "v0.12.0rc1:526",
            "v0.13.0:532",
        ),
        consequence=True,
    ),
    Fingerprint(
        "engine-ready-timeout-env",
        C.LOG_ENGINE_READY_TIMEOUT,
        r"Timed out waiting for engine core processes to start\..*?Waited (?P<seconds>\d+)s",
        "the front-end waited {seconds} s (VLLM_ENGINE_READY_TIMEOUT_S) for the engines",
        "find the failure before it on the engines' nodes; if they were only loading "
        "slowly, raise VLLM_ENGINE_READY_TIMEOUT_S",
        ("npu-ips-not-set",),
        PREFLIGHT,
        vllm_at("vllm/v1/engine/core_client.py", "v0.18.0:622", "v0.23.0:620"),
        consequence=True,
    ),
    Fingerprint(
        "front-end-handshake-timeout",
        C.LOG_ENGINE_READY_TIMEOUT,
        r"Did not receive response from front-end process within (?P<minutes>\d+) minutes",
        "an engine waited {minutes} minutes for the head node's front-end",
        "find the failure on the head node first; check that --data-parallel-address and "
        "--data-parallel-rpc-port reach it",
        ("npu-ips-not-set",),
        PREFLIGHT,
        vllm_at(
            "vllm/v1/engine/core.py",
            "v0.11.0rc0:646",
            "v0.11.0:646",
            "v0.12.0rc1:783",
            "v0.13.0:806",
            "v0.18.0:1012",
            "v0.23.0:1101",
        ),
        consequence=True,
    ),
    Fingerprint(
        "engine-init-failed",
        C.LOG_ENGINE_INIT_FAILED,
        r"Engine core initialization failed\. See root cause above\.",
        "an engine process exited while starting",
        "the cause is an earlier line of the same node",
        (),
        "no dsprep check: it follows another failure",
        vllm_at(
            "vllm/v1/engine/utils.py",
            "v0.11.0rc0:785",
            "v0.11.0:785",
            "v0.12.0rc1:961",
            "v0.13.0:961",
            "v0.18.0:1032",
            "v0.23.0:1250",
        ),
        consequence=True,
    ),
    Fingerprint(
        "hccl-get-socket-timeout",
        C.LOG_SOCKET_TIMEOUT,
        r"(?:Get_Socket_Timeout|Communication_Error_Get_Socket)\(EI0006\)",
        "HCCL timed out getting a socket to a peer NPU (EI0006): a peer never connected "
        "(it failed or started late), or the link is broken (subnet, TLS settings differ)",
        "fix the earliest failure on the other nodes first; else compare hccn_tool -i N -tls -g "
        "on every NPU, ping the peers' NPU ips, raise HCCL_CONNECT_TIMEOUT",
        ("npu-ips-not-set",),
        PREFLIGHT,
        reports=(
            Report(
                "https://github.com/vllm-project/vllm-ascend/issues/5461",
                "[PID: 749] 2025-12-29-03:16:15.787.356 Get_Socket_Timeout(EI0006): Getting "
                "socket times out. Reason: 1. The remote does not initiate a connect request.",
            ),
            Report(
                "https://github.com/vllm-project/afd-plugin/issues/229",
                "Communication_Error_Get_Socket(EI0006)",
            ),
        ),
        consequence=True,
    ),
    Fingerprint(
        "hccl-link-establish-timeout",
        C.LOG_SOCKET_TIMEOUT,
        r"wait socket establish timeout, role\[(?P<role>\d+)\] rank\[(?P<hccl_rank>\d+)\] "
        r"timeout\[(?P<timeout>\d+)\]",
        "HCCL rank {hccl_rank} waited {timeout} s for its peers' sockets",
        "fix the earliest failure on the other nodes first; else check the NPU links "
        "(hccn_tool -i N -link -g, -net_health -g) and HCCL_CONNECT_TIMEOUT",
        ("npu-ips-not-set",),
        PREFLIGHT,
        reports=(
            Report(
                "https://github.com/vllm-project/vllm-ascend/issues/1955",
                "[ERROR] HCCL(2717288,python3):2025-07-23-03:49:57.177.194 "
                "[hccl_socket_manager.cc:778] [2734049][Wait][LinkEstablish]wait socket "
                "establish timeout, role[1] rank[12] timeout[120]",
            ),
        ),
        consequence=True,
    ),
    Fingerprint(
        "c10d-socket-timeout",
        C.LOG_SOCKET_TIMEOUT,
        r"\[c10d\] .*timed out after (?P<ms>\d+)ms",
        "torch's c10d store socket timed out after {ms} ms",
        "fix the earliest failure on the other nodes first; check GLOO_SOCKET_IFNAME and "
        "that the nodes reach each other's ip",
        ("npu-ips-not-set",),
        PREFLIGHT,
        reports=(
            Report(
                "https://github.com/vllm-project/vllm-ascend/issues/2248",
                "[rank6]:[W806 22:23:09.971726955 socket.cpp:487] [c10d] waitForInput: socket "
                "SocketImpl(fd=109, addr=[::ffff:7.150.11.200]:38930, "
                "remote=[::ffff:7.150.11.200]:47904) timed out after 1800000ms",
            ),
        ),
        consequence=True,
    ),
    Fingerprint(
        "npu-out-of-memory",
        C.LOG_NPU_OUT_OF_MEMORY,
        r"NPU out of memory\. Tried to allocate (?P<request>[\d.]+ [KMGT]?i?B) "
        r"\(NPU (?P<device>\d+); (?P<total>[\d.]+ [KMGT]?i?B) total capacity; "
        r"(?P<allocated>[\d.]+ [KMGT]?i?B) already allocated;.*?(?P<free>[\d.]+ [KMGT]?i?B) free",
        "NPU {device} ran out of HBM: {request} asked for, {allocated} of {total} allocated, "
        "{free} free",
        "run dsprep plan: more nodes or a larger EP group for the weights, lower "
        "max_num_seqs / max_num_batched_tokens for the activations",
        ("memory-no-fit",),
        PLAN,
        reports=(
            Report(
                "https://github.com/vllm-project/vllm-ascend/issues/2378",
                "RuntimeError: NPU out of memory. Tried to allocate 450.00 MiB (NPU 3; 60.96 GiB "
                "total capacity; 60.30 GiB already allocated; 60.30 GiB current active; 5.78 MiB "
                "free; 60.47 GiB reserved in total by PyTorch)",
            ),
        ),
    ),
    Fingerprint(
        "kv-cache-one-sequence",
        C.LOG_KV_CACHE_NO_FIT,
        r"To serve at least one request with the models?'s max seq len \((?P<model_len>\d+)\), "
        r"\((?P<needed>[\d.]+) GiB KV cache is needed, which is larger than the available KV "
        r"cache memory \((?P<available>[\d.]+) GiB\)",
        "one sequence of max_model_len {model_len} needs {needed} GiB of KV cache; "
        "{available} GiB are left",
        "lower --max-model-len (vLLM prints the length that fits) or raise "
        "--gpu-memory-utilization",
        ("memory-no-fit",),
        PLAN,
        vllm_at(
            "vllm/v1/core/kv_cache_utils.py",
            "v0.11.0rc0:717",
            "v0.11.0:717",
            "v0.12.0rc1:708",
            "v0.13.0:711",
            "v0.18.0:642",
            "v0.23.0:741",
        ),
    ),
    Fingerprint(
        "kv-cache-none",
        C.LOG_KV_CACHE_NO_FIT,
        r"No available memory for the cache blocks",
        "the weights and the profiled peak leave no memory for the KV cache",
        "run dsprep plan: more nodes or a larger EP group, or raise --gpu-memory-utilization",
        ("memory-no-fit",),
        PLAN,
        vllm_at(
            "vllm/v1/core/kv_cache_utils.py",
            "v0.11.0rc0:699",
            "v0.11.0:699",
            "v0.12.0rc1:687",
            "v0.13.0:688",
            "v0.18.0:624",
            "v0.23.0:721",
        ),
    ),
    Fingerprint(
        "free-memory-below-utilization",
        C.LOG_NPUS_BUSY,
        r"Free memory on device \((?P<free>[\d.]+)/(?P<total>[\d.]+) GiB\) on startup is "
        r"less than desired GPU memory utilization \((?P<utilization>[\d.]+), "
        r"(?P<requested>[\d.]+) GiB\)",
        "only {free} of {total} GiB were free at start; gpu_memory_utilization {utilization} "
        "asks for {requested} GiB",
        "stop what holds the NPUs (npu-smi info), or lower --gpu-memory-utilization below "
        "free / total",
        (),
        "no dsprep check: the NPUs' use is known only on the node",
        ascend_at("vllm_ascend/worker/worker.py", "v0.18.0:271", "v0.23.0:473"),
    ),
    Fingerprint(
        "memory-profiling-error",
        C.LOG_NPUS_BUSY,
        r"Error in memory profiling\. Initial free memory (?P<initial>\d+(?:\.\d+)?(?: GiB)?), "
        r"current free memory (?P<current>\d+(?:\.\d+)?(?: GiB)?)",
        "free HBM grew while vLLM profiled ({initial} → {current}; bytes up to 0.13): "
        "another process used the NPU when vLLM started and released memory",
        "stop what holds the NPUs (npu-smi info) and start again",
        (),
        "no dsprep check: the NPUs' use is known only on the node",
        ascend_at(
            "vllm_ascend/worker/worker_v1.py", "v0.11.0rc0:213", "v0.11.0:235", "v0.12.0rc1:249"
        )
        + ascend_at("vllm_ascend/worker/worker.py", "v0.13.0:287", "v0.18.0:347", "v0.23.0:582"),
    ),
)

BY_ID = {f.id: f for f in FINGERPRINTS}
