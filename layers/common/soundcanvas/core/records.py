"""What the PynamoDB record stores (jobs, tracks, user settings) share: binding a model to a
table at run time, record timestamps, and recognising a failed write condition."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from pynamodb.attributes import MapAttribute, UnicodeAttribute
from pynamodb.indexes import GlobalSecondaryIndex, IncludeProjection

ACTIVE_SHARDS = 8  # partitions of the sparse ByActivity indexes (work in progress, for the sweeper)


def active_shard(item_id: str) -> str:
    """Which ByActivity partition an item in progress is in: spread evenly, stable for the item."""
    return str(int(hashlib.sha256(item_id.encode()).hexdigest()[:8], 16) % ACTIVE_SHARDS)


def activity_index(projected: list[str]) -> Any:
    """The sparse `ByActivity` index (activeShard, updatedAt) a record store declares for the sweeper:
    only items in progress carry `activeShard`, spread over ACTIVE_SHARDS partitions."""

    class ByActivity(GlobalSecondaryIndex[Any]):
        class Meta:
            index_name = "ByActivity"
            projection = IncludeProjection(projected)

        activeShard = UnicodeAttribute(hash_key=True)
        updatedAt = UnicodeAttribute(range_key=True)

    return ByActivity()


def stalled_records(model: Any, older_than: float) -> Iterator[Any]:
    """Records in progress (on a sparse ByActivity index) unchanged since `older_than` (epoch seconds), shard by shard."""
    cutoff = now_iso(older_than)
    for shard in range(ACTIVE_SHARDS):
        yield from model.by_activity.query(str(shard), range_key_condition=model.updatedAt < cutoff)


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


def delete_partition(model: Any, hash_key: str) -> int:
    """Delete every item under one partition key (batched, 25 per request); returns how many."""
    range_name = model._range_key_attribute().attr_name if model._range_key_attribute() else None
    attributes = [model._hash_key_attribute().attr_name] + ([range_name] if range_name else [])
    deleted = 0
    with model.batch_write() as batch:
        for item in model.query(hash_key, attributes_to_get=attributes):
            batch.delete(item)
            deleted += 1
    return deleted


def page_key_types(model: Any, index: Any) -> dict[str, str]:
    """The attributes (name -> DynamoDB type) of a page's LastEvaluatedKey on `index`: the table's
    keys and the index's. A cursor is checked against them before DynamoDB sees it."""
    types = {model._hash_key_attribute().attr_name: model._hash_key_attribute().attr_type}
    if model._range_key_attribute() is not None:
        types[model._range_key_attribute().attr_name] = model._range_key_attribute().attr_type
    for attribute in index.Meta.attributes.values():
        if attribute.is_hash_key or attribute.is_range_key:
            types[attribute.attr_name] = attribute.attr_type
    return types


def as_dict(record: Any) -> dict[str, Any]:
    """A record's attributes as plain values (map attributes as dicts), absent ones as None."""
    data: dict[str, Any] = {}
    for name in record.get_attributes():
        value = getattr(record, name)
        data[name] = value.as_dict() if isinstance(value, MapAttribute) else value
    return data
