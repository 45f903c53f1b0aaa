"""The other direction: every launch problem dsprep reports as an error, fed to the release.

Each :class:`Variant` edits the profile's base cluster file so that dsprep reports one
launch-area error code; the argv dsprep *would* emit for it (its builder runs on the loaded
cluster all the same) goes through the same probe as the matrix. What the release must do
with it depends on what the error is about (``expect``):

- ``rejected``: a setting vLLM or vllm-ascend checks at start-up: the probe must reject it
  (with the rule's own exception where the profile quotes one);
- ``runtime``: only the running engine on the NPUs or the network catches it (``cite``
  names where); the probe must *accept* the argv — proof that no configuration code would
  have caught it, which is why dsprep does;
- ``not-in-argv``: about dsprep's other outputs (node folders, preflight, env.sh); the
  argv carries nothing of it, the probe must accept;
- ``ignored``: dsprep's point is that the release silently ignores the setting: the probe
  must accept the setting as the user meant it;
- ``misserves``: vLLM starts and serves DeepSeek-V3.1 wrongly (a parser for another
  model's format): the probe must accept;
- ``overrides``: vLLM starts, but with another value than the cluster file's key says (a
  flag repeated in ``extra_args``: argparse keeps the last), so the plan dsprep wrote is
  for a launch that does not happen: the probe must accept, and the engine config must
  hold the ``config`` values (the repeated flag's, not the key's).

Rule variants come from the profile's own ``launch.rules`` (one per ``when`` path), so a new
profile's rules are fed to its release without a line here.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dsprep import catalogue as C
from dsprep.catalogue import Area
from dsprep.family import DEFAULT_FAMILY
from dsprep.findings import Severity
from dsprep.launch.cluster import Cluster
from dsprep.launch.release_rules import ARG_KEYS
from dsprep.profiles import Profile, Rule, all_profiles
from tests.conformance.cells import Document, set_graph

REJECTED, RUNTIME, NOT_IN_ARGV, IGNORED, MISSERVES, OVERRIDES = (
    "rejected",
    "runtime",
    "not-in-argv",
    "ignored",
    "misserves",
    "overrides",
)

Edit = Callable[[Document, Profile], bool]  # False: the profile cannot express the variant


@dataclass
class Variant:
    """One way to make dsprep report ``code``."""

    code: str
    name: str
    expect: str
    edit: Edit
    why: str
    cite: str = ""
    raises: str | None = None  # the exception the release raises, as the profile quotes it
    nodes: str = "any"  # which nodes must reject: any, head, headless
    # for a file the schema refuses: the Cluster fields the argv is built with instead
    cluster_fields: Callable[[Cluster], dict[str, Any]] | None = None
    meant: dict[str, Any] = field(default_factory=dict)  # ``ignored``: the config meant
    # ``overrides``: what the engine config holds instead of the cluster key's value
    config: dict[str, Any] = field(default_factory=dict)
    # a variant of the profile's own data (a rule, a key list): it must be expressible
    required: bool = False

    @property
    def id(self) -> str:
        return f"{self.code}-{self.name}"


def _set(document: Document, dotted: str, value: Any) -> None:
    target = document
    *parents, leaf = dotted.split(".")
    for key in parents:
        target = target[int(key)] if isinstance(target, list) else target.setdefault(key, {})
    target[leaf] = value


def edit(*changes: tuple[str, Any]) -> Edit:
    def apply(document: Document, profile: Profile) -> bool:
        for dotted, value in changes:
            _set(document, dotted, value)
        return True

    return apply


def _extra(*args: str) -> Edit:
    def apply(document: Document, profile: Profile) -> bool:
        document["extra_args"] = [*document.get("extra_args", []), *args]
        return True

    return apply


# --- variants that read the profile ---------------------------------------------------------


def _missing_reasoning_parser(document: Document, profile: Profile) -> bool:
    known = set(profile.launch.reasoning_parsers)
    others = sorted({n for p in all_profiles() for n in p.launch.reasoning_parsers} - known)
    document["features"]["reasoning_parser"] = others[0] if others else "no_such_parser"
    return True


def _wrong_tool_parser(document: Document, profile: Profile) -> bool:
    wanted = profile.launch.family_parsers[DEFAULT_FAMILY.name].tool
    other = "hermes" if "hermes" in profile.launch.tool_parsers else None
    other = other or next((n for n in profile.launch.tool_parsers if n != wanted), None)
    if other is None:
        return False
    document["extra_args"] = ["--enable-auto-tool-choice", "--tool-call-parser", other]
    return True


def _wrong_mtp_method(document: Document, profile: Profile) -> bool:
    """A method another profile uses that this one rejects outright (not an alias)."""
    mtp = profile.launch.mtp
    names = {p.launch.mtp.method for p in all_profiles()}
    names |= {a for p in all_profiles() for a in p.launch.mtp.aliases}
    rejected = sorted(n for n in names if n != mtp.method and n not in mtp.aliases)
    if not rejected:
        return False
    spec = {"num_speculative_tokens": 1, "method": rejected[0]}
    document["extra_args"] = ["--speculative-config", json.dumps(spec)]
    return True


def _api_server_count(document: Document, profile: Profile) -> bool:
    limit = profile.launch.headless.max_api_server_count
    document["extra_args"] = ["--api-server-count", str(limit + 1)]
    return True


def _scheduler_on_release_without(document: Document, profile: Profile) -> bool:
    if profile.launch.scheduler is not None:
        return False
    document["scheduler"] = {"ascend": True}
    return True


def _too_long(document: Document, profile: Profile) -> bool:
    longest = DEFAULT_FAMILY.published.max_position_embeddings
    document["limits"].update(max_model_len=longest + 1, max_num_batched_tokens=longest + 1)
    return True


def _graph_sizes_none_left(document: Document, profile: Profile) -> bool:
    """Capture sizes below 1 + k where the release rounds them up to multiples of 1 + k."""
    modes = [
        name
        for name, mode in profile.launch.graph_modes.items()
        if mode.sizes is not None and mode.sizes.speculative == "round_up" and mode.sizes.rejects
    ]
    if not modes:
        return False
    set_graph(document, profile, modes[0])
    document["graph"]["batch_sizes"] = [2]
    document["features"].update(mtp=True, mtp_tokens=3)
    return True


def _graph_rejects(profile: Profile) -> str | None:
    for mode in profile.launch.graph_modes.values():
        if mode.sizes is not None and mode.sizes.rejects:
            return mode.sizes.rejects
    return None


def fixed_variants() -> list[Variant]:
    vllm_0110 = "vllm==0.11.0"
    ascend_rc0 = "vllm-ascend==0.11.0rc0"
    return [
        Variant(
            C.CLUSTER_SCHEMA.code,
            "tp-0",
            REJECTED,
            edit(("parallel.tp", 0)),
            "--tensor-parallel-size 0",
            cluster_fields=lambda c: {"tp": 0},
        ),
        Variant(
            C.CLUSTER_SCHEMA.code,
            "gpu-memory-utilization-1.5",
            REJECTED,
            edit(("limits.gpu_memory_utilization", 1.5)),
            "--gpu-memory-utilization 1.5",
            cluster_fields=lambda c: {"gpu_memory_utilization": 1.5},
        ),
        Variant(
            C.CLUSTER_SCHEMA.code,
            "api-port-70000",
            RUNTIME,
            edit(("ports.api", 70000)),
            "--port 70000: vLLM's parser takes any int; the API socket's bind fails",
            f"{vllm_0110} vllm/entrypoints/openai/api_server.py:1801-1809 (sock.bind(addr))",
            cluster_fields=lambda c: {"api_port": 70000},
        ),
        Variant(
            C.UNKNOWN_IMAGE_TAG.code,
            "tag",
            NOT_IN_ARGV,
            edit(("image.tag", "v0.0.1")),
            "the tag picks the container image: no image, no vLLM to ask",
        ),
        Variant(
            C.DUPLICATE_NODE_NAME.code,
            "name",
            NOT_IN_ARGV,
            lambda d, p: bool(d["nodes"][1].update(name=d["nodes"][0]["name"]) or True),
            "node names are dsprep's output folders (DIR/<node>/); no argv carries them",
        ),
        Variant(
            C.DUPLICATE_NODE_IP.code,
            "ip",
            RUNTIME,
            lambda d, p: bool(d["nodes"][1].update(ip=d["nodes"][0]["ip"]) or True),
            "the argv names only the head's ip; two hosts cannot both hold one (HCCL_IF_IP)",
            "no vLLM or vllm-ascend line: the network and HCCL reject it",
        ),
        Variant(
            C.DP_MISMATCH.code,
            "dp-3-on-2-nodes",
            RUNTIME,
            edit(("parallel.dp", 3)),
            "rank 2 never starts: the head waits for it forever",
            f"{vllm_0110} vllm/v1/engine/utils.py:768-776 (wait_for_engine_startup polls"
            " without a time limit)",
        ),
        Variant(
            C.NPUS_INSUFFICIENT.code,
            "tp8-dl2-on-8",
            RUNTIME,
            edit(("parallel.dp_local", 2), ("parallel.dp", 4)),
            "local ranks 8..15 of a node with 8 NPUs: the worker's device does not exist",
            f"{ascend_rc0} vllm_ascend/worker/worker_v1.py:181-183 (NPUPlatform.set_device"
            ' of "npu:<local_rank>")',
        ),
        Variant(
            C.NPU_IPS_COUNT.code,
            "one-ip",
            NOT_IN_ARGV,
            edit(("nodes.0.npu_ips", ["127.0.1.1"])),
            "NPU ips feed preflight.sh's ping only",
        ),
        Variant(
            C.PORT_CONFLICT.code,
            "api-is-rpc",
            RUNTIME,
            edit(("ports.dp_rpc", 8000)),
            "the API socket and the DP handshake socket both bind the port",
            f"{vllm_0110} vllm/entrypoints/openai/api_server.py:1809 (sock.bind) and"
            " vllm/v1/engine/utils.py:708-709 (zmq bind of the rpc port)",
        ),
        Variant(
            C.ENV_OVERRIDE_NODE_KEY.code,
            "hccl-if-ip",
            NOT_IN_ARGV,
            edit(("env.HCCL_IF_IP", "127.0.0.11")),
            "HCCL_IF_IP is read by HCCL on the NPUs, not by vLLM's configuration",
        ),
        Variant(
            C.EXTRA_ARG_CONFLICT.code,
            "max-num-seqs-twice",
            OVERRIDES,
            _extra("--max-num-seqs", "7"),
            "extra_args repeats --max-num-seqs, which limits.max_num_seqs already sets",
            cite="vLLM's argparse keeps the last --max-num-seqs",
            config={"max_num_seqs": 7},
        ),
        Variant(
            C.ASCEND_SCHEDULER_UNSUPPORTED.code,
            "scheduler",
            IGNORED,
            _scheduler_on_release_without,
            "the release reads no ascend_scheduler_config",
            meant={"ascend_scheduler_config": {"enabled": True}},
        ),
        Variant(
            C.REASONING_PARSER_UNAVAILABLE.code,
            "parser",
            REJECTED,
            _missing_reasoning_parser,
            "a reasoning parser the release's vLLM does not register",
            nodes="head",
        ),
        Variant(
            C.TOOL_PARSER_MISSING.code,
            "auto-tool-choice",
            REJECTED,
            _extra("--enable-auto-tool-choice"),
            "--enable-auto-tool-choice without --tool-call-parser",
        ),
        Variant(
            C.TOOL_PARSER_WRONG.code,
            "other-model",
            MISSERVES,
            _wrong_tool_parser,
            "a registered parser for another model's tool-call format: vLLM starts, the"
            " DeepSeek-V3.1 tool calls come back as plain text",
            f"{vllm_0110} vllm/entrypoints/openai/tool_parsers/hermes_tool_parser.py:26-27",
        ),
        Variant(
            C.THINKING_MISMATCH.code,
            "no-reasoning-parser",
            MISSERVES,
            edit(("features.thinking_default", True), ("features.reasoning_parser", None)),
            "thinking on by default with no reasoning parser: vLLM starts, every answer's"
            " reasoning and </think> come back inside content",
            "vllm==0.23.0 vllm/entrypoints/openai/chat_completion/serving.py:244-249",
        ),
        Variant(
            C.MTP_METHOD_WRONG.code,
            "other-release-method",
            REJECTED,
            _wrong_mtp_method,
            "an MTP method name of another release that this one does not accept",
        ),
        Variant(
            C.HEADLESS_API_SERVER_COUNT.code,
            "above-limit",
            REJECTED,
            _api_server_count,
            "--api-server-count above the headless limit reaches the headless nodes",
            nodes="headless",
        ),
        Variant(
            C.MODEL_LEN_ABOVE_MAX_POSITION.code,
            "max-position-plus-1",
            REJECTED,
            _too_long,
            "--max-model-len above the model's max_position_embeddings",
        ),
        Variant(
            C.GRAPH_SIZES_INVALID.code,
            "none-left",
            RUNTIME,
            _graph_sizes_none_left,
            "capture sizes [2] with 1 + 3 speculative tokens: none is left after rounding up;"
            " the NPU model runner finds it when it sets up the graphs, after the weights load",
            "vllm-ascend==0.23.0.post1 vllm_ascend/worker/model_runner_v1.py:5061"
            " (resolve_cudagraph_mode_and_sizes) → vllm==0.23.0 vllm/config/compilation.py:1441,"
            " 1508-1513",
        ),
        Variant(
            C.MEMORY_NO_FIT.code,
            "half-the-hbm",
            RUNTIME,
            edit(("limits.gpu_memory_utilization", 0.5)),
            "the weights alone exceed half of each NPU's HBM: found when the engine loads the"
            " weights and profiles the memory left for the KV cache",
            f"{vllm_0110} vllm/v1/core/kv_cache_utils.py:678-716 (check_enough_kv_cache_memory)",
        ),
    ]


# --- variants from the profile's rules and key lists ----------------------------------------

# a truthy value of the right type for a key the rules name
EXAMPLE_VALUES: dict[str, Any] = {
    "graph_batch_sizes": [8],
    "mode": "max-autotune",
    "lmhead_tensor_parallel_size": 2,
    "oproj_tensor_parallel_size": 2,
}


def _set_setting(document: Document, profile: Profile, path: str, value: Any) -> bool:
    """Set one of the rules' settings in the cluster file: ``additional_config.*`` and
    ``env.*`` as they are, ``args.*`` through the file's own keys, ``speculative_config``
    through ``features.mtp``/``mtp_tokens``; False when the file cannot say it."""
    root, _, rest = path.partition(".")
    if root == "additional_config":
        _set(document, path, value)
        return True
    if root == "env":
        document.setdefault("env", {})[rest] = str(value)
        return True
    if root == "speculative_config":
        features = document["features"]
        features["mtp"] = value is not None and value is not False
        if rest == "num_speculative_tokens" and isinstance(value, int):
            features["mtp_tokens"] = value
        return rest in ("", "num_speculative_tokens")
    if root == "kv_transfer_config":
        return not value  # the file sets none: only an unset kv_role can be said
    if root == "args" and rest == "enforce_eager":
        eager = [name for name, mode in profile.launch.graph_modes.items() if mode.eager]
        if value and eager:
            set_graph(document, profile, eager[0])
            return True
        return not value
    if root == "args" and rest in ARG_KEYS:
        _set(document, ARG_KEYS[rest], value)
        return True
    return False


def _get_setting(document: Document, path: str) -> Any:
    root, _, rest = path.partition(".")
    dotted = ARG_KEYS.get(rest, "") if root == "args" else path
    value: Any = document
    for key in dotted.split("."):
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _outside(allowed: Any) -> Any:
    """A value not in the list ``allowed`` (for ``one_of``)."""
    numbers = [v for v in allowed if isinstance(v, int) and not isinstance(v, bool)]
    return max(numbers) + 7 if numbers else "dsprep-not-allowed"


def _rule_edit(rule: Rule, when: str) -> Edit:
    def apply(document: Document, profile: Profile) -> bool:
        document.get("graph", {}).pop("batch_sizes", None)  # only the rule's own keys set
        leaf = when.rsplit(".", 1)[-1]
        value = EXAMPLE_VALUES.get(leaf, True)
        if rule.kind == "divides":
            value = document["parallel"]["dp"] + 1  # divides no data_parallel_size > 1
        if rule.kind == "one_of" and rule.needs == when:
            value = _outside(rule.value)
        if not _set_setting(document, profile, when, value):
            return False
        if rule.kind in ("forbidden", "divides") or (rule.kind == "one_of" and rule.needs == when):
            return True
        if rule.kind == "requires":
            return _set_setting(document, profile, rule.needs, False)
        if rule.kind == "excludes":
            leaf = rule.needs.rsplit(".", 1)[-1]
            return _set_setting(document, profile, rule.needs, EXAMPLE_VALUES.get(leaf, True))
        if rule.kind == "one_of":
            allowed = list(rule.value or [])
            if None not in allowed and rule.needs.startswith("kv_transfer_config"):
                return True  # the file sets no kv_transfer_config: its kv_role is None
            return _set_setting(document, profile, rule.needs, _outside(allowed))
        if rule.kind == "equals":
            other = 8 if rule.value != 8 else 4
            current = _get_setting(document, rule.needs)
            return current != rule.value or _set_setting(document, profile, rule.needs, other)
        if rule.kind == "at_least" and isinstance(rule.value, str):
            if rule.unless:
                _set_setting(document, profile, rule.unless, False)
            limits = document["limits"]
            limits["max_num_batched_tokens"] = limits["max_model_len"] // 2
            if when == "additional_config.ascend_scheduler_config.enabled":
                document["scheduler"] = {"ascend": True, "chunked_prefill": False}
            return True
        return False

    return apply


def rule_variants(profile: Profile) -> list[Variant]:
    variants: list[Variant] = []
    for i, rule in enumerate(profile.launch.rules):
        for when in rule.when:
            leaf = when.rsplit(".", 1)[-1]
            variants.append(
                Variant(
                    rule.code,
                    f"rule{i}-{leaf}",
                    REJECTED,
                    _rule_edit(rule, when),
                    f"{when} against the rule on {rule.needs} ({rule.kind})",
                    rule.source,
                    raises=rule.raises,
                    required=True,
                )
            )
    known = profile.launch.additional_config
    for key, moved in known.ignored.items():
        value = EXAMPLE_VALUES.get(key, {"enabled": True} if key.endswith("_config") else 1)
        variants.append(
            Variant(
                C.ADDITIONAL_CONFIG_IGNORED.code,
                key,
                IGNORED,
                edit((f"additional_config.{key}", value)),
                f"the release does not read {key} (moved: {moved})",
            )
        )
    for key in known.strict:
        variants.append(
            Variant(
                C.ADDITIONAL_CONFIG_INVALID.code,
                f"strict-{key}",
                REJECTED,
                edit((f"additional_config.{key}", {"no_such_key_dsprep": 1})),
                f"an unknown key inside {key}, whose unknown keys the release rejects",
            )
        )
    return variants


def variants(profile: Profile) -> list[Variant]:
    fixed = fixed_variants()
    for variant in fixed:
        if variant.code == C.GRAPH_SIZES_INVALID.code:
            variant.raises = _graph_rejects(profile)
    return fixed + rule_variants(profile)


def launch_error_codes() -> set[str]:
    """Every launch-area code dsprep can report as an error."""
    return {
        k.code
        for k in C.kinds(Area.LAUNCH)
        if k.severity is Severity.ERROR or Severity.ERROR in dict(k.also)
    }


def apply_variant(variant: Variant, base: Document, profile: Profile) -> Document | None:
    document = copy.deepcopy(base)
    return document if variant.edit(document, profile) else None


def cluster_for_argv(variant: Variant, cluster: Cluster) -> Cluster:
    """The cluster the variant's argv is built from (schema-refused files: the base cluster
    with the refused values; ``ignored``: with the setting as the user meant it)."""
    if variant.meant:
        merged = {**cluster.additional_config, **variant.meant}
        cluster = dataclasses.replace(cluster, additional_config=merged)
    if variant.cluster_fields is not None:
        cluster = dataclasses.replace(cluster, **variant.cluster_fields(cluster))
    return cluster
