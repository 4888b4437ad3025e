"""Run Amazon States Language definitions in this process, the way Step Functions runs them in AWS.

The local stack executes the same ``statemachine/*.asl.json`` the template deploys; each Task state
calls a Python callable (normally a Lambda handler wrapper) instead of invoking a function in AWS.

Supported: Task, Pass, Choice, Wait, Succeed, Fail and Parallel states; InputPath, Parameters,
ResultSelector, ResultPath and OutputPath; the context object (``$$``); Retry (with MaxDelaySeconds
and JitterStrategy) and Catch; Task and execution TimeoutSeconds; the JsonPath subset ``$``,
``.field``, ``['field']`` and ``[index]``; the intrinsic functions in ``INTRINSICS``. Task resources
are Lambda function ARNs (or any string the caller maps to a callable) and the optimized
``arn:aws:states:::lambda:invoke`` integration.

Everything else (Map, JSONata, workflow variables, ``.sync`` and ``.waitForTaskToken``
integrations, HeartbeatSeconds, TimeoutSecondsPath, Credentials, JsonPath wildcards, filters,
slices and deep scans, other intrinsic functions) is rejected by ``StateMachine`` when it is built,
with ``UnsupportedDefinition`` naming the state and the feature: a definition the runner cannot run
fully never starts.

Timeouts: Python cannot stop a thread. When a Task's (or the execution's) TimeoutSeconds expires,
the state fails with ``States.Timeout`` (or the execution ends TIMED_OUT) at once, but the callable
keeps running in its daemon worker thread and its result is discarded, much as a Lambda function
keeps running after Step Functions stops waiting for it. Likewise a Parallel branch whose sibling
failed stops at its next state, Wait or retry, not in the middle of a task.
"""

from __future__ import annotations

import base64
import contextvars
import json
import operator
import random
import re
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "INTRINSICS",
    "MAX_PAYLOAD_BYTES",
    "SUPPORTED_TYPES",
    "Context",
    "Execution",
    "StateMachine",
    "UnsupportedDefinition",
]

SUPPORTED_TYPES = ("Task", "Pass", "Choice", "Wait", "Succeed", "Fail", "Parallel")
MAX_PAYLOAD_BYTES = 256 * 1024  # Step Functions' limit on a state's input, output or task result
LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"

_TERMINAL_ERRORS = frozenset({"States.Runtime", "States.DataLimitExceeded"})  # never retried or caught
_POLL_SECONDS = 0.05
_MISSING: Any = object()


class UnsupportedDefinition(ValueError):
    """The definition uses something the local runner cannot run, or is not valid States Language."""


class _StatesError(Exception):
    """A state failed with an error name and a cause, as Step Functions reports it."""

    def __init__(self, error: str | None, cause: str | None) -> None:
        super().__init__(f"{error}: {cause}")
        self.error = error
        self.cause = cause
        self.located = False


class _TimedOut(Exception):
    """The execution ran past the state machine's TimeoutSeconds."""


class _Cancelled(Exception):
    """A sibling Parallel branch failed, so this branch stops."""


# ---------------------------------------------------------------------------------------------------
# JSON helpers


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value


