"""What the local DynamoDB endpoint adds to moto: index reads as DynamoDB does them, and fast answers.

**Indexes.** moto answers a Query on a secondary index by sorting every item of the table and
testing each one, so a Query costs as much as the whole table. DynamoDB reads the index partition
from the first matching key and stops at ``Limit``. The product depends on that: ``GET /due`` asks
the sparse ``ByUserDue`` index for the few due tracks of a library of thousands.

For each index keyed by one hash and one range attribute, an `IndexedTable` keeps the keys of its
items per index partition, sorted in moto's own order (index range key, then the table's keys),
and updates them on every write: PutItem, UpdateItem and DeleteItem, and so BatchWriteItem,
TransactWriteItems and PartiQL, which moto runs through them. A Query then finds its first item by
bisection and hands moto's query at most ``Limit + 1`` candidates (and the item after them), so
``ExclusiveStartKey``, ``Limit``, ``LastEvaluatedKey``, filters, projections and counts are moto's
own code, answered as before. Other queries (base table, composite keys, legacy ``KeyConditions``)
go to moto unchanged. The sorted keys are built on a table's first index Query, then kept. They
live on the table object, so moto's copies of a table (a transaction's rollback state) carry keys
that match their items.

**Answers.** moto writes every response through a generic serializer that walks the botocore
model for each value: for each attribute of each item it tries every member of ``AttributeValue``
(S, N, B, SS, ...) under several spellings, about 15 ms for a page of 20 items. An attribute value
without binary parts is already in its wire form, so `AttributeValueSerializer` writes it as it
is; binary values still take moto's path (they need base64).

`install` gives one moto DynamoDB backend both.
"""

from __future__ import annotations

import bisect
import importlib
from collections.abc import Iterable
from typing import Any

from moto.core.serialize import SERVICE_SPECIFIC_SERIALIZERS, JSONSerializer
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict
from moto.dynamodb.models.table import Table

# One item's place in an index partition: (index range, table hash, table range) as moto compares
# them (`DynamoType.cast_value`), then the item's table key to look it up.
Entry = tuple[Any, Any, Any, tuple[DynamoType, DynamoType | None]]
NO_RANGE = ()  # the table range part of the sort key when the table has no range key

# Range conditions answered by bisection: the bisection that finds the first (lower) and the end (upper) of
# the matching range keys, from the first and the last operand.
_left, _right = bisect.bisect_left, bisect.bisect_right
_LOWER = {"=": _left, "EQ": _left, ">=": _left, "GE": _left, ">": _right, "GT": _right, "BETWEEN": _left,
          "BEGINS_WITH": _left}
_UPPER = {"=": _right, "EQ": _right, "<=": _right, "LE": _right, "<": _left, "LT": _left, "BETWEEN": _right}


def install(backend: DynamoDBBackend) -> None:
    """Make `backend` (and its tables, present and future) read indexes instead of scanning tables,
    and DynamoDB's answers skip the model walk for plain attribute values."""
    SERVICE_SPECIFIC_SERIALIZERS.setdefault("dynamodb", {})["json"] = AttributeValueSerializer
    if not isinstance(backend, IndexedBackend):
        backend.__class__ = IndexedBackend
    for table in backend.tables.values():
        if type(table) is Table:
            table.__class__ = IndexedTable  # type: ignore[type-abstract]


