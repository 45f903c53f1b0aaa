"""What a chat template may build while dsprep's sandbox renders it, and size estimates.

Every operation of the sandbox that makes a string or a list first estimates the size of its
result from its inputs (:func:`text_size`, :func:`repr_size`, :func:`json_size`, …) and
refuses beyond :data:`MAX_SEQUENCE` characters or :data:`MAX_ITEMS` items, before anything
is allocated. What it did build is then charged to the render's :class:`Budget`: at most
:data:`MAX_BUILT` bytes in total, and the process may grow by at most :data:`MAX_MEMORY`
while the template renders, so that many operations under the caps cannot add up to
gigabytes either.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, NoReturn

import jinja2.utils
from jinja2.exceptions import TemplateError
from jinja2.runtime import Undefined

MAX_RANGE = 10_000  # items in one range(); transformers' jinja2 allows 100 000
MAX_SEQUENCE = 10_000_000  # characters of one string a single operation may build
MAX_ITEMS = 1_000_000  # items of one list, tuple or dict a single operation may build
MAX_INT_BITS = 100_000  # bits of an integer (a 30 000-digit number)
MAX_EXPONENT = 4_096
MAX_OUTPUT = 16_000_000  # characters of rendered output
MAX_BUILT = 4 * 2**30  # bytes of strings and lists one render may build, freed ones included
MAX_MEMORY = 512 * 2**20  # bytes the process may grow by while one template renders
MAX_TEMPLATE_CHARS = 10_000_000  # characters of template source
MAX_TEMPLATE_TOKENS = 50_000  # Jinja tokens of template source (dsprep's template has ~1 000)
DEFAULT_TIMEOUT = 5.0  # seconds

_MEMORY_POLL = 16 * 2**20  # read the resident size again after this many bytes were built
_FRESH_ITEM = 64  # bytes charged per item of a list a filter builds (a small tuple or string)


class RenderLimitError(TemplateError):
    """The template tried to use more than the sandbox allows (size or time)."""


def refuse(message: str) -> NoReturn:
    raise RenderLimitError(message)


def check_text(size: int, what: str) -> None:
    """Refuse ``what`` when it would build a string of more than :data:`MAX_SEQUENCE`."""
    if size > MAX_SEQUENCE:
        refuse(f"{what} would build {size:,} characters (dsprep's limit is {MAX_SEQUENCE:,})")


def check_items(count: int, what: str) -> None:
    """Refuse ``what`` when it would build more than :data:`MAX_ITEMS` items."""
    if count > MAX_ITEMS:
        refuse(f"{what} would build {count:,} items (dsprep's limit is {MAX_ITEMS:,})")


def check_int_bits(bits: int, what: str) -> None:
    if bits > MAX_INT_BITS:
        refuse(f"{what} would build a {bits:,}-bit number (dsprep's limit is {MAX_INT_BITS:,})")


def take(iterable: Iterable[Any], what: str) -> list[Any]:
    """``list(iterable)``, refused before it holds more than :data:`MAX_ITEMS` items."""
    if hasattr(iterable, "__len__"):
        check_items(len(iterable), what)  # type: ignore[arg-type]
        return list(iterable)
    items: list[Any] = []
    for item in iterable:
        items.append(item)
        if len(items) > MAX_ITEMS:
            check_items(len(items), what)
    return items


# --- the render's budget --------------------------------------------------------------------


def resident_bytes() -> int | None:
    """The process's resident size now (Linux), else its peak so far; None when unknown."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError, AttributeError):
        pass
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


@dataclass
class Budget:
    """What one render has built so far (bytes) and the resident size it started from."""

    built: int = 0
    start_resident: int | None = field(default_factory=resident_bytes)
    next_poll: int = _MEMORY_POLL

    def charge(self, size: int) -> None:
        self.built += size
        if self.built > MAX_BUILT:
            refuse(
                f"the template built more than {MAX_BUILT // 2**20:,} MiB of strings and lists"
                " while rendering (dsprep's limit per render)"
            )
        if self.built >= self.next_poll:
            self.next_poll = self.built + _MEMORY_POLL
            now = resident_bytes()
            if self.start_resident is not None and now is not None:
                grown = now - self.start_resident
                if grown > MAX_MEMORY:
                    refuse(
                        f"rendering grew the process by {grown // 2**20:,} MiB (dsprep's limit"
                        f" is {MAX_MEMORY // 2**20:,} MiB)"
                    )


_BUDGET: ContextVar[Budget | None] = ContextVar("dsprep_render_budget", default=None)


@contextmanager
def budget() -> Iterator[Budget]:
    """A fresh :class:`Budget` for the render run inside the block."""
    current = Budget()
    token = _BUDGET.set(current)
    try:
        yield current
    finally:
        _BUDGET.reset(token)


def charge(value: Any) -> None:
    """Charge a string or container an operation just built to the current render."""
    current = _BUDGET.get()
    if current is not None and isinstance(value, (str, bytes, list, tuple, dict)):
        current.charge(sys.getsizeof(value))


def charge_items(value: Any, *, exact: bool = False) -> None:
    """Charge a list and the items in it (all of their size with ``exact``: split pieces)."""
    current = _BUDGET.get()
    if current is None or not isinstance(value, (list, tuple)):
        charge(value)
        return
    size = sys.getsizeof(value)
    for item in value:
        size += sys.getsizeof(item) if exact else min(sys.getsizeof(item), _FRESH_ITEM)
    current.charge(size)


# --- size estimates -------------------------------------------------------------------------

_ASCII_CONTROLS = bytes(range(32)) + b"\x7f"
_C0 = bytes(range(32))


