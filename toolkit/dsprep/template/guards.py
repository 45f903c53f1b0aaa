"""Size checks of the operators and the method calls a chat template can use.

Each check estimates the size of the result from the operands before the operation runs and
refuses beyond the limits of :mod:`dsprep.template.limits`; the result is then charged to the
render's budget.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

from markupsafe import Markup

from dsprep.template.formatting import printf_size
from dsprep.template.limits import (
    MAX_EXPONENT,
    MAX_ITEMS,
    MAX_RANGE,
    charge,
    charge_items,
    check_int_bits,
    check_items,
    check_text,
    escape_len,
    refuse,
    take,
)

_TEXT = (str, bytes, bytearray)
_SEQUENCES = (str, bytes, bytearray, list, tuple)


# --- operators ------------------------------------------------------------------------------


def _sequence_size(value: Any, what: str, size: int) -> None:
    if isinstance(value, _TEXT):
        check_text(size, what)
    else:
        check_items(size, what)


def checked_mul(left: Any, right: Any) -> Any:
    for sequence, count in ((left, right), (right, left)):
        if isinstance(sequence, _SEQUENCES) and isinstance(count, int):
            _sequence_size(sequence, "repeating a value with *", len(sequence) * count)
    if isinstance(left, int) and isinstance(right, int):
        check_int_bits(left.bit_length() + right.bit_length(), "multiplying")
    result = operator.mul(left, right)
    charge(result)
    return result


def checked_add(left: Any, right: Any) -> Any:
    if isinstance(left, _SEQUENCES) and isinstance(right, _SEQUENCES):
        size = 0
        for other, markup in ((left, right), (right, left)):
            if isinstance(markup, Markup) and isinstance(other, str):
                size += len(other) if hasattr(other, "__html__") else escape_len(other)
            else:
                size += len(other)
        _sequence_size(left, "joining values with +", size)
    result = operator.add(left, right)
    charge(result)
    return result


def checked_pow(left: Any, right: Any) -> Any:
    if isinstance(right, int) and left not in (0, 1, -1):
        if abs(right) > MAX_EXPONENT:
            refuse(f"the power {left} ** {right} is too large for a chat template")
        if isinstance(left, int) and right > 0:
            check_int_bits(left.bit_length() * right, "a power")
    return operator.pow(left, right)


def checked_mod(left: Any, right: Any) -> Any:
    if isinstance(left, str):
        size = printf_size(left, right)
        check_text(6 * size if isinstance(left, Markup) else size, "formatting with %")
    elif isinstance(left, (bytes, bytearray)):
        check_text(printf_size(left.decode("latin-1"), right), "formatting with %")
    result = operator.mod(left, right)
    charge(result)
    return result


BINOPS: dict[str, Callable[[Any, Any], Any]] = {
    "*": checked_mul,
    "**": checked_pow,
    "+": checked_add,
    "%": checked_mod,
}


# --- method calls ---------------------------------------------------------------------------

Arguments = tuple[tuple[Any, ...], dict[str, Any]]


def _argument(args: tuple[Any, ...], kwargs: dict[str, Any], index: int, name: str) -> Any:
    if len(args) > index:
        return args[index]
    return kwargs.get(name)


def _width(owner: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Arguments:
    width = _argument(args, kwargs, 0, "width")
    if isinstance(width, int):
        check_text(max(len(owner), width), f"padding a string to {width:,} characters")
    return args, kwargs


def _expandtabs(owner: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Arguments:
    tabsize = _argument(args, kwargs, 0, "tabsize")
    tabsize = 8 if tabsize is None else tabsize
    if isinstance(tabsize, int):
        tab = "\t" if isinstance(owner, str) else b"\t"
        check_text(len(owner) + owner.count(tab) * max(tabsize, 0), "expandtabs")
    return args, kwargs


def _replace(owner: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Arguments:
    old, new = _argument(args, kwargs, 0, "old"), _argument(args, kwargs, 1, "new")
    count = _argument(args, kwargs, 2, "count")
    if isinstance(old, type(owner)) and isinstance(new, type(owner)):
        occurrences = owner.count(old) if old else len(owner) + 1
        if isinstance(count, int) and count >= 0:
            occurrences = min(occurrences, count)
        check_text(len(owner) + occurrences * max(len(new) - len(old), 0), "replace")
    return args, kwargs


def _join(owner: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Arguments:
    if len(args) != 1 or kwargs:
        return args, kwargs  # join raises its own TypeError
    items = take(args[0], "join")
    escaped = isinstance(owner, Markup)
    size = len(owner) * max(len(items) - 1, 0)
    for item in items:
        if isinstance(item, str):
            size += escape_len(item) if escaped and not hasattr(item, "__html__") else len(item)
        elif isinstance(item, (bytes, bytearray)):
            size += len(item)
    check_text(size, "join")
    return (items,), kwargs


def _translate(owner: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Arguments:
    table = _argument(args, kwargs, 0, "table")
    values = table.values() if isinstance(table, dict) else table
    longest = 1
    if isinstance(owner, str) and isinstance(values, (list, tuple, type({}.values()))):
        longest = max((len(v) for v in values if isinstance(v, str)), default=1)
    elif isinstance(owner, str) and not isinstance(values, str):
        refuse("str.translate takes a dict or a sequence in dsprep's sandbox")
    check_text(len(owner) * max(longest, 1), "translate")
    return args, kwargs


def _grow(factor: int) -> Callable[[Any, tuple[Any, ...], dict[str, Any]], Arguments]:
    def guard(owner: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Arguments:
        check_text(factor * len(owner) + 16, "changing a string's case or encoding")
        return args, kwargs

    return guard


_LINE_BREAKS = ("\n", "\r", "\v", "\f", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029")
_SPACES = str.maketrans("", "", "".join(c for c in map(chr, range(0x3001)) if c.isspace()))


def _split(owner: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Arguments:
    separator = _argument(args, kwargs, 0, "sep")
    limit = _argument(args, kwargs, 1, "maxsplit")
    if isinstance(limit, int) and 0 <= limit < MAX_ITEMS:
        return args, kwargs
    if isinstance(separator, (str, bytes)) and separator:
        pieces = owner.count(separator) + 1
    elif isinstance(owner, str) and len(owner) > 2 * MAX_ITEMS:
        pieces = len(owner) - len(owner.translate(_SPACES)) + 1
    else:
        pieces = len(owner) // 2 + 1
    check_items(pieces, "split")
    return args, kwargs


def _splitlines(owner: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Arguments:
    if isinstance(owner, str):
        pieces = sum(owner.count(c) for c in _LINE_BREAKS) + 1
    else:
        pieces = owner.count(b"\n") + owner.count(b"\r") + 1
    check_items(pieces, "splitlines")
    return args, kwargs


def _to_bytes(owner: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Arguments:
    length = _argument(args, kwargs, 0, "length")
    if isinstance(length, int):
        check_text(length, "int.to_bytes")
    return args, kwargs


def _from_keys(owner: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Arguments:
    if args:
        args = (take(args[0], "dict.fromkeys"), *args[1:])
    return args, kwargs


def _maketrans(owner: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Arguments:
    entries = sum(len(a) for a in args if isinstance(a, (str, bytes, dict)))
    if entries > MAX_RANGE:
        refuse(f"a translation table of {entries:,} entries is too large for a chat template")
    return args, kwargs


Guard = Callable[[Any, tuple[Any, ...], dict[str, Any]], Arguments]
_TEXT_METHODS: dict[str, Guard] = {
    "center": _width,
    "ljust": _width,
    "rjust": _width,
    "zfill": _width,
    "expandtabs": _expandtabs,
    "replace": _replace,
    "join": _join,
    "translate": _translate,
    "upper": _grow(3),
    "lower": _grow(3),
    "casefold": _grow(3),
    "swapcase": _grow(3),
    "title": _grow(3),
    "capitalize": _grow(3),
    "encode": _grow(10),
    "decode": _grow(4),
    "hex": _grow(3),
    "split": _split,
    "rsplit": _split,
    "splitlines": _splitlines,
}
_PIECES = frozenset({"split", "rsplit", "splitlines", "partition", "rpartition"})
_BY_QUALNAME: dict[str, Guard] = {
    "str.maketrans": _maketrans,
    "bytes.maketrans": _maketrans,
    "bytearray.maketrans": _maketrans,
    "dict.fromkeys": _from_keys,
}


def checked_method_call(
    call: Callable[..., Any], method: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """``call(method, *args, **kwargs)`` after the size check of a known builtin method."""
    owner = getattr(method, "__self__", None)
    name = getattr(method, "__name__", "")
    guard: Guard | None = None
    if isinstance(owner, _TEXT):
        guard = _TEXT_METHODS.get(name)
    elif isinstance(owner, int) and name == "to_bytes":
        guard = _to_bytes
    else:
        guard = _BY_QUALNAME.get(getattr(method, "__qualname__", ""))
    if guard is not None:
        args, kwargs = guard(owner, args, kwargs)
    result = call(method, *args, **kwargs)
    if isinstance(owner, _TEXT) and name in _PIECES:
        charge_items(result, exact=True)
    else:
        charge(result)
    return result


def checked_strftime(format_string: str) -> None:
    check_text(20 * len(format_string) + 64, "strftime_now")
