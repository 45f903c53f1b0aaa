"""A Jinja environment that renders chat templates exactly as transformers does, but bounded.

transformers compiles chat templates in ``ImmutableSandboxedEnvironment(trim_blocks=True,
lstrip_blocks=True)`` with the ``loopcontrols`` extension, its own ``tojson`` (non-ASCII and
key order kept, no HTML escaping), the globals ``raise_exception`` and ``strftime_now``, a
``dict`` constructor and a ``namespace`` that refuses underscore attributes. This module builds
the same environment without importing transformers, and adds what a template from an
untrusted repository must not get: huge ranges, huge repetitions and powers, unbounded output
or time, file access through ``{% include %}``.
"""

from __future__ import annotations

import json
import operator
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from functools import lru_cache
from types import FrameType
from typing import Any

import jinja2
import jinja2.ext
import jinja2.utils
from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError, TemplateError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

MAX_RANGE = 10_000  # items in one range(); transformers' jinja2 allows 100 000
MAX_SEQUENCE = 10_000_000  # characters or items a single * or + may produce
MAX_EXPONENT = 4_096
MAX_OUTPUT = 16_000_000  # characters of rendered output
DEFAULT_TIMEOUT = 5.0  # seconds


class RenderLimitError(TemplateError):
    """The template tried to use more than the sandbox allows (size or time)."""


def _size(value: Any) -> int | None:
    return len(value) if isinstance(value, (str, bytes, list, tuple)) else None


def _bounded_range(*args: int) -> range:
    numbers = range(*args)
    if len(numbers) > MAX_RANGE:
        raise RenderLimitError(
            f"range() of {len(numbers)} items exceeds dsprep's limit {MAX_RANGE}"
        )
    return numbers


def _tojson(
    value: Any,
    ensure_ascii: bool = False,
    indent: int | None = None,
    separators: tuple[str, str] | None = None,
    sort_keys: bool = False,
) -> str:
    """transformers' ``tojson``: plain json.dumps, non-ASCII kept, no HTML escaping."""
    return json.dumps(
        value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys
    )


def _raise_exception(message: str) -> None:
    raise TemplateError(message)


def _strftime_now(format_string: str) -> str:
    return datetime.now().strftime(format_string)


class _DictConstructor:
    """``dict(...)`` for templates without handing out the ``dict`` type itself."""

    def __call__(self, *args: Any, **kwargs: Any) -> dict[Any, Any]:
        return dict(*args, **kwargs)

    def fromkeys(self, *args: Any, **kwargs: Any) -> dict[Any, Any]:
        return dict.fromkeys(*args, **kwargs)


class _Namespace(jinja2.utils.Namespace):
    """A namespace that refuses underscore-prefixed attribute names."""

    def __init__(*args: Any, **kwargs: Any) -> None:
        self, rest = args[0], args[1:]
        attributes = dict(*rest, **kwargs)
        for name in attributes:
            _Namespace._check_name(name)
        jinja2.utils.Namespace.__init__(self, attributes)

    def __setitem__(self, name: str, value: Any) -> None:
        _Namespace._check_name(name)
        jinja2.utils.Namespace.__setitem__(self, name, value)

    @staticmethod
    def _check_name(name: Any) -> None:
        if isinstance(name, str) and name.startswith("_"):
            raise SecurityError(f"a namespace cannot hold the attribute {name!r}")


def _checked_mul(left: Any, right: Any) -> Any:
    for sequence, count in ((left, right), (right, left)):
        size = _size(sequence)
        if size is not None and isinstance(count, int) and size * count > MAX_SEQUENCE:
            raise RenderLimitError(f"repeating {size} items {count} times exceeds {MAX_SEQUENCE}")
    return operator.mul(left, right)


def _checked_pow(left: Any, right: Any) -> Any:
    if isinstance(right, int) and abs(right) > MAX_EXPONENT and left not in (0, 1, -1):
        raise RenderLimitError(f"the power {left} ** {right} is too large for a chat template")
    return operator.pow(left, right)


def _checked_add(left: Any, right: Any) -> Any:
    size_left, size_right = _size(left), _size(right)
    if size_left is not None and size_right is not None and size_left + size_right > MAX_SEQUENCE:
        raise RenderLimitError(f"a value longer than {MAX_SEQUENCE} items is too large")
    return operator.add(left, right)


_GUARDED: dict[str, Callable[[Any, Any], Any]] = {
    "*": _checked_mul,
    "**": _checked_pow,
    "+": _checked_add,
}


