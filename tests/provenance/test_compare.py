"""A deliberately wrong profile list is caught.

Each mutation below breaks one list (or value) of a bundled profile the way a data slip
would; its check must then report a difference that names the profile, the field and the
wrong name, and it must not have reported that before. The mutations run twice: against
facts built from the profile itself (offline: the checks agree with a release that says
exactly what the profile says, and catch every slip), and against the real release source
(the tier's own sources: the slip is caught there too).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import msgspec
import pytest

from dsprep.profiles import EnvEntry, Profile
from tests.provenance.compare import (
    CHECKS,
    Context,
    Difference,
    compare_names,
    emitted_options,
    flatten,
)
from tests.provenance.conftest import facts_or_fail
from tests.provenance.extract import ReleaseFacts, Tree
from tests.provenance.extract.compilation import CONFIGS
from tests.provenance.extract.facts import (
    ConfigKeys,
    HeadlessRule,
    Image,
    Listed,
    MtpMethods,
    ServeFlags,
)
from tests.provenance.releases import Releases

# --- the mutations ---------------------------------------------------------------------------


def _launch(p: Profile, **changes: Any) -> Profile:
    return msgspec.structs.replace(p, launch=msgspec.structs.replace(p.launch, **changes))


def _weights(p: Profile, **changes: Any) -> Profile:
    return msgspec.structs.replace(p, weights=msgspec.structs.replace(p.weights, **changes))


def _config(p: Profile, **changes: Any) -> Profile:
    return _launch(
        p, additional_config=msgspec.structs.replace(p.launch.additional_config, **changes)
    )


def _first_container(p: Profile) -> str | None:
    keys = p.launch.additional_config.keys or {}
    return next((k for k, v in keys.items() if v), None)


@dataclass(frozen=True)
class Mutation:
    """``apply`` breaks ``profile`` (None: this profile has nothing to break that way);
    ``token`` is what the difference must name (a string, or several that one difference
    must all hold)."""

    name: str
    check: str
    apply: Callable[[Profile], Profile | None]
    token: Callable[[Profile], str | tuple[str, ...]]
    on_context: Callable[[Context], Context] | None = None


def _nested_of(p: Profile) -> list[str]:
    """The nested keys of the first container the profile lists keys for."""
    return list((p.launch.additional_config.keys or {}).get(_first_container(p) or "") or [""])


def _drop_nested(p: Profile) -> Profile | None:
    key = _first_container(p)
    if key is None or p.launch.additional_config.keys is None:
        return None
    keys = dict(p.launch.additional_config.keys)
    keys[key] = list(keys[key] or [])[1:]
    return _config(p, keys=keys)


def _rule_typo(p: Profile) -> Profile | None:
    if not p.launch.rules:
        return None
    rules = [
        msgspec.structs.replace(p.launch.rules[0], needs="args.no_such_flag"),
        *p.launch.rules[1:],
    ]
    return _launch(p, rules=rules)


def _rule_field_typo(p: Profile) -> Profile | None:
    if not p.launch.rules:
        return None
    first = p.launch.rules[0]
    typo = msgspec.structs.replace(first, when=[*first.when, "kv_transfer_config.no_such_field"])
    return _launch(p, rules=[typo, *p.launch.rules[1:]])


def _graph_arg(p: Profile) -> Profile:
    name, mode = next(iter(p.launch.graph_modes.items()))
    modes = dict(p.launch.graph_modes)
    modes[name] = msgspec.structs.replace(mode, args=[*mode.args, "--no-such-flag"])
    return _launch(p, graph_modes=modes)


def _family_tool(p: Profile) -> Profile:
    family, parsers = next(iter(p.launch.family_parsers.items()))
    return _launch(
        p, family_parsers={family: msgspec.structs.replace(parsers, tool="no_such_tool")}
    )


def _fused(p: Profile) -> Profile | None:
    if not p.weights.fused:
        return None
    first = msgspec.structs.replace(p.weights.fused[0], members=["no_such_proj"])
    return _weights(p, fused=[first, *p.weights.fused[1:]])


def _bad_line(p: Profile) -> Profile:
    sources = dict(p.release.sources)
    sources["vllm_ascend"] = f"vllm-ascend=={p.release.vllm_ascend} PKG-INFO:999999"
    return msgspec.structs.replace(p, release=msgspec.structs.replace(p.release, sources=sources))


def _emit(ctx: Context) -> Context:
    return replace(ctx, emitted=(*ctx.emitted, "--no-such-option"))


MUTATIONS = [
    Mutation(
        "a reasoning parser the release lacks",
        "launch.reasoning_parsers",
        lambda p: _launch(p, reasoning_parsers=[*p.launch.reasoning_parsers, "no_such_parser"]),
        lambda p: "no_such_parser",
    ),
    Mutation(
        "a registered tool parser left out",
        "launch.tool_parsers",
        lambda p: _launch(p, tool_parsers=sorted(p.launch.tool_parsers)[1:]),
        lambda p: sorted(p.launch.tool_parsers)[0],
    ),
    Mutation(
        "a family tool parser the release lacks",
        "launch.family_parsers",
        _family_tool,
        lambda p: "no_such_tool",
    ),
    Mutation(
        "an additional_config key the release does not read",
        "launch.additional_config.keys",
        lambda p: (
            None
            if p.launch.additional_config.keys is None
            else _config(p, keys={**p.launch.additional_config.keys, "no_such_key": None})
        ),
        lambda p: "no_such_key",
    ),
    Mutation(
        "a nested additional_config key left out",
        "launch.additional_config.keys",
        _drop_nested,
        lambda p: (f"keys.{_first_container(p)}\n", f"    {_nested_of(p)[0]}  ("),
    ),
    Mutation(
        "a strict container that does not raise",
        "launch.additional_config.strict",
        lambda p: _config(p, strict=[*p.launch.additional_config.strict, "no_such_container"]),
        lambda p: "no_such_container",
    ),
    Mutation(
        "an ignored key the release reads",
        "launch.additional_config.ignored",
        lambda p: (
            None
            if not p.launch.additional_config.keys
            else _config(p, ignored={next(iter(p.launch.additional_config.keys)): "elsewhere"})
        ),
        lambda p: next(iter(p.launch.additional_config.keys or {"": None})),
    ),
    Mutation(
        "a scheduler key the release does not read",
        "launch.scheduler",
        lambda p: (
            None
            if p.launch.scheduler is None
            else _launch(
                p,
                scheduler=msgspec.structs.replace(
                    p.launch.scheduler, config_key="no_such_scheduler"
                ),
            )
        ),
        lambda p: "no_such_scheduler",
    ),
    Mutation(
        "a rule on an option vLLM lacks", "launch.rules", _rule_typo, lambda p: "args.no_such_flag"
    ),
    Mutation(
        "a rule on a vLLM config field that does not exist",
        "launch.rules",
        _rule_field_typo,
        lambda p: "kv_transfer_config.no_such_field",
    ),
    Mutation(
        "a graph mode option vLLM lacks",
        "launch.graph_modes",
        _graph_arg,
        lambda p: "--no-such-flag",
    ),
    Mutation(
        "an MTP method the release does not end with",
        "launch.mtp",
        lambda p: _launch(p, mtp=msgspec.structs.replace(p.launch.mtp, method="no_such_method")),
        lambda p: "no_such_method",
    ),
    Mutation(
        "an MTP alias the release rejects",
        "launch.mtp",
        lambda p: _launch(
            p,
            mtp=msgspec.structs.replace(
                p.launch.mtp, aliases={**p.launch.mtp.aliases, "no_such_alias": "accepted"}
            ),
        ),
        lambda p: "no_such_alias",
    ),
    Mutation(
        "a headless bound the release does not have",
        "launch.headless",
        lambda p: _launch(
            p,
            headless=msgspec.structs.replace(
                p.launch.headless, max_api_server_count=p.launch.headless.max_api_server_count + 5
            ),
        ),
        lambda p: f"profile: {p.launch.headless.max_api_server_count + 5}",
    ),
    Mutation(
        "an engine-ready timeout variable the release lacks",
        "launch.timeouts",
        lambda p: _launch(
            p,
            timeouts=msgspec.structs.replace(
                p.launch.timeouts, engine_ready_env="VLLM_NO_SUCH_TIMEOUT_S"
            ),
        ),
        lambda p: "VLLM_NO_SUCH_TIMEOUT_S",
    ),
    Mutation(
        "an exported VLLM_ variable nothing reads",
        "launch.env",
        lambda p: _launch(
            p, env=[*p.launch.env, EnvEntry(name="VLLM_NO_SUCH_VARIABLE", value="1")]
        ),
        lambda p: "VLLM_NO_SUCH_VARIABLE",
    ),
    Mutation(
        "a registered linear quant type left out",
        "weights.quant_types",
        lambda p: _weights(
            p,
            quant_types={
                **p.weights.quant_types,
                "linear": sorted(p.weights.quant_types["linear"])[1:],
            },
        ),
        lambda p: sorted(p.weights.quant_types["linear"])[0],
    ),
    Mutation(
        "fused members the release does not fuse", "weights.fused", _fused, lambda p: "no_such_proj"
    ),
    Mutation(
        "a model dtype the release refuses",
        "weights.model_dtypes",
        lambda p: _weights(p, model_dtypes=[*p.weights.model_dtypes, "float64"]),
        lambda p: "float64",
    ),
    Mutation(
        "a chat-template defaults option vLLM lacks",
        "chat.template_defaults_flag",
        lambda p: msgspec.structs.replace(
            p, chat=msgspec.structs.replace(p.chat, template_defaults_flag="--no-such-flag")
        ),
        lambda p: "--no-such-flag",
    ),
    Mutation(
        "a CANN version the Dockerfile does not build on",
        "release",
        lambda p: msgspec.structs.replace(
            p, release=msgspec.structs.replace(p.release, cann="0.0.0")
        ),
        lambda p: "'0.0.0'",
    ),
    Mutation(
        "a citation beyond the end of its file", "sources", _bad_line, lambda p: "PKG-INFO:999999"
    ),
    Mutation(
        "an option dsprep emits that vLLM lacks",
        "vllm serve options dsprep emits",
        lambda p: p,
        lambda p: "--no-such-option",
        on_context=_emit,
    ),
]


def test_every_check_has_a_mutation() -> None:
    untested = set(CHECKS) - {m.check for m in MUTATIONS} - {"launch.moved"}
    assert untested == set()  # launch.moved: profiled by the new schema only (no field yet)


def _caught(mutation: Mutation, profile: Profile, facts: ReleaseFacts, ctx: Context) -> None:
    broken = mutation.apply(profile)
    if broken is None:
        pytest.fail(f"{profile.name} has nothing to break for {mutation.name!r}", pytrace=False)
    broken_ctx = mutation.on_context(ctx) if mutation.on_context else ctx
    token = mutation.token(profile)
    tokens = (token,) if isinstance(token, str) else token
    before = [str(d) for d in CHECKS[mutation.check](profile, facts, ctx)]
    after = [str(d) for d in CHECKS[mutation.check](broken, facts, broken_ctx)]
    assert not any(all(t in d for t in tokens) for d in before), before
    caught = [d for d in after if all(t in d for t in tokens)]
    assert caught, f"{mutation.name}: not caught; differences after: {after}"
    assert caught[0].startswith(f"{profile.name}: ")


def _target(mutation: Mutation, profiles: tuple[Profile, ...]) -> Profile:
    """The first bundled profile the mutation applies to."""
    for profile in profiles:
        if mutation.apply(profile) is not None:
            return profile
    pytest.fail(f"no bundled profile can be broken for {mutation.name!r}", pytrace=False)


# --- offline: facts that say exactly what the profile says -----------------------------------


def _listed(names: Any, what: str) -> Listed:
    return Listed({n: f"{what}:1" for n in names}, what)


def _paths(profile: Profile) -> list[str]:
    """Every setting path the profile's rules, graph modes and moved settings name."""
    launch = profile.launch
    paths = [
        path
        for rule in launch.rules
        for path in [*rule.when, rule.needs, rule.unless or "", str(rule.value)]
    ]
    for mode in launch.graph_modes.values():
        paths += [p for p, _ in flatten("additional_config", mode.additional_config)]
        paths += [p for p, _ in flatten("compilation_config", mode.compilation_config)]
        paths += [".".join(mode.sizes.at)] if mode.sizes else []
    for old, moved in (getattr(launch, "moved", None) or {}).items():
        paths += [moved.to or ""]
        if getattr(moved, "still_read", False):
            paths.append(old if "." in old else f"additional_config.{old}")
    return [p for p in paths if p]