class SortedIndex:
    """The keys of the items of one index (hash attribute, range attribute), sorted per partition."""

    def __init__(self, hash_attr: str, range_attr: str) -> None:
        self.hash_attr = hash_attr
        self.range_attr = range_attr
        self.partitions: dict[DynamoType, list[Entry]] = {}
        self.placed: dict[tuple[DynamoType, DynamoType | None], tuple[DynamoType, Entry]] = {}

    def build(self, items: Iterable[Item]) -> None:
        for item in items:
            entry = self._entry(item)
            if entry is not None:
                partition, place = entry
                self.partitions.setdefault(partition, []).append(place)
                self.placed[place[3]] = entry
        for entries in self.partitions.values():
            entries.sort(key=_place)

    def update(self, key: tuple[DynamoType, DynamoType | None], item: Item | None) -> None:
        """Move `key` to where `item` (its current state, None when deleted) belongs."""
        old = self.placed.pop(key, None)
        if old is not None:
            partition, place = old
            entries = self.partitions[partition]
            position = bisect.bisect_left(entries, _place(place), key=_place)
            del entries[position]
            if not entries:
                del self.partitions[partition]
        new = self._entry(item) if item is not None else None
        if new is not None:
            partition, place = new
            bisect.insort(self.partitions.setdefault(partition, []), place, key=_place)
            self.placed[key] = new

    def candidates(
        self,
        partition: DynamoType,
        comparison: str | None,
        operands: list[DynamoType],
        start: tuple[Any, Any, Any] | None,
        forward: bool,
        limit: int | None,
    ) -> list[tuple[DynamoType, DynamoType | None]] | None:
        """Table keys of the items a Query reads, in index order; None when bisection cannot answer it."""
        entries = self.partitions.get(partition, [])
        low, high = 0, len(entries)
        if comparison is not None:
            comparison = comparison.upper()
            if comparison not in _LOWER and comparison not in _UPPER:
                return None
            bounds = [operand.cast_value for operand in operands]
            if comparison in _LOWER:
                low = _LOWER[comparison](entries, bounds[0], key=_range_value)
            if comparison in _UPPER:
                high = _UPPER[comparison](entries, bounds[-1], key=_range_value)
            if comparison == "BEGINS_WITH":
                high = low
                while high < len(entries) and _begins_with(entries[high][0], bounds[0]):
                    high += 1
        if start is not None:
            at = bisect.bisect_left(entries, start, lo=low, hi=max(low, high), key=_place)
            if forward:
                low = at + 1 if at < high and _place(entries[at]) == start else at
            else:
                high = at
        window = entries[low:high] if forward else entries[low:high][::-1]
        # moto's query reports a LastEvaluatedKey when the page is full and any item of the partition follows,
        # in the condition or not: it gets the item that follows the window, and one item more than the page.
        after = entries[high:high + 1] if forward else entries[max(low - 1, 0):low]
        if limit is not None:
            window = window[: limit + 1]
            if len(window) <= limit:
                window += after
        return [entry[3] for entry in window]

    def _entry(self, item: Item) -> tuple[DynamoType, Entry] | None:
        partition, position = item.attrs.get(self.hash_attr), item.attrs.get(self.range_attr)
        if not partition or not position:  # DynamoDB leaves items without both key attributes out of the index
            return None
        table_range = item.range_key.cast_value if item.range_key is not None else NO_RANGE
        return partition, (position.cast_value, item.hash_key.cast_value, table_range, (item.hash_key, item.range_key))


def _range_value(entry: Entry) -> Any:
    return entry[0]


def _place(entry: Entry) -> tuple[Any, Any, Any]:
    """Where an entry sorts: (index range, table hash, table range); unique, as the table key is."""
    return entry[:3]


def _begins_with(value: Any, prefix: Any) -> bool:
    if isinstance(value, str) and isinstance(prefix, str):
        return value.startswith(prefix)
    if isinstance(value, bytes) and isinstance(prefix, bytes):
        return value.startswith(prefix)
    return False


class _Candidates:
    """The table as moto's query sees it, with only the candidate items: moto's query runs on this view."""

    def __init__(self, table: Table, items: list[Item]) -> None:
        self._table = table
        self._items = items

    def __getattr__(self, name: str) -> Any:
        return getattr(self._table, name)

    def all_items(self) -> list[Item]:
        return self._items

    def get_index(self, index_name: str, error_if_not: bool = False) -> Any:
        return _Projection(self._table.get_index(index_name, error_if_not))


