"""Jinja's filters and tests, each behind a size check of what it is about to build.

Every filter is wrapped as a ``pass_context`` callable: Jinja never calls those at compile
time, so constant folding cannot run a filter outside the render's limits. The wrapper runs
the filter's guard (an estimate of the result from the inputs, refused beyond the limits),
calls Jinja's own filter and charges the result to the render's budget.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from jinja2 import pass_context
from jinja2.filters import make_attrgetter
from jinja2.runtime import Context
from jinja2.utils import _PassArg

from dsprep.template.formatting import printf_size
from dsprep.template.limits import (
    MAX_ITEMS,
    charge,
    charge_items,
    check_items,
    check_text,
    escape_len,
    json_size,
    pformat_size,
    refuse,
    take,
    text_size,
    to_text,
)

Call = tuple[Any, tuple[Any, ...], dict[str, Any]]
FilterGuard = Callable[[Context, Any, tuple[Any, ...], dict[str, Any]], Call]


def _argument(args: tuple[Any, ...], kwargs: dict[str, Any], index: int, name: str) -> Any:
    return args[index] if len(args) > index else kwargs.get(name)


def _text(factor: int = 1, *, max_input: int | None = None) -> FilterGuard:
    """The value as text, its result at most ``factor`` times as long (split into words
    when ``max_input`` is given: then at most that many characters)."""

    def guard(context: Context, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Call:
        text = to_text(value)
        if max_input is not None and len(text) > max_input:
            refuse(f"this filter splits text into words: at most {max_input:,} characters")
        check_text(factor * len(text), "a filter")
        return text, args, kwargs

    return guard


def _escape(context: Context, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Call:
    text = to_text(value)
    check_text(escape_len(text), "escape")
    return text, args, kwargs


def _center(context: Context, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Call:
    text = to_text(value)
    width = _argument(args, kwargs, 0, "width")
    if isinstance(width, int):
        check_text(max(width, len(text)), f"centering in {width:,} characters")
    return text, args, kwargs


def _indent(context: Context, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Call:
    text = to_text(value)
    width = _argument(args, kwargs, 0, "width")
    indent = 4 if width is None else (width if isinstance(width, int) else text_size(width))
    check_text(len(text) + (text.count("\n") + 2) * (max(indent, 0) + 1), "indent")
    return text, args, kwargs


def _wordwrap(context: Context, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Call:
    text = to_text(value)
    if len(text) > MAX_ITEMS:
        refuse(f"wordwrap of {len(text):,} characters (dsprep's limit is {MAX_ITEMS:,})")
    width = _argument(args, kwargs, 0, "width")
    width = 79 if not isinstance(width, int) else max(width, 1)
    wrapstring = _argument(args, kwargs, 2, "wrapstring")
    wrap = len(context.environment.newline_sequence) if wrapstring is None else len(wrapstring)
    lines = min(len(text) + 1, 2 * len(text) // width + text.count("\n") + 2)
    check_text(len(text) + lines * wrap, "wordwrap")
    return text, args, kwargs


def _replace(context: Context, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Call:
    text = to_text(value)
    old, new = _argument(args, kwargs, 0, "old"), _argument(args, kwargs, 1, "new")
    count = _argument(args, kwargs, 2, "count")
    old, new = to_text(old), to_text(new)
    occurrences = text.count(old) if old else len(text) + 1
    if isinstance(count, int) and count >= 0:
        occurrences = min(occurrences, count)
    size = len(text) + occurrences * max(len(new) - len(old), 0)
    check_text(6 * size if context.eval_ctx.autoescape else size, "replace")
    return text, (old, new, *args[2:]), {k: v for k, v in kwargs.items() if k not in ("old", "new")}


def _format(context: Context, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Call:
    text = to_text(value)
    if not (args and kwargs):  # both at once: the filter raises its own error
        printf_size(text, kwargs if kwargs else tuple(args))
    return text, args, kwargs


def _urlize(context: Context, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Call:
    text = to_text(value)
    if len(text) > MAX_ITEMS:
        refuse(f"urlize of {len(text):,} characters (dsprep's limit is {MAX_ITEMS:,})")
    attributes = sum(text_size(a) for a in (*args, *kwargs.values()) if isinstance(a, str))
    check_text(3 * len(text) + (len(text) // 2 + 1) * (64 + attributes), "urlize")
    return text, args, kwargs


def _urlencode(context: Context, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Call:
    size = text_size(value)
    if size > MAX_ITEMS:
        refuse(f"urlencode of {size:,} characters (dsprep's limit is {MAX_ITEMS:,})")
    return value, args, kwargs


def _xmlattr(context: Context, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Call:
    if isinstance(value, dict):
        check_items(len(value), "xmlattr")
        size = sum(6 * (text_size(k) + text_size(v)) + 4 for k, v in value.items())
        check_text(size, "xmlattr")
    return value, args, kwargs


def _pprint(context: Context, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Call:
    check_text(pformat_size(value), "pprint")
    return value, args, kwargs


def _join(context: Context, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Call:
    separator = to_text(_argument(args, kwargs, 0, "d") or "")
    attribute = _argument(args, kwargs, 1, "attribute")
    items = take(value, "join")
    if attribute is not None:
        getter = make_attrgetter(context.environment, attribute)
        items = [getter(item) for item in items]
    size = len(separator) * max(len(items) - 1, 0)
    for item in items:
        size += text_size(item)
        check_text(6 * size if context.eval_ctx.autoescape else size, "join")
    return items, (separator,), {}


def _items(context: Context, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Call:
    """The filter materialises the value: at most MAX_ITEMS items."""
    return (value if isinstance(value, dict) else take(value, "a filter")), args, kwargs


def _sized(context: Context, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Call:
    if hasattr(value, "__len__"):
        check_items(len(value), "a filter")
        return value, args, kwargs
    return take(value, "a filter"), args, kwargs


def _batch(context: Context, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Call:
    count = _argument(args, kwargs, 0, "linecount")
    if isinstance(count, int):
        check_items(count, "batch")
    return value, args, kwargs


def _slice(context: Context, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Call:
    count = _argument(args, kwargs, 0, "slices")
    if isinstance(count, int):
        check_items(count, "slice")
    return take(value, "slice"), args, kwargs


def _charged(chunks: Iterable[Any]) -> Iterator[Any]:
    for chunk in chunks:
        charge(chunk)
        yield chunk


GUARDS: dict[str, FilterGuard] = {
    "upper": _text(3),
    "lower": _text(3),
    "capitalize": _text(3),
    "title": _text(3, max_input=2 * MAX_ITEMS),
    "trim": _text(),
    "string": _text(),
    "safe": _text(),
    "striptags": _text(max_input=2 * MAX_ITEMS),
    "wordcount": _text(max_input=2 * MAX_ITEMS),
    "escape": _escape,
    "e": _escape,
    "forceescape": _escape,
    "center": _center,
    "indent": _indent,
    "wordwrap": _wordwrap,
    "replace": _replace,
    "format": _format,
    "urlize": _urlize,
    "urlencode": _urlencode,
    "xmlattr": _xmlattr,
    "pprint": _pprint,
    "join": _join,
    "list": _items,
    "sort": _items,
    "unique": _items,
    "groupby": _items,
    "min": _items,
    "max": _items,
    "reverse": _sized,
    "dictsort": _sized,
    "batch": _batch,
    "slice": _slice,
}
_ITEM_RESULTS = frozenset({"list", "sort", "groupby", "dictsort", "reverse"})
_CHUNKED_RESULTS = frozenset({"batch", "slice"})


def bounded_filter(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
    """``original`` (a Jinja filter) behind its guard, and never evaluated at compile time."""
    pass_arg = _PassArg.from_obj(original)
    guard = GUARDS.get(name)

    @pass_context
    def bounded(context: Context, value: Any, *args: Any, **kwargs: Any) -> Any:
        if guard is not None:
            value, args, kwargs = guard(context, value, args, kwargs)
        if pass_arg is _PassArg.context:
            result = original(context, value, *args, **kwargs)
        elif pass_arg is _PassArg.eval_context:
            result = original(context.eval_ctx, value, *args, **kwargs)
        elif pass_arg is _PassArg.environment:
            result = original(context.environment, value, *args, **kwargs)
        else:
            result = original(value, *args, **kwargs)
        if name in _CHUNKED_RESULTS:
            return _charged(result)
        if name in _ITEM_RESULTS:
            charge_items(result)
        else:
            charge(result)
        return result

    bounded.__name__ = getattr(original, "__name__", name)
    bounded.__doc__ = getattr(original, "__doc__", None)
    return bounded


def bounded_sum(
    context: Context, iterable: Iterable[Any], attribute: Any = None, start: Any = 0
) -> Any:
    """Jinja's ``sum``; lists and tuples are joined in one pass (``sum`` copies each time)."""
    if attribute is not None:
        iterable = map(make_attrgetter(context.environment, attribute), iterable)
    if not isinstance(start, (list, tuple)):
        return sum(iterable, start)
    items = take(iterable, "sum")
    total = len(start)
    for item in items:
        if type(item) is not type(start):
            kind = type(start).__name__
            raise TypeError(f'can only concatenate {kind} (not "{type(item).__name__}") to {kind}')
        total += len(item)
        check_items(total, "sum")
    result = type(start)(itertools.chain(start, *items))
    charge(result)
    return result


def tojson(
    value: Any,
    ensure_ascii: bool = False,
    indent: int | None = None,
    separators: tuple[str, str] | None = None,
    sort_keys: bool = False,
) -> str:
    """transformers' ``tojson``: plain json.dumps, non-ASCII kept, no HTML escaping."""
    size = json_size(value, ensure_ascii=ensure_ascii, indent=indent, separators=separators)
    check_text(size, "tojson")
    return json.dumps(
        value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys
    )


def bounded_text_test(original: Callable[[Any], bool]) -> Callable[..., bool]:
    """The ``lower``/``upper`` tests turn the value into text first: check its size."""

    @pass_context
    def bounded(context: Context, value: Any) -> bool:
        check_text(text_size(value), "a test")
        return original(value)

    return bounded


def install(filters: dict[str, Any], tests: dict[str, Any]) -> None:
    """Put every filter and the text tests of an environment behind their checks."""
    filters["tojson"] = tojson
    for name, original in list(filters.items()):
        filters[name] = bounded_filter(name, original)
    filters["sum"] = pass_context(bounded_sum)
    for name in ("lower", "upper"):
        tests[name] = bounded_text_test(tests[name])
