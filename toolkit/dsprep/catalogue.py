"""Every finding code dsprep reports, once: code, severity, meaning, default fix, README anchor.

A :class:`~dsprep.findings.Finding` is made by calling its :class:`Kind` (``FP8_WEIGHTS(path,
message)``), never by hand: the kind supplies the code, the default severity and the
default fix. The README's finding tables are generated from this table
(``python -m dsprep.catalogue``) and a test keeps them equal; another fails on a code that is
not here and on a kind nothing emits. Codes are results users grep for, never control
flow: no code path compares a finding's code.

Error kinds (``Area.ERRORS``) name what stopped a command before it had a result (exit 3);
:class:`dsprep.errors.DsprepError` subclasses carry them.
"""

from __future__ import annotations

from collections.abc import Iterator
from enum import Enum

import msgspec

from dsprep.findings import Finding, Severity

ERROR, WARNING, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO


class Area(str, Enum):
    """Which commands report a kind; one README table per area."""

    WEIGHTS = "weights"  # fetch, check, dsprep-check-quant, dsprep-check-index
    TEMPLATE = "template"  # template, render, dsprep-check-template
    LAUNCH = "launch"  # emit-launch, plan, dsprep-check-cluster
    K8S = "k8s"  # emit-launch --target k8s: what the manifest cannot express
    DEMO = "demo"
    DIAGNOSE = "diagnose"  # diagnose: failures read from the logs of a failed start
    OPS = "ops"  # up, down, status, logs
    VERIFY = "verify"  # verify URL: a live deployment
    ERRORS = "errors"  # any command: stopped before a result (exit 3)


AREA_TITLES = {
    Area.WEIGHTS: "weights (`fetch`, `check`, `dsprep-check-quant`, `dsprep-check-index`)",
    Area.TEMPLATE: "chat template (`template`, `render`, `dsprep-check-template`)",
    Area.LAUNCH: "launch (`emit-launch`, `plan`, `dsprep-check-cluster`)",
    Area.K8S: "Kubernetes target (`emit-launch --target k8s`)",
    Area.DEMO: "demo",
    Area.DIAGNOSE: "logs of a failed start (`diagnose`)",
    Area.OPS: "operating a cluster (`up`, `down`, `status`, `logs`)",
    Area.VERIFY: "live deployment (`verify URL`)",
    Area.ERRORS: "errors that stop a command (exit 3, one `Error:` line)",
}


class Kind(msgspec.Struct, frozen=True):
    """One finding code. Calling it makes a :class:`Finding` (default severity and fix).

    ``also`` lists the other severities the code may be reported at, each with when.
    """

    code: str
    area: Area
    severity: Severity
    meaning: str
    fix: str
    also: tuple[tuple[Severity, str], ...] = msgspec.field(default=())

    def __call__(
        self, path: str, message: str, *, hint: str | None = None, severity: Severity | None = None
    ) -> Finding:
        level = self.severity if severity is None else severity
        if level is not self.severity and level not in dict(self.also):
            raise ValueError(f"{self.code} is never reported as {level.value}")
        return Finding(self.code, path, message, self.fix if hint is None else hint, level)

    @property
    def anchor(self) -> str:
        """Where the README documents it (each table row carries this id)."""
        return f"README.md#{self.code}"

    def severities(self) -> str:
        """``error`` or ``error (warning when …)``, as the README shows it."""
        if not self.also:
            return self.severity.value
        others = "; ".join(f"{s.value} {when}" for s, when in self.also)
        return f"{self.severity.value} ({others})"


BY_CODE: dict[str, Kind] = {}


def _kind(
    code: str,
    area: Area,
    severity: Severity,
    meaning: str,
    fix: str,
    *also: tuple[Severity, str],
) -> Kind:
    if code in BY_CODE:
        raise ValueError(f"finding code {code} is in the catalogue twice")
    kind = Kind(code, area, severity, meaning, fix, tuple(also))
    BY_CODE[code] = kind
    return kind


W, T, L, D, E = Area.WEIGHTS, Area.TEMPLATE, Area.LAUNCH, Area.DEMO, Area.ERRORS
G = Area.DIAGNOSE
OP = Area.OPS
V = Area.VERIFY

