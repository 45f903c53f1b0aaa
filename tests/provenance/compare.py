"""Each list a profile states, compared with the one derived from its release's source.

A check takes the profile, the facts of its release (:class:`~tests.provenance.extract.
ReleaseFacts`) and a :class:`Context` (the other bundled profiles and their facts, the flags
dsprep emits) and returns :class:`Difference` s: the profile, the field, what the source has
that the profile lacks (with where the source has it), what the profile has that the source
lacks (with what was read), or a value that differs. :data:`CHECKS` lists them by field.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import itertools
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dsprep.profiles import Profile
from tests.provenance.extract import ReleaseFacts, Tree
from tests.provenance.extract.facts import Listed


@dataclass(frozen=True)
class Difference:
    """One way a profile field disagrees with the source."""

    profile: str
    field: str
    missing: Mapping[str, str] = dataclasses.field(
        default_factory=dict
    )  # in the source: name -> where
    extra: Iterable[str] = ()  # in the profile, not in the source
    read: str = ""  # what was read (where the extra names were looked for)
    note: str = ""  # a value that differs, or why

    def __str__(self) -> str:
        lines = [f"{self.profile}: {self.field}"]
        if self.note:
            lines.append(f"  {self.note}")
        if self.missing:
            lines.append("  missing (the source has it, the profile does not):")
            lines += [f"    {name}  ({where})" for name, where in sorted(self.missing.items())]
        extra = sorted(self.extra)
        if extra:
            lines.append(f"  extra (the profile has it, the source does not): {', '.join(extra)}")
        if (self.missing or extra) and self.read:
            lines.append(f"  read: {self.read}")
        return "\n".join(lines)


@dataclass(frozen=True)
class Context:
    """What a check may need beyond its own profile and release."""

    profiles: tuple[Profile, ...]  # every bundled profile, oldest release first
    facts: Mapping[str, ReleaseFacts]  # by profile name
    family: str  # the model family dsprep emits launches for (its config model_type)
    emitted: tuple[str, ...]  # vllm serve options dsprep's argv writes
    emitted_values: Mapping[str, str]  # option -> constant value argv writes after it

    def earlier(self, profile: Profile) -> list[Profile]:
        names = [p.name for p in self.profiles]
        return list(self.profiles[: names.index(profile.name)]) if profile.name in names else []


Check = Callable[[Profile, ReleaseFacts, Context], list[Difference]]


def compare_names(
    profile: Profile, name: str, stated: Iterable[str], derived: Listed
) -> list[Difference]:
    """A stated list against a derived one, as sets."""
    stated = set(stated)
    missing = {n: derived.names[n] for n in derived.names if n not in stated}
    extra = sorted(stated - derived.set())
    if not missing and not extra:
        return []
    return [Difference(profile.name, name, missing, extra, derived.read)]


def _value(
    profile: Profile, name: str, stated: object, derived: object, where: str
) -> list[Difference]:
    if stated == derived:
        return []
    return [
        Difference(profile.name, name, note=f"profile: {stated!r}; source: {derived!r} ({where})")
    ]


# --- release ---------------------------------------------------------------------------------


def check_release(profile: Profile, facts: ReleaseFacts, context: Context) -> list[Difference]:
    image = facts.image
    found: list[Difference] = []
    for name, stated, derived in (
        ("release.vllm_ascend", profile.release.vllm_ascend, image.vllm_ascend),
        ("release.vllm", profile.release.vllm, image.vllm),
        ("launch.vllm", profile.launch.vllm, image.vllm),
        ("release.cann", profile.release.cann, image.cann),
        ("release.python", profile.release.python, image.python),
    ):
        key = name.rsplit(".", 1)[-1] if name != "launch.vllm" else "vllm"
        found += _value(profile, name, stated, derived, image.at.get(key, str(facts.ascend)))
    return found


# --- launch ----------------------------------------------------------------------------------


def check_reasoning_parsers(p: Profile, facts: ReleaseFacts, c: Context) -> list[Difference]:
    return compare_names(
        p, "launch.reasoning_parsers", p.launch.reasoning_parsers, facts.reasoning_parsers
    )


def check_tool_parsers(p: Profile, facts: ReleaseFacts, c: Context) -> list[Difference]:
    return compare_names(p, "launch.tool_parsers", p.launch.tool_parsers, facts.tool_parsers)


def check_family_parsers(p: Profile, facts: ReleaseFacts, c: Context) -> list[Difference]:
    """Each family's parsers are names the release registers."""
    found: list[Difference] = []
    for family, parsers in p.launch.family_parsers.items():
        where = f"launch.family_parsers.{family}"
        if parsers.tool not in facts.tool_parsers:
            found.append(
                Difference(
                    p.name, f"{where}.tool", extra=[parsers.tool], read=facts.tool_parsers.read
                )
            )
        reasoning = [parsers.reasoning] if parsers.reasoning is not None else []
        for name, names in (
            ("reasoning", reasoning),
            ("reasoning_misreads", parsers.reasoning_misreads),
        ):
            unknown = [n for n in names if n not in facts.reasoning_parsers]
            if unknown:
                found.append(
                    Difference(
                        p.name, f"{where}.{name}", extra=unknown, read=facts.reasoning_parsers.read
                    )
                )
    return found