def _preview(value: Any, limit: int = 1000) -> str:
    text = _dumps(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _check_size(value: Any, what: str) -> None:
    size = len(_dumps(value).encode())
    if size > MAX_PAYLOAD_BYTES:
        raise _StatesError("States.DataLimitExceeded",
                           f"{what} has {size} bytes, more than the {MAX_PAYLOAD_BYTES}-byte limit")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


_TIMESTAMP_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")


def _parse_timestamp(value: Any) -> datetime | None:
    """An RFC 3339 timestamp (uppercase T, Z or a numeric offset), or None."""
    if not isinstance(value, str):
        return None
    match = _TIMESTAMP_RE.fullmatch(value)
    if match is None:
        return None
    fraction = (match.group(1) or "")[:7]
    zone = "+00:00" if match.group(2) == "Z" else match.group(2)
    try:
        return datetime.fromisoformat(value[:19] + fraction + zone)
    except ValueError:
        return None


def _iso(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


# ---------------------------------------------------------------------------------------------------
# Paths


_BRACKET_RE = re.compile(r"""\[(\d+)\]|\['((?:[^'\\]|\\.)*)'\]|\["((?:[^"\\]|\\.)*)"\]""")
_PATH_HELP = "supported: $, $$, .field, ['field'], [index]"


@dataclass(frozen=True)
class _Path:
    """A JsonPath that names a single node: ``$`` (the data) or ``$$`` (the context object)."""

    text: str
    context: bool
    segments: tuple[str | int, ...]

    def get(self, data: Any, context: Mapping[str, Any]) -> Any:
        """The node, or _MISSING when the path does not exist."""
        node: Any = context if self.context else data
        for segment in self.segments:
            if isinstance(segment, int):
                if not isinstance(node, list) or segment >= len(node):
                    return _MISSING
            elif not isinstance(node, dict) or segment not in node:
                return _MISSING
            node = node[segment]
        return node

    def canonical(self) -> str:
        root = "$$" if self.context else "$"
        return root + "".join(f"[{s}]" if isinstance(s, int) else f"['{s}']" for s in self.segments)


def _parse_path(text: Any, where: str, *, context_ok: bool = True) -> _Path:
    if not isinstance(text, str) or not text.startswith("$"):
        raise UnsupportedDefinition(f"{where}: {text!r} is not a path (a path starts with $)")
    is_context = text.startswith("$$")
    if is_context and not context_ok:
        raise UnsupportedDefinition(f"{where}: {text!r} cannot refer to the context object")
    unsupported = UnsupportedDefinition(
        f"{where}: path {text!r} uses JsonPath syntax the local runner does not support ({_PATH_HELP})")
    segments: list[str | int] = []
    i = 2 if is_context else 1
    while i < len(text):
        if text[i] == ".":
            end = i + 1
            while end < len(text) and text[end] not in ".[":
                end += 1
            name = text[i + 1:end]
            if not name or "*" in name or "(" in name or name.startswith(("?", "@")):
                raise unsupported
            segments.append(name)
            i = end
        elif text[i] == "[":
            match = _BRACKET_RE.match(text, i)
            if match is None:
                raise unsupported
            if match.group(1) is not None:
                segments.append(int(match.group(1)))
            else:
                quoted = match.group(2) if match.group(2) is not None else match.group(3)
                segments.append(re.sub(r"\\(.)", r"\1", quoted))
            i = match.end()
        else:
            raise unsupported
    return _Path(text, is_context, tuple(segments))


def _select(path: _Path | None, data: Any, context: Mapping[str, Any]) -> Any:
    """Apply an InputPath or OutputPath (None means the field was null: the result is {})."""
    if path is None:
        return {}
    value = path.get(data, context)
    if value is _MISSING:
        raise _StatesError("States.Runtime",
                           f"Invalid path '{path.text}' : No results for path: {path.canonical()}")
    return value


@dataclass(frozen=True)
class _ResultPath:
    """Where a result goes in the state's raw input; path None discards the result."""

    path: _Path | None

    def apply(self, raw: Any, result: Any) -> Any:
        if self.path is None:
            return raw
        segments = self.path.segments
        if not segments:
            return result
        failure = _StatesError("States.ResultPathMatchFailure",
                               f"Unable to apply ReferencePath {self.path.text} to input {_preview(raw)}")
        root = _copy(raw)
        node = root
        for index, segment in enumerate(segments):
            last = index == len(segments) - 1
            if isinstance(segment, int):
                if not isinstance(node, list) or segment >= len(node):
                    raise failure
            elif not isinstance(node, dict):
                raise failure
            elif not last and segment not in node:
                if isinstance(segments[index + 1], int):
                    raise failure
                node[segment] = {}
            if last:
                node[segment] = result
            else:
                node = node[segment]
        return root


def _result_path(spec: Mapping[str, Any], key: str, where: str) -> _ResultPath:
    if key not in spec:
        return _ResultPath(_Path("$", False, ()))
    if spec[key] is None:
        return _ResultPath(None)
    return _ResultPath(_parse_path(spec[key], f"{where} {key}", context_ok=False))


def _io_path(spec: Mapping[str, Any], key: str, where: str) -> _Path | None:
    if key not in spec:
        return _Path("$", False, ())
    if spec[key] is None:
        return None
    return _parse_path(spec[key], f"{where} {key}")


# ---------------------------------------------------------------------------------------------------
# Payload templates (Parameters, ResultSelector) and intrinsic functions


class _Node:
    """A compiled piece of a payload template."""

    def evaluate(self, data: Any, context: Mapping[str, Any]) -> Any:
        raise NotImplementedError


@dataclass(frozen=True)
class _Static(_Node):
    value: Any

    def evaluate(self, data: Any, context: Mapping[str, Any]) -> Any:
        return _copy(self.value)


@dataclass(frozen=True)
class _Object(_Node):
    items: tuple[tuple[str, _Node], ...]

    def evaluate(self, data: Any, context: Mapping[str, Any]) -> Any:
        return {key: node.evaluate(data, context) for key, node in self.items}


@dataclass(frozen=True)
class _Array(_Node):
    items: tuple[_Node, ...]

    def evaluate(self, data: Any, context: Mapping[str, Any]) -> Any:
        return [node.evaluate(data, context) for node in self.items]


@dataclass(frozen=True)
class _Ref(_Node):
    path: _Path
    field: str

    def evaluate(self, data: Any, context: Mapping[str, Any]) -> Any:
        value = self.path.get(data, context)
        if value is _MISSING:
            source = context if self.path.context else data
            raise _StatesError("States.Runtime", f"The JSONPath '{self.path.text}' specified for the field "
                                                 f"'{self.field}' could not be found in the input '{_preview(source)}'")
        return value


@dataclass(frozen=True)
class _Literal(_Node):
    value: Any
    parts: tuple[str, ...] | None = None  # a string literal split at its unescaped {} placeholders

    def evaluate(self, data: Any, context: Mapping[str, Any]) -> Any:
        return self.value


class _IntrinsicError(Exception):
    """An intrinsic function got arguments it cannot use."""


@dataclass(frozen=True)
class _Call(_Node):
    name: str
    args: tuple[_Node, ...]
    field: str

    def evaluate(self, data: Any, context: Mapping[str, Any]) -> Any:
        values = [arg.evaluate(data, context) for arg in self.args]
        try:
            return INTRINSICS[self.name][2](self, values)
        except _IntrinsicError as exc:
            raise _StatesError("States.Runtime", f"Invalid arguments in {self.name} for the field "
                                                 f"'{self.field}': {exc}") from None


def _format_value(value: Any) -> str:
    return value if isinstance(value, str) else _dumps(value)


def _fn_format(call: _Call, values: list[Any]) -> str:
    first = call.args[0]
    if isinstance(first, _Literal) and first.parts is not None:
        parts = list(first.parts)
    elif isinstance(values[0], str):
        parts = values[0].split("{}")
    else:
        raise _IntrinsicError("the template must be a string")
    if len(parts) != len(values):
        raise _IntrinsicError(f"the template has {len(parts) - 1} placeholders for {len(values) - 1} arguments")
    pieces = [parts[0]]
    for value, part in zip(values[1:], parts[1:], strict=True):
        pieces += [_format_value(value), part]
    return "".join(pieces)


def _need(value: Any, kind: type | tuple[type, ...], what: str) -> Any:
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise _IntrinsicError(f"{what} must be {getattr(kind, '__name__', kind)}, not {_preview(value, 80)}")
    return value


def _fn_string_to_json(call: _Call, values: list[Any]) -> Any:
    try:
        return json.loads(_need(values[0], str, "the argument"))
    except ValueError as exc:
        raise _IntrinsicError(f"not a JSON string: {exc}") from None


def _fn_math_add(call: _Call, values: list[Any]) -> int:
    numbers = []
    for value in values:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        numbers.append(_need(value, int, "each argument"))
    return numbers[0] + numbers[1]


def _fn_array_get_item(call: _Call, values: list[Any]) -> Any:
    array = _need(values[0], list, "the first argument")
    index = _need(values[1], int, "the index")
    if not 0 <= index < len(array):
        raise _IntrinsicError(f"index {index} is out of range for an array of {len(array)}")
    return array[index]


def _fn_array_contains(call: _Call, values: list[Any]) -> bool:
    wanted = json.dumps(values[1], sort_keys=True)
    return any(json.dumps(item, sort_keys=True) == wanted for item in _need(values[0], list, "the first argument"))


def _fn_string_split(call: _Call, values: list[Any]) -> list[str]:
    text = _need(values[0], str, "the first argument")
    delimiters = _need(values[1], str, "the delimiter")
    if not delimiters:
        raise _IntrinsicError("the delimiter is empty")
    return [piece for piece in re.split("[" + re.escape(delimiters) + "]", text) if piece]


def _fn_json_merge(call: _Call, values: list[Any]) -> dict[str, Any]:
    if values[2] is not False:
        raise _IntrinsicError("only a shallow merge (false) is supported")
    return {**_need(values[0], dict, "the first argument"), **_need(values[1], dict, "the second argument")}


def _fn_base64_decode(call: _Call, values: list[Any]) -> str:
    try:
        return base64.b64decode(_need(values[0], str, "the argument"), validate=True).decode()
    except ValueError as exc:
        raise _IntrinsicError(f"not base64-encoded UTF-8: {exc}") from None


# name -> (min args, max args or None, implementation)
INTRINSICS: dict[str, tuple[int, int | None, Callable[[_Call, list[Any]], Any]]] = {
    "States.Format": (1, None, _fn_format),
    "States.StringToJson": (1, 1, _fn_string_to_json),
    "States.JsonToString": (1, 1, lambda call, values: _dumps(values[0])),
    "States.Array": (0, None, lambda call, values: list(values)),
    "States.MathAdd": (2, 2, _fn_math_add),
    "States.UUID": (0, 0, lambda call, values: str(uuid.uuid4())),
    "States.ArrayGetItem": (2, 2, _fn_array_get_item),
    "States.ArrayLength": (1, 1, lambda call, values: len(_need(values[0], list, "the argument"))),
    "States.ArrayContains": (2, 2, _fn_array_contains),
    "States.StringSplit": (2, 2, _fn_string_split),
    "States.JsonMerge": (3, 3, _fn_json_merge),
    "States.Base64Encode": (1, 1, lambda call, values: base64.b64encode(
        _need(values[0], str, "the argument").encode()).decode()),
    "States.Base64Decode": (1, 1, _fn_base64_decode),
}

_CALL_RE = re.compile(r"States\.([A-Za-z0-9]+)\(")
_NUMBER_RE = re.compile(r"-?\d+(\.\d+)?([eE][+-]?\d+)?")
_MAX_NESTING = 10


class _IntrinsicParser:
    """Parses one intrinsic function invocation, e.g. ``States.Format('{} x', $.a)``."""

    def __init__(self, text: str, where: str, field: str) -> None:
        self.text, self.where, self.field, self.i = text, where, field, 0

    def parse(self) -> _Call:
        call = self._call(1)
        self._skip_space()
        if self.i != len(self.text):
            raise self._error("unexpected text after the closing parenthesis")
        return call

    def _error(self, message: str) -> UnsupportedDefinition:
        return UnsupportedDefinition(f"{self.where}: invalid intrinsic function {self.text!r}: {message}")

    def _peek(self) -> str:
        return self.text[self.i] if self.i < len(self.text) else ""

    def _skip_space(self) -> None:
        while self._peek().isspace():
            self.i += 1

    def _call(self, depth: int) -> _Call:
        if depth > _MAX_NESTING:
            raise self._error(f"more than {_MAX_NESTING} nested intrinsic functions")
        match = _CALL_RE.match(self.text, self.i)
        if match is None:
            raise self._error("expected States.<Name>(")
        name = "States." + match.group(1)
        if name not in INTRINSICS:
            raise UnsupportedDefinition(f"{self.where}: intrinsic function {name} is not supported by the local "
                                        f"runner (supported: {', '.join(INTRINSICS)})")
        self.i = match.end()
        args: list[_Node] = []
        self._skip_space()
        if self._peek() == ")":
            self.i += 1
        else:
            while True:
                args.append(self._arg(depth))
                self._skip_space()
                if self._peek() == ",":
                    self.i += 1
                    self._skip_space()
                elif self._peek() == ")":
                    self.i += 1
                    break
                else:
                    raise self._error(f"expected ',' or ')' at position {self.i}")
        least, most, _ = INTRINSICS[name]
        if len(args) < least or (most is not None and len(args) > most):
            expected = f"{least}" if least == most else f"{least} to {most}" if most is not None else f"{least} or more"
            raise self._error(f"{name} takes {expected} arguments, not {len(args)}")
        if name == "States.JsonMerge" and not (isinstance(args[2], _Literal) and args[2].value is False):
            raise self._error("States.JsonMerge supports only a shallow merge: its third argument must be false")
        call = _Call(name, tuple(args), self.field)
        if name == "States.Format" and isinstance(args[0], _Literal) and args[0].parts is not None \
                and len(args[0].parts) != len(args):
            raise self._error(f"the template has {len(args[0].parts) - 1} placeholders for {len(args) - 1} arguments")
        return call

    def _arg(self, depth: int) -> _Node:
        char = self._peek()
        if char == "'":
            return self._string()
        if self.text.startswith("States.", self.i):
            return self._call(depth + 1)
        if char == "$":
            return _Ref(self._path(), self.field)
        match = _NUMBER_RE.match(self.text, self.i)
        if match is not None:
            self.i = match.end()
            return _Literal(json.loads(match.group()))
        for word, value in (("true", True), ("false", False), ("null", None)):
            if self.text.startswith(word, self.i):
                self.i += len(word)
                return _Literal(value)
        raise self._error(f"unexpected argument at position {self.i}")

    def _path(self) -> _Path:
        start, depth, quote = self.i, 0, ""
        while self.i < len(self.text):
            char = self.text[self.i]
            if quote:
                if char == "\\":
                    self.i += 1
                elif char == quote:
                    quote = ""
            elif char in "'\"" and depth:
                quote = char
            elif char == "[":
                depth += 1
            elif char == "]":
                depth -= 1
            elif depth == 0 and (char in ",)" or char.isspace()):
                break
            self.i += 1
        return _parse_path(self.text[start:self.i], self.where)

    def _string(self) -> _Literal:
        self.i += 1
        value: list[str] = []
        parts = [""]
        while True:
            if self.i >= len(self.text):
                raise self._error("unterminated string literal")
            char = self.text[self.i]
            if char == "\\":
                escaped = self.text[self.i + 1:self.i + 2]
                if not escaped or escaped not in "'{}\\":
                    raise self._error("open escape backslash (escape only ', {, } and \\)")
                value.append(escaped)
                parts[-1] += escaped
                self.i += 2
            elif char == "'":
                self.i += 1
                return _Literal("".join(value), tuple(parts))
            elif self.text.startswith("{}", self.i):
                value.append("{}")
                parts.append("")
                self.i += 2
            else:
                value.append(char)
                parts[-1] += char
                self.i += 1


def _compile_dynamic(text: Any, where: str, field_name: str) -> _Node:
    """The value of a ``key.$`` field: a path, a context path or an intrinsic function."""
    if isinstance(text, str) and text.startswith("$"):
        return _Ref(_parse_path(text, where), field_name)
    if isinstance(text, str) and text.startswith("States."):
        return _IntrinsicParser(text, where, field_name).parse()
    raise UnsupportedDefinition(f"{where}: the value of {field_name!r} must be a path or an intrinsic function, "
                                f"not {text!r}")


def _compile_template(value: Any, where: str) -> _Node:
    if isinstance(value, dict):
        items: list[tuple[str, _Node]] = []
        for key, item in value.items():
            if key.endswith(".$"):
                if key[:-2] in value:
                    raise UnsupportedDefinition(f"{where}: both {key[:-2]!r} and {key!r} are set")
                items.append((key[:-2], _compile_dynamic(item, where, key)))
            else:
                items.append((key, _compile_template(item, where)))
        if all(isinstance(node, _Static) for _, node in items):
            return _Static(value)
        return _Object(tuple(items))
    if isinstance(value, list):
        nodes = tuple(_compile_template(item, where) for item in value)
        return _Static(value) if all(isinstance(n, _Static) for n in nodes) else _Array(nodes)
    return _Static(value)


# ---------------------------------------------------------------------------------------------------
# Choice rules


_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "Equals": operator.eq, "LessThan": operator.lt, "GreaterThan": operator.gt,
    "LessThanEquals": operator.le, "GreaterThanEquals": operator.ge,
}
_TYPE_TESTS: dict[str, Callable[[Any], bool]] = {
    "IsNull": lambda v: v is None,
    "IsNumeric": _is_number,
    "IsString": lambda v: isinstance(v, str),
    "IsBoolean": lambda v: isinstance(v, bool),
    "IsTimestamp": lambda v: _parse_timestamp(v) is not None,
}
_OPERATORS = frozenset(
    {f"{family}{cmp}{suffix}" for family in ("String", "Numeric", "Timestamp") for cmp in _COMPARISONS
     for suffix in ("", "Path")}
    | {"BooleanEquals", "BooleanEqualsPath", "StringMatches", "IsPresent", *_TYPE_TESTS}
)


def _java_order(text: str) -> bytes:
    """Strings compare like Java's String.compareTo: by UTF-16 code unit."""
    return text.encode("utf-16-be", "surrogatepass")


def _wildcard(pattern: str) -> re.Pattern[str]:
    """StringMatches: * matches any run of characters; \\* and \\\\ are a literal * and \\."""
    out, i = [], 0
    while i < len(pattern):
        if pattern[i] == "\\" and i + 1 < len(pattern) and pattern[i + 1] in "*\\":
            out.append(re.escape(pattern[i + 1]))
            i += 2
        else:
            out.append(".*" if pattern[i] == "*" else re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out), re.DOTALL)