# --- weights: what the checkpoint is ----------------------------------------------------
FP8_WEIGHTS = _kind(
    "fp8-weights",
    W,
    ERROR,
    "the FP8 original (quant_method fp8, F8_E4M3/F8_E5M2 tensors, FP8 shard names or "
    "*_scale_inv tensors, and no description): Ascend NPUs cannot compute FP8; fetch "
    "stops before the shards",
    "download an Ascend W8A8 conversion instead",
)
UNVERIFIED_QUANTIZATION = _kind(
    "unverified-quantization",
    W,
    ERROR,
    "no quant_model_description.json and no FP8 evidence: nothing confirms Ascend W8A8, "
    "and --quantization ascend stops at start",
    "use an msmodelslim W8A8 export (it ships quant_model_description.json)",
    (WARNING, "with fetch --allow-unverified"),
)
MISNAMED_DESCRIPTION = _kind(
    "misnamed-description",
    W,
    ERROR,
    "a description the release does not find under its name (e.g. "
    "quant_model_description_w8a8_dynamic.json)",
    "rename it to quant_model_description.json (check --fix does, when it is the only one)",
    (WARNING, "beside a correctly named one"),
)
DUPLICATE_DESCRIPTION = _kind(
    "duplicate-description",
    W,
    ERROR,
    'several files the release would take for the description ("Found multiple config files")',
    "keep exactly one, named quant_model_description.json",
)
UNKNOWN_QUANT_TYPE = _kind(
    "unknown-quant-type",
    W,
    ERROR,
    "a description type the release does not register for that layer kind "
    "(NotImplementedError at load)",
    "re-export the weights with msmodelslim for this vllm-ascend release",
    (WARNING, "for keys that are not .weight entries"),
)
MISSING_DESCRIPTION_ENTRY = _kind(
    "missing-description-entry",
    W,
    ERROR,
    "a .weight the release looks up has no entry (KeyError at load)",
    'add the entry ("FLOAT" or its quant type), or re-export with msmodelslim',
)
MTP_NOT_COVERED = _kind(
    "mtp-not-covered",
    W,
    ERROR,
    "the MTP layer's weights have no entries (msmodelslim leaves them out); vllm-ascend "
    "looks them up when it loads the MTP draft",
    'add the MTP layer\'s weights to the description as "FLOAT"',
    (INFO, "when MTP speculative decoding is off (the layer is then never looked up)"),
)
GATE_UP_MISMATCH = _kind(
    "gate-up-mismatch",
    W,
    ERROR,
    "layers the release loads as one (gate/up, expert 0's gate/up/down, and where it fuses "
    "them q_a_proj/kv_a_proj_with_mqa) differ in quant type or FLOAT-ness: a ValueError "
    "when the model is built",
    "give the fused layers one quant type (re-export with msmodelslim)",
    (WARNING, "when only graph modes other than the release's default fuse them"),
)
MUST_BE_FLOAT = _kind(
    "must-be-float",
    W,
    ERROR,
    "a layer the release requires unquantized (kv_b_proj from 0.13) is quantized: an "
    "AssertionError after the whole load",
    'describe it as "FLOAT" and store it unquantized (re-export with msmodelslim)',
)
BAD_QUANT_TENSOR = _kind(
    "bad-quant-tensor",
    W,
    ERROR,
    "a quantized weight is not I8 [out, in], or a companion tensor (scale, offset, bias, "
    "deq_scale) is missing or has the wrong dtype or shape (a scalar [] input_scale only "
    "where the release's loader takes one)",
    "the shard does not match its description: re-export or re-download the weights",
    (WARNING, "for a scalar that only graph modes other than the release's default reject"),
)
LEFTOVER_QUANTIZATION_CONFIG = _kind(
    "leftover-quantization-config",
    W,
    ERROR,
    "a quantization_config left in config.json beside the description: up to 0.11 the "
    "ascend method takes it for the description whatever it says (KeyError at the first "
    "lookup); from 0.12 one with quant_method contradicts --quantization ascend (ValueError "
    "at start) and one without (even {}) still replaces the description",
    "delete quantization_config from config.json (dsprep check --fix does it)",
)
FA_QUANT_TYPE = _kind(
    "fa-quant-type",
    W,
    ERROR,
    "fa_quant_type (msmodelslim --fa_quant) set where the release reads it (the description) "
    "to a type it cannot serve for attention: NotImplementedError when the model is built",
    "re-export without --fa_quant, or with a type the release lists for attention",
    (
        INFO,
        "for a top-level config.json key, which nothing reads, or where the release "
        "applies it to no MLA layer",
    ),
)
TORCH_DTYPE = _kind(
    "torch-dtype",
    W,
    ERROR,
    "torch_dtype/dtype in config.json is not the dtype the W8A8 scales need (the export's "
    "dtype: static W8A8 deq_scale is F32 for bfloat16, I64 for float16)",
    'set "torch_dtype" to the export\'s dtype (dsprep check --fix does it; it never writes '
    "bfloat16 over a float16 export)",
    (WARNING, "when the key is absent"),
)
UNEXPECTED_ARCHITECTURE = _kind(
    "unexpected-architecture",
    W,
    WARNING,
    "architectures in config.json names no model family dsprep knows",
    "check that this is a DeepSeek-V3/V3.1 checkpoint",
)
BAD_CONFIG_VALUE = _kind(
    "bad-config-value",
    W,
    ERROR,
    "a config.json key the model code reads has a wrong type or value (a string, a "
    "negative number)",
    "fix the key in config.json (it must be the model's own config.json)",
)
MISSING_CONFIG = _kind(
    "missing-config", W, ERROR, "no config.json in the folder", "download config.json"
)
INVALID_JSON = _kind(
    "invalid-json",
    W,
    ERROR,
    "config.json, the description or the index is unreadable, empty, not JSON (NaN, 1e400, "
    "nesting too deep) or not an object; fetch stops on it before the shards",
    "download the file again or repair it by hand",
)
# --- weights: the folder, the index and the shards --------------------------------------
STRAY_INDEX = _kind(
    "stray-index",
    W,
    ERROR,
    "model.safetensors.index.json beside the W8A8 index, or one listing the FP8 original's "
    "*_scale_inv tensors: vLLM follows it and loads the wrong shards",
    "delete it (it belongs to the FP8 original)",
)
MULTIPLE_INDEXES = _kind(
    "multiple-indexes",
    W,
    WARNING,
    "a second shard index beside the one that counts",
    "delete the one that does not belong to these shards",
)
INVALID_INDEX = _kind(
    "invalid-index",
    W,
    ERROR,
    "the index has no weight_map of tensor → shard names",
    "download the index again",
)
STRAY_FP8_SHARD = _kind(
    "stray-fp8-shard",
    W,
    ERROR,
    "an FP8 shard outside the W8A8 index; vLLM loads every *.safetensors in the folder",
    "delete it (a leftover of the FP8 original)",
)
STRAY_SHARD = _kind(
    "stray-shard",
    W,
    ERROR,
    "a shard the index does not name; vLLM loads every *.safetensors in the folder",
    "delete it or move it out of the folder",
)
MISSING_SHARD = _kind(
    "missing-shard",
    W,
    ERROR,
    "a shard the index names does not exist (or is a broken symlink)",
    "download the missing shard (dsprep fetch resumes)",
)
TENSOR_NOT_IN_SHARD = _kind(
    "tensor-not-in-shard",
    W,
    ERROR,
    "the index puts a tensor in a shard whose header lacks it",
    "download the shard again (or the index, if it is the wrong one)",
)
TENSOR_NOT_IN_INDEX = _kind(
    "tensor-not-in-index",
    W,
    ERROR,
    "a shard holds a tensor the index does not put there",
    "download the index again; it does not belong to these shards",
)
DUPLICATE_TENSOR = _kind(
    "duplicate-tensor",
    W,
    ERROR,
    "a tensor in two shards (folders without an index)",
    "keep one copy: delete the shard that does not belong",
)
TRUNCATED_SHARD = _kind(
    "truncated-shard",
    W,
    ERROR,
    "size on disk < 8 + header length + largest data offset (an interrupted download)",
    "the download was interrupted: download this shard again",
)
OVERSIZED_SHARD = _kind(
    "oversized-shard",
    W,
    ERROR,
    "bytes after the data region the header declares (safetensors refuses the file)",
    "the file is damaged: download this shard again",
)
BAD_HEADER = _kind(
    "bad-header",
    W,
    ERROR,
    "the header length is absurd, the header is not a JSON object, or an entry has an "
    "unknown dtype, a bad shape or offsets that overlap, leave gaps or do not match the shape",
    "the shard is damaged or not a safetensors file: download it again",
)
LFS_POINTER = _kind(
    "lfs-pointer",
    W,
    ERROR,
    "the shard is a git-lfs pointer file, not the shard",
    "run `git lfs pull` in the folder, or download with dsprep fetch",
    (INFO, "in dsprep-check-index, which then skips the header checks"),
)
LFS_SIZE_TOO_SMALL = _kind(
    "lfs-size-too-small",
    W,
    WARNING,
    "the shards' sizes (git-lfs pointer sizes included) cannot hold the index's total_size",
    "an LFS object was uploaded incomplete: push the full shards again (git lfs push --all)",
)
PATH_ESCAPE = _kind(
    "path-escape",
    W,
    ERROR,
    "a name (index entry, sha256 list, manifest, a hub listing fetch would write) or a "
    "symlink leads outside the folder, or a listed name is not one a folder may hold; it was "
    "not read or written",
    "keep every file of the checkpoint inside the folder (copy the real file in, or fix the name)",
)
HASH_MISMATCH = _kind(
    "hash-mismatch",
    W,
    ERROR,
    "--verify-hashes: size or SHA-256 differs from the manifest or sha256 list",
    "the file is corrupt or incomplete: delete it and download it again",
)
REWRITTEN_BY_DSPREP = _kind(
    "rewritten-by-dsprep",
    W,
    INFO,
    "check --verify-hashes or a re-fetch: the file differs from the manifest or the hub, but "
    "its <name>.dsprep-orig backup (kept by dsprep template or check --fix) is exactly the "
    "download; fetch keeps it",
    "nothing to do: your own rewrite; move the backup back to undo it",
)
MISSING_FILE = _kind(
    "missing-file",
    W,
    ERROR,
    "--verify-hashes: a listed file does not exist",
    "download it again (dsprep fetch resumes)",
)
LOCAL_CHANGE = _kind(
    "local-change",
    W,
    WARNING,
    "fetch: a file in the folder differs from the hub's listing and dsprep did not write it "
    "(a hand edit, or damage); it was kept, not downloaded again",
    "keep it, or run fetch --overwrite-local (your file is kept as <name>.dsprep-local)",
    (INFO, "with --overwrite-local: set aside as <name>.dsprep-local and downloaded again"),
)
FIXED = _kind("fixed", W, INFO, "what check --fix changed, and where the original was kept", "")

