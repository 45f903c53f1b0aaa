"""A tiny DeepSeek-V3-architecture model whose greedy output is scripted and prompt-dependent.

One decoder layer of ``DeepseekV3ForCausalLM`` (MLA attention with ``kv_lora_rank`` 512 and
``qk_rope_head_dim`` 64, the sizes vLLM's CPU MLA kernel compiles for; a dense MLP), the demo
tokenizer and dsprep's chat template, float32 weights. The hidden state is cut into blocks:

- ``TOK``: the current token, one-hot (``embed_tokens``).
- ``CLS``: what the prompt is. Every head's query is the same constant and only *candidate*
  tokens have a non-zero key (their latent is a one-hot of their own latent slot), so each head
  attends evenly over the candidate tokens of the context: the normalised bag of them. Head 0
  reads the bag of *key tokens* (one per :class:`Script`) and writes that script's class slot.
  Heads 1.. read the bag of the tokens of the accuracy questions and answers, through a matrix
  solved so that the bag of question ``q`` after ``s`` answer tokens maps exactly to its own slot
  ``(q, s)`` — a question is told by its whole text, and a repeated letter in an answer by how
  far the answer got.
- ``NEXT``: the token to emit. Each MLP neuron is one transition: ``SiLU(g·TOK[t])·u·CLS[c]``
  is non-zero only when the current token is ``t`` *and* the class is ``c``; its down projection
  writes ``NEXT[y]``; ``lm_head`` reads ``NEXT`` (and, with a small weight, EOS from every
  token, so a state no transition covers ends the answer). Question neurons are inhibited by
  any script class, so a scripted prompt is never read as a question. A prompt that is neither
  a script's nor a known question's gets an arbitrary (max_tokens-bounded) answer: the question
  read-out is exact only on the questions it was solved for.

The RMSNorms keep these directions; the margins are large enough that sampling at temperature 1
still picks the scripted token. :func:`build_model` checks that the scripts are expressible
(single-token keys, one successor per state, no key in another script's output) and raises
``ValueError`` naming the conflict otherwise.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dsprep.demo.checkpoint import CheckpointSpec, config_document
from dsprep.demo.tokenizer import build_tokenizer, tokenizer_config
from dsprep.family.deepseek_v3 import DeepseekV3Architecture
from dsprep.template.build import build_template
from dsprep.template.tokens import (
    CHAT_TOKENS,
    EOS,
    THINK,
    THINK_END,
    TOOL_CALL_BEGIN,
    TOOL_CALL_END,
    TOOL_CALLS_BEGIN,
    TOOL_CALLS_END,
    TOOL_SEP,
)

TOOL_MARKERS = (TOOL_CALLS_BEGIN, TOOL_CALL_BEGIN, TOOL_SEP, TOOL_CALL_END, TOOL_CALLS_END)
# The flags a scenario sets explicitly (the demo tokenizer's own flags may change): the
# tool-call markers special (vLLM's default decoding strips them) or not.
MARKERS_SPECIAL: dict[str, bool] = {
    **{t: True for t in CHAT_TOKENS},
    THINK: False,
    THINK_END: False,
}
MARKERS_PLAIN: dict[str, bool] = {**MARKERS_SPECIAL, **{t: False for t in TOOL_MARKERS}}
TEMPLATE_NAME = "chat_template.jinja"

HIDDEN = 1536
LATENT = 512  # kv_lora_rank: the CPU MLA decode kernel takes 512 + 64 only
ROPE = 64
NOPE = 128
V_HEAD = 128
SLOTS_PER_HEAD = V_HEAD
CLS0 = 512
EMBED_SCALE = 1.0
Q_WEIGHT = 1.0
K_WEIGHT = 12.0  # score of a candidate: sqrt(HIDDEN)·K_WEIGHT/sqrt(192) ≈ 34
GATE, UP, DOWN, GATE_INHIBIT = 0.1, 0.1, 1.0, 1.0
LM_NEXT, LM_EOS_FALLBACK = 5.0, 1.0


@dataclass(frozen=True)
class Script:
    """When the context holds token ``key``: after ``<think>`` emit ``reasoning`` then
    ``</think>``; after ``</think>`` emit ``answer``; then EOS."""

    key: str
    answer: str
    reasoning: str | None = None


@dataclass(frozen=True)
class Answer:
    """A question told by its whole text: a request whose only message is a user message with
    exactly ``question`` as content is answered ``answer`` after ``</think>`` (thinking off);
    after ``<think>`` (thinking on) it says ``reasoning``, ``</think>``, then ``answer``."""

    question: str
    answer: str
    reasoning: str | None = None


@dataclass(frozen=True)
class Completion:
    """A raw completion (``/v1/completions``, no chat template) of exactly ``prompt``: the
    model continues with ``text``, then EOS."""

    prompt: str
    text: str


@dataclass
class TinyModel:
    path: Path
    chat_template: Path
    scripts: tuple[Script, ...]
    answers: tuple[Answer, ...]
    completions: tuple[Completion, ...]
    special: dict[str, bool]
    thinking_default: bool
    vocab_size: int
    transitions: int = 0
    notes: dict[str, Any] = field(default_factory=dict)


class _Vocab:
    def __init__(self, document: dict[str, Any]) -> None:
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_str(json.dumps(document))
        self.size = self.tokenizer.get_vocab_size()
        self.added = {e["id"] for e in document["added_tokens"]}

    def ids(self, text: str) -> list[int]:
        return list(self.tokenizer.encode(text, add_special_tokens=False).ids)

    def one(self, text: str) -> int:
        ids = self.ids(text)
        if len(ids) != 1:
            pieces = [self.tokenizer.id_to_token(i) for i in ids]
            raise ValueError(f"key {text!r} is {len(ids)} tokens {pieces}, not one token")
        return ids[0]


def _flagged(document: dict[str, Any], special: Mapping[str, bool]) -> dict[str, Any]:
    for entry in document["added_tokens"]:
        if entry["content"] in special:
            entry["special"] = special[entry["content"]]
    return document


def write_tokenizer(folder: Path, special: Mapping[str, bool], template: str) -> _Vocab:
    """The demo tokenizer (its public builders) with ``special`` set explicitly per token in
    tokenizer.json's added_tokens and tokenizer_config.json's added_tokens_decoder."""
    document = _flagged(build_tokenizer(), special)
    config = tokenizer_config(document, template)
    for entry in config["added_tokens_decoder"].values():
        if entry["content"] in special:
            entry["special"] = special[entry["content"]]
    for name, body in (("tokenizer.json", document), ("tokenizer_config.json", config)):
        text = json.dumps(body, ensure_ascii=False, indent=2) + "\n"
        (folder / name).write_text(text, encoding="utf-8")
    return _Vocab(document)


def _pieces(vocab: _Vocab) -> dict[str, list[int]]:
    """Each plain token's text: a text can be spelled with any of them (byte-level BPE)."""
    pieces: dict[str, list[int]] = {}
    for i in range(vocab.size):
        if i not in vocab.added:
            text = vocab.tokenizer.decode([i], skip_special_tokens=False)
            if text and "\ufffd" not in text:
                pieces.setdefault(text, []).append(i)
    return pieces


