"""Release profiles: what one vllm-ascend image release accepts, as data, with its sources.

One ``profiles/<name>.json`` per release line, loaded through :mod:`dsprep.resources` and
decoded into the typed structs below (decoding is the validation; the committed
``schemas/profile.schema.json`` is generated from these structs and a test keeps the two
equal). Three sections hold everything that depends on the release: ``launch`` (flags,
graph modes, parsers, ``--additional-config`` keys and rules, headless rules, env),
``weights`` (how the description is found, quant types per layer kind, fused layers,
lookups, companion tensors) and ``chat`` (what the server offers for template defaults).
Every field of a section names its source in the section's ``sources``
(``"<package>==<version> <file>:<line>"``).

Code reads fields (black's "features, not versions"): nothing compares a profile name, a
parser name or a graph-mode name.
"""

from __future__ import annotations

import difflib
from functools import cache
from pathlib import Path
from typing import Any, Literal

import msgspec

from dsprep.errors import InputError

SOURCE_PATTERN = (
    r"^(vllm-ascend|vllm|msmodelslim)==[0-9][0-9A-Za-z.+-]* [^ :]+:[0-9]+(-[0-9]+)?"
    r"(, ?[0-9]+(-[0-9]+)?)*( \(.+\))?$"
)
Source = msgspec.Meta(pattern=SOURCE_PATTERN)
SourceText = Any  # str or list[str] matching SOURCE_PATTERN (checked by _check_sources)