def _int_len(value: int) -> int:
    return value.bit_length() * 30103 // 100000 + 2


def _str_repr_len(text: str) -> int:
    quoted = len(text) + 2 + text.count("\\") + text.count("'")
    if text.isprintable():
        return quoted
    if text.isascii():
        raw = text.encode("ascii")
        return quoted + 3 * (len(raw) - len(raw.translate(None, _ASCII_CONTROLS)))
    return 10 * len(text) + 2


def json_str_len(text: str, ensure_ascii: bool) -> int:
    """``len(json.dumps(text))``, an upper bound."""
    if ensure_ascii and not text.isascii():
        return 12 * len(text) + 2
    size = len(text) + 2 + text.count('"') + text.count("\\")
    if not text.isprintable():
        raw = text.encode("utf-8", "surrogatepass")
        size += 5 * (len(raw) - len(raw.translate(None, _C0)))
    return size


def escape_len(text: str) -> int:
    """``len(markupsafe.escape(text))``."""
    return (
        len(text)
        + 4 * (text.count("&") + text.count('"') + text.count("'"))
        + 3 * (text.count("<") + text.count(">"))
    )


class _Past(Exception):
    """The estimate passed its limit: no need to look further."""


class _Sizer:
    """Walks a value once, adding up the text ``repr`` or ``json.dumps`` would make of it."""

    def __init__(self, limit: int, *, json: bool = False, ensure_ascii: bool = False) -> None:
        self.limit = limit
        self.json = json
        self.ensure_ascii = ensure_ascii
        self.per_item = 2  # separators (json: item and key separator, newline and indent)
        self.indent: int | None = None
        self.total = 0
        self.nodes = 0
        self.depth = 0
        self.active: set[int] = set()

    def grow(self, size: int) -> None:
        self.total += size
        self.nodes += 1
        if self.total > self.limit:
            raise _Past

    def measure(self, value: Any) -> int:
        try:
            self.add(value, 0)
        except _Past:
            pass
        except RecursionError:
            refuse("a value nests too deeply to be turned into text")
        return self.total

    def add(self, value: Any, depth: int) -> None:
        self.depth = max(self.depth, depth)
        if isinstance(value, str):
            size = json_str_len(value, self.ensure_ascii) if self.json else _str_repr_len(value)
            self.grow(size + (0 if type(value) is str else 16))
        elif value is None or isinstance(value, bool):
            self.grow(5)
        elif isinstance(value, int):
            self.grow(_int_len(value))
        elif isinstance(value, float):
            self.grow(24)
        elif isinstance(value, (bytes, bytearray)):
            self.grow(4 * len(value) + 14)
        elif isinstance(value, jinja2.utils.Namespace):
            self._container(value, object.__getattribute__(value, "_Namespace__attrs"), depth)
        elif isinstance(value, (dict, list, tuple, set, frozenset, type({}.items()))):
            self._container(value, value, depth)
        elif isinstance(value, (type({}.keys()), type({}.values()))):
            self._container(value, list(value), depth)
        elif isinstance(value, Undefined):
            self.grow(16)
        else:
            self.grow(0 if self.json else 256)  # json refuses it; repr is a short fixed text

    def _container(self, value: Any, items: Any, depth: int) -> None:
        if id(value) in self.active:
            self.grow(8)  # [...], as repr writes a cycle
            return
        self.active.add(id(value))
        self.grow(2 if type(value) in (dict, list) else 32)
        step = self.per_item
        if self.indent is not None:
            step += 1 + self.indent * (depth + 1)
            self.grow(1 + self.indent * depth)  # the closing bracket's line
        if isinstance(items, dict):
            for key, item in items.items():
                self.grow(step + (2 if self.json and not isinstance(key, str) else 0))
                self.add(key, depth + 1)
                self.add(item, depth + 1)
        else:
            for item in items:
                self.grow(step)
                self.add(item, depth + 1)
        self.active.discard(id(value))


def repr_size(value: Any, limit: int = MAX_SEQUENCE) -> int:
    """``len(repr(value))``, an upper bound (counting stops once past ``limit``)."""
    return _Sizer(limit).measure(value)


def text_size(value: Any, limit: int = MAX_SEQUENCE) -> int:
    """``len(str(value))``, an upper bound (counting stops once past ``limit``)."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, Undefined):
        return 0
    return repr_size(value, limit)


def pformat_size(value: Any, limit: int = MAX_SEQUENCE) -> int:
    """``len(pprint.pformat(value))``: the repr plus a newline and an indent per item."""
    sizer = _Sizer(limit)
    size = sizer.measure(value)
    return size + 2 * size // 80 + sizer.nodes * (sizer.depth + 2)


def json_size(
    value: Any,
    *,
    ensure_ascii: bool = False,
    indent: int | str | None = None,
    separators: tuple[str, str] | None = None,
    limit: int = MAX_SEQUENCE,
) -> int:
    """``len(json.dumps(value, …))``, an upper bound (counting stops once past ``limit``)."""
    sizer = _Sizer(limit, json=True, ensure_ascii=ensure_ascii)
    if separators is None:
        separators = (",", ": ") if indent is not None else (", ", ": ")
    sizer.per_item = len(str(separators[0])) + len(str(separators[1]))
    if indent is not None:
        sizer.indent = max(indent, 0) if isinstance(indent, int) else len(str(indent))
    return sizer.measure(value)


def to_text(value: Any, what: str = "turning a value into text") -> str:
    """``str(value)``, refused before it would build more than :data:`MAX_SEQUENCE`."""
    if isinstance(value, str):
        return value
    check_text(text_size(value), what)
    text = str(value)
    charge(text)
    return text