def check_additional_config_keys(p: Profile, facts: ReleaseFacts, c: Context) -> list[Difference]:
    """Top-level keys exactly; per key, the nested keys exactly (null: the source reads no
    key inside it, or keeps it whole)."""
    keys = p.launch.additional_config.keys
    derived = facts.additional_config
    if keys is None:
        return [
            Difference(
                p.name,
                "launch.additional_config.keys",
                note=(
                    f"null (not profiled) but the source reads {len(derived.top)} top-level keys: "
                    + ", ".join(derived.top)
                ),
            )
        ]
    found = compare_names(p, "launch.additional_config.keys", keys, derived.top)
    for key, nested in keys.items():
        if key not in derived.top:
            continue
        name = f"launch.additional_config.keys.{key}"
        inner = derived.nested.get(key)
        if nested is None and inner is not None:
            found.append(
                Difference(
                    p.name,
                    name,
                    inner.names,
                    read=inner.read,
                    note="null, but the source reads keys inside it",
                )
            )
        elif nested is not None and inner is None:
            why = f"kept whole ({derived.open[key]})" if key in derived.open else "read as a scalar"
            found.append(
                Difference(
                    p.name,
                    name,
                    extra=nested,
                    read=derived.top.read,
                    note=f"the source reads no keys inside it: {why}",
                )
            )
        elif nested is not None and inner is not None:
            found += compare_names(p, name, nested, inner)
    return found


def check_additional_config_strict(p: Profile, facts: ReleaseFacts, c: Context) -> list[Difference]:
    strict = facts.additional_config.strict
    return compare_names(
        p,
        "launch.additional_config.strict",
        p.launch.additional_config.strict,
        Listed(strict, f"{facts.ascend} (loops over a dict that raise on an unknown key)"),
    )


DOTTED_KEY = re.compile(r"^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)*$")


def check_additional_config_ignored(
    p: Profile, facts: ReleaseFacts, c: Context
) -> list[Difference]:
    """``ignored``: every top-level key an earlier bundled release reads and this one does
    not; none that this release reads; a "lives now in" that is a key path is read."""
    ignored = p.launch.additional_config.ignored
    top = facts.additional_config.top
    dropped: dict[str, str] = {}
    for earlier in c.earlier(p):
        for key, where in c.facts[earlier.name].additional_config.top.names.items():
            if key not in top:
                dropped.setdefault(key, f"read by {earlier.name}: {where}")
    found: list[Difference] = []
    missing = {k: w for k, w in dropped.items() if k not in ignored}
    read_here = sorted(k for k in ignored if k in top)
    if missing or read_here:
        reads = ", ".join(f"{k} ({top.names[k]})" for k in read_here)
        found.append(
            Difference(
                p.name,
                "launch.additional_config.ignored",
                missing,
                read_here,
                read=f"{facts.ascend} reads {reads}" if read_here else "",
                note="a key this release reads is not ignored" if read_here else "",
            )
        )
    for key, now in ignored.items():
        if DOTTED_KEY.match(now) and not facts.additional_config.reads(now.split(".")):
            found.append(
                Difference(
                    p.name,
                    f"launch.additional_config.ignored.{key}",
                    extra=[now],
                    read=top.read,
                    note="the key path it names as the setting's new place is not read",
                )
            )
    return found