class _Data(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Base of every profile struct: immutable, no unknown keys."""


class _Section(_Data, frozen=True, kw_only=True):
    """A profile section: its facts plus ``sources``, one entry per fact."""

    sources: dict[str, SourceText]


# --- launch ---------------------------------------------------------------------------------


class GraphSizes(_Data, frozen=True, kw_only=True):
    """Where a graph mode's sizes go and what the release does with them, in this order.

    ``unit``: ``batch`` (sequences per decode step) or ``tokens`` (tokens per forward pass).
    ``limit``: sizes above this launch setting are dropped (None: none is dropped).
    ``append_limit``: the limit is appended when the largest size kept is below it.
    ``none_left``: what is captured when every size was dropped: ``one_and_limit`` [1,
    limit], ``nothing`` no graph. ``speculative``: with MTP (k speculative tokens)
    ``multiply`` captures each size × (1 + k); ``round_up`` rounds each size up to a
    multiple of 1 + k, drops rounded sizes above the largest kept one, and captures [1 + k]
    when none is left (a ValueError when 1 + k is above it too); ``none`` leaves them.
    """

    at: list[str]
    unit: Literal["batch", "tokens"]
    limit: Literal["max_num_seqs", "max_num_batched_tokens"] | None = None
    append_limit: bool = False
    none_left: Literal["one_and_limit", "nothing"] = "nothing"
    speculative: Literal["none", "multiply", "round_up"] = "none"
    rejects: str = ""  # what the release raises when round_up leaves no size


class GraphMode(_Data, frozen=True, kw_only=True):
    """How a graph mode is switched on (argv, --additional-config, --compilation-config),
    what its sizes mean, and one sentence for PLAN.md."""

    args: list[str] = []
    additional_config: dict[str, Any] = {}
    compilation_config: dict[str, Any] = {}
    sizes: GraphSizes | None = None
    eager: bool = False  # this mode is --enforce-eager (no graphs)
    summary: str = ""


class Rule(_Data, frozen=True, kw_only=True):
    """A start-up check of the release, on the launch's settings (dotted paths such as
    ``additional_config.torchair_graph_config.enabled``, ``args.enforce_eager`` or
    ``env.DYNAMIC_EPLB``).

    A path of ``when`` is *set* when it is truthy (``when_set: truthy``) or present and not
    null (``present``). ``requires``: any ``when`` set needs ``needs`` truthy.
    ``excludes``: ``when`` set and ``needs`` truthy fail. ``equals``: ``when`` set needs
    ``needs`` == ``value``. ``one_of``: ``when`` set needs ``needs`` in the list ``value``.
    ``at_least``: with ``when`` set and ``unless`` falsy, ``needs`` >= the path ``value``.
    ``divides``: every ``when`` set to a number n > 0 needs ``needs`` % n == 0.
    ``forbidden``: any ``when`` set fails. ``code`` is the catalogue code reported,
    ``raises`` what the release raises.
    """

    kind: Literal["requires", "excludes", "equals", "one_of", "at_least", "divides", "forbidden"]
    when: list[str]
    when_set: Literal["truthy", "present"] = "truthy"
    needs: str = ""
    value: Any = None
    unless: str | None = None
    code: str
    raises: str
    source: SourceText


class AdditionalConfig(_Data, frozen=True, kw_only=True):
    """``keys``: every top-level key read (→ the nested keys read inside it, or null: a
    scalar, or a dict read whole); null when the release's key list is not profiled.
    ``ignored``: keys an earlier release read and this one ignores → where the setting
    lives now. ``strict``: containers whose unknown keys raise at start."""

    keys: dict[str, list[str] | None] | None
    ignored: dict[str, str] = {}
    strict: list[str] = []


class Scheduler(_Data, frozen=True, kw_only=True):
    """The Ascend scheduler (``additional_config.<config_key>.enabled``), where it exists."""

    config_key: str
    chunked_prefill_key: str


class Mtp(_Data, frozen=True, kw_only=True):
    """``method`` is what dsprep writes; ``aliases`` the other names the release accepts
    (``accepted`` silently or ``deprecated`` with a warning). Any other name fails."""

    method: str
    aliases: dict[str, Literal["accepted", "deprecated"]] = {}


class Headless(_Data, frozen=True, kw_only=True):
    """``--api-server-count`` on a ``--headless`` node: the largest value vLLM accepts,
    what it raises above it, and how many API servers the head starts by default
    (``one``, or ``per_dp_rank``: ``--data-parallel-size`` of them)."""

    max_api_server_count: int
    message: str
    head_api_servers: Literal["one", "per_dp_rank"] = "one"


class EnvEntry(_Data, frozen=True, kw_only=True):
    """One export of env.sh; ``value`` may hold ``{ip}`` / ``{nic}``; ``added`` says why a
    profile adds it beyond the seed manual."""

    name: str
    value: str
    added: str = ""


class FamilyParsers(_Data, frozen=True, kw_only=True):
    """The vLLM parsers for one model family on this release."""

    tool: str
    reasoning: str | None  # the one to use (null: none fits on this release)
    reasoning_misreads: list[str] = []
    reasoning_advice: str


class Moved(_Data, frozen=True, kw_only=True):
    """A setting an earlier release read at another place. ``to``: the cluster-file key path
    that holds it on this release (``additional_config.finegrained_tp_config.x``,
    ``env.NAME``, ``graph.mode``, ``scheduler.ascend``) or null when it is gone; ``convert``:
    how the value carries over (``bool``: "1"/"true" → true); ``still_read``: the release
    still honours the old place (deprecated)."""

    to: str | None
    note: str
    convert: Literal["same", "bool", "int"] = "same"
    still_read: bool = False


class Default(_Data, frozen=True, kw_only=True):
    """A default of the release that a launch does not set (shown when it changes)."""

    value: str
    note: str = ""


class Layout(_Data, frozen=True, kw_only=True):
    """The parallel layout the release's own DeepSeek-V3.1 multi-node guide runs."""

    nodes: int
    npus_per_node: int
    tp: int
    dp_local: int
    hardware: str


class Example(_Data, frozen=True, kw_only=True):
    """The release guide's multi-node example as cluster-file keys over dsprep's
    ``--init`` example (empty: the seed manual's example is this release's), and where
    dsprep departs from the guide and why."""

    document: dict[str, Any] = {}
    departs: list[str] = []


class Timeouts(_Data, frozen=True, kw_only=True):
    """How long the release waits at start-up. ``engine_ready_env``: the variable that sets
    how long the API server waits for every engine's first message (null: the wait is fixed
    in the code); ``engine_ready_default_s``: that wait without the variable;
    ``hccl_connect_s``: the ``HCCL_CONNECT_TIMEOUT`` the release's multi-node DeepSeek-V3.1
    guide exports (null: it exports none, HCCL's own default applies)."""

    engine_ready_env: str | None
    engine_ready_default_s: int
    hccl_connect_s: int | None = None


class Launch(_Section, frozen=True, kw_only=True):
    vllm: str
    graph_modes: dict[str, GraphMode]
    default_graph_mode: str
    scheduler: Scheduler | None
    mtp: Mtp
    reasoning_parsers: list[str]
    tool_parsers: list[str]
    family_parsers: dict[str, FamilyParsers]
    additional_config: AdditionalConfig
    rules: list[Rule]
    headless: Headless
    env: list[EnvEntry]
    moved: dict[str, Moved]
    defaults: dict[str, Default]
    layout: Layout
    example: Example
    timeouts: Timeouts


