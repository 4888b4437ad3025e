"""The local DynamoDB endpoint answers exactly as moto does, only faster.

Indexes: moto's own query, which reads every item of the table, is the oracle. After any mix of
writes (puts, updates that add or remove an index key, deletes, batches, transactions that roll
back), every Query, page by page, must give the same items, counts and LastEvaluatedKey with the
sorted keys as without. Answers: moto's model-walking serializer is the oracle for the one that
writes plain attribute values as they are.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any
from unittest import mock

import boto3
import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.serialize import JSONSerializer
from moto.core.utils import get_service_model
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.table import Table

from local_stack.dynamodb import AttributeValueSerializer, IndexedTable, install
from local_stack.template import LocalTemplate

REGION = "us-east-1"
TRACKS = "tracks"
PIECES = "pieces"  # a table with a hash key only, so items are placed by their hash key alone
_names = itertools.count()


@pytest.fixture(scope="module")
def dynamodb(sam_template: LocalTemplate) -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        install(dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION])
        tracks = sam_template.tables["TracksTable"]  # the product's key schema and indexes
        client.create_table(TableName=TRACKS, BillingMode="PAY_PER_REQUEST",
                            **{k: tracks[k] for k in ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes")})
        client.create_table(
            TableName=PIECES, BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": name, "AttributeType": kind}
                                  for name, kind in (("pieceId", "S"), ("owner", "S"), ("score", "N"))],
            KeySchema=[{"AttributeName": "pieceId", "KeyType": "HASH"}],
            GlobalSecondaryIndexes=[{"IndexName": "ByOwnerScore", "Projection": {"ProjectionType": "KEYS_ONLY"},
                                     "KeySchema": [{"AttributeName": "owner", "KeyType": "HASH"},
                                                   {"AttributeName": "score", "KeyType": "RANGE"}]}])
        yield client


def _table(name: str) -> Any:
    return dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION].tables[name]  # a rolled-back transaction replaces it


def _same_answer(client: Any, table: str, query: dict[str, Any]) -> list[dict[str, Any]]:
    """Page through `query` with the sorted keys; each page must equal moto's own answer. Returns the items."""
    items: list[dict[str, Any]] = []
    request = {"TableName": table, **query}
    for _ in range(100):
        stored = _table(table)
        assert isinstance(stored, IndexedTable)
        fast = client.query(**request)
        stored.__class__ = Table  # moto's query: every item of the table, sorted and tested
        try:
            slow = client.query(**request)
        finally:
            stored.__class__ = IndexedTable
        assert {k: fast.get(k) for k in ("Items", "Count", "ScannedCount", "LastEvaluatedKey")} == \
            {k: slow.get(k) for k in ("Items", "Count", "ScannedCount", "LastEvaluatedKey")}, request
        items += fast["Items"]
        if "LastEvaluatedKey" not in fast:
            return items
        request["ExclusiveStartKey"] = fast["LastEvaluatedKey"]
    raise AssertionError(f"the query did not end: {request}")


USERS = st.sampled_from(["ana", "ben"])
TRACK_IDS = st.sampled_from([f"t{i}" for i in range(10)])
DUE = st.integers(0, 5)  # few values, so many items share a due time and the table key decides
CREATED = st.sampled_from(["2026-01-01", "2026-01-02", "2026-02-01", "2026-02-1x", "2027-01-01"])
NUMBER_CONDITIONS = st.sampled_from(["=", "<", "<=", ">", ">=", "BETWEEN", None])
TEXT_CONDITIONS = st.sampled_from(["=", "<", ">=", "BETWEEN", "begins_with", None])

WRITES = st.one_of(
    st.tuples(st.just("put"), USERS, TRACK_IDS, st.none() | DUE, CREATED),
    st.tuples(st.just("set_due"), USERS, TRACK_IDS, DUE),
    st.tuples(st.just("remove_due"), USERS, TRACK_IDS),
    st.tuples(st.just("delete"), USERS, TRACK_IDS),
    st.tuples(st.just("batch"),
              st.lists(st.tuples(USERS, TRACK_IDS, DUE), min_size=1, max_size=4, unique_by=lambda w: w[:2])),
    st.tuples(st.just("transaction"), USERS, TRACK_IDS, TRACK_IDS, DUE),
)
QUERIES = st.tuples(
    st.just("query"), USERS, st.sampled_from(["ByUserDue", "ByUserCreated", "ByUserFileName"]),
    NUMBER_CONDITIONS, TEXT_CONDITIONS, DUE, DUE, CREATED, CREATED, st.booleans(), st.sampled_from([None, 1, 2, 5]),
    st.booleans(),
)


