"""Pagination cursors: DynamoDB's LastEvaluatedKey as an opaque string, bound to the caller.

A cursor decodes only for the user it was issued to, so a client can never page through
another user's partition by editing one; and only when it has exactly the key attributes of the
index it pages, each of its declared type and within DynamoDB's key limits, so an edited cursor
is a 400 naming the cursor rather than a request DynamoDB refuses.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from typing import Any

_NUMBER_RE = re.compile(r"-?(?:0|[1-9]\d{0,37})(?:\.\d{1,38})?(?:[eE][+-]?\d{1,3})?")
_MAX_KEY_BYTES = 1024  # DynamoDB's limit for a sort key (a partition key may have 2048)


class InvalidCursor(ValueError):
    """A pagination cursor that this API did not issue for this caller."""


def encode(key: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key, sort_keys=True).encode()).decode().rstrip("=")


def decode(user_id: str, cursor: str, key_types: Mapping[str, str], *, partition: str = "userId") -> dict[str, Any]:
    """The LastEvaluatedKey a cursor stands for; `key_types` are the page's key attributes and their
    types (`records.page_key_types`). The key's `partition` attribute must be `user_id` (the page's
    partition: the caller's for their own records; a song, a state or a ledger for public pages)."""
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, RecursionError) as exc:
        raise InvalidCursor("cursor is not one this API issued") from exc
    if not isinstance(key, dict) or set(key) != set(key_types) or key.get(partition) != {"S": user_id}:
        raise InvalidCursor("cursor is not one this API issued")
    for name, kind in key_types.items():
        if not _is_key_value(key[name], kind):
            raise InvalidCursor("cursor is not one this API issued")
    return key


def _is_key_value(value: Any, kind: str) -> bool:
    if not isinstance(value, dict) or list(value) != [kind] or not isinstance(value[kind], str):
        return False
    text = value[kind]
    if kind == "N":
        return _NUMBER_RE.fullmatch(text) is not None
    return kind == "S" and 0 < len(text.encode()) <= _MAX_KEY_BYTES
