"""Size checks of printf-style formatting (``str % args``, the ``format`` filter) and of
``str.format``/``format_map``: widths, precisions and every field are estimated before the
text is made.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from jinja2.sandbox import SandboxedEnvironment, SandboxedFormatter
from markupsafe import EscapeFormatter, Markup

from dsprep.template.limits import charge, check_text, repr_size, text_size

# --- printf-style formatting (str % args, the format filter) --------------------------------

_PRINTF_RE = re.compile(
    r"%(?:\((?P<key>[^)]*)\))?[-#0 +]*(?P<width>\*|\d+)?(?:\.(?P<precision>\*|\d*))?[hlL]?"
    r"(?P<conversion>.?)",
    re.DOTALL,
)


def _number_len(value: Any, precision: int) -> int:
    if isinstance(value, int):
        return value.bit_length() + 8 + precision  # binary, the longest form, plus padding
    return 330 + precision  # %f of 1e308: 309 digits


def printf_size(template: str, args: Any) -> int:
    """``len(template % args)``, an upper bound; an argument the operation would reject
    raises the error the operation would raise."""
    positional = list(args) if isinstance(args, tuple) else [args]
    mapping = args if not isinstance(args, (tuple, str)) else None
    position = 0

    def next_argument() -> Any:
        nonlocal position
        if position >= len(positional):
            raise TypeError("not enough arguments for format string")
        position += 1
        return positional[position - 1]

    def number(field: str | None) -> int:
        if not field:
            return 0
        if field == "*":
            value = next_argument()
            if not isinstance(value, int):
                raise TypeError("* wants int")
            return abs(value)
        return int(field)

    size = len(template)
    for match in _PRINTF_RE.finditer(template):
        conversion = match["conversion"]
        if conversion == "%":
            continue
        width, precision = number(match["width"]), number(match["precision"])
        if match["key"] is not None:
            if mapping is None:
                raise TypeError("format requires a mapping")
            value = mapping[match["key"]]
        else:
            value = next_argument()
        if conversion == "s":
            body = text_size(value)
            body = min(body, precision) if match["precision"] is not None else body
        elif conversion in ("r", "a"):
            body = repr_size(value) * (10 if conversion == "a" else 1)
        elif conversion == "c":
            body = 1
        else:
            body = _number_len(value, precision)
        size += max(width, body) + 2
        check_text(size, "formatting with %")
    return size


# --- str.format and format_map --------------------------------------------------------------

_SPEC_RE = re.compile(
    r"(?:.?[<>=^])?[-+ ]?z?#?0?(?P<width>\d*)[,_]?(?:\.(?P<precision>\d+))?[bcdeEfFgGnosxX%]?",
    re.DOTALL,
)


def field_size(value: Any, spec: str) -> int:
    """``len(format(value, spec))``, an upper bound."""
    match = _SPEC_RE.fullmatch(spec)
    if match:
        width = int(match["width"] or 0)
        precision = int(match["precision"] or 0)
    else:  # a spec the value's own __format__ reads: take its largest number as the width
        width = max((int(number) for number in re.findall(r"\d+", spec)), default=0)
        precision = width
    check_text(max(width, precision), "a format width or precision")
    if isinstance(value, str):
        body = min(len(value), precision) if match and match["precision"] else len(value)
    elif isinstance(value, (int, float)):
        body = _number_len(value, precision) * 4 // 3  # with , or _ grouping
    else:
        body = text_size(value)
    return max(width, body) + 8


class BoundedFormatter(SandboxedFormatter):
    """jinja2's sandboxed ``str.format``, with every field's size checked before it is made."""

    def vformat(self, format_string: str, args: Any, kwargs: Mapping[str, Any]) -> str:
        self._size = len(format_string)
        return super().vformat(format_string, args, kwargs)

    def convert_field(self, value: Any, conversion: str | None) -> Any:
        if conversion in ("r", "a"):
            check_text(repr_size(value) * (10 if conversion == "a" else 1), "str.format")
        elif conversion == "s":
            check_text(text_size(value), "str.format")
        return super().convert_field(value, conversion)

    def format_field(self, value: Any, format_spec: str) -> Any:
        self._size += field_size(value, format_spec) * self._escape_factor
        check_text(self._size, "str.format")
        return super().format_field(value, format_spec)

    _escape_factor = 1


class BoundedEscapeFormatter(BoundedFormatter, EscapeFormatter):
    """``Markup.format``: escaped fields may grow six-fold."""

    _escape_factor = 6


def wrap_format(env: SandboxedEnvironment, value: Any) -> Callable[..., str] | None:
    """``str.format``/``format_map`` of a string, bound to a :class:`BoundedFormatter`."""
    if getattr(value, "__name__", None) not in ("format", "format_map"):
        return None
    owner = getattr(value, "__self__", None)
    if not isinstance(owner, str):
        return None
    escape = getattr(owner, "escape", None) if isinstance(owner, Markup) else None
    formatter: BoundedFormatter = (
        BoundedEscapeFormatter(env, escape=escape) if escape else BoundedFormatter(env)
    )
    as_map = value.__name__ == "format_map"

    def bounded(*args: Any, **kwargs: Any) -> str:
        if as_map:
            if kwargs or len(args) != 1:
                raise TypeError("format_map() takes exactly one argument")
            result = type(owner)(formatter.vformat(owner, (), args[0]))
        else:
            result = type(owner)(formatter.vformat(owner, args, kwargs))
        charge(result)
        return result

    bounded.__name__ = value.__name__
    return bounded