class _Rule:
    def evaluate(self, data: Any, context: Mapping[str, Any]) -> bool:
        raise NotImplementedError


@dataclass(frozen=True)
class _Test(_Rule):
    variable: _Path
    op: str  # the comparison operator's name, e.g. StringEquals
    operand: Any  # the literal, or a _Path for the *Path operators
    pattern: re.Pattern[str] | None = None  # StringMatches
    family: str = ""  # String, Numeric or Timestamp for the ordered comparisons
    compare: Callable[[Any, Any], bool] = operator.eq

    def _invalid(self, path: _Path) -> _StatesError:
        return _StatesError("States.Runtime",
                            f"Invalid path '{path.text}': The choice state's condition path references an invalid value.")

    def evaluate(self, data: Any, context: Mapping[str, Any]) -> bool:
        value = self.variable.get(data, context)
        if self.op == "IsPresent":
            return (value is not _MISSING) == self.operand
        if value is _MISSING:
            raise self._invalid(self.variable)
        if self.op in _TYPE_TESTS:
            return _TYPE_TESTS[self.op](value) == self.operand
        if self.op == "StringMatches":
            return isinstance(value, str) and self.pattern is not None and self.pattern.fullmatch(value) is not None
        operand = self.operand
        if isinstance(operand, _Path):
            operand = operand.get(data, context)
            if operand is _MISSING:
                raise self._invalid(self.operand)
        if self.family == "String":
            return isinstance(value, str) and isinstance(operand, str) \
                and self.compare(_java_order(value), _java_order(operand))
        if self.family == "Numeric":
            return _is_number(value) and _is_number(operand) and self.compare(value, operand)
        if self.family == "Timestamp":
            left, right = _parse_timestamp(value), _parse_timestamp(operand)
            return left is not None and right is not None and self.compare(left, right)
        return isinstance(value, bool) and isinstance(operand, bool) and value == operand  # BooleanEquals(Path)


