"""The latency/throughput probe: streamed chat requests of a fixed length (``ignore_eos``)
alone and ``N`` at once; time to first token and output tokens per second."""

from __future__ import annotations

import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from dsprep import catalogue as C
from dsprep.verify.reply import StreamAssembly
from dsprep.verify.rows import Outcome
from dsprep.verify.session import DEADLINE_SPENT, DeadlineReached, RequestFailed, Session

PROBE_PROMPT = "Count from one to one hundred in words, separated by commas."
PROBE_TOKENS = 64


@dataclass(frozen=True)
class Sample:
    """One streamed request: seconds to the first output, in all, and output tokens."""

    ttft: float | None
    seconds: float
    tokens: int
    error: str = ""


def stream_once(session: Session, model: str) -> Sample:
    client = session.client()
    begin = time.monotonic()
    try:
        limit = session.timeout()
        chunks = session.call(
            client.chat.completions.create,
            model=model,
            messages=[{"role": "user", "content": PROBE_PROMPT}],
            max_tokens=PROBE_TOKENS,
            temperature=0,
            stream=True,
            stream_options={"include_usage": True},
            extra_body={"ignore_eos": True, "chat_template_kwargs": {"thinking": False}},
        )
        first: float | None = None
        pieces = 0
        tokens: int | None = None
        assembly = StreamAssembly()
        with session.errors(limit):
            for chunk in chunks:
                if chunk.choices and assembly.add(chunk.choices[0].delta.model_dump()):
                    pieces += 1
                    first = first if first is not None else time.monotonic() - begin
                if chunk.usage is not None:
                    tokens = chunk.usage.completion_tokens
                try:
                    session.overdue(begin, limit)
                except (DeadlineReached, RequestFailed):
                    chunks.close()
                    raise
    except RequestFailed as error:
        return Sample(None, time.monotonic() - begin, 0, error.message)
    except DeadlineReached:
        return Sample(None, time.monotonic() - begin, 0, DEADLINE_SPENT)
    return Sample(first, time.monotonic() - begin, tokens if tokens is not None else pieces)


def latency(session: Session, model: str, concurrency: int) -> Outcome:
    name, path = "latency probe", f"{session.url}/v1/chat/completions"
    alone = stream_once(session, model)
    begin = time.monotonic()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        batch = list(pool.map(lambda _: stream_once(session, model), range(concurrency)))
    wall = time.monotonic() - begin
    if any(s.error == DEADLINE_SPENT for s in [alone, *batch]):
        raise DeadlineReached
    failed = [s for s in [alone, *batch] if s.error or not s.tokens]
    ttfts = [s.ttft for s in batch if s.ttft is not None]
    shown = {
        "ttft_s": round(alone.ttft, 4) if alone.ttft is not None else None,
        "tokens_per_s": round(alone.tokens / alone.seconds, 2) if alone.seconds else None,
        "concurrency": concurrency,
        f"ttft_s_mean_at_{concurrency}": round(statistics.fmean(ttfts), 4) if ttfts else None,
        f"tokens_per_s_at_{concurrency}": round(sum(s.tokens for s in batch) / wall, 2)
        if wall
        else None,
        "output_tokens": alone.tokens,
        "failed_requests": len(failed),
    }
    if failed:
        reason = failed[0].error or "no output tokens"
        message = f"{name}: {len(failed)} of {concurrency + 1} streamed requests failed ({reason})"
        return Outcome.failed(name, C.VERIFY_LATENCY(path, message), **shown)
    detail = (
        f"TTFT {shown['ttft_s']} s, {shown['tokens_per_s']} tok/s alone; "
        f"{shown[f'tokens_per_s_at_{concurrency}']} tok/s at {concurrency}"
    )
    return Outcome.passed(name, detail, **shown)