class _Projection:
    """An index whose projection picks the item's stored attributes by name.

    moto projects by converting the whole item to plain values and back once per projected attribute,
    and rebuilds it through a dict that re-measures the item on every insert: about 1 ms an item, so
    most of a page's cost. Picking the top-level attributes gives the same item.
    """

    def __init__(self, index: Any) -> None:
        self._index = index

    def __getattr__(self, name: str) -> Any:
        return getattr(self._index, name)

    def project(self, item: Item) -> Item:
        projection = self._index.projection or {}
        kind = projection.get("ProjectionType")
        if kind not in ("KEYS_ONLY", "INCLUDE"):
            return item
        wanted = set(self._index.table_key_attrs) | {key["AttributeName"] for key in self._index.schema}
        if kind == "INCLUDE":
            wanted |= set(projection.get("NonKeyAttributes", []))
        projected = Item(item.hash_key, item.range_key, {})
        # The attributes are a subset of a stored item, within the size limit: no need to measure each insert.
        projected.attrs = LimitedSizeDict({name: value for name, value in item.attrs.items() if name in wanted})
        return projected


class IndexedTable(Table):
    """A moto table that keeps its index keys sorted and reads them to answer an index Query."""

    def sorted_index(self, hash_attr: str, range_attr: str) -> SortedIndex:
        indexes: dict[tuple[str, str], SortedIndex] = self.__dict__.setdefault("_sorted_indexes", {})
        index = indexes.get((hash_attr, range_attr))
        if index is None:
            index = indexes[(hash_attr, range_attr)] = SortedIndex(hash_attr, range_attr)
            index.build(self.all_items())
        return index

    def reindex(self, hash_key: DynamoType, range_key: DynamoType | None) -> None:
        """Put the item with this key (or its absence) into every sorted index built so far."""
        indexes: dict[tuple[str, str], SortedIndex] = self.__dict__.get("_sorted_indexes", {})
        if not indexes:
            return
        item = self._stored(hash_key, range_key)
        for index in indexes.values():
            index.update((hash_key, range_key), item)

    def put_item(self, item_attrs: dict[str, Any], *args: Any, **kwargs: Any) -> Item:
        item = super().put_item(item_attrs, *args, **kwargs)
        self.reindex(item.hash_key, item.range_key)
        return item

    def delete_item(self, hash_key: DynamoType, range_key: DynamoType | None) -> Item | None:
        item = super().delete_item(hash_key, range_key)
        self.reindex(hash_key, range_key)
        return item

    def query(
        self,
        hash_key: DynamoType | None,
        range_comparison: str | None,
        range_objs: list[DynamoType],
        limit: int,
        exclusive_start_key: dict[str, Any],
        scan_index_forward: bool,
        projection_expressions: list[list[str]] | None,
        index_name: str | None = None,
        consistent_read: bool = False,
        filter_expression: Any = None,
        hash_key_conditions: list[tuple[str, DynamoType]] | None = None,
        range_key_conditions: list[tuple[str, str, list[DynamoType]]] | None = None,
        **filter_kwargs: Any,
    ) -> tuple[list[Item], int, dict[str, Any] | None]:
        args = (hash_key, range_comparison, range_objs, limit, exclusive_start_key, scan_index_forward,
                projection_expressions, index_name, consistent_read, filter_expression)
        keywords = {"hash_key_conditions": hash_key_conditions, "range_key_conditions": range_key_conditions,
                    **filter_kwargs}
        keys = self._index_read(index_name, hash_key_conditions, range_key_conditions, range_comparison, range_objs,
                                exclusive_start_key, scan_index_forward, limit) if not filter_kwargs else None
        if keys is None:
            return super().query(*args, **keywords)
        items = [item for item in (self._stored(*key) for key in keys) if item is not None]
        return Table.query(_Candidates(self, items), *args, **keywords)  # type: ignore[arg-type]

    def _index_read(
        self,
        index_name: str | None,
        hash_key_conditions: list[tuple[str, DynamoType]] | None,
        range_key_conditions: list[tuple[str, str, list[DynamoType]]] | None,
        range_comparison: str | None,
        range_objs: list[DynamoType],
        exclusive_start_key: dict[str, Any] | None,
        forward: bool,
        limit: int | None,
    ) -> list[tuple[DynamoType, DynamoType | None]] | None:
        """The candidate keys of an index Query the sorted keys can answer, else None (moto answers it)."""
        if not index_name or not hash_key_conditions or len(hash_key_conditions) != 1:
            return None
        schema = next((index.schema for index in self.all_indexes() if index.name == index_name), None)
        if schema is None or len(schema) != 2:
            return None
        hash_attr = next((key["AttributeName"] for key in schema if key["KeyType"] == "HASH"), None)
        range_attr = next((key["AttributeName"] for key in schema if key["KeyType"] == "RANGE"), None)
        (asked, partition), = hash_key_conditions
        if hash_attr is None or range_attr is None or asked != hash_attr:
            return None
        if range_key_conditions and (len(range_key_conditions) != 1 or range_key_conditions[0][0] != range_attr):
            return None
        range_type = self._attribute_type(range_attr)
        if range_comparison is not None and any(operand.type != range_type for operand in range_objs):
            return None
        start = None
        if exclusive_start_key:
            try:
                start = (DynamoType(exclusive_start_key[range_attr]).cast_value,
                         DynamoType(exclusive_start_key[self.hash_key_attr]).cast_value,
                         DynamoType(exclusive_start_key[self.range_key_attr]).cast_value
                         if self.range_key_attr else NO_RANGE)
            except (KeyError, TypeError, ValueError):
                return None
        return self.sorted_index(hash_attr, range_attr).candidates(
            partition, range_comparison, range_objs, start, forward, limit)

    def _attribute_type(self, name: str) -> str | None:
        return next((a["AttributeType"] for a in self.attr if a["AttributeName"] == name), None)

    def _stored(self, hash_key: DynamoType, range_key: DynamoType | None) -> Item | None:
        if self.range_key_attr is None:
            return self.items.get(hash_key)  # type: ignore[return-value]
        return self.items.get(hash_key, {}).get(range_key) if range_key is not None else None