@dataclass(frozen=True)
class _And(_Rule):
    rules: tuple[_Rule, ...]

    def evaluate(self, data: Any, context: Mapping[str, Any]) -> bool:
        return all(rule.evaluate(data, context) for rule in self.rules)


@dataclass(frozen=True)
class _Or(_Rule):
    rules: tuple[_Rule, ...]

    def evaluate(self, data: Any, context: Mapping[str, Any]) -> bool:
        return any(rule.evaluate(data, context) for rule in self.rules)


@dataclass(frozen=True)
class _Not(_Rule):
    rule: _Rule

    def evaluate(self, data: Any, context: Mapping[str, Any]) -> bool:
        return not self.rule.evaluate(data, context)


def _compile_rule(spec: Any, where: str, *, top: bool) -> _Rule:
    if not isinstance(spec, dict):
        raise UnsupportedDefinition(f"{where}: a choice rule must be an object")
    keys = set(spec) - {"Comment", "Next"}
    if top and not isinstance(spec.get("Next"), str):
        raise UnsupportedDefinition(f"{where}: a top-level choice rule needs Next")
    if not top and "Next" in spec:
        raise UnsupportedDefinition(f"{where}: Next is only allowed in a top-level choice rule")
    for key in sorted(keys):
        if key in {"Condition", "Assign", "Output"}:
            raise UnsupportedDefinition(f'{where}: field "{key}" (JSONata or workflow variables) is not supported '
                                        "by the local runner")
        if key not in _OPERATORS and key not in {"Variable", "And", "Or", "Not"}:
            raise UnsupportedDefinition(f'{where}: comparison operator "{key}" is not supported by the local runner')
    for combinator in ("And", "Or", "Not"):
        if combinator in keys:
            if keys != {combinator}:
                raise UnsupportedDefinition(f"{where}: {combinator} cannot be combined with {sorted(keys - {combinator})}")
            value = spec[combinator]
            if combinator == "Not":
                return _Not(_compile_rule(value, f"{where}.Not", top=False))
            if not isinstance(value, list) or not value:
                raise UnsupportedDefinition(f"{where}: {combinator} must be a non-empty array of choice rules")
            rules = tuple(_compile_rule(r, f"{where}.{combinator}[{i}]", top=False) for i, r in enumerate(value))
            return _And(rules) if combinator == "And" else _Or(rules)
    operators = keys - {"Variable"}
    if "Variable" not in keys or len(operators) != 1:
        raise UnsupportedDefinition(f"{where}: a choice rule needs Variable and exactly one comparison operator")
    name = operators.pop()
    variable = _parse_path(spec["Variable"], f"{where}.Variable")
    operand = spec[name]
    pattern = None
    if name.endswith("Path"):
        operand = _parse_path(operand, f"{where}.{name}")
    elif name.startswith("String"):
        if not isinstance(operand, str):
            raise UnsupportedDefinition(f"{where}: {name} needs a string")
        pattern = _wildcard(operand) if name == "StringMatches" else None
    elif name.startswith("Numeric"):
        if not _is_number(operand):
            raise UnsupportedDefinition(f"{where}: {name} needs a number")
    elif name.startswith("Timestamp"):
        if _parse_timestamp(operand) is None:
            raise UnsupportedDefinition(f"{where}: {name} needs an RFC 3339 timestamp, not {operand!r}")
    elif not isinstance(operand, bool):
        raise UnsupportedDefinition(f"{where}: {name} needs true or false")
    base = name.removesuffix("Path")
    for family in ("String", "Numeric", "Timestamp"):
        if base.startswith(family) and base[len(family):] in _COMPARISONS:
            return _Test(variable, name, operand, pattern, family, _COMPARISONS[base[len(family):]])
    return _Test(variable, name, operand, pattern)


# ---------------------------------------------------------------------------------------------------
# Compiled definition


@dataclass(frozen=True)
class _Retrier:
    errors: tuple[str, ...]
    interval: float
    max_attempts: int
    backoff: float
    max_delay: float | None
    full_jitter: bool


@dataclass(frozen=True)
class _Catcher:
    errors: tuple[str, ...]
    next: str
    result_path: _ResultPath


def _matches(errors: tuple[str, ...], error: str | None) -> bool:
    if error in _TERMINAL_ERRORS:
        return False
    return any(name == "States.ALL" or name == error or (name == "States.TaskFailed" and error != "States.Timeout")
               for name in errors)


@dataclass
class _State:
    name: str
    type: str
    where: str
    next: str | None = None
    input_path: _Path | None = None
    output_path: _Path | None = None
    result_path: _ResultPath = field(default_factory=lambda: _ResultPath(None))
    parameters: _Node | None = None
    result_selector: _Node | None = None
    result: Any = _MISSING
    resource: str = ""
    handler: Callable[[Any, Context], Any] | None = None
    lambda_invoke: bool = False
    function_name: str | None = None
    timeout: int | None = None
    retriers: tuple[_Retrier, ...] = ()
    catchers: tuple[_Catcher, ...] = ()
    choices: tuple[tuple[_Rule, str], ...] = ()
    default: str | None = None
    wait: tuple[str, Any] | None = None
    error: _Node | None = None
    cause: _Node | None = None
    branches: tuple[_Scope, ...] = ()


@dataclass(frozen=True)
class _Scope:
    start_at: str
    states: dict[str, _State]


_COMMON = frozenset({"Type", "Comment", "QueryLanguage"})
_IO = frozenset({"InputPath", "OutputPath"})
_FIELDS: dict[str, frozenset[str]] = {
    "Task": _COMMON | _IO | {"Resource", "Parameters", "ResultSelector", "ResultPath", "Retry", "Catch",
                             "TimeoutSeconds", "Next", "End"},
    "Pass": _COMMON | _IO | {"Result", "ResultPath", "Parameters", "Next", "End"},
    "Choice": _COMMON | _IO | {"Choices", "Default"},
    "Wait": _COMMON | _IO | {"Seconds", "SecondsPath", "Timestamp", "TimestampPath", "Next", "End"},
    "Succeed": _COMMON | _IO,
    "Fail": _COMMON | {"Error", "ErrorPath", "Cause", "CausePath"},
    "Parallel": _COMMON | _IO | {"Branches", "Parameters", "ResultSelector", "ResultPath", "Retry", "Catch",
                                 "Next", "End"},
}
_UNSUPPORTED_FIELDS = {
    "HeartbeatSeconds": "", "HeartbeatSecondsPath": "", "TimeoutSecondsPath": "", "Credentials": "",
    "Assign": " (workflow variables)", "Arguments": " (JSONata)", "Output": " (JSONata)",
}
_INTEGRATION_RE = re.compile(r"\.(sync(:\d+)?|waitForTaskToken)$")
_LAMBDA_INVOKE_PARAMETERS = frozenset({"FunctionName", "Payload", "Payload.$", "Qualifier", "InvocationType",
                                       "LogType", "ClientContext"})


def _check_query_language(spec: Mapping[str, Any], where: str) -> None:
    language = spec.get("QueryLanguage", "JSONPath")
    if language != "JSONPath":
        raise UnsupportedDefinition(f"{where}: QueryLanguage {language} is not supported by the local runner "
                                    "(only JSONPath)")