def _spell(
    vocab: _Vocab,
    pieces: dict[str, list[int]],
    text: str,
    start: int,
    end: int,
    moves: dict[int, int],
) -> list[int]:
    """Token ids that decode to ``text``, following ``start``, such that every token has one
    successor in ``moves`` (updated; the last one is followed by ``end``): the canonical
    encoding when it fits, else another spelling (``100`` as ``10 0``) found by a search."""
    segments = [s for s in re.split(f"({'|'.join(re.escape(t) for t in CHAT_TOKENS)})", text) if s]
    out: list[int] = []
    current = start
    for n, segment in enumerate(segments):
        if segment in CHAT_TOKENS:
            options = [[vocab.one(segment)]]
        else:
            options = [vocab.ids(segment), *_spellings(pieces, segment)]
        for ids in options:
            trial = dict(moves)
            prev, ok = current, True
            for i in ids:
                if trial.setdefault(prev, i) != i:
                    ok = False
                    break
                prev = i
            if ok and n == len(segments) - 1 and trial.setdefault(prev, end) != end:
                ok = False
            if ok:
                moves.clear()
                moves.update(trial)
                out += ids
                current = prev
                break
        else:
            raise ValueError(f"no spelling of {segment!r} gives each token one successor")
    return out


def _spellings(pieces: dict[str, list[int]], text: str, limit: int = 2000) -> list[list[int]]:
    found: list[list[int]] = []

    def walk(rest: str, acc: list[int]) -> None:
        if len(found) >= limit:
            return
        if not rest:
            found.append(list(acc))
            return
        for size in range(min(len(rest), 16), 0, -1):
            for i in pieces.get(rest[:size], []):
                if i not in acc:
                    walk(rest[size:], [*acc, i])

    walk(text, [])
    return sorted(found, key=len)