# --- chat template ------------------------------------------------------------------------
ASCII_BAR_TOKEN = _kind(
    "ascii-bar-token",
    T,
    ERROR,
    "a look-alike of a special token such as <|tool▁calls▁begin|> (ASCII or other bars, _ "
    "for ▁); the tokenizer splits it into plain tokens and tool calls silently break",
    "replace it with the token the hint names, or: dsprep template DIR --thinking off",
)
UNKNOWN_SPECIAL_TOKEN = _kind(
    "unknown-special-token",
    T,
    ERROR,
    "the template emits a <｜…｜>/<think> literal that is not one added token of the tokenizer",
    "use the tokenizer's own token text (added_tokens in tokenizer.json), or fix the tokenizer",
)
STRIPPED_FORMAT_TOKEN = _kind(
    "stripped-format-token",
    T,
    ERROR,
    "a token the tool-call or thinking format depends on (<｜tool▁calls▁begin｜>, <｜tool▁sep｜>, "
    "</think>, …) is marked special by the tokenizer: vLLM decodes with skip_special_tokens=true "
    "by default, strips it, and its deepseek_v31 / deepseek_v3 parsers never see the tool calls "
    "or the end of the reasoning",
    "clear the special flag as the published DeepSeek-V3.1 tokenizer has it: dsprep template "
    "MODEL_DIR --fix-tokenizer",
)
TOKENIZER_FLAGS_FIXED = _kind(
    "tokenizer-flags-fixed",
    T,
    INFO,
    "what dsprep template --fix-tokenizer changed (or would change)",
    "",
)
TEMPLATE_SYNTAX = _kind(
    "template-syntax",
    T,
    ERROR,
    "the template does not compile (line given)",
    "fix it, or replace it with dsprep's: dsprep template DIR --thinking off",
)
UNKNOWN_TEMPLATE = _kind(
    "unknown-template",
    T,
    ERROR,
    "not a known template and no standard thinking-default line: nothing written",
    "check it with --check, or replace it with dsprep's template (--force)",
)
SELF_TEST_FAILED = _kind(
    "self-test-failed",
    T,
    ERROR,
    "a render case failed: a rendering error, a tool call that does not parse back, a "
    "wrong generation prompt, stray text before bos, a missing expectation (diff shown)",
    "replace the template with dsprep's: dsprep template DIR --thinking on|off",
    (WARNING, "after only switching an unknown template's default"),
)
SELF_TEST_SKIPPED = _kind(
    "self-test-skipped",
    T,
    INFO,
    "the render self-test waits until the lint errors are fixed",
    "fix the lint errors above",
)
REPLACEABLE_TEMPLATE = _kind(
    "replaceable-template",
    T,
    WARNING,
    "the published template, vLLM's example or a modified copy: its known defects are named",
    "replace it with dsprep's template: dsprep template DIR --thinking on|off",
)
NO_TOKENIZER = _kind(
    "no-tokenizer",
    T,
    WARNING,
    "no tokenizer files beside the template: special tokens were not checked",
    "run --check on the model folder that holds the tokenizer files",
)
NO_CHAT_TEMPLATE = _kind(
    "no-chat-template",
    T,
    WARNING,
    "a tokenizer_config.json without chat_template and no chat_template.jinja beside it",
    "add one: dsprep template DIR --thinking off",
)
TEMPLATE_KIND = _kind("template-kind", T, INFO, "what the template is recognised as", "")
THINKING_DEFAULT = _kind(
    "thinking-default", T, INFO, "the template's thinking default when a request sends none", ""
)
TOOL_SUPPORT = _kind(
    "tool-support", T, INFO, "whether the template adds a tools section when tools are passed", ""
)
TEMPLATE_REWRITTEN = _kind("template-rewritten", T, INFO, "what dsprep template replaced", "")