def _integer(spec: Mapping[str, Any], key: str, where: str, *, minimum: int, default: int | None) -> int | None:
    value = spec.get(key, default)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise UnsupportedDefinition(f"{where}: {key} must be an integer >= {minimum}, not {value!r}")
    return value


def _error_equals(spec: Mapping[str, Any], where: str, *, last: bool) -> tuple[str, ...]:
    errors = spec.get("ErrorEquals")
    if not isinstance(errors, list) or not errors or not all(isinstance(e, str) for e in errors):
        raise UnsupportedDefinition(f"{where}: ErrorEquals must be a non-empty array of error names")
    if "States.ALL" in errors and (len(errors) != 1 or not last):
        raise UnsupportedDefinition(f"{where}: States.ALL must appear alone, in the last entry")
    return tuple(errors)


def _function_name(reference: str) -> str | None:
    """The function name in a Lambda ARN, partial ARN or plain name; None for other resources."""
    parts = reference.split(":")
    if "function" in parts[:-1]:
        return parts[parts.index("function") + 1]
    return reference if len(parts) == 1 else None


@dataclass(frozen=True)
class Context:
    """What a resource callable learns about the task it runs (not the Lambda context object)."""

    execution_arn: str
    execution_name: str
    state_machine_arn: str
    state_name: str
    resource: str
    function_name: str | None
    retry_count: int
    context_object: dict[str, Any]
    timeout_seconds: int | None
    deadline: float | None  # time.monotonic() by which the task must finish, if it has a limit

    def remaining_seconds(self) -> float | None:
        """Seconds until the task or execution times out, or None without a limit."""
        return None if self.deadline is None else max(0.0, self.deadline - time.monotonic())


@dataclass
class Execution:
    """The outcome of one run of a state machine."""

    execution_arn: str
    name: str
    state_machine_arn: str
    input: Any
    status: str  # "SUCCEEDED" | "FAILED" | "TIMED_OUT"
    start_time: datetime
    stop_time: datetime
    output: Any = None
    error: str | None = None
    cause: str | None = None
    history: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Run:
    """The mutable state of one execution, shared by its Parallel branches."""

    execution_arn: str
    name: str
    machine_arn: str
    machine_name: str
    input: Any
    start_time: datetime
    deadline: float | None
    history: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, kind: str, branch: str | None, **details: Any) -> None:
        event = {"type": kind, "timestamp": datetime.now(UTC), **details}
        if branch:
            event["branch"] = branch
        with self.lock:
            self.history.append(event)

    def context_object(self, state: str, entered: datetime, retry_count: int) -> dict[str, Any]:
        return {
            "Execution": {"Id": self.execution_arn, "Input": self.input, "Name": self.name,
                          "StartTime": _iso(self.start_time)},
            "State": {"EnteredTime": _iso(entered), "Name": state, "RetryCount": retry_count},
            "StateMachine": {"Id": self.machine_arn, "Name": self.machine_name},
        }

    def check(self, cancel: threading.Event) -> None:
        if self.deadline is not None and time.monotonic() >= self.deadline:
            raise _TimedOut
        if cancel.is_set():
            raise _Cancelled

    def sleep(self, seconds: float, cancel: threading.Event) -> None:
        """Sleep, waking early to stop when the execution times out or the branch is cancelled."""
        end = time.monotonic() + max(0.0, seconds)
        while True:
            self.check(cancel)
            now = time.monotonic()
            if now >= end:
                return
            limit = end - now if self.deadline is None else min(end, self.deadline) - now
            if cancel.wait(max(0.0, limit)):
                raise _Cancelled