def facts_from(profile: Profile, root: Path) -> ReleaseFacts:
    """A release that agrees with ``profile`` on every list and reads every setting path the
    profile names (its source trees hold only the files the env and source checks read)."""
    launch, weights = profile.launch, profile.weights
    ascend = Tree(root / "ascend", "vllm-ascend", profile.release.vllm_ascend)
    vllm = Tree(root / "vllm", "vllm", profile.release.vllm_pip)
    paths = _paths(profile)
    envs = [e.name for e in launch.env] + [p[4:] for p in paths if p.startswith("env.")]
    (vllm.root / "vllm").mkdir(parents=True, exist_ok=True)
    table = dict.fromkeys(envs, 0)
    (vllm.root / "vllm" / "envs.py").write_text(f"environment_variables = {table!r}\n")
    engine = vllm.root / "vllm" / "v1" / "engine"
    engine.mkdir(parents=True)
    timeouts = launch.timeouts
    wait_ms = timeouts.engine_ready_default_s * 1000
    (engine / "core_client.py").write_text(f"socket.poll(timeout={wait_ms:_})\n")
    if timeouts.engine_ready_env:
        name, default = timeouts.engine_ready_env, timeouts.engine_ready_default_s
        table[name] = 0
        (vllm.root / "vllm" / "envs.py").write_text(
            f"environment_variables = {table!r}\n"
            f'{name} = int(os.environ.get("{name}", "{default}"))\n'
        )
    ascend.root.mkdir(parents=True, exist_ok=True)
    (ascend.root / "PKG-INFO").write_text("Name: vllm_ascend\n")
    emitted, _ = emitted_options()
    options = {*emitted, "--headless", "--api-server-count", "--enforce-eager"}
    options |= {a for m in launch.graph_modes.values() for a in m.args}
    options |= {"--" + p[5:].replace("_", "-") for p in paths if p.startswith("args.")}
    if profile.chat.template_defaults_flag:
        options.add(profile.chat.template_defaults_flag)
    configs = {
        root: _listed({p.split(".")[1] for p in paths if p.startswith(f"{root}.")}, root)
        for root in CONFIGS
    }
    keys = dict(launch.additional_config.keys or {})
    nested = {k: list(v) for k, v in keys.items() if v}
    opened: dict[str, str] = {}
    if launch.scheduler is not None:
        paths.append(f"additional_config.{launch.scheduler.config_key}.enabled")
    for path in paths:
        parts = path.split(".")
        if parts[0] != "additional_config" or len(parts) < 2:
            continue
        keys.setdefault(parts[1], None)
        if len(parts) > 2 and parts[1] not in nested:
            opened[parts[1]] = "open:1"
    head = getattr(launch.headless, "head_api_servers", "one")
    return ReleaseFacts(
        ascend=ascend,
        vllm=vllm,
        additional_config=ConfigKeys(
            top=_listed(keys, "keys"),
            nested={k: _listed(v, k) for k, v in nested.items()},
            strict=dict.fromkeys(launch.additional_config.strict, "strict:1"),
            open=opened,
        ),
        reasoning_parsers=_listed(launch.reasoning_parsers, "reasoning"),
        tool_parsers=_listed(launch.tool_parsers, "tool"),
        quant_types={
            k: _listed(weights.quant_types.get(k, []), k) for k in ("linear", "moe", "attention")
        },
        fused={f.module: (list(f.members), "fused:1") for f in weights.fused},
        model_dtypes=_listed(weights.model_dtypes, "dtypes"),
        serve_flags=ServeFlags(dict.fromkeys(sorted(options), "flags:1"), {}, "flags"),
        headless=HeadlessRule(
            launch.headless.max_api_server_count,
            launch.headless.message.split(":")[0],
            "serve:1",
            head == "per_dp_rank",
            "serve:2",
        ),
        compilation=configs["compilation_config"],
        compilation_members={},
        configs=configs,
        mtp=MtpMethods(launch.mtp.method, "mtp:1", dict(launch.mtp.aliases), {}, "mtp"),
        image=Image(
            profile.release.vllm_ascend,
            profile.release.vllm,
            profile.release.cann,
            profile.release.python,
            {},
        ),
    )