# --- launch -------------------------------------------------------------------------------
CLUSTER_SCHEMA = _kind(
    "cluster-schema",
    L,
    ERROR,
    "a key of the cluster file is missing, unknown or has a bad value (hostile nic/ip/name "
    "values land here)",
    "edit the named key; `dsprep emit-launch --init` writes an example",
)
UNKNOWN_IMAGE_TAG = _kind(
    "unknown-image-tag",
    L,
    ERROR,
    "no bundled profile for the image tag; the message lists the known tags and the nearest",
    "use a tag of a bundled profile",
)
DUPLICATE_NODE_NAME = _kind(
    "duplicate-node-name", L, ERROR, "two nodes share a name", "give every node its own name"
)
DUPLICATE_NODE_IP = _kind(
    "duplicate-node-ip", L, ERROR, "two nodes share an ip", "give every node its own ip"
)
DP_MISMATCH = _kind(
    "dp-mismatch", L, ERROR, "parallel.dp is not nodes × dp_local", "set parallel.dp to the product"
)
NPUS_INSUFFICIENT = _kind(
    "npus-insufficient",
    L,
    ERROR,
    "tp × dp_local needs more NPUs than the node has",
    "lower parallel.tp or parallel.dp_local, or use nodes with more NPUs",
)
NPUS_IDLE = _kind(
    "npus-idle",
    L,
    WARNING,
    "tp × dp_local leaves NPUs of the node idle",
    "raise parallel.dp_local or parallel.tp to use every NPU",
)
NPU_IPS_COUNT = _kind(
    "npu-ips-count",
    L,
    ERROR,
    "npu_ips does not list one ip per NPU",
    "list one NPU ip per NPU, in device order (hccn_tool -i N -ip -g)",
)
NPU_IPS_NOT_SET = _kind(
    "npu-ips-not-set",
    L,
    INFO,
    "no npu_ips: preflight.sh skips the cross-node NPU ping",
    "add nodes[i].npu_ips (from `hccn_tool -i N -ip -g` on each node)",
)
PORT_CONFLICT = _kind(
    "port-conflict",
    L,
    ERROR,
    "ports.api and ports.dp_rpc are the same port",
    "use two different ports, e.g. api 8000 and dp_rpc 13389",
)
PORT_PRIVILEGED = _kind(
    "port-privileged", L, WARNING, "a port below 1024 needs root", "use a port from 1024 to 65535"
)
ENV_OVERRIDE_NODE_KEY = _kind(
    "env-override-node-key",
    L,
    ERROR,
    "env sets HCCL_IF_IP or a *_SOCKET_IFNAME, which env.sh derives per node",
    "remove it from env; set nodes[i].ip and nodes[i].nic instead",
)
EXTRA_ARG_CONFLICT = _kind(
    "extra-arg-conflict",
    L,
    ERROR,
    "extra_args repeats a flag the cluster file sets through its own keys",
    "remove it from extra_args and set the named key instead",
)
BATCHED_TOKENS_BELOW_MODEL_LEN = _kind(
    "batched-tokens-below-model-len",
    L,
    ERROR,
    "the Ascend scheduler without chunked prefill and max_num_batched_tokens < max_model_len "
    "(ValueError at start)",
    "raise limits.max_num_batched_tokens to max_model_len, or scheduler.chunked_prefill: true",
)
ASCEND_SCHEDULER_UNSUPPORTED = _kind(
    "ascend-scheduler-unsupported",
    L,
    WARNING,
    "scheduler.ascend on a release without the Ascend scheduler (dsprep writes nothing for "
    "it; vLLM's scheduler is used)",
    "set scheduler.ascend: false (vLLM's scheduler is used)",
)
TORCHAIR_KEYS_WITHOUT_ENABLED = _kind(
    "torchair-keys-without-enabled",
    L,
    ERROR,
    "torchair keys while torchair is off (RuntimeError at start)",
    "set graph.mode: torchair, or remove those keys",
)
GRAPH_AND_EAGER = _kind(
    "graph-and-eager",
    L,
    ERROR,
    "a graph mode enabled together with --enforce-eager (rejected at start)",
    "drop one of them",
)
GRAPH_BATCH_SIZE_DROPPED = _kind(
    "graph-batch-size-dropped",
    L,
    WARNING,
    "graph sizes the release drops (above its limit, or above the largest size after "
    "rounding), so those graphs are never captured",
    "use sizes within the limit the message names",
)
GRAPH_SIZES_INVALID = _kind(
    "graph-sizes-invalid",
    L,
    ERROR,
    "graph sizes the release rejects at start (e.g. no size left after rounding to multiples "
    "of 1 + speculative tokens); the message quotes what it raises",
    "use the sizes the message names",
)
GRAPH_BATCH_SIZES_IGNORED = _kind(
    "graph-batch-sizes-ignored",
    L,
    WARNING,
    "graph sizes with a mode that captures no graphs",
    "remove graph.batch_sizes or choose a graph mode",
)
GRAPH_BATCH_SIZES_PADDED = _kind(
    "graph-batch-sizes-padded",
    L,
    INFO,
    "the graphs the release captures differ from graph.batch_sizes: it appends its limit, "
    "or with MTP multiplies or rounds each size by 1 + speculative tokens (the message "
    "lists them)",
    "nothing to do; size HBM for these graphs",
)
ADDITIONAL_CONFIG_IGNORED = _kind(
    "additional-config-ignored",
    L,
    WARNING,
    "an --additional-config key the release silently ignores (the setting moved)",
    "remove it; the message says where the setting lives on this release "
    "(`dsprep emit-launch CLUSTER --image TAG --migrate` moves it)",
)
ENV_MOVED = _kind(
    "env-moved",
    L,
    WARNING,
    "an env variable of the cluster file that this release ignores, renamed, or reads "
    "only as a deprecated fallback; the message says where the setting lives now",
    "move it where the message says (`dsprep emit-launch CLUSTER --image TAG --migrate` does)",
)
ADDITIONAL_CONFIG_INVALID = _kind(
    "additional-config-invalid",
    L,
    ERROR,
    "an --additional-config setting the release rejects at start with the rest of the launch "
    "(the message quotes what it raises)",
    "change the setting or the launch as the message says",
)
ADDITIONAL_CONFIG_UNKNOWN_KEY = _kind(
    "additional-config-unknown-key",
    L,
    WARNING,
    "an --additional-config key the release's vllm-ascend does not read",
    "remove it or fix its name",
)
REASONING_PARSER_UNAVAILABLE = _kind(
    "reasoning-parser-unavailable",
    L,
    ERROR,
    "the release's vLLM registers no such reasoning parser (--reasoning-parser rejects it)",
    "pick a parser the profile lists, or leave features.reasoning_parser null",
)
REASONING_PARSER_MISREADS = _kind(
    "reasoning-parser-misreads",
    L,
    WARNING,
    "a reasoning parser that misreads DeepSeek-V3.1 output (e.g. non-thinking answers as "
    "reasoning)",
    "use the parser the profile recommends for the model family",
)
THINKING_MISMATCH = _kind(
    "thinking-mismatch",
    L,
    ERROR,
    "the thinking default does not hold together: the model folder's chat template defaults "
    "otherwise than features.thinking_default, or thinking is on by default where no reasoning "
    "parser separates it (none set, or deepseek_v3 on a vLLM that builds it from the request's "
    "kwargs only, so reasoning arrives as content)",
    "make them agree: dsprep template MODEL_DIR --thinking on|off, or features.thinking_default "
    'false with clients sending chat_template_kwargs {"thinking": true}',
    (WARNING, "when the model folder has no chat template to compare"),
)
TOOLS_WITH_THINKING = _kind(
    "tools-with-thinking",
    L,
    WARNING,
    "tool calling with thinking on by default: the model card documents DeepSeek-V3.1 tool calls "
    "in non-thinking mode",
    "set features.thinking_default: false; clients send thinking: true on requests without tools",
)
TOOL_PARSER_MISSING = _kind(
    "tool-parser-missing",
    L,
    ERROR,
    "--enable-auto-tool-choice without --tool-call-parser is rejected by vLLM",
    "remove it and set features.tools: true",
)
TOOL_PARSER_WRONG = _kind(
    "tool-parser-wrong",
    L,
    ERROR,
    "a tool-call parser that does not parse DeepSeek-V3.1 tool calls",
    "use features.tools: true (it adds the model family's parser)",
)
MTP_METHOD_WRONG = _kind(
    "mtp-method-wrong",
    L,
    ERROR,
    "a speculative method the release does not accept for the DeepSeek MTP layer",
    "use features.mtp: true instead; dsprep writes the release's method name",
    (WARNING, "for a deprecated alias the release still accepts"),
)
HEADLESS_API_SERVER_COUNT = _kind(
    "headless-api-server-count",
    L,
    ERROR,
    "--api-server-count in extra_args reaches every node: above what the release's vLLM "
    "allows on a headless node (up to vLLM 0.13: more than 1; from 0.18: any value above 0), "
    "or below 1, which leaves the head without an API server",
    "remove --api-server-count from extra_args (from vLLM 0.18 the head starts one API "
    "server per DP rank by default)",
)
MODEL_LEN_ABOVE_MAX_POSITION = _kind(
    "model-len-above-max-position",
    L,
    ERROR,
    "max_model_len exceeds the model's max_position_embeddings",
    "lower limits.max_model_len",
)
MEMORY_NO_FIT = _kind(
    "memory-no-fit",
    L,
    ERROR,
    "weights as loaded + the KV cache of one max_model_len sequence + reserve exceed the "
    "memory torch sees × gpu_memory_utilization (vLLM's start-up check raises ValueError)",
    "the limits the message names, or more nodes",
)
MEMORY_CONCURRENCY_LIMITED = _kind(
    "memory-concurrency-limited",
    L,
    WARNING,
    "max_num_seqs sequences of max_model_len do not all fit the KV cache at once: vLLM starts "
    "and admits fewer at a time (the message says how many)",
    "lower limits.max_num_seqs or limits.max_model_len to the values the message names, or "
    "accept fewer sequences at full length",
)
MEMORY_TIGHT = _kind(
    "memory-tight",
    L,
    WARNING,
    "headroom below 5 % of the memory budget",
    "lower limits.max_num_seqs or limits.max_model_len",
)
USER_EDIT_KEPT = _kind(
    "user-edit-kept",
    L,
    INFO,
    "emit-launch: a file in --out differed from what dsprep wrote last (your edit), or was "
    "not dsprep's and stood where an emitted file goes; it is kept as <file>.dsprep-user",
    "carry the change into the cluster file (env, extra_args, …), then delete the copy",
)