def _path_problem(path: str, facts: ReleaseFacts) -> str | None:
    """Why a rule/graph-mode path (``additional_config.a.b``, ``args.x``,
    ``compilation_config.x`` / ``speculative_config.x`` / ``kv_transfer_config.x``,
    ``env.VLLM_X``) names nothing the release reads (None: it does, or the path is of
    another kind, which is not judged here)."""
    root, _, rest = path.partition(".")
    parts = rest.split(".") if rest else []
    if root == "additional_config" and not facts.additional_config.reads(parts):
        keys = facts.additional_config.top.read
        return f"additional_config key path {rest!r} is not read ({keys})"
    if root == "args" and "--" + rest.replace("_", "-") not in facts.serve_flags.flags:
        flag = "--" + rest.replace("_", "-")
        return f"{flag} is not a vllm serve option ({facts.serve_flags.read})"
    fields = facts.configs.get(root)
    if fields is not None and parts and parts[0] not in fields:
        return f"{parts[0]!r} is not a field of {root} ({fields.read})"
    if root == "env" and rest.startswith("VLLM_") and facts.env_read(rest) is None:
        return f"environment variable {rest} is read by neither {facts.vllm} nor {facts.ascend}"
    return None


def check_rules(p: Profile, facts: ReleaseFacts, c: Context) -> list[Difference]:
    found = []
    for number, rule in enumerate(p.launch.rules):
        paths = [
            *rule.when,
            *([rule.needs] if rule.needs else []),
            *([rule.unless] if rule.unless else []),
        ]
        if rule.kind == "at_least" and isinstance(rule.value, str):
            paths.append(rule.value)
        for path in paths:
            problem = _path_problem(path, facts)
            if problem:
                found.append(
                    Difference(p.name, f"launch.rules[{number}]", extra=[path], note=problem)
                )
    return found


