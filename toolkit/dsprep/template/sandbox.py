"""A Jinja environment that renders chat templates exactly as transformers does, but bounded.

transformers compiles chat templates in ``ImmutableSandboxedEnvironment(trim_blocks=True,
lstrip_blocks=True)`` with the ``loopcontrols`` extension, its own ``tojson`` (non-ASCII and
key order kept, no HTML escaping), the globals ``raise_exception`` and ``strftime_now``, a
``dict`` constructor and a ``namespace`` that refuses underscore attributes. This module builds
the same environment without importing transformers, and adds what a template from an
untrusted repository must not get: file access through ``{% include %}``, unbounded time, and
any string or list larger than the limits of :mod:`dsprep.template.limits`.

Nothing of a template runs at compile time: the optimizer is off, every filter and the output
step take the render context (Jinja folds neither then), and the operators it would fold are
intercepted. At render time every operator, filter, method call, ``~`` concatenation, block
and macro output is size-checked before it allocates and charged to the render's budget.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from functools import lru_cache
from types import FrameType
from typing import Any

import jinja2
import jinja2.ext
import jinja2.utils
from jinja2 import nodes, pass_context
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError, TemplateError
from jinja2.lexer import Token, TokenStream
from jinja2.runtime import Context, markup_join
from jinja2.sandbox import ImmutableSandboxedEnvironment

from dsprep.template.filters import install
from dsprep.template.filters import tojson as _tojson
from dsprep.template.formatting import wrap_format
from dsprep.template.guards import BINOPS, checked_method_call, checked_strftime
from dsprep.template.limits import (
    DEFAULT_TIMEOUT,
    MAX_OUTPUT,
    MAX_RANGE,
    MAX_TEMPLATE_CHARS,
    MAX_TEMPLATE_TOKENS,
    RenderLimitError,
    budget,
    charge,
    check_text,
    refuse,
    text_size,
    to_text,
)

__all__ = [
    "DEFAULT_TIMEOUT",
    "RenderLimitError",
    "_tojson",
    "chat_template_environment",
    "compile_bounded",
    "compile_template",
    "render_bounded",
]


def _bounded_range(*args: int) -> range:
    numbers = range(*args)
    if len(numbers) > MAX_RANGE:
        refuse(f"range() of {len(numbers):,} items exceeds dsprep's limit {MAX_RANGE:,}")
    return numbers


def _raise_exception(message: str) -> None:
    raise TemplateError(message)


def _strftime_now(format_string: str) -> str:
    checked_strftime(format_string)
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


def _bounded_lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
    if n > 100 or max > 1000:
        refuse("lipsum() larger than 100 paragraphs is not allowed")
    return str(jinja2.utils.generate_lorem_ipsum(n=n, html=html, min=min, max=max))


@pass_context
def _finalize(context: Context, value: Any) -> Any:
    """What ``{{ value }}`` prints: ``str(value)``, size-checked before it is made."""
    return to_text(value, "printing a value")


_COMPACT = 65_536  # pieces of output kept apart before they are joined into one


class OutputBuffer(list[Any]):
    """The output of a macro or block: at most :data:`MAX_OUTPUT` characters, and never more
    than :data:`_COMPACT` separate pieces (a loop printing one character at a time would
    otherwise hold a pointer and often a string object per character)."""

    def __init__(self) -> None:
        super().__init__()
        self.size = 0
        self.joined = 0  # pieces at the start that are already joined chunks

    def append(self, piece: Any) -> None:
        self.size += len(piece)
        if self.size > MAX_OUTPUT:
            refuse(f"the text of a macro or block exceeds {MAX_OUTPUT:,} characters")
        super().append(piece)
        if len(self) - self.joined > _COMPACT:
            chunk = "".join(self[self.joined :])
            del self[self.joined :]
            super().append(chunk)
            self.joined += 1

    def extend(self, pieces: Iterable[Any]) -> None:
        for piece in pieces:
            self.append(piece)


class _GuardedCodeGenerator(CodeGenerator):
    """Compiles ``a ~ b`` into a size-checked join (Jinja's own joins first, checks never)
    and macro and block output into an :class:`OutputBuffer`."""

    def buffer(self, frame: Frame) -> None:
        frame.buffer = self.temporary_identifier()
        self.writeline(f"{frame.buffer} = environment.output_buffer()")

    def visit_Getitem(self, node: nodes.Getitem, frame: Frame) -> None:
        if not isinstance(node.arg, nodes.Slice):  # Jinja slices without the environment
            super().visit_Getitem(node, frame)
            return
        self.write("environment.checked_slice(")
        self.visit(node.node, frame)
        self.write(", slice(")
        for index, part in enumerate((node.arg.start, node.arg.stop, node.arg.step)):
            self.write(", " if index else "")
            if part is None:
                self.write("None")
            else:
                self.visit(part, frame)
        self.write("))")

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.checked_concat(context, (")
        for part in node.nodes:
            self.visit(part, frame)
            self.write(", ")
        self.write("))")


def _counted(stream: TokenStream) -> Iterator[Token]:
    for count, token in enumerate(stream, 1):
        if count > MAX_TEMPLATE_TOKENS:
            refuse(
                f"the template has more than {MAX_TEMPLATE_TOKENS:,} Jinja tokens (template line"
                f" {token.lineno}); a chat template has a few thousand"
            )
        yield token


class ChatTemplateEnvironment(ImmutableSandboxedEnvironment):
    """transformers' chat-template environment plus dsprep's size and time guards."""

    intercepted_binops = frozenset(BINOPS)
    code_generator_class = _GuardedCodeGenerator

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        guard = BINOPS.get(operator)
        if guard is not None:
            return guard(left, right)
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        if not __self.is_safe_callable(__obj):
            raise SecurityError(f"{__obj!r} is not safely callable")
        return checked_method_call(__context.call, __obj, args, kwargs)

    @staticmethod
    def checked_slice(value: Any, part: slice) -> Any:
        """``value[a:b:c]``: at most a copy of ``value``, charged to the render."""
        sliced = value[part]
        charge(sliced)
        return sliced

    def wrap_str_format(self, value: Any) -> Any:
        return wrap_format(self, value)

    output_buffer = OutputBuffer

    @staticmethod
    def concat(pieces: Iterable[str]) -> str:
        """The join of a macro's, a block's or a whole render's output, size-checked."""
        if not isinstance(pieces, OutputBuffer):  # Template.render's generator
            buffered = OutputBuffer()
            buffered.extend(pieces)
            pieces = buffered
        text = "".join(pieces)
        charge(text)
        return text

    @staticmethod
    def checked_concat(context: Context, parts: tuple[Any, ...]) -> str:
        """``a ~ b ~ …``: the sizes of the parts are added up before any text is made."""
        escaping = bool(context.eval_ctx.autoescape)
        size = sum(text_size(part) for part in parts)
        check_text(6 * size if escaping else size, "joining values with ~")
        texts = [part if isinstance(part, str) else str(part) for part in parts]
        text = markup_join(texts) if escaping else "".join(texts)
        charge(text)
        return text

    def _tokenize(
        self, source: str, name: str | None, filename: str | None = None, state: str | None = None
    ) -> TokenStream:
        if len(source) > MAX_TEMPLATE_CHARS:
            refuse(
                f"the template has {len(source):,} characters (dsprep's limit is"
                f" {MAX_TEMPLATE_CHARS:,})"
            )
        stream = super()._tokenize(source, name, filename, state)
        return TokenStream(_counted(stream), name, filename)


def chat_template_environment() -> ChatTemplateEnvironment:
    """A fresh environment configured as transformers configures its own (no loader)."""
    env = ChatTemplateEnvironment(
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=[jinja2.ext.loopcontrols],
        optimized=False,
        finalize=_finalize,
    )
    env.globals["raise_exception"] = _raise_exception
    env.globals["strftime_now"] = _strftime_now
    env.globals["dict"] = _DictConstructor()
    env.globals["namespace"] = _Namespace
    env.globals["range"] = _bounded_range
    env.globals["lipsum"] = _bounded_lipsum
    install(env.filters, env.tests)
    return env


@lru_cache(maxsize=32)
def compile_template(source: str) -> jinja2.Template:
    """Compile ``source`` (cached, as transformers does); raises
    :class:`jinja2.TemplateSyntaxError` with its line, or :class:`RenderLimitError`."""
    return chat_template_environment().from_string(source)


def compile_bounded(source: str, *, timeout: float = DEFAULT_TIMEOUT) -> jinja2.Template:
    """:func:`compile_template` within ``timeout`` seconds; a template that nests too deeply
    or is too large is a :class:`RenderLimitError`, a syntax error a TemplateSyntaxError."""
    try:
        with _time_limit(timeout):
            return compile_template(source)
    except _Deadline:
        refuse(f"compiling the template took longer than {timeout:g} s of CPU time")
    except (RecursionError, MemoryError):
        refuse("the template nests its expressions or blocks too deeply to compile")
    except SyntaxError as exc:  # Python's own limits on the code Jinja generates
        refuse(f"the template nests its blocks too deeply to compile ({exc.msg})")


class _Deadline(BaseException):
    """The time is up (a BaseException, so that no ``except Exception`` can swallow it)."""


_REFIRE = 0.05  # seconds: the alarm repeats until the limit is lifted


@contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """Interrupt the enclosed code after ``seconds`` of CPU time: SIGPROF in the main thread,
    else a trace. CPU time, not wall time: a template is pure computation, and a machine busy
    with other work must not turn a render that fits into a refusal."""
    if threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer"):

        def on_alarm(signum: int, frame: FrameType | None) -> None:
            raise _Deadline

        started = time.process_time()
        previous = signal.signal(signal.SIGPROF, on_alarm)
        outer = signal.setitimer(signal.ITIMER_PROF, max(seconds, 0.001), _REFIRE)
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_PROF, 0)
            signal.signal(signal.SIGPROF, previous)
            if outer[0] > 0:  # an enclosing limit keeps what is left of its time
                left = max(outer[0] - (time.process_time() - started), 0.001)
                signal.setitimer(signal.ITIMER_PROF, left, outer[1])
        return
    deadline = time.thread_time() + seconds

    def tracer(frame: FrameType, event: str, arg: Any) -> Any:
        if time.thread_time() > deadline:
            raise _Deadline
        return tracer

    previous_trace = sys.gettrace()
    sys.settrace(tracer)
    try:
        yield
    finally:
        sys.settrace(previous_trace)


def render_bounded(
    template: jinja2.Template,
    variables: dict[str, Any],
    *,
    timeout: float = DEFAULT_TIMEOUT,
    time_limit: float | None = None,
) -> str:
    """Render ``template`` within ``timeout`` seconds and the limits of the sandbox
    (``time_limit``: the limit the error names, when ``timeout`` is what is left of it).

    Raises :class:`RenderLimitError` when a limit is hit, and lets Jinja's own errors
    (:class:`jinja2.TemplateError`, including :class:`SecurityError`) through.
    """
    pieces = OutputBuffer()
    try:
        with budget(), _time_limit(timeout):
            for piece in template.generate(**variables):
                if pieces.size + len(piece) > MAX_OUTPUT:
                    refuse(f"the rendered prompt exceeds {MAX_OUTPUT:,} characters")
                pieces.append(piece)
    except _Deadline:
        limit = timeout if time_limit is None else time_limit
        raise RenderLimitError(
            f"rendering took longer than {limit:g} s of CPU time and was stopped"
        ) from None
    except (RecursionError, MemoryError, OverflowError) as exc:
        raise RenderLimitError(f"the template exhausted a limit: {type(exc).__name__}") from None
    return "".join(pieces)