# --- demo ---------------------------------------------------------------------------------
DEMO_FP8_NOT_REFUSED = _kind(
    "demo-fp8-not-refused",
    D,
    ERROR,
    "the FP8 sample was not refused before its shards, or the refusal cost 1 MB or more",
    "report this: the FP8 gate of `dsprep fetch` is broken",
)
DEMO_STEP_FAILED = _kind(
    "demo-step-failed",
    D,
    ERROR,
    "a demo step failed; its summary says which and why",
    "re-run with --format json for the step's details",
)

# --- diagnose: failures read from logs (dsprep.diagnose.fingerprints says which lines) ----
# A failure that follows one on another node or rank is reported as a warning (a consequence).
_CONSEQUENCE = (WARNING, "when it follows an earlier failure elsewhere: a consequence")


def _log_kind(code: str, meaning: str, fix: str) -> Kind:
    return _kind(code, G, ERROR, meaning, fix, _CONSEQUENCE)


LOG_DESCRIPTION_NOT_FOUND = _log_kind(
    "log-description-not-found",
    "--quantization ascend found no quant_model_description.json (the release's own wording: "
    '"Cannot find the config file for ascend" up to 0.13, "ModelSlim Quantization Config Not '
    'Found" from 0.18)',
    "name the description quant_model_description.json in the model folder "
    "(dsprep check DIR finds it before the start)",
)
LOG_DESCRIPTION_DUPLICATE = _log_kind(
    "log-description-duplicate",
    'several files end in quant_model_description.json ("Found multiple config files", up to 0.13)',
    "keep exactly one, named quant_model_description.json",
)
LOG_DESCRIPTION_KEY_MISSING = _log_kind(
    "log-description-key-missing",
    "a KeyError naming a .weight: the description has no entry for a layer the release looks up",
    'add the entry ("FLOAT" or its quant type), or re-export with msmodelslim',
)
LOG_FUSED_SHARDS_MIXED = _log_kind(
    "log-fused-shards-mixed",
    "layers the release fuses (gate/up, expert 0, q_a/kv_a) differ in FLOAT-ness or quant type",
    "give the fused layers one quant type (re-export with msmodelslim)",
)
LOG_BATCHED_TOKENS_BELOW_MODEL_LEN = _log_kind(
    "log-batched-tokens-below-model-len",
    "the scheduler refused max_num_batched_tokens < max_model_len without chunked prefill",
    "raise --max-num-batched-tokens to max_model_len, or turn chunked prefill on",
)
LOG_TORCHAIR_KEYS_WITHOUT_ENABLED = _log_kind(
    "log-torchair-keys-without-enabled",
    "a torchair_graph_config key was set while torchair is off (RuntimeError at start)",
    "set torchair_graph_config.enabled: true, or remove the key",
)
LOG_HEADLESS_API_SERVER_COUNT = _log_kind(
    "log-headless-api-server-count",
    "--api-server-count reached a --headless node, which refuses it",
    "remove --api-server-count from the headless nodes' command line",
)
LOG_INVALID_PARSER = _log_kind(
    "log-invalid-parser",
    "a --reasoning-parser or --tool-call-parser the release's vLLM does not register",
    "use a parser the release lists (deepseek_v31 for tools; deepseek_v3 for reasoning from "
    "vLLM 0.12)",
)
LOG_FP8_VS_ASCEND = _log_kind(
    "log-fp8-vs-ascend",
    "config.json's quantization_config names another method (fp8) than --quantization ascend",
    "delete quantization_config from config.json (dsprep check --fix does it)",
)
LOG_KV_B_PROJ_QUANTIZED = _log_kind(
    "log-kv-b-proj-quantized",
    "the AssertionError on kv_b_proj after the whole load: the release needs it unquantized",
    'describe kv_b_proj as "FLOAT" and store it unquantized (re-export with msmodelslim)',
)
LOG_ENGINE_READY_TIMEOUT = _log_kind(
    "log-engine-ready-timeout",
    "an engine and the front-end waited for each other past their timeout (slow load, or the "
    "other side died or is unreachable)",
    "find the failure before it on the other nodes; for a slow load raise "
    "VLLM_ENGINE_READY_TIMEOUT_S",
)
LOG_ENGINE_INIT_FAILED = _log_kind(
    "log-engine-init-failed",
    'vLLM\'s "Engine core initialization failed. See root cause above.": an engine process died',
    "the cause is an earlier line of the same node (dsprep diagnose names it when it knows it)",
)
LOG_SOCKET_TIMEOUT = _log_kind(
    "log-socket-timeout",
    "a collective-communication socket timed out (HCCL EI0006 Get_Socket_Timeout, HCCL link "
    "establishment, torch c10d): a peer never connected, died, or is unreachable (subnet, TLS)",
    "look first at the earliest failure on the other nodes; then hccn_tool -i N -tls -g (same "
    "TLS state on every NPU), hccn_tool -i N -ping -g address PEER, HCCL_CONNECT_TIMEOUT",
)
LOG_NPU_OUT_OF_MEMORY = _log_kind(
    "log-npu-out-of-memory",
    "torch_npu ran out of HBM (NPU out of memory. Tried to allocate …)",
    "run dsprep plan on the cluster file: more nodes, a larger EP group, or lower "
    "max_num_seqs / max_num_batched_tokens",
)
LOG_KV_CACHE_NO_FIT = _log_kind(
    "log-kv-cache-no-fit",
    "after the weights and the profiled peak, the KV cache of one max_model_len sequence does "
    "not fit (or none at all)",
    "lower --max-model-len to the length vLLM estimates, or raise --gpu-memory-utilization",
)
LOG_NPUS_BUSY = _log_kind(
    "log-npus-busy",
    "the NPUs' HBM was already in use when vLLM started (another process holds it)",
    "stop what holds the NPUs (npu-smi info lists the processes), or lower "
    "--gpu-memory-utilization",
)
LOG_UNRECOGNISED_ERROR = _kind(
    "log-unrecognised-error",
    G,
    WARNING,
    "an exception line no fingerprint knows (the first of each node is shown)",
    "read the lines before it; report it so that dsprep learns the fingerprint",
)
LOG_FIRST_FAILURE = _kind(
    "log-first-failure",
    G,
    INFO,
    "the node, rank and time of the earliest failure: the one to fix first",
    "",
)