@pytest.fixture
def oldest(profiles: tuple[Profile, ...]) -> Profile:
    """The oldest bundled profile (the offline tests break its lists)."""
    assert profiles, "no bundled profile"
    return profiles[0]


def _offline_context(profile: Profile, facts: ReleaseFacts) -> Context:
    emitted, values = emitted_options()
    family = next(iter(profile.launch.family_parsers))
    return Context(
        (profile,),
        {profile.name: facts},
        family,
        emitted,
        {k: v for k, v in values.items() if k != "--quantization"},
    )


def test_facts_that_agree_with_the_profile_give_no_difference(
    oldest: Profile, tmp_path: Path
) -> None:
    facts = facts_from(oldest, tmp_path)
    ctx = _offline_context(oldest, facts)
    found = [
        str(d)
        for check, run in CHECKS.items()
        if check != "sources"
        for d in run(oldest, facts, ctx)
    ]
    assert found == []


@pytest.mark.parametrize("mutation", MUTATIONS, ids=lambda m: m.name)
def test_a_wrong_list_is_caught_offline(
    mutation: Mutation, oldest: Profile, tmp_path: Path
) -> None:
    facts = facts_from(oldest, tmp_path)
    profile = _target(mutation, (oldest,))
    _caught(mutation, profile, facts, _offline_context(profile, facts))