def _write(client: Any, step: tuple[Any, ...], prefix: str) -> None:
    kind, user = step[0], f"{prefix}{step[1]}" if step[0] != "batch" else ""
    if kind == "put":
        _, _, track, due, created = step
        item = {"userId": {"S": user}, "trackId": {"S": track}, "createdAt": {"S": created},
                "fileName": {"S": f"{created}-{track}.mp3"}, "status": {"S": "READY"}}
        if due is not None:
            item["dueAt"] = {"N": str(due)}
        client.put_item(TableName=TRACKS, Item=item)
    elif kind == "set_due":  # creates the item when it is missing, as UpdateItem does
        client.update_item(TableName=TRACKS, Key={"userId": {"S": user}, "trackId": {"S": step[2]}},
                           UpdateExpression="SET dueAt = :d", ExpressionAttributeValues={":d": {"N": str(step[3])}})
    elif kind == "remove_due":
        client.update_item(TableName=TRACKS, Key={"userId": {"S": user}, "trackId": {"S": step[2]}},
                           UpdateExpression="REMOVE dueAt")
    elif kind == "delete":
        client.delete_item(TableName=TRACKS, Key={"userId": {"S": user}, "trackId": {"S": step[2]}})
    elif kind == "batch":
        client.batch_write_item(RequestItems={TRACKS: [
            {"PutRequest": {"Item": {"userId": {"S": f"{prefix}{u}"}, "trackId": {"S": t}, "dueAt": {"N": str(d)},
                                     "createdAt": {"S": "2026-03-01"}}}} for u, t, d in step[1]]})
    elif kind == "transaction":  # the update needs the second track to exist: otherwise both writes roll back
        _, _, first, second, due = step
        try:
            client.transact_write_items(TransactItems=[
                {"Put": {"TableName": TRACKS, "Item": {"userId": {"S": user}, "trackId": {"S": first},
                                                        "dueAt": {"N": str(due)}, "createdAt": {"S": "2026-04-01"}}}},
                {"Update": {"TableName": TRACKS, "Key": {"userId": {"S": user}, "trackId": {"S": second}},
                            "UpdateExpression": "SET dueAt = :d", "ConditionExpression": "attribute_exists(trackId)",
                            "ExpressionAttributeValues": {":d": {"N": str(due + 1)}}}},
            ] if first != second else [
                {"Delete": {"TableName": TRACKS, "Key": {"userId": {"S": user}, "trackId": {"S": first}},
                            "ConditionExpression": "attribute_not_exists(dueAt)"}}])
        except ClientError as error:
            assert error.response["Error"]["Code"] == "TransactionCanceledException"


def _query(step: tuple[Any, ...], prefix: str) -> dict[str, Any]:
    _, user, index, number_condition, text_condition, low, high, since, until, forward, limit, filtered = step
    attribute, kind = {"ByUserDue": ("dueAt", "N"), "ByUserCreated": ("createdAt", "S"),
                       "ByUserFileName": ("fileName", "S")}[index]
    condition = number_condition if kind == "N" else text_condition
    first, second = (low, high) if kind == "N" else (since, until)
    values = {":u": {"S": f"{prefix}{user}"}}
    expression = "userId = :u"
    if condition == "begins_with":
        expression += " AND begins_with(#k, :a)"
        values[":a"] = {"S": str(first)[:7]}
    elif condition == "BETWEEN":
        expression += " AND #k BETWEEN :a AND :b"
        values.update({":a": {kind: str(first)}, ":b": {kind: str(second)}})
    elif condition is not None:
        expression += f" AND #k {condition} :a"
        values[":a"] = {kind: str(first)}
    query: dict[str, Any] = {"IndexName": index, "KeyConditionExpression": expression, "ExpressionAttributeValues": values,
                             "ScanIndexForward": forward}
    if condition is not None:
        query["ExpressionAttributeNames"] = {"#k": attribute}
    if limit is not None:
        query["Limit"] = limit
    if filtered:
        query["FilterExpression"] = "attribute_exists(createdAt)"
    return query


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.one_of(WRITES, QUERIES), min_size=1, max_size=30))
def test_every_index_query_answers_as_moto_does_after_any_writes(dynamodb: Any, steps: list[tuple[Any, ...]]) -> None:
    prefix = f"run{next(_names)}-"  # each example its own users, in the one table
    _same_answer(dynamodb, TRACKS, _query(("query", "ana", "ByUserDue", None, None, 0, 0, "", "", True, None, False),
                                          prefix))  # the sorted keys exist from the start, so every write moves them
    for step in steps:
        if step[0] == "query":
            _same_answer(dynamodb, TRACKS, _query(step, prefix))
        else:
            _write(dynamodb, step, prefix)
    for user, index in itertools.product(("ana", "ben"), ("ByUserDue", "ByUserCreated", "ByUserFileName")):
        everything = _same_answer(dynamodb, TRACKS, _query(
            ("query", user, index, None, None, 0, 0, "", "", True, 3, False), prefix))
        assert len(everything) == len({item["trackId"]["S"] for item in everything})


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(scores=st.lists(st.tuples(st.integers(0, 8), st.sampled_from(["a", "b"]), st.none() | st.integers(0, 3)),
                       max_size=20),
       limit=st.sampled_from([None, 1, 3]), forward=st.booleans())