# --- verify: a live deployment ----------------------------------------------------------
VERIFY_HEALTH = _kind(
    "verify-health",
    V,
    ERROR,
    "GET /health answered, but not 200: the engine is not ready or has died",
    "read serve.sh's output on the head node; wait for the load (bash verify.sh waits)",
)
VERIFY_SERVED_NAME = _kind(
    "verify-served-name",
    V,
    ERROR,
    "/v1/models does not list the served model name clients will send (they get 404)",
    "start vllm serve with --served-model-name as the cluster file's model.served_name "
    "(emit-launch does), or tell clients the name /v1/models lists",
)
VERIFY_COMPLETION = _kind(
    "verify-completion",
    V,
    ERROR,
    "a /v1/completions request came back with no text",
    "read serve.sh's output for the request; check the weights with `dsprep check`",
)
VERIFY_REQUEST_FAILED = _kind(
    "verify-request-failed",
    V,
    ERROR,
    "a request failed: an HTTP error, no answer within the request timeout, or a lost "
    "connection (the message says which)",
    "read serve.sh's output for the request; raise --request-timeout for a slow deployment",
)
VERIFY_NO_REASONING_PARSER = _kind(
    "verify-no-reasoning-parser",
    V,
    ERROR,
    "chat with thinking on: the reasoning came back inside content (with </think>) and no "
    "reasoning field: the server runs no reasoning parser",
    "start vllm serve with --reasoning-parser (features.reasoning_parser in the cluster file; "
    "deepseek_v3 from vLLM 0.12)",
)
VERIFY_REASONING_WHEN_OFF = _kind(
    "verify-reasoning-when-off",
    V,
    ERROR,
    "chat with thinking off came back with a reasoning field: the reasoning parser takes "
    "every answer for reasoning (deepseek_r1 does with DeepSeek-V3.1), clients get no content",
    "use the reasoning parser that follows chat_template_kwargs.thinking (deepseek_v3 from "
    "vLLM 0.12), or none",
)
VERIFY_THINKING_IGNORED = _kind(
    "verify-thinking-ignored",
    V,
    ERROR,
    "the model did not think when the request sent thinking: true, or thought when it sent "
    "false: the chat template ignores chat_template_kwargs.thinking",
    "rewrite the chat template with `dsprep template` (it reads the thinking kwarg)",
)
VERIFY_THINKING_DEFAULT = _kind(
    "verify-thinking-default",
    V,
    ERROR,
    "a chat request without chat_template_kwargs thinks (or does not) against the cluster "
    "file's features.thinking_default",
    "make them agree: set features.thinking_default to what the template does, or the "
    "template's default (or the release's --default-chat-template-kwargs) to the cluster file's",
)
VERIFY_DEFAULT_REASONING_IN_CONTENT = _kind(
    "verify-default-reasoning-in-content",
    V,
    ERROR,
    "a chat request without chat_template_kwargs thinks, but the reasoning came back inside "
    "content: vLLM's deepseek_v3 reasoning parser separates only when the request sends "
    "thinking",
    "start vllm serve with --default-chat-template-kwargs '{\"thinking\": true}' where the "
    "release has it, or have clients send chat_template_kwargs.thinking",
)
VERIFY_SPECIAL_TOOL_TOKENS = _kind(
    "verify-special-tool-tokens",
    V,
    ERROR,
    "a tool call came back as content with no tool_calls; with skip_special_tokens false it "
    "parses: the tokenizer flags the tool-call markers special and vLLM's default decoding "
    "strips them before the tool parser",
    'set "special": false for the tool-call markers in tokenizer.json\'s added_tokens '
    "(`dsprep template` offers it), then restart vllm serve",
)
VERIFY_NO_TOOL_PARSER = _kind(
    "verify-no-tool-parser",
    V,
    ERROR,
    "a request with tools and tool_choice auto was refused: the server runs without "
    "--enable-auto-tool-choice/--tool-call-parser",
    "set features.tools: true in the cluster file (vllm serve --enable-auto-tool-choice "
    "--tool-call-parser deepseek_v31)",
)
VERIFY_WRONG_TOOL_PARSER = _kind(
    "verify-wrong-tool-parser",
    V,
    ERROR,
    "the model emitted DeepSeek-V3.1 tool-call markers but the server returned them as "
    "content: the tool parser does not read this format",
    "start vllm serve with --tool-call-parser deepseek_v31 (emit-launch writes the release's)",
)
VERIFY_NO_TOOL_CALL = _kind(
    "verify-no-tool-call",
    V,
    ERROR,
    "the model answered a request that needs the tool without calling it (no tool-call "
    "markers even with skip_special_tokens false)",
    "check that the chat template renders tools (`dsprep template --check`) and the weights",
)
VERIFY_TOOL_CALL_INVALID = _kind(
    "verify-tool-call-invalid",
    V,
    ERROR,
    "a tool call with the wrong name, or arguments that are not JSON or do not validate "
    "against the tool's schema",
    "check the tool parser (deepseek_v31) and the chat template's tool section",
)
VERIFY_ACCURACY = _kind(
    "verify-accuracy",
    V,
    ERROR,
    "the accuracy smoke scored below the threshold: the model answers garbage (wrong "
    "weights, quantization, template or tokenizer)",
    "check the weights (`dsprep check --verify-hashes`) and the chat template "
    "(`dsprep template --check`); compare the answers in --format json",
)
VERIFY_LATENCY = _kind(
    "verify-latency",
    V,
    ERROR,
    "the latency probe's streamed requests failed or produced no tokens",
    "read serve.sh's output; lower --concurrency or raise --request-timeout",
)
VERIFY_TIMEOUT = _kind(
    "verify-timeout",
    V,
    ERROR,
    "the run's total timeout was spent: the checks after it did not run",
    "raise --timeout, or lower --concurrency",
)