# --- weights --------------------------------------------------------------------------------


class DescriptionLookup(_Data, frozen=True, kw_only=True):
    """How the release finds the description: every ``*.json`` whose name ends in ``file``
    (``suffix``) or exactly ``file`` (``exact``); several matches are an ``error`` or
    ``harmless``; the messages it stops with."""

    file: str
    match: Literal["suffix", "exact"]
    several: Literal["error", "harmless"]
    not_found: str
    several_found: str


class Fused(_Data, frozen=True, kw_only=True):
    """Layers the release loads as one: ``members`` (leaf module names, or an expert path
    such as ``experts.0.gate_proj``) must share one quant type (``message``, with
    ``{prefix}``) and FLOAT-ness (``float_message``: what it raises when some members are
    FLOAT and others not). ``except_graph_modes``: graph modes in which the release builds
    the members as separate layers (0.11.0's torchair model keeps q_a_proj and
    kv_a_proj_with_mqa apart)."""

    module: str
    members: list[str]
    message: str
    float_message: str = ""
    except_graph_modes: list[str] = []


class Companion(_Data, frozen=True, kw_only=True):
    """One tensor a quant method creates beside ``<prefix>.weight``: its suffix, the dtypes
    a checkpoint may store it in (per model dtype, ``*`` for any) and its shape rule:
    ``out1`` [out, 1], ``one`` [1] (or [] where ``scalar_ok``), ``out`` [out]."""

    suffix: str
    dtypes: dict[str, list[str]]
    shape: Literal["out1", "one", "out"]
    scalar_ok: bool = False
    # [] also on a member of a fused layer (``weights.fused``); otherwise that layer's
    # loader asserts the shape [1] (vLLM's MergedColumnParallelLinear.weight_loader)
    scalar_fused_ok: bool = False


class QuantMethod(_Data, frozen=True, kw_only=True):
    weight_dtype: str
    companions: list[Companion]


class LeftoverConfig(_Data, frozen=True, kw_only=True):
    """What a ``quantization_config`` left in config.json beside the description does:
    with ``quant_method`` (e.g. fp8) and without one."""

    with_method: str
    without_method: str


class FaQuant(_Data, frozen=True, kw_only=True):
    """``fa_quant_type`` in the description (msmodelslim ``--fa_quant``; a top-level
    config.json key is read by nothing). ``applies``: which of the model's MLA layers get
    an attention quant method of that type: ``none`` (the key has no effect on them),
    ``every`` one, or ``marked`` ones (whose layer index is in a description key that
    contains ``marker``). A type the release does not register for attention
    (``quant_types.attention``) then fails with ``raises``."""

    applies: Literal["none", "every", "marked"]
    marker: str = ""
    raises: str = ""


class Weights(_Section, frozen=True, kw_only=True):
    description: DescriptionLookup
    quant_types: dict[Literal["linear", "moe", "attention"], list[str]]
    fused: list[Fused]
    never_looked_up: list[str]  # family roles the release never looks up
    optional: list[str]  # family roles whose entries may be absent
    # family role -> the description key the release reads when the role's own entry is
    # absent (that key must then be there and FLOAT)
    fallback: dict[str, str]
    must_be_float: list[str]  # family roles that must be FLOAT
    methods: dict[str, QuantMethod]  # quant type -> the tensors of a linear / expert
    model_dtypes: list[str]
    leftover_quantization_config: LeftoverConfig
    fa_quant_type: FaQuant


# --- chat -----------------------------------------------------------------------------------


class Chat(_Section, frozen=True, kw_only=True):
    """``template_defaults_flag``: the serve flag that sets chat-template kwargs for every
    request (null: this vLLM has none; clients send ``chat_template_kwargs``)."""

    request_kwargs: str
    template_defaults_flag: str | None
    # What the release's vLLM makes of an OpenAI chat request before its template sees it
    # (dsprep.template.served): the decoding default, which request keys carry an earlier
    # answer's reasoning, what becomes of ``tool_calls: []`` and of ``arguments: "null"``,
    # how text content parts are joined, and the fields each tool is dumped with.
    skip_special_tokens_default: bool
    reasoning_request_keys: list[str]
    empty_tool_calls: Literal["keep", "drop"]
    null_arguments: Literal["null", "object"]
    content_parts_joined_with: str
    tool_fields: list[str]
    # the chat-template kwargs vLLM builds the reasoning parser with: none, the request's, or
    # the request's over the server defaults (--default-chat-template-kwargs). deepseek_v3
    # separates reasoning only when those kwargs say thinking.
    reasoning_parser_kwargs: Literal["none", "request", "request+defaults"]
    response_reasoning_field: str  # the ChatMessage field a separated reasoning is returned in
    # vLLM's "auto" content format hands a template the content parts as a list when it loops
    # over message['content']; from 0.23 also when it loops over any variable named content
    parts_for_any_content_loop: bool