def test_a_table_without_a_range_key_too(dynamodb: Any, scores: list[tuple[int, str, int | None]],
                                         limit: int | None, forward: bool) -> None:
    prefix = f"run{next(_names)}-"
    for piece, owner, score in scores:
        item = {"pieceId": {"S": f"{prefix}{piece}"}, "owner": {"S": f"{prefix}{owner}"}}
        if score is not None:
            item["score"] = {"N": str(score)}
        dynamodb.put_item(TableName=PIECES, Item=item)
    query: dict[str, Any] = {"IndexName": "ByOwnerScore", "KeyConditionExpression": "#o = :o AND score >= :s",
                             "ExpressionAttributeNames": {"#o": "owner"}, "ScanIndexForward": forward,
                             "ExpressionAttributeValues": {":o": {"S": f"{prefix}a"}, ":s": {"N": "1"}}}
    if limit is not None:
        query["Limit"] = limit
    _same_answer(dynamodb, PIECES, query)


def test_an_index_query_reads_the_page_not_the_table(dynamodb: Any) -> None:
    """2,000 tracks, 3 of them due: after the first Query, a Query touches no other item of the table."""
    user = f"run{next(_names)}-big"
    for start in range(0, 2000, 25):
        dynamodb.batch_write_item(RequestItems={TRACKS: [
            {"PutRequest": {"Item": {"userId": {"S": user}, "trackId": {"S": f"t{i:05}"},
                                     "dueAt": {"N": str(i if i < 3 else 10_000 + i)}}}}
            for i in range(start, start + 25)]})
    due = {"TableName": TRACKS, "IndexName": "ByUserDue", "KeyConditionExpression": "userId = :u AND dueAt <= :now",
           "ExpressionAttributeValues": {":u": {"S": user}, ":now": {"N": "100"}}, "Limit": 20}
    assert [item["trackId"]["S"] for item in dynamodb.query(**due)["Items"]] == ["t00000", "t00001", "t00002"]
    table = _table(TRACKS)
    with mock.patch.object(Table, "all_items", side_effect=AssertionError("read the whole table")), \
            mock.patch.object(Table, "sorted_items", wraps=table.sorted_items) as sorted_items:
        dynamodb.update_item(TableName=TRACKS, Key={"userId": {"S": user}, "trackId": {"S": "t01999"}},
                             UpdateExpression="SET dueAt = :d", ExpressionAttributeValues={":d": {"N": "-1"}})
        page = dynamodb.query(**due)
    assert [item["trackId"]["S"] for item in page["Items"]] == ["t01999", "t00000", "t00001", "t00002"]
    # moto's query was handed the 4 due items and the one after them (which decides LastEvaluatedKey), no more
    assert [len(call.args[-1]) for call in sorted_items.call_args_list] == [5]


SCALARS = st.one_of(
    st.builds(lambda v: {"S": v}, st.text(max_size=8)),
    st.builds(lambda v: {"N": str(v)}, st.integers(-10**6, 10**6) | st.decimals(allow_nan=False, allow_infinity=False,
                                                                                places=3)),
    st.builds(lambda v: {"B": v}, st.binary(max_size=8)),
    st.builds(lambda v: {"BOOL": v}, st.booleans()),
    st.just({"NULL": True}),
    st.builds(lambda v: {"SS": v}, st.lists(st.text(max_size=4), min_size=1, max_size=3, unique=True)),
    st.builds(lambda v: {"NS": [str(n) for n in v]}, st.lists(st.integers(0, 99), min_size=1, max_size=3, unique=True)),
    st.builds(lambda v: {"BS": v}, st.lists(st.binary(min_size=1, max_size=4), min_size=1, max_size=2, unique=True)),
)
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.builds(lambda v: {"L": v}, st.lists(inner, max_size=3)),
    st.builds(lambda v: {"M": v}, st.dictionaries(st.text(min_size=1, max_size=4), inner, max_size=3))), max_leaves=8)
ITEMS = st.dictionaries(st.text(min_size=1, max_size=6), VALUES, min_size=1, max_size=5)


@settings(max_examples=200, deadline=None)
@given(items=st.lists(ITEMS, max_size=4), key=ITEMS, operation=st.sampled_from(["Query", "Scan", "GetItem"]))
def test_answers_are_written_exactly_as_moto_writes_them(items: list[dict[str, Any]], key: dict[str, Any],
                                                         operation: str) -> None:
    model = get_service_model("dynamodb").operation_model(operation)
    if operation == "GetItem":
        result: dict[str, Any] = {"Item": items[0] if items else key}
    else:
        result = {"Items": items, "Count": len(items), "ScannedCount": len(items) + 1, "LastEvaluatedKey": key}
    moto = JSONSerializer(operation_model=model).serialize(result)
    ours = AttributeValueSerializer(operation_model=model).serialize(result)
    assert ours["status_code"] == moto["status_code"] and ours["headers"] == moto["headers"]
    assert json.loads(ours["body"]) == json.loads(moto["body"])
