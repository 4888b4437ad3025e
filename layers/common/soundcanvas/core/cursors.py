"""Pagination cursors: DynamoDB's LastEvaluatedKey as an opaque string, bound to the caller.

A cursor decodes only for the user it was issued to, so a client can never page through
another user's partition by editing one.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any


class InvalidCursor(ValueError):
    """A pagination cursor that this API did not issue for this caller."""


def encode(key: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key, sort_keys=True).encode()).decode().rstrip("=")


def decode(user_id: str, cursor: str) -> dict[str, Any]:
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError) as exc:
        raise InvalidCursor("cursor is not one this API issued") from exc
    if not isinstance(key, dict) or key.get("userId", {}).get("S") != user_id:
        raise InvalidCursor("cursor is not one this API issued")
    return key
