"""EventBridge rule matching for the local stack: the template's event patterns decide which
events start which state machine, as the default event bus does in AWS.

Supported matchers: exact values, prefix, suffix, wildcard, anything-but (values or prefix),
exists and numeric. A pattern using anything else is rejected when the stack starts."""

from __future__ import annotations

import fnmatch
import operator
from typing import Any

_MISSING = object()
_NUMERIC_OPS = {"<": operator.lt, "<=": operator.le, "=": operator.eq, ">": operator.gt, ">=": operator.ge}
SUPPORTED = {"prefix", "suffix", "wildcard", "anything-but", "exists", "numeric"}


class PatternError(ValueError):
    """An event pattern the local stack cannot evaluate."""


def validate(pattern: dict[str, Any], path: str = "") -> None:
    for key, value in pattern.items():
        where = f"{path}.{key}" if path else key
        if isinstance(value, dict):
            validate(value, where)
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, dict):
                    unknown = set(item) - SUPPORTED
                    if unknown or len(item) != 1:
                        raise PatternError(f"event pattern {where}: matcher {sorted(item)} is not supported locally "
                                           f"(supported: {', '.join(sorted(SUPPORTED))})")
        else:
            raise PatternError(f"event pattern {where}: values must be lists or objects")


def _match_value(matcher: Any, value: Any) -> bool:
    if not isinstance(matcher, dict):
        return value is not _MISSING and matcher == value
    (kind, arg), = matcher.items()
    if kind == "exists":
        return (value is not _MISSING) == bool(arg)
    if value is _MISSING:
        return False
    if kind == "prefix":
        return isinstance(value, str) and value.startswith(arg)
    if kind == "suffix":
        return isinstance(value, str) and value.endswith(arg)
    if kind == "wildcard":
        # EventBridge's * matches any run of characters (including '/'); no other metacharacters.
        return isinstance(value, str) and fnmatch.fnmatchcase(value, arg.replace("[", "[[]").replace("?", "[?]"))
    if kind == "anything-but":
        if isinstance(arg, dict):
            return not (isinstance(value, str) and value.startswith(arg.get("prefix", "\0")))
        excluded = arg if isinstance(arg, list) else [arg]
        return value not in excluded
    if kind == "numeric":
        if not isinstance(value, int | float):
            return False
        pairs = zip(arg[::2], arg[1::2], strict=True)
        return all(_NUMERIC_OPS[op](value, bound) for op, bound in pairs)
    return False


def matches(pattern: dict[str, Any], event: Any) -> bool:
    """True when the event satisfies every field of the pattern."""
    if not isinstance(event, dict):
        return False
    for key, expected in pattern.items():
        value = event.get(key, _MISSING)
        if isinstance(expected, dict):
            if not matches(expected, value):
                return False
            continue
        values = value if isinstance(value, list) else [value]
        if not any(_match_value(m, v) for m in expected for v in values):
            return False
    return True
