"""What the product accepts from people: one rule for every name, tag and file name a user types,
the token subjects it can store, and the shape of a JSON body before anything parses it.

Names and tags: no control characters (C0, C1, DEL), lone surrogates, nor the invisible characters
that reorder or hide text (bidi controls, zero-width space, byte-order mark; the zero-width joiners
that emoji and several scripts need stay allowed); surrounding white space removed; not blank, not
only dots; at most `max_length` characters. File names also refuse `/` and `\\`. `name_type` makes
the pydantic type for request models; `name_problem` lets code that reads a name outside a model
(a multipart field) apply the same rule in the same words.

Subjects: the API's partition keys and object keys carry the caller's `sub`, so the authorizer
lets through only subjects that fit a key: Cognito's UUIDs, and any 1-128 characters of letters,
digits, `_` and `-` (the local stack's named users).
"""

from __future__ import annotations

import base64
import re
import unicodedata
from email.parser import BytesParser
from email.policy import HTTP
from typing import Annotated, Any

from soundcanvas.core.storage import AUDIO_CONTENT_TYPES


class FieldError(ValueError):
    """A request refused for one named field (`field`: `songs[1]`, `patch[0]`, `trackId`), which the API's answer
    names; for rules that need a record to judge, beyond what the request models check alone."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


SUBJECT_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")
JSON_MAX_BYTES = 256 * 1024  # far above any request body the API takes (50 upload files are ~25 KB)
JSON_MAX_DEPTH = 32
# the largest multipart body a route reads with audio_part: a Lambda request is at most 6 MB, and API Gateway hands
# it this body base64-encoded (4/3 larger) plus the event's headers
DIRECT_MAX_BYTES = 4 * 1024 * 1024
JSON_MAX_DIGITS = 40  # a 64-bit integer has 20; Python refuses to parse ints past 4,300 digits
_HIDDEN_CHARACTERS = frozenset(
    "\u061c\u200b\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2060\u2066\u2067\u2068\u2069\ufeff"
)
_JSON_STRING_RE = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_JSON_BRACKET_RE = re.compile(r"[\[\]{}]")
_LONG_NUMBER_RE = re.compile(rf"\d{{{JSON_MAX_DIGITS + 1},}}")


def is_subject(value: str) -> bool:
    """True when `value` can be stored as a user id (partition key and object key component)."""
    return SUBJECT_RE.fullmatch(value) is not None


def name_problem(value: str, *, max_length: int, file_name: bool = False) -> str | None:
    """What is wrong with a user-supplied name (already stripped), in words; None when it is fine."""
    if not value:
        return "must not be blank"
    if len(value) > max_length:
        return f"must be at most {max_length} characters"
    if any(ch in _HIDDEN_CHARACTERS or unicodedata.category(ch) in ("Cc", "Cs") for ch in value):
        return "must not contain control or invisible formatting characters"
    if set(value) == {"."}:
        return "must not be only dots"
    if file_name and ("/" in value or "\\" in value):
        return "must not contain / or \\"
    return None


def name_type(max_length: int, *, file_name: bool = False) -> Any:
    """The pydantic type of a name field: stripped, then held to `name_problem`'s rule."""
    from pydantic import AfterValidator, StringConstraints  # here: the authorizer imports this module, not pydantic

    def check(value: str) -> str:
        problem = name_problem(value, max_length=max_length, file_name=file_name)
        if problem:
            raise ValueError(problem)
        return value

    return Annotated[str, StringConstraints(strip_whitespace=True, max_length=max_length), AfterValidator(check)]


