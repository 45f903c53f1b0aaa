"""Each profile's ``memory`` facts (what the release's load keeps on each NPU beside the
checkpoint's tensors, dsprep.launch.plan.load_items) re-derived from that vllm-ascend's
source, and every derived line inside the profile's citation:

* ``kv_b_copies``: MLA assigns ``self.W_UV`` and ``self.W_UK_T`` as ``.contiguous()`` copies
  (attention/mla_v1.py);
* ``rope_tables``: the Ascend YaRN rotary embedding registers that many buffers besides
  ``inv_freq`` (ops/rotary_embedding.py);
* ``drafter_shares`` / ``drafter_shares_if_equal``: the MTP drafter takes the target's
  embedding (after ``# MTP model``, then ``del …embed_tokens``) or its head only under
  ``torch.equal`` (spec_decode/*.py);
* ``shared_experts_whole``: linear_op.py gives shared experts TP size 1 when
  ``shared_expert_dp_enabled()``, and utils.py / ascend_config.py say what turns that on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.version import Version

from dsprep.profiles import Profile
from dsprep.resources import profile_files
from tests.provenance import upstream
from tests.provenance.releases import Releases

PROFILES = [p.stem for p in sorted(profile_files(), key=lambda p: Version(p.stem))]


@dataclass(frozen=True)
class Found:
    value: object
    lines: list[tuple[str, int]]  # (file, line) the value rests on


def _lines(root: Path, rel: str) -> list[str]:
    path = root / rel
    return path.read_text(encoding="utf-8").splitlines() if path.is_file() else []


def _grep(root: Path, rel: str, pattern: str) -> list[tuple[str, int]]:
    regex = re.compile(pattern)
    return [(rel, n) for n, line in enumerate(_lines(root, rel), 1) if regex.search(line)]


def _function(root: Path, rel: str, name: str) -> tuple[int, list[str]]:
    """The first line number and the lines of top-level ``def name`` in ``rel``."""
    lines = _lines(root, rel)
    for start, line in enumerate(lines):
        if line.startswith(f"def {name}("):
            end = start + 1
            while end < len(lines) and (not lines[end] or lines[end][0] in " \t)#"):
                end += 1
            return start + 1, lines[start:end]
    return 0, []


def kv_b_copies(root: Path) -> Found:
    rel = "vllm_ascend/attention/mla_v1.py"
    hits = _grep(root, rel, r"self\.W_(UV|UK_T) = .*\.contiguous\(\)")
    return Found(len(hits) == 2, hits)


def rope_tables(root: Path) -> Found:
    rel = "vllm_ascend/ops/rotary_embedding.py"
    lines = _lines(root, rel)
    start = next(
        (n for n, line in enumerate(lines) if "class AscendDeepseekScalingRotaryEmbedding" in line),
        None,
    )
    assert start is not None, f"no AscendDeepseekScalingRotaryEmbedding in {rel}"
    end = next(
        (n for n in range(start + 1, len(lines)) if lines[n].startswith("class ")), len(lines)
    )
    hits = [
        (rel, n + 1)
        for n in range(start, end)
        if re.search(r'register_buffer\("(?!inv_freq)\w+"', lines[n])
    ]
    return Found(len(hits), hits)


def _spec_decode_files(root: Path) -> list[str]:
    folder = root / "vllm_ascend" / "spec_decode"
    return sorted(str(p.relative_to(root)) for p in folder.glob("*.py"))


def drafter(root: Path) -> tuple[Found, Found]:
    shares: list[str] = []
    if_equal: list[str] = []
    shares_at: list[tuple[str, int]] = []
    equal_at: list[tuple[str, int]] = []
    for rel in _spec_decode_files(root):
        lines = _lines(root, rel)
        for n, line in enumerate(lines):
            window = " ".join(lines[n : n + 3])
            if "torch.equal(" in line and "embed_tokens" in window:
                follow = " ".join(lines[n + 1 : n + 4])
                if re.search(r"\.embed_tokens = \w+\.model\.embed_tokens", follow):
                    if_equal.append("mtp_embed_tokens")
                    equal_at.append((rel, n + 1))
            head_assigned = re.search(r"shared_head\.head = ", " ".join(lines[n + 1 : n + 3]))
            if "torch.equal(" in line and "shared_head.head" in window and head_assigned:
                if_equal.append("mtp_head")
                equal_at.append((rel, n + 1))
            if line.strip() == "# MTP model":
                nxt = lines[n + 1].strip() if n + 1 < len(lines) else ""
                deleted = any("del self.model.model.embed_tokens" in x for x in lines[n : n + 16])
                if re.match(r"share_embeddings = (True|not self\.use_compress)$", nxt) and deleted:
                    shares.append("mtp_embed_tokens")
                    shares_at.append((rel, n + 2))
    return (
        Found(sorted(set(shares)), shares_at),
        Found(sorted(set(if_equal)), equal_at),
    )


def shared_experts_whole(root: Path) -> Found:
    rel = "vllm_ascend/ops/linear_op.py"
    rule = _grep(root, rel, r'"shared_experts" in prefix')
    rule = [
        (f, n)
        for f, n in rule
        if "shared_expert_dp_enabled()" in " ".join(_lines(root, f)[n - 1 : n + 1])
    ]
    if not rule:
        return Found({"env": [], "additional_config": []}, [])
    env: list[str] = []
    keys: list[str] = []
    at = list(rule)
    utils = "vllm_ascend/utils.py"
    first, body = _function(root, utils, "shared_expert_dp_enabled")
    text = "\n".join(body)
    if "enable_shared_expert_dp" in text:
        keys.append("enable_shared_expert_dp")
        at.append((utils, first))
    first, body = _function(root, utils, "enable_sp")
    for offset, line in enumerate(body):
        for name in re.findall(r"envs_ascend\.(VLLM_ASCEND_ENABLE_FLASHCOMM1)\b", line):
            env.append(name)
            at.append((utils, first + offset))
        for name in re.findall(r'os\.getenv\("(VLLM_ASCEND_ENABLE_FLASHCOMM)"', line):
            env.append(name)
            at.append((utils, first + offset))
        for key in re.findall(r'"(enable_flashcomm1)" in additional_config', line):
            keys.append(key)
            at.append((utils, first + offset))
    return Found({"env": sorted(set(env)), "additional_config": sorted(set(keys))}, at)


def derive(root: Path) -> dict[str, Found]:
    shares, if_equal = drafter(root)
    return {
        "kv_b_copies": kv_b_copies(root),
        "rope_tables": rope_tables(root),
        "drafter_shares": shares,
        "drafter_shares_if_equal": if_equal,
        "shared_experts_whole": shared_experts_whole(root),
    }


def cited(source: object) -> list[tuple[str, range]]:
    """(file, lines) of each ``dist==v file:a-b, c`` citation of a fact."""
    spans: list[tuple[str, range]] = []
    for text in source if isinstance(source, list) else [source]:
        where = str(text).split(" (")[0].split(" ", 1)[1]
        rel, _, numbers = where.partition(":")
        for part in numbers.split(","):
            low, _, high = part.strip().partition("-")
            spans.append((rel, range(int(low), int(high or low) + 1)))
    return spans


def _stated(profile: Profile, fact: str) -> object:
    value = getattr(profile.memory, fact)
    if fact == "shared_experts_whole":
        return {"env": sorted(value.env), "additional_config": sorted(value.additional_config)}
    return sorted(value) if isinstance(value, list) else value


@pytest.mark.parametrize("name", PROFILES)
def test_load_memory_facts_match_the_release_source(name: str, releases: Releases) -> None:
    profile = releases.profiles[name]
    root = releases.tree(upstream.Sdist("vllm-ascend", profile.release.vllm_ascend)).root
    problems: list[str] = []
    for fact, found in derive(root).items():
        stated = _stated(profile, fact)
        if stated != found.value:
            problems.append(f"{fact}: profile says {stated!r}, the source {found.value!r}")
        spans = cited(profile.memory.sources[fact])
        for rel, line in found.lines:
            if not any(rel == f and line in lines for f, lines in spans):
                problems.append(f"{fact}: {rel}:{line} is outside {profile.memory.sources[fact]!r}")
    assert not problems, f"{name} (vllm-ascend=={profile.release.vllm_ascend}):\n" + "\n".join(
        problems
    )


def test_derivation_finds_what_a_changed_source_changes(tmp_path: Path) -> None:
    """The derivation can fail: a release whose MLA keeps views (no .contiguous()) and whose
    drafter keeps its own embedding derives no copies and no sharing."""
    mla = tmp_path / "vllm_ascend" / "attention" / "mla_v1.py"
    mla.parent.mkdir(parents=True)
    mla.write_text("        self.W_UV = W_UV.transpose(0, 1)\n        self.W_UK_T = W_UK\n")
    (tmp_path / "vllm_ascend" / "spec_decode").mkdir()
    (tmp_path / "vllm_ascend" / "spec_decode" / "mtp_proposer.py").write_text(
        "            # MTP model\n            share_embeddings = False\n"
    )
    assert kv_b_copies(tmp_path).value is False
    shares, if_equal = drafter(tmp_path)
    assert shares.value == [] and if_equal.value == []
    assert shared_experts_whole(tmp_path).value == {"env": [], "additional_config": []}