class StateMachine:
    """A States Language definition, validated once and executable many times, from many threads."""

    def __init__(self, definition: Mapping[str, Any], resources: Mapping[str, Callable[[Any, Context], Any]], *,
                 time_scale: float = 1.0, name: str = "LocalStateMachine", arn: str | None = None) -> None:
        if not isinstance(time_scale, int | float) or time_scale < 0:
            raise ValueError(f"time_scale must be a number >= 0, not {time_scale!r}")
        if not isinstance(definition, Mapping):
            raise UnsupportedDefinition("definition: must be a JSON object")
        self.name = name
        self.arn = arn or f"arn:aws:states:us-east-1:123456789012:stateMachine:{name}"
        self.time_scale = float(time_scale)
        self._resources = dict(resources)
        _check_query_language(definition, "definition")
        for key in definition:
            if key not in {"StartAt", "States", "Comment", "Version", "TimeoutSeconds", "QueryLanguage"}:
                raise UnsupportedDefinition(f'definition: unknown field "{key}"')
        self.timeout_seconds = _integer(definition, "TimeoutSeconds", "definition", minimum=1, default=None)
        self._root = self._compile_scope(definition, "definition", "", "machine")

    # -- construction ---------------------------------------------------------------------------------

    def _compile_scope(self, spec: Mapping[str, Any], where: str, suffix: str, noun: str) -> _Scope:
        states_spec = spec.get("States")
        if not isinstance(states_spec, dict) or not states_spec:
            raise UnsupportedDefinition(f"{where}: States must be a non-empty object")
        start_at = spec.get("StartAt")
        if start_at is None:
            raise UnsupportedDefinition(f"{where}: StartAt is missing")
        if start_at not in states_spec:
            raise UnsupportedDefinition(f'{where}: StartAt "{start_at}" is not a state of this {noun}')
        states = {name: self._compile_state(name, state, suffix) for name, state in states_spec.items()}
        for state in states.values():
            targets = [("Next", state.next)]
            targets += [(f"Catch[{i}].Next", c.next) for i, c in enumerate(state.catchers)]
            targets += [(f"Choices[{i}].Next", target) for i, (_, target) in enumerate(state.choices)]
            targets.append(("Default", state.default))
            for label, target in targets:
                if target is not None and target not in states:
                    raise UnsupportedDefinition(f'{state.where}: {label} "{target}" is not a state of this {noun}')
        return _Scope(start_at, states)

    def _compile_state(self, name: str, spec: Any, suffix: str) -> _State:
        where = f'state "{name}"{suffix}'
        if not isinstance(spec, dict):
            raise UnsupportedDefinition(f"{where}: must be an object")
        kind = spec.get("Type")
        if kind not in SUPPORTED_TYPES:
            raise UnsupportedDefinition(f"{where}: type {kind} is not supported by the local runner "
                                        f"(supported: {', '.join(SUPPORTED_TYPES)})")
        _check_query_language(spec, where)
        for key in spec:
            if key not in _FIELDS[kind]:
                if key in _UNSUPPORTED_FIELDS:
                    raise UnsupportedDefinition(f'{where}: field "{key}"{_UNSUPPORTED_FIELDS[key]} is not supported '
                                                "by the local runner")
                raise UnsupportedDefinition(f'{where}: unknown field "{key}" for a {kind} state')
        state = _State(name=name, type=kind, where=where)
        if kind in {"Task", "Pass", "Wait", "Parallel"}:
            has_next, ends = "Next" in spec, spec.get("End") is True
            if has_next == ends or ("End" in spec and not ends) or (has_next and not isinstance(spec["Next"], str)):
                raise UnsupportedDefinition(f"{where}: needs exactly one of Next (a state name) or End: true")
            state.next = spec.get("Next")
        if kind != "Fail":
            state.input_path = _io_path(spec, "InputPath", where)
            state.output_path = _io_path(spec, "OutputPath", where)
        if kind in {"Task", "Pass", "Parallel"}:
            state.result_path = _result_path(spec, "ResultPath", where)
            if "Parameters" in spec:
                state.parameters = _compile_template(spec["Parameters"], f"{where} Parameters")
        if kind in {"Task", "Parallel"}:
            if "ResultSelector" in spec:
                if not isinstance(spec["ResultSelector"], dict):
                    raise UnsupportedDefinition(f"{where}: ResultSelector must be an object")
                state.result_selector = _compile_template(spec["ResultSelector"], f"{where} ResultSelector")
            state.retriers = self._compile_retry(spec.get("Retry", []), where)
            state.catchers = self._compile_catch(spec.get("Catch", []), where)
        getattr(self, f"_compile_{kind.lower()}")(state, spec)
        return state

    def _compile_task(self, state: _State, spec: Mapping[str, Any]) -> None:
        resource = spec.get("Resource")
        if not isinstance(resource, str) or not resource:
            raise UnsupportedDefinition(f"{state.where}: Resource must be a non-empty string")
        state.resource = resource
        state.timeout = _integer(spec, "TimeoutSeconds", state.where, minimum=1, default=None)
        pattern = _INTEGRATION_RE.search(resource)
        if pattern is not None:
            raise UnsupportedDefinition(f'{state.where}: resource "{resource}" uses the {pattern.group(0)} integration '
                                        "pattern, which is not supported by the local runner")
        if resource == LAMBDA_INVOKE:
            parameters = spec.get("Parameters")
            if not isinstance(parameters, dict):
                raise UnsupportedDefinition(f"{state.where}: {LAMBDA_INVOKE} needs Parameters with FunctionName")
            for key in parameters:
                if key not in _LAMBDA_INVOKE_PARAMETERS:
                    raise UnsupportedDefinition(f'{state.where}: Parameters field "{key}" of {LAMBDA_INVOKE} is not '
                                                "supported by the local runner")
            function = parameters.get("FunctionName")
            if not isinstance(function, str):
                raise UnsupportedDefinition(f"{state.where}: {LAMBDA_INVOKE} needs a literal FunctionName "
                                            "(FunctionName.$ cannot be checked before the run)")
            if parameters.get("InvocationType", "RequestResponse") != "RequestResponse":
                raise UnsupportedDefinition(f"{state.where}: only InvocationType RequestResponse is supported locally")
            state.lambda_invoke, state.function_name = True, _function_name(function)
            state.handler = self._lookup(function, state.where, f'function "{function}" (resource "{resource}")')
        else:
            state.function_name = _function_name(resource)
            state.handler = self._lookup(resource, state.where, f'resource "{resource}"')

    def _lookup(self, reference: str, where: str, what: str) -> Callable[[Any, Context], Any]:
        if reference in self._resources:
            return self._resources[reference]
        wanted = _function_name(reference)
        found = [key for key in self._resources if wanted is not None and _function_name(key) == wanted]
        if len(found) > 1:
            raise UnsupportedDefinition(f"{where}: {what} matches several local handlers: {', '.join(sorted(found))}")
        if not found:
            raise UnsupportedDefinition(f"{where}: no local handler for {what}")
        return self._resources[found[0]]

    def _compile_pass(self, state: _State, spec: Mapping[str, Any]) -> None:
        state.result = spec.get("Result", _MISSING)

    def _compile_choice(self, state: _State, spec: Mapping[str, Any]) -> None:
        choices = spec.get("Choices")
        if not isinstance(choices, list) or not choices:
            raise UnsupportedDefinition(f"{state.where}: Choices must be a non-empty array")
        state.choices = tuple((_compile_rule(rule, f"{state.where}: Choices[{i}]", top=True), rule["Next"])
                              for i, rule in enumerate(choices))
        default = spec.get("Default")
        if default is not None and not isinstance(default, str):
            raise UnsupportedDefinition(f"{state.where}: Default must be a state name")
        state.default = default

    def _compile_wait(self, state: _State, spec: Mapping[str, Any]) -> None:
        given = [key for key in ("Seconds", "SecondsPath", "Timestamp", "TimestampPath") if key in spec]
        if len(given) != 1:
            raise UnsupportedDefinition(f"{state.where}: needs exactly one of Seconds, SecondsPath, Timestamp, "
                                        "TimestampPath")
        key = given[0]
        if key == "Seconds":
            state.wait = (key, _integer(spec, key, state.where, minimum=0, default=None))
        elif key == "Timestamp":
            moment = _parse_timestamp(spec[key])
            if moment is None:
                raise UnsupportedDefinition(f"{state.where}: Timestamp must be an RFC 3339 timestamp")
            state.wait = (key, moment)
        else:
            state.wait = (key, _parse_path(spec[key], f"{state.where} {key}"))

    def _compile_succeed(self, state: _State, spec: Mapping[str, Any]) -> None:
        pass

    def _compile_fail(self, state: _State, spec: Mapping[str, Any]) -> None:
        for literal, dynamic, attribute in (("Error", "ErrorPath", "error"), ("Cause", "CausePath", "cause")):
            if literal in spec and dynamic in spec:
                raise UnsupportedDefinition(f"{state.where}: {literal} and {dynamic} cannot both be set")
            if literal in spec:
                if not isinstance(spec[literal], str):
                    raise UnsupportedDefinition(f"{state.where}: {literal} must be a string")
                setattr(state, attribute, _Static(spec[literal]))
            elif dynamic in spec:
                setattr(state, attribute, _compile_dynamic(spec[dynamic], f"{state.where} {dynamic}", dynamic))

    def _compile_parallel(self, state: _State, spec: Mapping[str, Any]) -> None:
        branches = spec.get("Branches")
        if not isinstance(branches, list) or not branches:
            raise UnsupportedDefinition(f"{state.where}: Branches must be a non-empty array")
        compiled = []
        for index, branch in enumerate(branches):
            where = f"{state.where} branch {index}"
            if not isinstance(branch, dict):
                raise UnsupportedDefinition(f"{where}: must be an object with StartAt and States")
            _check_query_language(branch, where)
            for key in branch:
                if key not in {"StartAt", "States", "Comment", "QueryLanguage"}:
                    raise UnsupportedDefinition(f'{where}: unknown field "{key}"')
            compiled.append(self._compile_scope(branch, where, f' (branch {index} of "{state.name}")', "branch"))
        state.branches = tuple(compiled)

    def _compile_retry(self, spec: Any, where: str) -> tuple[_Retrier, ...]:
        if not isinstance(spec, list):
            raise UnsupportedDefinition(f"{where}: Retry must be an array")
        retriers = []
        for index, item in enumerate(spec):
            at = f"{where} Retry[{index}]"
            if not isinstance(item, dict):
                raise UnsupportedDefinition(f"{at}: must be an object")
            for key in item:
                if key not in {"ErrorEquals", "IntervalSeconds", "MaxAttempts", "BackoffRate", "MaxDelaySeconds",
                               "JitterStrategy", "Comment"}:
                    raise UnsupportedDefinition(f'{at}: unknown field "{key}"')
            backoff = item.get("BackoffRate", 2.0)
            if not _is_number(backoff) or backoff < 1.0:
                raise UnsupportedDefinition(f"{at}: BackoffRate must be a number >= 1.0")
            jitter = item.get("JitterStrategy", "NONE")
            if jitter not in {"FULL", "NONE"}:
                raise UnsupportedDefinition(f"{at}: JitterStrategy must be FULL or NONE")
            interval = _integer(item, "IntervalSeconds", at, minimum=1, default=1)
            attempts = _integer(item, "MaxAttempts", at, minimum=0, default=3)
            max_delay = _integer(item, "MaxDelaySeconds", at, minimum=1, default=None)
            assert interval is not None and attempts is not None
            retriers.append(_Retrier(_error_equals(item, at, last=index == len(spec) - 1), float(interval), attempts,
                                     float(backoff), None if max_delay is None else float(max_delay), jitter == "FULL"))
        return tuple(retriers)

    def _compile_catch(self, spec: Any, where: str) -> tuple[_Catcher, ...]:
        if not isinstance(spec, list):
            raise UnsupportedDefinition(f"{where}: Catch must be an array")
        catchers = []
        for index, item in enumerate(spec):
            at = f"{where} Catch[{index}]"
            if not isinstance(item, dict):
                raise UnsupportedDefinition(f"{at}: must be an object")
            for key in item:
                if key in {"Assign", "Output"}:
                    raise UnsupportedDefinition(f'{at}: field "{key}" is not supported by the local runner')
                if key not in {"ErrorEquals", "Next", "ResultPath", "Comment"}:
                    raise UnsupportedDefinition(f'{at}: unknown field "{key}"')
            if not isinstance(item.get("Next"), str):
                raise UnsupportedDefinition(f"{at}: needs Next")
            catchers.append(_Catcher(_error_equals(item, at, last=index == len(spec) - 1), item["Next"],
                                     _result_path(item, "ResultPath", at)))
        return tuple(catchers)

    # -- execution --------------------------------------------------------------------------------------

    def execute(self, input: Any, *, name: str | None = None, execution_arn: str | None = None) -> Execution:
        """Run one execution to its end in the calling thread."""
        try:
            data = json.loads(json.dumps(input, allow_nan=False))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"the execution input must be JSON: {exc}") from exc
        if name is None:
            name = execution_arn.rsplit(":", 1)[-1] if execution_arn else str(uuid.uuid4())
        if execution_arn is None:
            prefix = self.arn.replace(":stateMachine:", ":execution:", 1)
            execution_arn = f"{prefix}:{name}"
        run = _Run(execution_arn=execution_arn, name=name, machine_arn=self.arn, machine_name=self.name, input=data,
                   start_time=datetime.now(UTC),
                   deadline=None if self.timeout_seconds is None else time.monotonic() + self.timeout_seconds)
        run.record("ExecutionStarted", None, input=data)
        output: Any = None
        error: str | None = None
        cause: str | None = None
        try:
            output = self._run_scope(run, self._root, data, threading.Event(), None)
            status = "SUCCEEDED"
            run.record("ExecutionSucceeded", None, output=output)
        except _TimedOut:
            status, error = "TIMED_OUT", "States.Timeout"
            cause = f"The execution ran longer than the state machine's TimeoutSeconds ({self.timeout_seconds} s)"
            run.record("ExecutionTimedOut", None, error=error, cause=cause)
        except _StatesError as exc:
            status, error, cause = "FAILED", exc.error, exc.cause
            run.record("ExecutionFailed", None, error=error, cause=cause)
        return Execution(execution_arn=execution_arn, name=name, state_machine_arn=self.arn, input=data,
                         status=status, start_time=run.start_time, stop_time=datetime.now(UTC), output=output,
                         error=error, cause=cause, history=run.history)

    def _run_scope(self, run: _Run, scope: _Scope, data: Any, cancel: threading.Event, branch: str | None) -> Any:
        name = scope.start_at
        while True:
            run.check(cancel)
            state = scope.states[name]
            entered = datetime.now(UTC)
            run.record("StateEntered", branch, state=name, input=data)
            try:
                output, next_name = getattr(self, f"_run_{state.type.lower()}")(run, state, data, entered, cancel,
                                                                                 branch)
                _check_size(output, f"The output of state '{name}'")
            except _StatesError as exc:
                if exc.error == "States.Runtime" and not exc.located:
                    exc.cause = f"An error occurred while executing the state '{name}'. {exc.cause}"
                exc.located = True
                run.record("StateFailed", branch, state=name, error=exc.error, cause=exc.cause)
                raise
            run.record("StateExited", branch, state=name, output=output)
            if next_name is None:
                return output
            name, data = next_name, output

    @staticmethod
    def _effective_input(state: _State, raw: Any, context: Mapping[str, Any]) -> Any:
        data = _select(state.input_path, raw, context)
        if state.parameters is not None:
            data = state.parameters.evaluate(data, context)
        return data

    def _handle_errors(self, run: _Run, state: _State, raw: Any, cancel: threading.Event, branch: str | None,
                       attempt: Callable[[int], Any]) -> tuple[Any, str | None]:
        """Run attempts under the state's Retry policy; route a remaining error through Catch."""
        counts = [0] * len(state.retriers)
        retry_count = 0
        while True:
            try:
                return attempt(retry_count), state.next
            except _StatesError as exc:
                if exc.error in _TERMINAL_ERRORS:
                    raise
                index = next((i for i, r in enumerate(state.retriers) if _matches(r.errors, exc.error)), None)
                if index is not None and counts[index] < state.retriers[index].max_attempts:
                    retrier = state.retriers[index]
                    interval = retrier.interval * retrier.backoff ** counts[index]
                    if retrier.max_delay is not None:
                        interval = min(interval, retrier.max_delay)
                    delay = (random.uniform(0, interval) if retrier.full_jitter else interval) * self.time_scale
                    counts[index] += 1
                    retry_count += 1
                    run.record("RetryScheduled", branch, state=state.name, error=exc.error, retrier=index,
                               attempt=counts[index], interval_seconds=interval, delay_seconds=delay)
                    run.sleep(delay, cancel)
                    continue
                for position, catcher in enumerate(state.catchers):
                    if _matches(catcher.errors, exc.error):
                        error_output = {"Error": exc.error}
                        if exc.cause is not None:
                            error_output["Cause"] = exc.cause
                        run.record("Caught", branch, state=state.name, error=exc.error, cause=exc.cause,
                                   catcher=position, next=catcher.next)
                        return catcher.result_path.apply(raw, error_output), catcher.next
                raise

    def _finish(self, state: _State, raw: Any, result: Any, context: Mapping[str, Any]) -> Any:
        if state.result_selector is not None:
            result = state.result_selector.evaluate(result, context)
        return _select(state.output_path, state.result_path.apply(raw, result), context)

    def _run_task(self, run: _Run, state: _State, raw: Any, entered: datetime, cancel: threading.Event,
                  branch: str | None) -> tuple[Any, str | None]:
        def attempt(retry_count: int) -> Any:
            context = run.context_object(state.name, entered, retry_count)
            effective = self._effective_input(state, raw, context)
            payload = effective
            if state.lambda_invoke:
                payload = effective.get("Payload", {}) if isinstance(effective, dict) else {}
            _check_size(payload, f"The input of state '{state.name}'")
            result = self._invoke(run, state, payload, context, retry_count, cancel, branch)
            return self._finish(state, raw, result, context)

        return self._handle_errors(run, state, raw, cancel, branch, attempt)

    def _invoke(self, run: _Run, state: _State, payload: Any, context_object: dict[str, Any], retry_count: int,
                cancel: threading.Event, branch: str | None) -> Any:
        """Call the state's callable (in a worker thread when a timeout applies) and shape its result."""
        assert state.handler is not None
        request_id = str(uuid.uuid4())
        started = time.monotonic()
        task_deadline = None if state.timeout is None else started + state.timeout
        limits = [d for d in (task_deadline, run.deadline) if d is not None]
        context = Context(execution_arn=run.execution_arn, execution_name=run.name, state_machine_arn=run.machine_arn,
                          state_name=state.name, resource=state.resource, function_name=state.function_name,
                          retry_count=retry_count, context_object=_copy(context_object), timeout_seconds=state.timeout,
                          deadline=min(limits) if limits else None)
        run.record("TaskStarted", branch, state=state.name, resource=state.resource, attempt=retry_count + 1)
        box: dict[str, Any] = {}
        if not limits and branch is None:
            _call(box, state.handler, _copy(payload), context)
        else:
            done = threading.Event()
            worker = threading.Thread(target=contextvars.copy_context().run,
                                      args=(_call, box, state.handler, _copy(payload), context, done),
                                      name=f"asl-task-{state.name}", daemon=True)
            worker.start()
            while not done.wait(_POLL_SECONDS):
                now = time.monotonic()
                if run.deadline is not None and now >= run.deadline:
                    raise _TimedOut
                if task_deadline is not None and now >= task_deadline:
                    cause = f"The task ran longer than its TimeoutSeconds ({state.timeout} s)"
                    run.record("TaskFailed", branch, state=state.name, error="States.Timeout", cause=cause)
                    raise _StatesError("States.Timeout", cause)
                if cancel.is_set():
                    raise _Cancelled
        try:
            if "error" in box:
                raise _lambda_error(box["error"], request_id)
            if "value" not in box:
                raise _StatesError("Runtime.ExitError", json.dumps({"errorMessage": "the handler exited without a "
                                   "result", "errorType": "Runtime.ExitError", "requestId": request_id}))
            try:
                result = json.loads(json.dumps(box["value"], allow_nan=False))
            except (TypeError, ValueError) as exc:
                message = f"Unable to marshal response: {exc}"
                raise _StatesError("Runtime.MarshalError", json.dumps(
                    {"errorMessage": message, "errorType": "Runtime.MarshalError", "requestId": request_id,
                     "stackTrace": []})) from None
            _check_size(result, f"The result of task '{state.name}'")
        except _StatesError as exc:
            run.record("TaskFailed", branch, state=state.name, error=exc.error, cause=exc.cause)
            raise
        if state.lambda_invoke:
            headers = {"Content-Type": "application/json", "X-Amz-Executed-Version": "$LATEST",
                       "x-amzn-RequestId": request_id}
            result = {
                "ExecutedVersion": "$LATEST",
                "Payload": result,
                "SdkHttpMetadata": {"AllHttpHeaders": {k: [v] for k, v in headers.items()}, "HttpHeaders": headers,
                                    "HttpStatusCode": 200},
                "SdkResponseMetadata": {"RequestId": request_id},
                "StatusCode": 200,
            }
        return result

    def _run_pass(self, run: _Run, state: _State, raw: Any, entered: datetime, cancel: threading.Event,
                  branch: str | None) -> tuple[Any, str | None]:
        context = run.context_object(state.name, entered, 0)
        effective = self._effective_input(state, raw, context)
        result = effective if state.result is _MISSING else _copy(state.result)
        return _select(state.output_path, state.result_path.apply(raw, result), context), state.next

    def _run_choice(self, run: _Run, state: _State, raw: Any, entered: datetime, cancel: threading.Event,
                    branch: str | None) -> tuple[Any, str | None]:
        context = run.context_object(state.name, entered, 0)
        effective = _select(state.input_path, raw, context)
        target = next((target for rule, target in state.choices if rule.evaluate(effective, context)), state.default)
        if target is None:
            raise _StatesError("States.NoChoiceMatched",
                               f"No choice rule of state '{state.name}' matched its input, and it has no Default")
        return _select(state.output_path, effective, context), target

    def _run_wait(self, run: _Run, state: _State, raw: Any, entered: datetime, cancel: threading.Event,
                  branch: str | None) -> tuple[Any, str | None]:
        assert state.wait is not None
        context = run.context_object(state.name, entered, 0)
        effective = _select(state.input_path, raw, context)
        kind, value = state.wait
        if kind.endswith("Path"):
            path: _Path = value
            value = _select(path, effective, context)
            if kind == "SecondsPath" and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
                raise _StatesError("States.Runtime", f"SecondsPath '{path.text}' must select a non-negative integer, "
                                                     f"not {_preview(value, 80)}")
            if kind == "TimestampPath":
                found = value
                value = _parse_timestamp(found)
                if value is None:
                    raise _StatesError("States.Runtime", f"TimestampPath '{path.text}' must select an RFC 3339 "
                                                         f"timestamp, not {_preview(found, 80)}")
        seconds = float(value) if kind.startswith("Seconds") else max(0.0, (value - datetime.now(UTC)).total_seconds())
        run.record("WaitStarted", branch, state=state.name, seconds=seconds, delay_seconds=seconds * self.time_scale)
        run.sleep(seconds * self.time_scale, cancel)
        return _select(state.output_path, effective, context), state.next

    def _run_succeed(self, run: _Run, state: _State, raw: Any, entered: datetime, cancel: threading.Event,
                     branch: str | None) -> tuple[Any, str | None]:
        context = run.context_object(state.name, entered, 0)
        return _select(state.output_path, _select(state.input_path, raw, context), context), None

    def _run_fail(self, run: _Run, state: _State, raw: Any, entered: datetime, cancel: threading.Event,
                  branch: str | None) -> tuple[Any, str | None]:
        context = run.context_object(state.name, entered, 0)
        values = []
        for node, label in ((state.error, "ErrorPath"), (state.cause, "CausePath")):
            value = None if node is None else node.evaluate(raw, context)
            if value is not None and not isinstance(value, str):
                raise _StatesError("States.Runtime", f"{label} must select a string, not {_preview(value, 80)}")
            values.append(value)
        raise _StatesError(values[0], values[1])

    def _run_parallel(self, run: _Run, state: _State, raw: Any, entered: datetime, cancel: threading.Event,
                      branch: str | None) -> tuple[Any, str | None]:
        def attempt(retry_count: int) -> Any:
            context = run.context_object(state.name, entered, retry_count)
            effective = self._effective_input(state, raw, context)
            results = self._run_branches(run, state, effective, cancel, branch)
            return self._finish(state, raw, results, context)

        return self._handle_errors(run, state, raw, cancel, branch, attempt)

    def _run_branches(self, run: _Run, state: _State, data: Any, cancel: threading.Event,
                      branch: str | None) -> list[Any]:
        stop = threading.Event()
        results: list[Any] = [None] * len(state.branches)
        failures: list[BaseException] = []

        def run_branch(index: int) -> None:
            label = f"{branch}/{state.name}[{index}]" if branch else f"{state.name}[{index}]"
            try:
                results[index] = self._run_scope(run, state.branches[index], _copy(data), stop, label)
            except _Cancelled:
                pass
            except Exception as exc:  # noqa: BLE001 - re-raised in the Parallel state's thread below
                with run.lock:
                    failures.append(exc)
                stop.set()

        threads = [threading.Thread(target=contextvars.copy_context().run, args=(run_branch, index),
                                    name=f"asl-branch-{state.name}-{index}", daemon=True)
                   for index in range(len(state.branches))]
        for thread in threads:
            thread.start()
        for thread in threads:
            while thread.is_alive():
                thread.join(_POLL_SECONDS)
                if cancel.is_set():
                    stop.set()
        if any(isinstance(failure, _TimedOut) for failure in failures):
            raise _TimedOut
        if failures:
            raise failures[0]
        if cancel.is_set():
            raise _Cancelled
        return results


def _call(box: dict[str, Any], handler: Callable[[Any, Context], Any], payload: Any, context: Context,
          done: threading.Event | None = None) -> None:
    try:
        box["value"] = handler(payload, context)
    except Exception as exc:  # noqa: BLE001 - a task's exception becomes the state's error, as in Step Functions
        box["error"] = exc
    finally:
        if done is not None:
            done.set()


def _lambda_error(exc: BaseException, request_id: str) -> _StatesError:
    """The error name and cause Step Functions reports for an exception raised by a Lambda function."""
    name = getattr(exc, "error_name", None)
    if not isinstance(name, str) or not name:
        name = type(exc).__name__
    tb = exc.__traceback__
    frames = traceback.extract_tb(tb.tb_next if tb is not None and tb.tb_next is not None else tb)
    cause = json.dumps({"errorMessage": str(exc), "errorType": name, "requestId": request_id,
                        "stackTrace": traceback.format_list(frames)}, ensure_ascii=False)
    return _StatesError(name, cause)