# --- errors that stop a command (DsprepError.code) ---------------------------------------
BAD_INPUT = _kind(
    "bad-input",
    E,
    ERROR,
    "an input file or folder is missing, unreadable or malformed",
    "the message names the file and what is wrong with it",
)
NETWORK = _kind(
    "network",
    E,
    ERROR,
    "the hub could not be reached, refused access or kept failing",
    "check --endpoint and the network; downloads resume",
)
DISK = _kind(
    "disk",
    E,
    ERROR,
    "a write failed (no space, read-only, permissions); the original file is unchanged",
    "free space or fix the permissions, then run again",
)
MISSING_EXTRA = _kind(
    "missing-extra",
    E,
    ERROR,
    "an optional dependency is not installed",
    "pip install 'dsprep[fetch]', 'dsprep[demo]', 'dsprep[render]' or 'dsprep[verify]' "
    "(the message names which)",
)
SHA256_MISMATCH = _kind(
    "sha256-mismatch",
    E,
    ERROR,
    "the hub served a file whose SHA-256 differs from its own listing; it was not written",
    "run again later, or report it to the repo owner",
)
SANDBOX_VIOLATION = _kind(
    "sandbox-violation",
    E,
    ERROR,
    "a template tried attribute walking, {% include %}/{% import %}, a blow-up, or ran out of time",
    "do not use it; replace it with dsprep template … --force",
)
TEMPLATE_RENDER = _kind(
    "template-render",
    E,
    ERROR,
    "the template failed to compile or to render this conversation (line given)",
    "fix the conversation or replace the template",
)
K8S_NODES_DIFFER = _kind(
    "k8s-nodes-differ",
    Area.K8S,
    ERROR,
    "emit-launch --target k8s: the nodes differ in nic or NPU count, which one"
    " LeaderWorkerSet pod template cannot express",
    "give every node the same nic and npus, or use the docker target",
)
K8S_MODEL_VOLUME_MISSING = _kind(
    "k8s-model-volume-missing",
    Area.K8S,
    ERROR,
    "emit-launch --target k8s: neither kubernetes.model_volume nor a container.mounts entry"
    " says where the weights are",
    "set kubernetes.model_volume: {host_path: DIR} or {pvc: CLAIM}",
)