def json_body_problem(body: str) -> tuple[int, str] | None:
    """(status, message) when a JSON body is too large, nested too deeply or holds an absurd number.

    Checked before the body is parsed: Python's parser recurses once per nesting level and refuses
    integers past 4,300 digits, and either would otherwise surface as a server error."""
    if len(body) > JSON_MAX_BYTES:
        return 413, f"request body is over {JSON_MAX_BYTES // 1024} KB"
    outside_strings = _JSON_STRING_RE.sub('""', body)
    depth = deepest = 0
    for bracket in _JSON_BRACKET_RE.findall(outside_strings):
        depth += 1 if bracket in "[{" else -1
        deepest = max(deepest, depth)
    if deepest > JSON_MAX_DEPTH:
        return 400, f"request body is nested {deepest} levels deep; at most {JSON_MAX_DEPTH} are allowed"
    if _LONG_NUMBER_RE.search(outside_strings):
        return 400, f"request body holds a number with more than {JSON_MAX_DIGITS} digits"
    return None


class FieldProblem(ValueError):
    """An input the API cannot accept; `field` names what is wrong, `status` the HTTP answer."""

    def __init__(self, field: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.field, self.status = field, status


def audio_form_schema(title: str, description: str, file_name: str) -> dict[str, Any]:
    """The JSON schema of the form audio_part reads, as a route publishes it (tools/openapi.py, OPENAPI_BODIES):
    the audio in a part named file, and an optional fileName field described as `file_name`."""
    types = ", ".join(sorted(AUDIO_CONTENT_TYPES))
    extensions = ", ".join(sorted(set(AUDIO_CONTENT_TYPES.values())))
    return {
        "title": title,
        "description": description,
        "type": "object",
        "properties": {
            "file": {"type": "string", "format": "binary",
                     "description": f"The audio, a part with a file name, sent as one of {types} (or as another "
                                    f"type with a file name ending in {extensions})."},
            "fileName": {"type": "string", "maxLength": 255, "description": file_name},
        },
        "required": ["file"],
    }


def audio_part(content_type: str, raw_body: str | None, is_base64: bool, *, max_bytes: int,
               instead: str) -> tuple[str, str, bytes]:
    """(file name, content type, bytes) of the audio in a multipart/form-data body's part named `file`
    (an optional `fileName` field overrides the part's file name). API Gateway passes the body
    base64-encoded (multipart/form-data is a binary media type of the API). FieldProblem otherwise;
    `instead` names the route for files over `max_bytes`."""
    if not content_type.lower().startswith("multipart/form-data"):
        raise FieldProblem("Content-Type", "send the file as multipart/form-data with a part named file", 415)
    raw = raw_body or ""
    body = base64.b64decode(raw) if is_base64 else raw.encode("utf-8", "surrogateescape")
    if len(body) > max_bytes:
        raise FieldProblem("file", f"direct uploads are limited to {max_bytes // 1048576} MB; use {instead}", 413)
    message = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
    parts = {part.get_param("name", header="content-disposition"): part for part in message.iter_parts()}
    part = parts.get("file")
    if part is None or not part.get_filename():
        raise FieldProblem("file", "missing: send the audio in a part named file")
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes) or not data:
        raise FieldProblem("file", "is empty")
    name_part = parts.get("fileName")
    named = name_part.get_payload(decode=True) if name_part else None
    file_name = named.decode(errors="replace").strip() if isinstance(named, bytes) else str(part.get_filename() or "")
    problem = name_problem(file_name.strip(), max_length=255, file_name=True)
    if problem:
        raise FieldProblem("fileName", problem)
    file_name = file_name.strip()
    part_type = part.get_content_type()
    if part_type not in AUDIO_CONTENT_TYPES:
        by_ext = {ext: ctype for ctype, ext in reversed(AUDIO_CONTENT_TYPES.items())}
        part_type = by_ext.get(file_name.rsplit(".", 1)[-1].lower(), part_type)
    if part_type not in AUDIO_CONTENT_TYPES:
        allowed = ", ".join(sorted(AUDIO_CONTENT_TYPES))
        raise FieldProblem("file", f"unsupported content type {part_type}; use one of {allowed}", 415)
    return file_name, part_type, data
