"""What the PynamoDB record stores (jobs, tracks, user settings) share: binding a model to a
table at run time, record timestamps, and recognising a failed write condition."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def bind(model: Any, table_name: str, region: str, host: str | None) -> Any:
    """Point a model class at one table (tests and the local stack use their own tables and endpoint)."""
    model.Meta.table_name = table_name
    model.Meta.region = region
    model.Meta.host = host
    model.Meta.max_retry_attempts = 2
    return model


def now_iso(ts: float) -> str:
    """Epoch seconds as an ISO 8601 UTC timestamp with milliseconds: sortable as a string."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def conditional_failed(exc: Exception) -> bool:
    """True when a PynamoDB write failed only because its condition did not hold."""
    return getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException"