# --- operating a cluster: up, down, status, logs ---------------------------------------------
SSH_UNREACHABLE = _kind(
    "ssh-unreachable",
    OP,
    ERROR,
    "ssh could not reach or log into a node (BatchMode: no password prompt is ever shown)",
    "make `ssh -o BatchMode=yes HOST true` work: your ssh config and agent, or nodes[i].ssh"
    " in the cluster file",
)
NODE_STEP_FAILED = _kind(
    "node-step-failed",
    OP,
    ERROR,
    "a script of the kit failed on a node; the message names the node, the step and the line"
    " that failed, and nothing after that step ran",
    "fix what the line says on that node, then run the command again (every script is safe"
    " to re-run)",
)
TLS_DIFFERS_ACROSS_NODES = _kind(
    "tls-differs-across-nodes",
    OP,
    ERROR,
    "the NPU TLS switch (hccn_tool -i N -tls -g) is not the same on every node: HCCL cannot"
    " connect (EI0006 socket timeout; EI0016 on Ascend HDK 25.2.0 and later)",
    "set it the same on every NPU of every node: hccn_tool -i N -tls -s enable 0",
)
VLLM_EXITED = _kind(
    "vllm-exited",
    OP,
    ERROR,
    "vLLM exited on a node before the head answered /health; the message gives its last log line",
    "read the node's log (dsprep logs CLUSTER --node NODE), fix the cause, then dsprep up again",
)
HEALTH_TIMEOUT = _kind(
    "health-timeout",
    OP,
    ERROR,
    "the head did not answer /health within the wait PLAN.md states",
    "read the logs (dsprep logs CLUSTER); raise the wait with --health-timeout if the load"
    " is still running",
)
VERIFY_FAILED = _kind(
    "verify-failed",
    OP,
    ERROR,
    "verify.sh's requests failed against the running cluster (each FAIL line given)",
    "see verify.sh's FAIL lines: the template, the parsers or the served name",
)
LEFT_RUNNING = _kind(
    "left-running",
    OP,
    ERROR,
    "dsprep up stopped (a failure or Ctrl-C) after starting something: what runs on which"
    " node is listed",
    "stop it with dsprep down CLUSTER, or fix the cause and run dsprep up again",
)
NODE_NOT_UP = _kind(
    "node-not-up",
    OP,
    WARNING,
    "dsprep status: a node's container, vLLM or /health is not up",
    "dsprep logs CLUSTER --node NODE, then dsprep up CLUSTER",
)


USAGE = _kind(
    "usage",
    E,
    ERROR,
    "a command-line usage error (unknown option, bad value, missing argument): exit 2",
    "see the command's --help",
)
CANNOT_RUN = _kind(
    "cannot-run",
    E,
    ERROR,
    "anything else that stopped the command (an interruption, an internal error)",
    "run again; --debug shows the traceback to report",
)


def kind(code: str) -> Kind:
    """The kind of a code (a ``KeyError`` for a code that is not in the catalogue)."""
    return BY_CODE[code]


def kinds(area: Area | None = None) -> Iterator[Kind]:
    """Every kind (of one area), in catalogue order."""
    return (k for k in BY_CODE.values() if area is None or k.area is area)


def markdown_table(area: Area) -> str:
    """The README table of one area; each row carries the code's anchor."""
    rows = ["| code | severity | meaning | fix |", "|---|---|---|---|"]
    for k in kinds(area):
        cells = [f'<a id="{k.code}"></a>`{k.code}`', k.severities(), k.meaning, k.fix or "—"]
        rows.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(rows) + "\n"


README_BEGIN = "<!-- catalogue:{area}:begin (generated: python -m dsprep.catalogue) -->"
README_END = "<!-- catalogue:{area}:end -->"


def readme_with_tables(readme: str) -> str:
    """``readme`` with every generated table between its markers replaced."""
    for area in Area:
        begin = README_BEGIN.format(area=area.value)
        end = README_END.format(area=area.value)
        head, found, rest = readme.partition(begin)
        if not found:
            raise ValueError(f"README has no marker {begin}")
        _, found, tail = rest.partition(end)
        if not found:
            raise ValueError(f"README has no marker {end}")
        readme = f"{head}{begin}\n{markdown_table(area)}{end}{tail}"
    return readme


def main() -> int:  # pragma: no cover - a maintenance entry point, tested through its functions
    """Rewrite README.md's finding tables from the catalogue (run from the repository root)."""
    from pathlib import Path

    from dsprep.atomic import atomic_write_text

    path = Path("README.md")
    atomic_write_text(path, readme_with_tables(path.read_text(encoding="utf-8")), backup=False)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