class SharedExpertsWhole(_Data, frozen=True, kw_only=True):
    """When the release holds every shared expert whole on each TP rank instead of split
    over TP (FlashComm1 / shared-expert data parallelism): any of these env variables set
    to a non-zero integer, or any of these additional-config keys true."""

    env: list[str]
    additional_config: list[str]


class Memory(_Section, frozen=True, kw_only=True):
    """What the release's load keeps on each NPU beside the checkpoint's tensors as they
    are sharded, so inside "Loading model weights took …" (torch's allocated bytes around
    get_model + the drafter's load_model):

    * ``kv_b_copies``: MLA keeps bf16 ``W_UK_T`` / ``W_UV`` copies of each layer's
      kv_b_proj shard (kv_b_proj itself stays);
    * ``rope_tables``: how many (positions × rope dim) tables the YaRN rotary embedding
      registers on the device (one instance for every layer);
    * ``drafter_shares``: MTP roles the drafter takes from the target and frees its own
      copy of; ``drafter_shares_if_equal``: the same, only when the two tensors are equal
      (a data comparison dsprep does not make: the plan counts them kept);
    * ``shared_experts_whole``: see :class:`SharedExpertsWhole`.
    """

    kv_b_copies: bool
    rope_tables: int
    drafter_shares: list[str]
    drafter_shares_if_equal: list[str]
    shared_experts_whole: SharedExpertsWhole


class Release(_Section, frozen=True, kw_only=True):
    vllm_ascend: str  # the pip version whose source the facts were read from
    vllm: str  # the vLLM the image carries
    vllm_pip: str  # the pip vLLM whose source stands for it
    cann: str
    python: str


class Profile(_Data, frozen=True, kw_only=True):
    name: str
    tags: list[str]
    variants: list[str]
    release: Release
    launch: Launch
    weights: Weights
    chat: Chat
    memory: Memory

    def matches(self, tag: str) -> bool:
        """The tag itself or one of its variants (``v0.11.0rc0-a3-openeuler``)."""
        return any(tag == base or tag in (base + v for v in self.variants) for base in self.tags)

    def sections(self) -> dict[str, _Section]:
        return {
            "release": self.release,
            "launch": self.launch,
            "weights": self.weights,
            "chat": self.chat,
            "memory": self.memory,
        }


def _source_problem(value: Any, pattern: Any) -> list[Any] | None:
    values = value if isinstance(value, list) else [value]
    bad = [v for v in values if not isinstance(v, str) or not pattern.match(v)]
    return bad if bad or not values else None


@cache
def _source_pattern() -> Any:
    import re

    return re.compile(SOURCE_PATTERN)


def _check_sources(profile: Profile, origin: str) -> None:
    """Every fact of every section has a source, and nothing else is in ``sources``; every
    rule names its source and a catalogue code."""
    from dsprep.catalogue import BY_CODE

    pattern = _source_pattern()
    for number, rule in enumerate(profile.launch.rules):
        if rule.code not in BY_CODE or _source_problem(rule.source, pattern) is not None:
            raise InputError(
                f"profile {origin}: launch.rules[{number}] has an unknown code {rule.code!r} or "
                f"a bad source {rule.source!r}",
                hint="rules name a dsprep.catalogue code and '<package>==<version> <file>:<line>'",
            )
    for name, section in profile.sections().items():
        facts = set(section.__struct_fields__) - {"sources"}
        listed = set(section.sources)
        if facts != listed:
            missing = ", ".join(sorted(facts - listed)) or "-"
            extra = ", ".join(sorted(listed - facts)) or "-"
            raise InputError(
                f"profile {origin}: {name}.sources does not match its facts (missing: {missing};"
                f" unknown: {extra})",
                hint="give every fact its source (release, file, line)",
            )
        for fact, value in section.sources.items():
            bad = _source_problem(value, pattern)
            if bad is not None:
                raise InputError(
                    f"profile {origin}: {name}.sources.{fact} is not '<package>==<version>"
                    f" <file>:<line>': {bad or value!r}",
                    hint="write sources as e.g. 'vllm-ascend==0.11.0rc0 Dockerfile:18'",
                )


