"""A deadline for a call that would block for ever on a regression (a FIFO opened for
reading waits for a writer): SIGALRM interrupts it and the test fails instead of hanging."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


class DeadlineExceeded(AssertionError):
    pass


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Fail with :class:`DeadlineExceeded` when the block runs longer than ``seconds``."""

    def expire(signum: int, frame: FrameType | None) -> None:
        raise DeadlineExceeded(f"still running after {seconds} s (blocked on a FIFO?)")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
