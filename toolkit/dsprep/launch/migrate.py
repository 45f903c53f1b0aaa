"""``emit-launch CLUSTER --image TAG [--migrate]``: a cluster file written for one release,
carried to another.

:func:`migrate_document` changes only what the new release needs, each change with its
reason, all read from the two profiles: the graph mode (a mode the new release lacks
becomes its default, or its eager mode) and the graph sizes (the graphs the old release
captured, in the new mode's unit), the Ascend scheduler, a reasoning parser the new vLLM
lacks, a ``--speculative-config`` method it no longer takes, ``--api-server-count`` where
headless nodes refuse it, and every setting the new profile lists in ``launch.moved``
(``--additional-config`` keys that moved or vanished, env variables that became
``--additional-config`` keys). :func:`launch_changes` then compares what emit-launch
writes before and after (the ``vllm serve`` flags of the head and a headless node, the
env.sh exports) and the release defaults a launch does not set; advice (the layout the new
release's guide runs) is listed too, never applied.

:func:`migrate` writes the file atomically with a backup (YAML through
:mod:`dsprep.launch.yaml_edit`, which keeps the comments it can and names the ones it
cannot). A second run changes nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dsprep.findings import Finding, JsonPayload, Result
from dsprep.launch.advice import ADVICE, DEFAULT, LAUNCH, Change, advice
from dsprep.launch.argv import node_env, serve_argv
from dsprep.launch.cluster import Cluster, build_cluster, load_document, schema_findings
from dsprep.launch.migrate_document import migrate_document
from dsprep.launch.release_rules import value_at
from dsprep.profiles import Profile, profile_for


@dataclass(frozen=True)
class MigrationSummary(JsonPayload):
    file: str
    source: str  # the profile the file was written for
    target: str  # the profile of --image
    tag: str
    changes: list[dict[str, str]] = field(default_factory=list)
    written: bool = False
    backup: str | None = None
    comments_lost: list[str] = field(default_factory=list)
    rewritten: bool = False  # the file was written out afresh (its comments are lost)

    def lines(self, scope: str) -> list[str]:
        return [Change(**c).line() for c in self.changes if c["scope"] == scope]


# --- what emit-launch writes ----------------------------------------------------------------


def flag_pairs(argv: list[str]) -> dict[str, str]:
    """``vllm serve MODEL --a 1 --b`` → ``{"--a": "1", "--b": ""}`` (the last of a repeat)."""
    pairs: dict[str, str] = {}
    i = 3
    while i < len(argv):
        flag = argv[i]
        nxt = argv[i + 1] if i + 1 < len(argv) else None
        if nxt is not None and not nxt.startswith("--"):
            pairs[flag] = nxt
            i += 2
        else:
            pairs[flag] = ""
            i += 1
    return pairs


def _flag_diff(before: dict[str, str], after: dict[str, str]) -> list[tuple[str, str, str]]:
    diff = []
    for flag in dict.fromkeys([*before, *after]):
        old, new = before.get(flag), after.get(flag)
        if old != new:
            was = "(absent)" if old is None else (old or "(set)")
            now = "(absent)" if new is None else (new or "(set)")
            diff.append((flag, was, now))
    return diff


def launch_changes(before: Cluster, old: Profile, after: Cluster, new: Profile) -> list[Change]:
    """The serve flags (of the head, and of a headless node where they differ) and env.sh
    exports that change, then the release defaults that change."""
    changes: list[Change] = []
    pairs = [(before, old), (after, new)]
    head = _flag_diff(*(flag_pairs(serve_argv(c, p, c.head)) for c, p in pairs))
    other = head
    if len(before.nodes) > 1 and len(after.nodes) > 1:
        other = _flag_diff(*(flag_pairs(serve_argv(c, p, c.nodes[1])) for c, p in pairs))
    roles = [("every node", head)] if other == head else [("head", head), ("headless", other)]
    for who, diff in roles:
        changes += [Change(LAUNCH, f"serve.sh ({who}) {f}", a, b) for f, a, b in diff]
    env_before = dict(node_env(before, old, before.head))
    env_after = dict(node_env(after, new, after.head))
    for name in dict.fromkeys([*env_before, *env_after]):
        if env_before.get(name) != env_after.get(name):
            why = next((e.added for e in new.launch.env if e.name == name and e.added), "")
            if not why and name not in env_after:
                why = f"the {new.name} profile's env.sh does not export it"
            changes.append(
                Change(
                    LAUNCH,
                    f"env.sh {name}",
                    env_before.get(name, "(unset)"),
                    env_after.get(name, "(unset)"),
                    why,
                )
            )
    for key in dict.fromkeys([*old.launch.defaults, *new.launch.defaults]):
        was, now = old.launch.defaults.get(key), new.launch.defaults.get(key)
        if was is not None and now is not None and was.value == now.value:
            continue
        changes.append(
            Change(
                DEFAULT,
                key,
                was.value if was else f"(not a setting of {old.name})",
                now.value if now else f"(not a setting of {new.name})",
                (now.note if now else was.note if was else ""),
            )
        )
    if old.name != new.name:  # a start's figures describe the release it ran
        for key, value in (
            ("weights_gib", before.weights_gib),
            ("reserve_gib", before.reserve_gib),
        ):
            if value is not None:
                changes.append(
                    Change(
                        ADVICE,
                        f"limits.{key}",
                        f"{value:g}",
                        "(measure again)",
                        f"a figure of a {old.name} start; the new release loads and reserves"
                        f" its own: run `dsprep plan --from-log` on the first {new.name} start",
                    )
                )
    return changes


# --- the command ------------------------------------------------------------------------------


def migrate(path: Path, tag: str, *, write: bool) -> Result[MigrationSummary]:
    """List (and with ``write``, make) the changes that carry ``path`` to image ``tag``."""
    from dsprep.launch.cluster_yaml import read_document, read_text
    from dsprep.launch.emit import validate_loaded

    path = Path(path)
    source = str(path)
    new = profile_for(tag)
    document = read_document(path)
    loaded = load_document(document, source)
    cluster, old = loaded.cluster, loaded.profile
    if cluster is None or old is None:
        findings = list(loaded.findings)
        if cluster is not None:
            from dsprep.launch.rules import check_profile

            findings += check_profile(cluster)[1]
        return Result("emit-launch", MigrationSummary(source, "", new.name, tag), findings)
    migrated, changes = migrate_document(document, cluster, old, new, tag)
    problems: list[Finding] = schema_findings(migrated, source, new)
    summary = MigrationSummary(source, old.name, new.name, tag)
    if problems:
        return Result("emit-launch", summary, problems)
    after = build_cluster(migrated, source, new)
    changes += launch_changes(cluster, old, after, new) + advice(after, new)
    text, rewritten = "", False
    lost: list[str] = []
    if migrated != document:
        text, lost, rewritten = _new_text(read_text(path), path, document, migrated, new)
    summary = MigrationSummary(
        source,
        old.name,
        new.name,
        tag,
        changes=[vars(c) for c in changes],
        comments_lost=lost,
        rewritten=rewritten,
    )
    if write and text:
        from dsprep.atomic import atomic_write_text, backup_path

        atomic_write_text(path, text, backup=True)
        summary = MigrationSummary(
            **{**vars(summary), "written": True, "backup": str(backup_path(path))}
        )
    outcome = validate_loaded(load_document(migrated, source))
    return Result("emit-launch", summary, list(outcome.findings))


def _new_text(
    text: str, path: Path, document: dict[str, Any], migrated: dict[str, Any], new: Profile
) -> tuple[str, list[str], bool]:
    """The file's new text, the comments it loses, and whether it was written afresh."""
    from dsprep.launch.cluster_yaml import parse_yaml
    from dsprep.launch.examples import example_comments, seed_text
    from dsprep.launch.yaml_edit import edit_yaml, trailing_comments

    if path.suffix.lower() == ".json":
        return json.dumps(migrated, indent=2, ensure_ascii=False) + "\n", [], False
    ours = trailing_comments(seed_text())
    theirs = trailing_comments(text)
    mode_changed = value_at(document, "graph.mode") != value_at(migrated, "graph.mode")

    def changed(key: str) -> bool:
        moved = value_at(document, key) != value_at(migrated, key)
        return moved or (key == "graph.batch_sizes" and mode_changed)

    comments = {
        key: comment
        for key, comment in example_comments(new, migrated).items()
        if key in ours and theirs.get(key) == ours[key] and changed(key)
    }
    header = (
        f"# rewritten by dsprep emit-launch --migrate for {new.name}; the original, with its"
        f" comments, is {path.name}.dsprep-orig\n"
    )
    edited = edit_yaml(text, document, migrated, lambda t: parse_yaml(t, path), comments, header)
    return edited.text, edited.lost, edited.rewritten


@dataclass(frozen=True)
class MigratedEmit(JsonPayload):
    """``--migrate --out``: the migration, then the emit of the migrated file (None when the
    migration left errors, so nothing was emitted)."""

    migration: MigrationSummary
    emit: Any = None


def migrate_and_emit(
    path: Path, tag: str, out_dir: Path, model_dir: Path | None = None
) -> Result[MigratedEmit]:
    """Migrate ``path`` to ``tag`` (writing it), then emit its scripts into ``out_dir``."""
    from dsprep.launch.emit import emit_launch

    migrated = migrate(path, tag, write=True)
    if not migrated.ok:
        return Result("emit-launch", MigratedEmit(migrated.payload), migrated.findings)
    emitted = emit_launch(path, out_dir, model_dir)
    return Result("emit-launch", MigratedEmit(migrated.payload, emitted.payload), emitted.findings)