_PADDING_METHODS = frozenset({"center", "ljust", "rjust", "zfill", "expandtabs"})


class _GuardedCodeGenerator(CodeGenerator):
    """Compiles ``a ~ b`` so that the joined string is size-checked like ``+``."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.checked_concat(")
        super().visit_Concat(node, frame)
        self.write(")")


class ChatTemplateEnvironment(ImmutableSandboxedEnvironment):
    """transformers' chat-template environment plus dsprep's size guards."""

    intercepted_binops = frozenset(_GUARDED)
    code_generator_class = _GuardedCodeGenerator

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        guard = _GUARDED.get(operator)
        if guard is not None:
            return guard(left, right)
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        """Refuse padding a string to a size no prompt needs (``'x'.ljust(10**10)``)."""
        if getattr(__obj, "__name__", "") in _PADDING_METHODS and isinstance(
            getattr(__obj, "__self__", None), str
        ):
            for value in (*args, *kwargs.values()):
                if isinstance(value, int) and value > MAX_SEQUENCE:
                    raise RenderLimitError(f"padding a string to {value} characters is too large")
        return super().call(__context, __obj, *args, **kwargs)

    @staticmethod
    def checked_concat(value: Any) -> Any:
        size = _size(value)
        if size is not None and size > MAX_SEQUENCE:
            raise RenderLimitError(f"a value longer than {MAX_SEQUENCE} characters is too large")
        return value


def _bounded_lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
    if n > 100 or max > 1000:
        raise RenderLimitError("lipsum() larger than 100 paragraphs is not allowed")
    return str(jinja2.utils.generate_lorem_ipsum(n=n, html=html, min=min, max=max))


def _width_checked(jinja_filter: Callable[..., Any]) -> Callable[..., Any]:
    def checked(value: Any, width: Any = 80, *args: Any, **kwargs: Any) -> Any:
        if isinstance(width, int) and width > MAX_SEQUENCE:
            raise RenderLimitError(f"a width of {width} characters is too large")
        return jinja_filter(value, width, *args, **kwargs)

    return checked


def chat_template_environment() -> ChatTemplateEnvironment:
    """A fresh environment configured as transformers configures its own (no loader)."""
    env = ChatTemplateEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols]
    )
    env.filters["tojson"] = _tojson
    env.globals["raise_exception"] = _raise_exception
    env.globals["strftime_now"] = _strftime_now
    env.globals["dict"] = _DictConstructor()
    env.globals["namespace"] = _Namespace
    env.globals["range"] = _bounded_range
    env.globals["lipsum"] = _bounded_lipsum
    for name in ("center", "indent"):
        env.filters[name] = _width_checked(env.filters[name])
    return env


@lru_cache(maxsize=32)
def compile_template(source: str) -> jinja2.Template:
    """Compile ``source`` (cached, as transformers does); raises
    :class:`jinja2.TemplateSyntaxError` with its line."""
    return chat_template_environment().from_string(source)


class _Deadline(Exception):
    pass


@contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """Interrupt the enclosed code after ``seconds``: SIGALRM in the main thread, else a trace."""
    if threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer"):

        def on_alarm(signum: int, frame: FrameType | None) -> None:
            raise _Deadline

        previous = signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
        return
    deadline = time.monotonic() + seconds

    def tracer(frame: FrameType, event: str, arg: Any) -> Any:
        if time.monotonic() > deadline:
            raise _Deadline
        return tracer

    previous_trace = sys.gettrace()
    sys.settrace(tracer)
    try:
        yield
    finally:
        sys.settrace(previous_trace)


def render_bounded(
    template: jinja2.Template, variables: dict[str, Any], *, timeout: float = DEFAULT_TIMEOUT
) -> str:
    """Render ``template`` with a time limit and an output-size limit.

    Raises :class:`RenderLimitError` when a limit is hit, and lets Jinja's own errors
    (:class:`jinja2.TemplateError`, including :class:`SecurityError`) through.
    """
    pieces: list[str] = []
    size = 0
    try:
        with _time_limit(timeout):
            for piece in template.generate(**variables):
                size += len(piece)
                if size > MAX_OUTPUT:
                    raise RenderLimitError(f"the rendered prompt exceeds {MAX_OUTPUT} characters")
                pieces.append(piece)
    except _Deadline:
        raise RenderLimitError(
            f"rendering took longer than {timeout:g} s and was stopped"
        ) from None
    except (RecursionError, MemoryError, OverflowError) as exc:
        raise RenderLimitError(f"the template exhausted a limit: {type(exc).__name__}") from None
    return "".join(pieces)