def flatten(prefix: str, value: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """``{"a": {"b": 1}}`` under ``prefix`` → ``[("prefix.a.b", 1)]`` (leaves only)."""
    out: list[tuple[str, Any]] = []
    for key, inner in value.items():
        path = f"{prefix}.{key}"
        if isinstance(inner, Mapping) and inner:
            out += flatten(path, inner)
        else:
            out.append((path, inner))
    return out


def check_graph_modes(p: Profile, facts: ReleaseFacts, c: Context) -> list[Difference]:
    """A mode's serve args exist, its additional_config key paths are read, its
    compilation_config keys are fields (enum values members), its sizes path exists."""
    found: list[Difference] = []
    for name, mode in p.launch.graph_modes.items():
        where = f"launch.graph_modes.{name}"
        for arg in mode.args:
            if arg.startswith("-") and arg not in facts.serve_flags.flags:
                found.append(
                    Difference(p.name, f"{where}.args", extra=[arg], read=facts.serve_flags.read)
                )
        paths = flatten("additional_config", mode.additional_config)
        paths += flatten("compilation_config", mode.compilation_config)
        for path, value in paths:
            problem = _path_problem(path, facts)
            if problem:
                found.append(Difference(p.name, where, extra=[path], note=problem))
                continue
            field_name = path.split(".")[1] if path.startswith("compilation_config.") else ""
            members = facts.compilation_members.get(field_name)
            if members is not None and isinstance(value, str) and value not in members:
                found.append(
                    Difference(
                        p.name,
                        f"{where}.{path}",
                        extra=[value],
                        read=members.read,
                        note="not a member of the field's enum",
                    )
                )
        if mode.sizes is not None:
            path = ".".join(mode.sizes.at)
            problem = _path_problem(path, facts)
            if problem:
                found.append(Difference(p.name, f"{where}.sizes.at", extra=[path], note=problem))
    return found


def check_scheduler(p: Profile, facts: ReleaseFacts, c: Context) -> list[Difference]:
    """The Ascend scheduler's keys are read; null: no bundled release's scheduler key is."""
    keys = facts.additional_config
    scheduler = p.launch.scheduler
    if scheduler is None:
        others = {
            o.launch.scheduler.config_key for o in c.profiles if o.launch.scheduler is not None
        }
        read = {k: keys.top.names[k] for k in sorted(others) if k in keys.top}
        if read:
            return [
                Difference(
                    p.name,
                    "launch.scheduler",
                    read,
                    note="null, but the source reads the scheduler's key",
                )
            ]
        return []
    found = []
    for path in (
        [scheduler.config_key, "enabled"],
        [scheduler.config_key, scheduler.chunked_prefill_key],
    ):
        if not keys.reads(path):
            found.append(
                Difference(p.name, "launch.scheduler", extra=[".".join(path)], read=keys.top.read)
            )
    return found


def check_mtp(p: Profile, facts: ReleaseFacts, c: Context) -> list[Difference]:
    """``method`` is the one the release ends with; ``aliases`` exactly the other MTP-family
    names it accepts, each with its status."""
    mtp = facts.mtp
    found = _value(p, "launch.mtp.method", p.launch.mtp.method, mtp.method, mtp.method_at)
    stated = p.launch.mtp.aliases
    missing = {
        n: f"{s}; {mtp.alias_at.get(n, '')}" for n, s in mtp.aliases.items() if n not in stated
    }
    extra = [n for n in stated if n not in mtp.aliases]
    if missing or extra:
        found.append(Difference(p.name, "launch.mtp.aliases", missing, extra, mtp.read))
    for name, status in stated.items():
        if name in mtp.aliases and mtp.aliases[name] != status:
            found.append(
                Difference(
                    p.name,
                    f"launch.mtp.aliases.{name}",
                    note=f"profile: {status!r}; source: {mtp.aliases[name]!r} ({mtp.read})",
                )
            )
    return found


def check_emitted_flags(p: Profile, facts: ReleaseFacts, c: Context) -> list[Difference]:
    """Every option dsprep's ``vllm serve`` argv writes is one the release's vLLM has, and
    every value it writes to an option with choices is one of them."""
    flags = facts.serve_flags
    found: list[Difference] = []
    emitted = [
        *c.emitted,
        *(a for m in p.launch.graph_modes.values() for a in m.args if a.startswith("-")),
    ]
    unknown = sorted({f for f in emitted if f not in flags.flags})
    if unknown:
        found.append(
            Difference(p.name, "vllm serve options dsprep emits", extra=unknown, read=flags.read)
        )
    family = p.launch.family_parsers.get(c.family)
    values = dict(c.emitted_values)
    if family is not None:
        values["--tool-call-parser"] = family.tool
        if family.reasoning is not None:
            values["--reasoning-parser"] = family.reasoning
    for flag, value in sorted(values.items()):
        choices = flags.choices.get(flag)
        if choices is not None and value not in choices:
            found.append(
                Difference(
                    p.name,
                    f"vllm serve {flag} (value dsprep emits)",
                    extra=[value],
                    read=f"choices {choices} ({flags.flags.get(flag, flags.read)})",
                )
            )
    return found


def check_headless(p: Profile, facts: ReleaseFacts, c: Context) -> list[Difference]:
    """The options exist; ``max_api_server_count`` is the release's bound on the headless
    path and ``message`` names what it raises; ``head_api_servers`` (where profiled) is
    ``per_dp_rank`` exactly when the head defaults to one API server per DP rank."""
    flags = facts.serve_flags
    missing = [f for f in ("--headless", "--api-server-count") if f not in flags.flags]
    if missing:
        return [
            Difference(
                p.name,
                "launch.headless",
                extra=missing,
                read=flags.read,
                note="options it is about do not exist",
            )
        ]
    rule = facts.headless
    if rule is None:
        return [
            Difference(
                p.name,
                "launch.headless",
                note=f"no --api-server-count bound on the headless path of {facts.vllm}",
            )
        ]
    headless = p.launch.headless
    found = _value(
        p,
        "launch.headless.max_api_server_count",
        headless.max_api_server_count,
        rule.max_api_server_count,
        rule.at,
    )
    if rule.raises and not headless.message.startswith(rule.raises):
        found.append(
            Difference(
                p.name,
                "launch.headless.message",
                note=f"profile: {headless.message!r}; the release raises {rule.raises} ({rule.at})",
            )
        )
    head = getattr(headless, "head_api_servers", None)
    if head is not None:
        derived = "per_dp_rank" if rule.head_per_dp_rank else "one"
        found += _value(
            p, "launch.headless.head_api_servers", head, derived, rule.head_at or str(facts.vllm)
        )
    return found


def check_env(p: Profile, facts: ReleaseFacts, c: Context) -> list[Difference]:
    """Each ``VLLM_*`` variable the profile exports is one vLLM or vllm-ascend reads."""
    unread = [
        e.name
        for e in p.launch.env
        if e.name.startswith("VLLM_") and facts.env_read(e.name) is None
    ]
    if unread:
        return [
            Difference(
                p.name,
                "launch.env",
                extra=unread,
                read=(
                    f"{facts.vllm} vllm/envs.py, {facts.ascend} vllm_ascend/envs.py and the"
                    " literal os.getenv/os.environ reads of both"
                ),
                note="exported but read by neither vLLM nor vllm-ascend",
            )
        ]
    return []


def check_timeouts(p: Profile, facts: ReleaseFacts, c: Context) -> list[Difference]:
    """``engine_ready_env`` is read by the release (and its default is
    ``engine_ready_default_s``); null means the release reads no such variable and its engine
    client polls a literal ``engine_ready_default_s × 1000`` ms."""
    timeouts = p.launch.timeouts
    client = facts.vllm.root / "vllm" / "v1" / "engine" / "core_client.py"
    text = client.read_text(encoding="utf-8") if client.is_file() else ""
    envs = facts.vllm.root / "vllm" / "envs.py"
    if timeouts.engine_ready_env is None:
        literal = f"poll(timeout={timeouts.engine_ready_default_s * 1000:_})"
        read = facts.env_read("VLLM_ENGINE_READY_TIMEOUT_S")
        if literal in text and read is None:
            return []
        return [
            Difference(
                p.name,
                "launch.timeouts.engine_ready_env",
                read=f"{facts.vllm} vllm/v1/engine/core_client.py",
                note=f"null, but {literal} is not there or the variable is read at {read}",
            )
        ]
    name = timeouts.engine_ready_env
    default = f'os.environ.get("{name}", "{timeouts.engine_ready_default_s}")'
    if facts.env_read(name) is not None and default in envs.read_text(encoding="utf-8"):
        return []
    return [
        Difference(
            p.name,
            "launch.timeouts",
            read=f"{facts.vllm} vllm/envs.py",
            note=f"{name} with default {timeouts.engine_ready_default_s} is not read there",
        )
    ]


def _judged(path: str, facts: ReleaseFacts) -> bool:
    """Whether :func:`_path_problem` can tell if the release reads ``path``."""
    root, _, rest = path.partition(".")
    env = root == "env" and rest.startswith("VLLM_")
    return env or root in ("additional_config", "args") or root in facts.configs


def check_moved(p: Profile, facts: ReleaseFacts, c: Context) -> list[Difference]:
    """``launch.moved`` (where profiled): an old place the release no longer reads (or
    still reads, when ``still_read``), and a new place ``to`` that it reads. Places are
    cluster-file key paths; those :func:`_path_problem` can judge are (a bare key is an
    ``additional_config`` top-level key)."""
    found: list[Difference] = []
    for old, moved in (getattr(p.launch, "moved", None) or {}).items():
        place = old if "." in old else f"additional_config.{old}"
        if _judged(place, facts):
            read = _path_problem(place, facts) is None
            if read != bool(getattr(moved, "still_read", False)):
                state = "reads" if read else "does not read"
                found.append(
                    Difference(
                        p.name,
                        f"launch.moved.{old}",
                        note=f"the release {state} {place}, still_read says otherwise",
                    )
                )
        to = getattr(moved, "to", None)
        if to and _judged(to, facts):
            problem = _path_problem(to, facts)
            if problem:
                found.append(Difference(p.name, f"launch.moved.{old}.to", extra=[to], note=problem))
    return found


# --- weights and chat ------------------------------------------------------------------------


def check_quant_types(p: Profile, facts: ReleaseFacts, c: Context) -> list[Difference]:
    found: list[Difference] = []
    for kind, derived in facts.quant_types.items():
        found += compare_names(
            p, f"weights.quant_types.{kind}", p.weights.quant_types.get(kind, []), derived
        )
    registered = set().union(*(d.set() for d in facts.quant_types.values()))
    unknown = sorted(m for m in p.weights.methods if m not in registered)
    if unknown:
        found.append(
            Difference(
                p.name,
                "weights.methods",
                extra=unknown,
                read="the quant types above",
                note="not a registered quant type",
            )
        )
    return found


def check_fused(p: Profile, facts: ReleaseFacts, c: Context) -> list[Difference]:
    derived = facts.fused
    if derived is None:
        return [
            Difference(
                p.name,
                "weights.fused",
                note=f"no packed_modules_model_mapping found in {facts.ascend}",
            )
        ]
    stated = {f.module: f.members for f in p.weights.fused}
    found = compare_names(
        p,
        "weights.fused",
        stated,
        Listed(
            {m: w for m, (_, w) in derived.items()},
            f"{facts.ascend} packed_modules_model_mapping[{c.family!r}]",
        ),
    )
    for module, members in stated.items():
        if module in derived and sorted(members) != sorted(derived[module][0]):
            found.append(
                Difference(
                    p.name,
                    f"weights.fused.{module}.members",
                    note=f"profile: {members}; source: {derived[module][0]} ({derived[module][1]})",
                )
            )
    return found


def check_model_dtypes(p: Profile, facts: ReleaseFacts, c: Context) -> list[Difference]:
    if facts.model_dtypes is None:
        return [
            Difference(
                p.name,
                "weights.model_dtypes",
                note=f"no ascend quantization config found in {facts.ascend}",
            )
        ]
    return compare_names(p, "weights.model_dtypes", p.weights.model_dtypes, facts.model_dtypes)


DEFAULTS_FLAG = "--default-chat-template-kwargs"


def check_template_defaults_flag(p: Profile, facts: ReleaseFacts, c: Context) -> list[Difference]:
    """The flag exists when named; when null, none of the known names exists."""
    flag = p.chat.template_defaults_flag
    flags = facts.serve_flags.flags
    if flag is not None:
        if flag not in flags:
            return [
                Difference(
                    p.name, "chat.template_defaults_flag", extra=[flag], read=facts.serve_flags.read
                )
            ]
        return []
    known = {o.chat.template_defaults_flag for o in c.profiles} - {None} | {DEFAULTS_FLAG}
    present = {f: flags[f] for f in sorted(known) if f and f in flags}
    if present:
        return [
            Difference(
                p.name,
                "chat.template_defaults_flag",
                present,
                note="null, but this vLLM has the option",
            )
        ]
    return []


CITATION = re.compile(
    r"^(?P<dist>[a-z-]+)==(?P<version>\S+) (?P<file>[^ :]+):(?P<lines>[0-9][0-9,\- ]*)"
)


def check_sources(p: Profile, facts: ReleaseFacts, c: Context) -> list[Difference]:
    """Every citation of the profile's own two releases names a file of that sdist and
    lines inside it; a citation of another vLLM or vllm-ascend version is a difference
    (a fact of a release is read from that release); others (msmodelslim) are not checked.
    One difference per fact, listing its citations that do not hold."""
    trees = {(t.dist, t.version): t for t in (facts.ascend, facts.vllm)}
    problems: dict[str, list[str]] = {}
    for section, where, citation in _citations(p):
        match = CITATION.match(citation)
        if match is None:
            continue
        problem = _citation_problem(match, trees, facts)
        if problem:
            problems.setdefault(f"{section}.sources.{where}", []).append(f"{citation}: {problem}")
    return [
        Difference(p.name, name, note="citations that do not hold:\n    " + "\n    ".join(found))
        for name, found in problems.items()
    ]


def _citation_problem(
    match: re.Match[str], trees: Mapping[tuple[str, str], Tree], facts: ReleaseFacts
) -> str | None:
    key = (match["dist"], match["version"])
    if key not in trees:
        if match["dist"] in ("vllm", "vllm-ascend"):
            return f"not the profile's releases ({facts.ascend}, {facts.vllm})"
        return None
    path: Path = trees[key].root / match["file"]
    if not path.is_file():
        return f"no such file in {trees[key]}"
    count = len(path.read_bytes().splitlines())
    beyond = [n for n in map(int, re.findall(r"[0-9]+", match["lines"])) if n < 1 or n > count]
    return f"line {beyond[0]} is beyond the file's {count} lines" if beyond else None


def _citations(p: Profile) -> list[tuple[str, str, str]]:
    found = []
    for section_name, section in p.sections().items():
        for fact, value in section.sources.items():
            for citation in value if isinstance(value, list) else [value]:
                found.append((section_name, fact, citation))
    for number, rule in enumerate(p.launch.rules):
        for citation in rule.source if isinstance(rule.source, list) else [rule.source]:
            found.append(("launch", f"rules[{number}]", citation))
    return found


CHECKS: dict[str, Check] = {
    "release": check_release,
    "launch.reasoning_parsers": check_reasoning_parsers,
    "launch.tool_parsers": check_tool_parsers,
    "launch.family_parsers": check_family_parsers,
    "launch.additional_config.keys": check_additional_config_keys,
    "launch.additional_config.strict": check_additional_config_strict,
    "launch.additional_config.ignored": check_additional_config_ignored,
    "launch.scheduler": check_scheduler,
    "launch.rules": check_rules,
    "launch.graph_modes": check_graph_modes,
    "launch.mtp": check_mtp,
    "launch.headless": check_headless,
    "launch.env": check_env,
    "launch.timeouts": check_timeouts,
    "launch.moved": check_moved,
    "vllm serve options dsprep emits": check_emitted_flags,
    "weights.quant_types": check_quant_types,
    "weights.fused": check_fused,
    "weights.model_dtypes": check_model_dtypes,
    "chat.template_defaults_flag": check_template_defaults_flag,
    "sources": check_sources,
}


# --- what dsprep emits -----------------------------------------------------------------------


def emitted_options() -> tuple[tuple[str, ...], dict[str, str]]:
    """The options ``dsprep.launch.argv.serve_argv`` writes (every ``"--…"`` literal in it)
    and the constant written right after an option in the same list (``--quantization
    ascend``)."""
    from dsprep.launch import argv

    tree = ast.parse(inspect.getsource(argv.serve_argv))
    options: list[str] = []
    values: dict[str, str] = {}
    for node in ast.walk(tree):
        value = node.value if isinstance(node, ast.Constant) else None
        if isinstance(value, str) and re.fullmatch(r"--[a-z][a-z0-9-]*", value):
            options += [] if value in options else [value]
        if isinstance(node, ast.List):
            items = [e.value if isinstance(e, ast.Constant) else None for e in node.elts]
            for first, second in itertools.pairwise(items):
                if isinstance(first, str) and first.startswith("--") and isinstance(second, str):
                    values.update({} if second.startswith("-") else {first: second})
    return tuple(options), values