def decode_profile(raw: bytes, origin: str) -> Profile:
    """A profile from its JSON; :class:`InputError` naming ``origin`` and the bad key."""
    try:
        profile = msgspec.json.decode(raw, type=Profile)
    except msgspec.ValidationError as exc:
        raise InputError(f"profile {origin} is invalid: {exc}", hint="reinstall dsprep") from exc
    except msgspec.DecodeError as exc:
        raise InputError(f"profile {origin} is not JSON: {exc}", hint="reinstall dsprep") from exc
    _check_sources(profile, origin)
    return profile


@cache
def _load(path: Path) -> Profile:
    return decode_profile(path.read_bytes(), path.name)


def _by_release() -> list[Path]:
    """The bundled profile files, oldest release first (a file is named after its profile:
    ``profiles/<name>.json``, which a test keeps true)."""
    from packaging.version import Version

    from dsprep.resources import profile_files

    return sorted(profile_files(), key=lambda path: Version(path.stem))


@cache
def all_profiles() -> tuple[Profile, ...]:
    """Every bundled profile, oldest release first."""
    return tuple(map(_load, _by_release()))


def newest_profile() -> Profile:
    """The newest bundled profile (only its file is read)."""
    return _load(_by_release()[-1])


def known_tags() -> list[str]:
    return [tag for profile in all_profiles() for tag in profile.tags]


def find_profile(tag: str) -> Profile | None:
    """The profile for an image tag (or one of its variants), or None. The file named
    after the tag's release is read first; the others only when it is not that one."""
    files = _by_release()
    likely = [f for f in files if tag == f.stem or tag.startswith(f.stem + "-")]
    for profile in map(_load, likely):
        if profile.matches(tag):
            return profile
    return next((p for p in all_profiles() if p.matches(tag)), None)


def nearest_tags(tag: str) -> list[str]:
    """Known tags that look like ``tag`` (for the message that refuses it)."""
    return difflib.get_close_matches(tag, known_tags(), n=2, cutoff=0.5)


def unknown_tag_message(tag: str) -> str:
    near = nearest_tags(tag)
    nearest = f"; nearest: {', '.join(near)}" if near else ""
    return (
        f"no profile for vllm-ascend image tag {tag!r}; known: {', '.join(known_tags())}{nearest}"
    )


def profile_for(tag: str | None) -> Profile:
    """``--image TAG`` (None: the newest bundled profile); :class:`InputError` when unknown."""
    if tag is None:
        return newest_profile()
    profile = find_profile(tag)
    if profile is None:
        raise InputError(
            unknown_tag_message(tag),
            hint="pass --image with a known tag (or a variant such as -a3, -openeuler)",
        )
    return profile


def profile_schema() -> dict[str, Any]:
    """The JSON Schema of a profile, generated from the structs (``schemas/profile.schema.json``).

    ``sources`` of each section is tightened: exactly the section's facts, each a source
    string or a list of them.
    """
    schema = msgspec.json.schema(Profile)
    source = {"type": "string", "pattern": SOURCE_PATTERN}
    sources_of = {"anyOf": [source, {"type": "array", "items": source, "minItems": 1}]}
    for name, definition in schema["$defs"].items():
        properties = definition.get("properties", {})
        if "sources" in properties:
            facts = sorted(set(properties) - {"sources"})
            properties["sources"] = {
                "type": "object",
                "properties": {fact: sources_of for fact in facts},
                "required": facts,
                "additionalProperties": False,
            }
        if name == "Rule":
            properties["source"] = sources_of
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "dsprep release profile (one vllm-ascend image release)"
    return schema


def schema_text() -> str:
    """``schemas/profile.schema.json`` as committed (a test keeps the file equal to it)."""
    import json

    return json.dumps(profile_schema(), indent=2, sort_keys=True) + "\n"


def main() -> int:  # pragma: no cover - a maintenance entry point, tested through schema_text
    """Rewrite ``schemas/profile.schema.json`` from the structs."""
    from dsprep.atomic import atomic_write_text
    from dsprep.resources import schema_path

    atomic_write_text(schema_path("profile.schema.json"), schema_text(), backup=False)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