def test_a_difference_names_the_profile_field_names_and_source(oldest: Profile) -> None:
    derived = Listed({"a": "vllm==1 x.py:3", "b": "vllm==1 x.py:4"}, "vllm==1 x.py")
    [difference] = compare_names(oldest, "launch.tool_parsers", ["b", "zz"], derived)
    assert str(difference) == (
        f"{oldest.name}: launch.tool_parsers\n"
        "  missing (the source has it, the profile does not):\n"
        "    a  (vllm==1 x.py:3)\n"
        "  extra (the profile has it, the source does not): zz\n"
        "  read: vllm==1 x.py"
    )
    assert compare_names(oldest, "f", ["a", "b"], derived) == []
    assert isinstance(difference, Difference)


# --- against the real release sources --------------------------------------------------------


@pytest.mark.parametrize("mutation", MUTATIONS, ids=lambda m: m.name)
def test_a_wrong_list_is_caught_against_the_release_source(
    mutation: Mutation, profiles: tuple[Profile, ...], releases: Releases, ctx: Context
) -> None:
    profile = _target(mutation, profiles)
    for earlier in (*ctx.earlier(profile), profile):
        facts_or_fail(releases, earlier.name)
    _caught(mutation, profile, releases[profile.name], ctx)


def test_a_moved_setting_is_judged_where_the_schema_has_it(oldest: Profile, tmp_path: Path) -> None:
    """``launch.moved`` (the schema in progress): a new place the release does not read, and
    an old place it still reads though ``still_read`` says no, are caught; others pass."""
    facts = facts_from(oldest, tmp_path)
    read = next(iter(oldest.launch.additional_config.keys or {"": None}))
    moved = {
        "gone_key": SimpleNamespace(to=f"additional_config.{read}", still_read=False),
        read: SimpleNamespace(to=None, still_read=False),
        "other_key": SimpleNamespace(to="additional_config.no_such_key", still_read=False),
        "env.VLLM_GONE": SimpleNamespace(to="graph.mode", still_read=False),
    }
    fake = SimpleNamespace(name=oldest.name, launch=SimpleNamespace(moved=moved))
    found = [str(d) for d in CHECKS["launch.moved"](fake, facts, _offline_context(oldest, facts))]
    assert len(found) == 2, found
    assert found[0].startswith(f"{oldest.name}: launch.moved.{read}\n")
    assert "still_read says otherwise" in found[0]
    assert found[1].startswith(f"{oldest.name}: launch.moved.other_key.to\n")
    assert CHECKS["launch.moved"](oldest, facts, _offline_context(oldest, facts)) == []