class IndexedBackend(DynamoDBBackend):
    """moto's DynamoDB backend whose tables are `IndexedTable` and whose updates move index keys."""

    @property
    def _url_module(self) -> Any:  # moto finds a backend's URL rules next to the module its class is defined in
        return importlib.import_module("moto.dynamodb.urls")

    def create_table(self, *args: Any, **params: Any) -> Table:
        table = super().create_table(*args, **params)
        if type(table) is Table:
            table.__class__ = IndexedTable  # type: ignore[type-abstract]
        return table

    def update_item(self, table_name: str, key: dict[str, dict[str, Any]], *args: Any, **kwargs: Any) -> Item:
        # moto updates the stored item in place; its keys move once it is done (or has stopped half way).
        try:
            return super().update_item(table_name, key, *args, **kwargs)
        finally:
            table = self.tables.get(table_name)
            if isinstance(table, IndexedTable) and table.hash_key_attr in key:
                range_key = key.get(table.range_key_attr) if table.range_key_attr else None
                table.reindex(DynamoType(key[table.hash_key_attr]),
                              DynamoType(range_key) if range_key is not None else None)


class AttributeValueSerializer(JSONSerializer):
    """moto's JSON serializer, writing attribute values without binary parts as they are."""

    def _serialize_type_structure(self, serialized: Any, value: Any, shape: Any, key: str) -> None:
        if key and shape.name == "AttributeValue" and isinstance(value, dict) and _plain(value):
            self._default_serialize(serialized, value, shape, key)
            return
        super()._serialize_type_structure(serialized, value, shape, key)


def _plain(value: dict[str, Any]) -> bool:
    """True when an attribute value (and everything nested in it) is one typed member, none of them binary."""
    if len(value) != 1:
        return False
    (kind, inner), = value.items()
    if kind in ("S", "N", "SS", "NS", "BOOL", "NULL"):
        return True
    if kind == "M":
        return isinstance(inner, dict) and all(isinstance(v, dict) and _plain(v) for v in inner.values())
    if kind == "L":
        return isinstance(inner, list) and all(isinstance(v, dict) and _plain(v) for v in inner)
    return False  # B, BS, or not an attribute value: moto's path