def _chains(
    vocab: _Vocab, pieces: dict[str, list[int]], reasoning: str | None, answer: str, marks: Marks
) -> dict[int, int]:
    """current token → next token, thinking on (after ``<think>``) and off (after ``</think>``)."""
    moves: dict[int, int] = {}
    if reasoning:
        _spell(vocab, pieces, reasoning, marks.think, marks.think_end, moves)
    else:
        moves[marks.think] = marks.think_end
    if answer:
        _spell(vocab, pieces, answer, marks.think_end, marks.eos, moves)
    else:
        moves[marks.think_end] = marks.eos
    return moves


@dataclass(frozen=True)
class Marks:
    think: int
    think_end: int
    eos: int


def garbage(answers: Iterable[Answer]) -> list[Answer]:
    """The same questions, each answered with another question's (different) answer."""
    items = list(answers)
    wrong: list[Answer] = []
    for i, item in enumerate(items):
        others = [o.answer for o in items[i + 1 :] + items[:i] if o.answer != item.answer]
        wrong.append(
            Answer(item.question, others[0] if others else item.answer + "?", item.reasoning)
        )
    return wrong


def build_model(
    folder: Path,
    scripts: Sequence[Script],
    answers: Sequence[Answer] = (),
    completions: Sequence[Completion] = (),
    *,
    special: Mapping[str, bool] = MARKERS_PLAIN,
    thinking_default: bool = False,
) -> TinyModel:
    """Write config.json, model.safetensors, the tokenizer and ``chat_template.jinja``."""
    import numpy as np
    from safetensors.numpy import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    template = build_template(thinking=thinking_default, tools=True)
    (folder / TEMPLATE_NAME).write_text(template, encoding="utf-8")
    vocab = write_tokenizer(folder, special, template)
    v = vocab.size
    marks = Marks(vocab.one(THINK), vocab.one(THINK_END), vocab.one(EOS))
    eos = marks.eos
    pieces = _pieces(vocab)

    keys = [vocab.one(s.key) for s in scripts]
    if len(set(keys)) != len(keys):
        raise ValueError(f"two scripts share a key token: {[s.key for s in scripts]}")
    neurons: list[tuple[int, int, bool, int]] = []  # (token, class slot, inhibited, next)
    emitted: set[int] = set()
    for c, (script, key) in enumerate(zip(scripts, keys, strict=True)):
        moves = _chains(vocab, pieces, script.reasoning, script.answer, marks)
        if set(moves.values()) & (set(keys) - {key}):
            raise ValueError(f"script {script.key!r} emits another script's key token")
        neurons += [(t, c, False, y) for t, y in moves.items()]
    # A question is told by its tokens that no answer emits (so its class holds while the
    # model answers); the classes must be linearly independent bags.
    asked_texts = [a.question for a in answers] + [c.prompt for c in completions]
    question_moves = [_chains(vocab, pieces, a.reasoning, a.answer, marks) for a in answers]
    for item in completions:
        moves: dict[int, int] = {}
        _spell(vocab, pieces, item.text, vocab.ids(item.prompt)[-1], eos, moves)
        question_moves.append(moves)
    for moves in question_moves:
        emitted |= set(moves.values())
    bags: list[list[int]] = []
    for question in asked_texts:
        asked = [i for i in vocab.ids(question) if i not in vocab.added]
        if set(asked) & set(keys):
            raise ValueError(f"question {question!r} holds a script's key token")
        bag = [i for i in asked if i not in emitted]
        if not bag:
            raise ValueError(f"question {question!r}: every token of it is also answered")
        bags.append(bag)
    candidates = sorted({t for bag in bags for t in bag})
    slot_of = {t: j for j, t in enumerate([*keys, *candidates])}
    if len(slot_of) > LATENT:
        raise ValueError(f"{len(slot_of)} candidate tokens, the latent holds {LATENT}")
    q_heads = max(1, math.ceil(len(bags) / SLOTS_PER_HEAD))
    heads = 1 + q_heads
    next0 = CLS0 + heads * SLOTS_PER_HEAD
    if len(scripts) > SLOTS_PER_HEAD or v > CLS0 or next0 + v > HIDDEN:
        raise ValueError("too many scripts or questions for the hidden size")

    # The normalised bag of each question in latent space; W maps each exactly to its slot.
    matrix = np.zeros((LATENT, len(bags)))
    for i, bag in enumerate(bags):
        for t in bag:
            matrix[slot_of[t], i] += 1.0 / len(bag)
    solve = np.linalg.pinv(matrix) if bags else np.zeros((0, LATENT))
    residual = float(np.abs(solve @ matrix - np.eye(len(bags))).max()) if bags else 0.0
    if residual > 1e-4:
        raise ValueError(f"the questions' bags of tokens are dependent (residual {residual:.3g})")
    for c, moves in enumerate(question_moves):
        neurons += [(t, SLOTS_PER_HEAD + c, True, y) for t, y in moves.items()]
    f32 = np.float32
    embed = np.zeros((v, HIDDEN), f32)
    embed[np.arange(v), np.arange(v)] = EMBED_SCALE
    q_proj = np.zeros((heads * (NOPE + ROPE), HIDDEN), f32)
    for h in range(heads):
        q_proj[h * (NOPE + ROPE), :v] = Q_WEIGHT
    kv_a = np.zeros((LATENT + ROPE, HIDDEN), f32)
    for t, j in slot_of.items():
        kv_a[j, t] = 1.0
    kv_b = np.zeros((heads * (NOPE + V_HEAD), LATENT), f32)
    for k, key in enumerate(keys):
        kv_b[0, slot_of[key]] = K_WEIGHT
        kv_b[NOPE + k, slot_of[key]] = 1.0
    for h in range(1, heads):
        base = h * (NOPE + V_HEAD)
        for t in candidates:
            kv_b[base, slot_of[t]] = K_WEIGHT
        rows = solve[(h - 1) * SLOTS_PER_HEAD : h * SLOTS_PER_HEAD]
        kv_b[base + NOPE : base + NOPE + rows.shape[0]] = rows
    o_proj = np.zeros((HIDDEN, heads * V_HEAD), f32)
    o_proj[CLS0 + np.arange(heads * V_HEAD), np.arange(heads * V_HEAD)] = 1.0
    inter = max(64, math.ceil(len(neurons) / 64) * 64)
    gate = np.zeros((inter, HIDDEN), f32)
    up = np.zeros((inter, HIDDEN), f32)
    down = np.zeros((HIDDEN, inter), f32)
    for n, (t, c, inhibited, y) in enumerate(neurons):
        gate[n, t] = GATE
        if inhibited:
            gate[n, CLS0 : CLS0 + len(keys)] = -GATE_INHIBIT
        up[n, CLS0 + c] = UP
        down[next0 + y, n] = DOWN
    lm_head = np.zeros((v, HIDDEN), f32)
    lm_head[np.arange(v), next0 + np.arange(v)] = LM_NEXT
    lm_head[eos, :v] = LM_EOS_FALLBACK
    ones = np.ones(HIDDEN, f32)
    layer = "model.layers.0."
    tensors = {
        "model.embed_tokens.weight": embed,
        layer + "input_layernorm.weight": ones,
        layer + "self_attn.q_proj.weight": q_proj,
        layer + "self_attn.kv_a_proj_with_mqa.weight": kv_a,
        layer + "self_attn.kv_a_layernorm.weight": np.full(LATENT, 1 / math.sqrt(LATENT), f32),
        layer + "self_attn.kv_b_proj.weight": kv_b.astype(f32),
        layer + "self_attn.o_proj.weight": o_proj,
        layer + "post_attention_layernorm.weight": ones,
        layer + "mlp.gate_proj.weight": gate,
        layer + "mlp.up_proj.weight": up,
        layer + "mlp.down_proj.weight": down,
        "model.norm.weight": ones,
        "lm_head.weight": lm_head,
    }
    save_file(tensors, str(folder / "model.safetensors"), metadata={"format": "pt"})
    config = _config(v, heads, inter)
    (folder / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    return TinyModel(
        path=folder,
        chat_template=folder / TEMPLATE_NAME,
        scripts=tuple(scripts),
        answers=tuple(answers),
        completions=tuple(completions),
        special=dict(special),
        thinking_default=thinking_default,
        vocab_size=v,
        transitions=len(neurons),
        notes={"heads": heads, "candidates": len(candidates), "residual": residual},
    )


def _config(vocab_size: int, heads: int, intermediate: int) -> dict[str, Any]:
    """The demo checkpoint's DeepseekV3 config.json with the tiny served shape: one dense MLA
    layer without q_lora, no MTP, float32, no rope scaling."""
    arch = DeepseekV3Architecture(
        num_hidden_layers=1,
        num_nextn_predict_layers=0,
        first_k_dense_replace=1,
        hidden_size=HIDDEN,
        intermediate_size=intermediate,
        moe_intermediate_size=64,
        n_routed_experts=4,
        n_shared_experts=1,
        num_experts_per_tok=2,
        num_attention_heads=heads,
        kv_lora_rank=LATENT,
        qk_nope_head_dim=NOPE,
        qk_rope_head_dim=ROPE,
        v_head_dim=V_HEAD,
        vocab_size=vocab_size,
        max_position_embeddings=4096,
    )
    return {
        **config_document(CheckpointSpec(arch=arch)),
        "q_lora_rank": None,
        "routed_scaling_factor": 1.0,
        "rope_scaling": None,
        "attention_bias": False,
        "torch_dtype": "float32",
    }
