"""Live progress: who listens to which record over the WebSocket API, and the one publisher that pushes every
stage change of every workflow to them (docs/clients.md#live-progress-websocket).

The record stores call `changed(kind, user_id, item_id, record)` right after the conditional write that moved
a record (a claim, a finished stage, a failure, a regenerate): generation jobs, library tracks, transcriptions,
blends and drum maps all reach this module, and only this module knows about connections.

ConnectionsTable (partition `pk`, sort `sk`, TTL `expiresAt`) holds four kinds of item:

    pk = C#{connectionId}  sk = #                    the connection: its user, when it opened
    pk = C#{connectionId}  sk = S#{kind}#{user}#{id}  what the connection listens to (read on disconnect)
    pk = S#{kind}#{user}#{id}  sk = {connectionId}    who listens to a record (one Query per push, no scan)
    pk = U#{user}  sk = {connectionId}               a user's connections (read when the account is erased)

A subscription names the record's owner, so a push for one user's record can only find that user's
connections. Every item expires with its connection (API Gateway closes a connection after two hours); erasing
an account (`DELETE /me`) closes the user's open connections and deletes their items at once (`Publisher.close_user`).

Publishing never fails the workflow and is bounded in time: the DynamoDB client and the PostToConnection
requests have short timeouts and no retries, the posts to several connections go out in parallel and the
publisher waits at most PUSH_DEADLINE_SECONDS for them; a connection API Gateway reports gone (410
GoneException) is removed with its subscriptions; every other failure is logged and counted (`stats`), and
polling still works.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor, wait
from functools import lru_cache
from typing import Any
from urllib.parse import quote, urlsplit

import botocore.session
import urllib3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError
from botocore.httpsession import get_cert_path
from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.connection import Connection
from pynamodb.exceptions import PynamoDBException, TransactWriteError
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from soundcanvas.core.records import bind, now_iso

log = logging.getLogger("soundcanvas.live")

# kind -> (the environment variable naming its table, the record's id attribute). Every record table is keyed
# (userId, id), so "the caller's own" is a read of the caller's partition.
KINDS: dict[str, tuple[str, str]] = {
    "generation": ("TABLE_NAME", "jobId"),
    "track": ("TRACKS_TABLE_NAME", "trackId"),
    "transcription": ("TRANSCRIPTIONS_TABLE_NAME", "transcriptionId"),
    "blend": ("BLENDS_TABLE_NAME", "blendId"),
    "map": ("MAPS_TABLE_NAME", "mapId"),
}
CONNECTION_SECONDS = 2 * 3600 + 600  # API Gateway's 2 h connection limit, plus 10 minutes
MAX_SUBSCRIPTIONS = 100  # per connection
PUSH_DEADLINE_SECONDS = 1.0  # the longest a record write waits for its pushes
PUSH_WORKERS = 8  # posts to one record's subscribers at once (each waits on the network, not the CPU)
CONNECTION, SUBSCRIPTION, USER = "C#", "S#", "U#"
stats: Counter[str] = Counter()  # pushed, gone, failed, late, skipped (this process; tests and the bench read it)


class TooManySubscriptions(Exception):
    """The connection already listens to MAX_SUBSCRIPTIONS records."""


class ConnectionGone(Exception):
    """The connection is not (or no longer) open."""


@lru_cache(maxsize=8)
def _item_class(table_name: str, region: str, host: str | None) -> Any:
    class ConnectionItem(Model):
        class Meta:
            pass

        pk = UnicodeAttribute(hash_key=True)
        sk = UnicodeAttribute(range_key=True)
        userId = UnicodeAttribute()
        expiresAt = NumberAttribute()
        connectedAt = UnicodeAttribute(null=True)

    model = bind(ConnectionItem, table_name, region, host)
    # A push runs inside a workflow step: a slow or unreachable table must cost it a second, not minutes.
    model.Meta.connect_timeout_seconds = 1
    model.Meta.read_timeout_seconds = 1
    model.Meta.max_retry_attempts = 1
    return model


def topic(kind: str, user_id: str, item_id: str) -> str:
    """The partition of a record's subscribers."""
    return f"{SUBSCRIPTION}{kind}#{user_id}#{item_id}"


class ConnectionStore:
    """Connections and their subscriptions in ConnectionsTable; takes its table, endpoint and clock as arguments."""

    def __init__(self, table_name: str, region: str, *, host: str | None = None, clock: Any = time.time) -> None:
        self.model: Any = _item_class(table_name, region, host)
        self.clock = clock
        self._connection = Connection(region=region, host=host)

    def connect(self, connection_id: str, user_id: str) -> None:
        """Remember an accepted connection and its user until it expires."""
        now = self.clock()
        expires = int(now + CONNECTION_SECONDS)
        with self.model.batch_write() as batch:
            batch.save(self.model(f"{CONNECTION}{connection_id}", "#", userId=user_id, connectedAt=now_iso(now),
                                  expiresAt=expires))
            batch.save(self.model(f"{USER}{user_id}", connection_id, userId=user_id, expiresAt=expires))

    def connections_of(self, user_id: str) -> list[str]:
        """The ids of a user's connections, expired ones included (their items may not be deleted yet)."""
        return [item.sk for item in self.model.query(f"{USER}{user_id}")]

    def owner(self, connection_id: str) -> str | None:
        """The user of an open connection, or None (never connected, disconnected or expired)."""
        try:
            item = self.model.get(f"{CONNECTION}{connection_id}", "#", consistent_read=True)
        except self.model.DoesNotExist:
            return None
        return None if item.expiresAt <= self.clock() else str(item.userId)

    def subscriptions(self, connection_id: str) -> list[str]:
        """The topics a connection listens to."""
        return [item.sk for item in self.model.query(f"{CONNECTION}{connection_id}",
                                                     range_key_condition=self.model.sk.startswith(SUBSCRIPTION))]

    def subscribe(self, connection_id: str, user_id: str, kind: str, item_id: str) -> None:
        """Listen to a record (the caller checked it is theirs); both items in one transaction, on the
        condition that the connection is still there. Raises TooManySubscriptions or ConnectionGone."""
        name = topic(kind, user_id, item_id)
        current = self.subscriptions(connection_id)
        if name in current:
            return
        if len(current) >= MAX_SUBSCRIPTIONS:
            raise TooManySubscriptions(f"a connection listens to at most {MAX_SUBSCRIPTIONS} records")
        m, expires = self.model, int(self.clock() + CONNECTION_SECONDS)
        try:
            with TransactWrite(connection=self._connection) as transaction:
                transaction.condition_check(m, f"{CONNECTION}{connection_id}", "#", condition=m.pk.exists())
                transaction.save(m(name, connection_id, userId=user_id, expiresAt=expires))
                transaction.save(m(f"{CONNECTION}{connection_id}", name, userId=user_id, expiresAt=expires))
        except TransactWriteError as exc:
            if any(reason is not None and reason.code == "ConditionalCheckFailed"
                   for reason in exc.cancellation_reasons):
                raise ConnectionGone(connection_id) from exc
            raise

    def unsubscribe(self, connection_id: str, user_id: str, kind: str, item_id: str) -> None:
        """Stop listening to a record (nothing happens if it was not listened to)."""
        name = topic(kind, user_id, item_id)
        with self.model.batch_write() as batch:
            batch.delete(self.model(name, connection_id))
            batch.delete(self.model(f"{CONNECTION}{connection_id}", name))

    def subscribers(self, kind: str, user_id: str, item_id: str) -> list[str]:
        """Connection ids listening to a record: one Query of its partition (expired items left out)."""
        now = int(self.clock())
        return [item.sk for item in self.model.query(topic(kind, user_id, item_id)) if item.expiresAt > now]

    def disconnect(self, connection_id: str) -> int:
        """Forget a connection and all its subscriptions; returns how many of the connection's items went (the
        connection and its subscriptions; the copies under the records and the user go with them)."""
        items = list(self.model.query(f"{CONNECTION}{connection_id}"))
        with self.model.batch_write() as batch:
            for item in items:
                if item.sk.startswith(SUBSCRIPTION):
                    batch.delete(self.model(item.sk, connection_id))
                else:
                    batch.delete(self.model(f"{USER}{item.userId}", connection_id))
                batch.delete(item)
        return len(items)

    def forget_user(self, user_id: str) -> list[str]:
        """Disconnect every connection of a user (an erased account); returns their ids. Nothing of the user is
        left in the table afterwards: a user item whose connection item has already gone is deleted too."""
        connection_ids = self.connections_of(user_id)
        orphans = [connection_id for connection_id in connection_ids if self.disconnect(connection_id) == 0]
        with self.model.batch_write() as batch:  # disconnect removed the others' user items with their connection
            for connection_id in orphans:
                batch.delete(self.model(f"{USER}{user_id}", connection_id))
        return connection_ids


def current_state(dynamodb: Any, table_name: str, kind: str, user_id: str, item_id: str,
                  now: float) -> dict[str, Any] | None:
    """The caller's own record of a kind as a message ({kind, id, status, stage, progress, at}), or None when it
    does not exist, is someone else's or has expired: one consistent GetItem in the caller's partition."""
    _, id_attribute = KINDS[kind]
    found = dynamodb.get_item(
        TableName=table_name, Key={"userId": {"S": user_id}, id_attribute: {"S": item_id}}, ConsistentRead=True,
        ProjectionExpression="#status, #stage, progress, updatedAt, expiresAt",
        ExpressionAttributeNames={"#status": "status", "#stage": "stage"},
    ).get("Item")
    if not found:
        return None
    plain = {name: next(iter(value.values())) for name, value in found.items()}
    expires = plain.get("expiresAt")
    if expires is not None and float(expires) <= now:
        return None
    return message(kind, item_id, plain)


def message(kind: str, item_id: str, record: Mapping[str, Any] | Any) -> dict[str, Any]:
    """What a subscriber receives: {kind, id, status, stage, progress, at} (`at`: the record's updatedAt)."""
    return {"kind": kind, "id": item_id, "status": _field(record, "status"), "stage": _field(record, "stage"),
            "progress": _number(_field(record, "progress")), "at": _field(record, "updatedAt")}


def _field(record: Mapping[str, Any] | Any, name: str) -> Any:
    return record.get(name) if isinstance(record, Mapping) else getattr(record, name, None)


def _number(value: Any) -> int | float | None:
    if value is None:
        return None
    return int(value) if float(value).is_integer() else float(value)


class ManagementApi:
    """API Gateway's Management API, PostToConnection and DeleteConnection, as the signed HTTP requests they are:
    `POST {endpoint}/@connections/{connectionId}` with the message as the body (`DELETE` closes the connection),
    signed by botocore's SigV4Auth for execute-api, over one keep-alive connection pool to the endpoint (1 s to
    connect, 1 s to answer, no retries). botocore's client spent 1.2-1.3 ms of CPU per post building the same
    request (docs/clients.md#push-latency)."""

    def __init__(self, endpoint: str, region: str, credentials: Credentials | None = None) -> None:
        url = urlsplit(endpoint.rstrip("/"))
        self.url, self.path, self.region = f"{url.scheme}://{url.netloc}", url.path, region
        session = botocore.session.get_session()
        self.credentials = credentials if credentials is not None else session.get_credentials()
        ca_bundle = session.get_config_variable("ca_bundle") or get_cert_path(True)
        self.http = urllib3.connection_from_url(
            self.url, maxsize=PUSH_WORKERS, timeout=urllib3.Timeout(connect=1, read=1), retries=False,
            **({"ca_certs": ca_bundle} if url.scheme == "https" else {}))

    def signer(self) -> SigV4Auth:
        """A signer with the current credentials, for one batch of posts (refreshable credentials are read once)."""
        if self.credentials is None:
            raise NoCredentialsError()
        return SigV4Auth(self.credentials.get_frozen_credentials(), "execute-api", self.region)

    def post(self, signer: SigV4Auth, connection_id: str, data: bytes) -> tuple[int, str]:
        """Send one message; returns the status and API Gateway's error type (x-amzn-ErrorType, "" on success).
        Raises urllib3's HTTPError when the endpoint cannot be reached or does not answer in time."""
        return self._request(signer, "POST", connection_id, data)

    def delete(self, signer: SigV4Auth, connection_id: str) -> tuple[int, str]:
        """Close a connection (DeleteConnection); answers and raises as `post` does (410: already closed)."""
        return self._request(signer, "DELETE", connection_id, b"")

    def _request(self, signer: SigV4Auth, method: str, connection_id: str, data: bytes) -> tuple[int, str]:
        path = f"{self.path}/@connections/{quote(connection_id, safe='-_.~')}"
        request = AWSRequest(method=method, url=self.url + path, data=data)
        signer.add_auth(request)
        response = self.http.request(method, path, body=data or None, headers=dict(request.headers.items()),
                                     retries=False, redirect=False)
        return response.status, str(response.headers.get("x-amzn-ErrorType", "")).split(":")[0]


class Publisher:
    """Pushes a record's change to its subscribers through API Gateway's Management API (PostToConnection)."""

    def __init__(self, store: ConnectionStore, endpoint: str, region: str, *,
                 deadline: float = PUSH_DEADLINE_SECONDS, credentials: Credentials | None = None) -> None:
        self.store, self.deadline = store, deadline
        self.api = ManagementApi(endpoint, region, credentials)
        self._pool = ThreadPoolExecutor(max_workers=PUSH_WORKERS, thread_name_prefix="live-push")

    def publish(self, payload: dict[str, Any], user_id: str) -> int:
        """Push `payload` to every subscriber of its record; returns how many received it. Never raises."""
        try:
            targets = self.store.subscribers(payload["kind"], user_id, payload["id"])
        except (PynamoDBException, BotoCoreError, ClientError) as exc:
            _failed("subscribers unreadable", exc)
            return 0
        if not targets:
            return 0
        try:
            signer = self.api.signer()
        except BotoCoreError as exc:
            stats["failed"] += len(targets)
            log.warning("live progress: no credentials to sign PostToConnection (%s)", type(exc).__name__)
            return 0
        data = json.dumps(payload, separators=(",", ":")).encode()
        if len(targets) == 1:
            return int(self._post(signer, targets[0], data))
        futures = [self._pool.submit(self._post, signer, target, data) for target in targets]
        done, late = wait(futures, timeout=self.deadline)
        if late:
            stats["late"] += len(late)
            log.warning("live progress: %d of %d pushes still running after %.1f s", len(late), len(targets),
                        self.deadline)
        return sum(1 for future in done if future.result())

    def close_user(self, user_id: str) -> int:
        """An erased account: forget every connection of the user (raises if the table cannot be written, so the
        erase fails and can be retried), then ask API Gateway to close the ones still open (a connection already
        closed answers 410; any other failure is logged and counted: the connection has nothing left to receive and
        closes within its two hours). Returns how many connections the user had."""
        connection_ids = self.store.forget_user(user_id)
        if not connection_ids:
            return 0
        try:
            signer = self.api.signer()
        except BotoCoreError as exc:
            _failed("no credentials to sign DeleteConnection", exc)
            return len(connection_ids)
        for connection_id in connection_ids:
            try:
                status, error = self.api.delete(signer, connection_id)
            except urllib3.exceptions.HTTPError as exc:
                _failed("DeleteConnection unreachable", exc)
                continue
            if not (200 <= status < 300 or status == 410):
                _failed("DeleteConnection refused", f"{status} {error}".strip())
        return len(connection_ids)

    def _post(self, signer: SigV4Auth, connection_id: str, data: bytes) -> bool:
        try:
            status, error = self.api.post(signer, connection_id, data)
        except urllib3.exceptions.HTTPError as exc:
            _failed("PostToConnection unreachable", exc)
            return False
        if status == 410:
            stats["gone"] += 1
            self._forget(connection_id)
            return False
        if not 200 <= status < 300:
            _failed("PostToConnection refused", f"{status} {error}".strip())
            return False
        stats["pushed"] += 1
        return True

    def _forget(self, connection_id: str) -> None:
        try:
            self.store.disconnect(connection_id)
        except (PynamoDBException, BotoCoreError, ClientError) as exc:
            _failed("gone connection not removed", exc)


def _failed(what: str, cause: Exception | str) -> None:
    stats["failed"] += 1
    log.warning("live progress: %s (%s)", what, cause if isinstance(cause, str) else type(cause).__name__)


_lock = threading.Lock()
_publishers: dict[tuple[str, ...], Publisher] = {}


def publisher() -> Publisher | None:
    """The process's publisher, from the environment the template gives every function (CONNECTIONS_TABLE_NAME,
    WEBSOCKET_ENDPOINT: the WebSocket API's management endpoint); None where either is unset."""
    env = os.environ
    table, endpoint = env.get("CONNECTIONS_TABLE_NAME", ""), env.get("WEBSOCKET_ENDPOINT", "")
    if not table or not endpoint:
        return None
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1"
    host = env.get("AWS_ENDPOINT_URL_DYNAMODB") or env.get("AWS_ENDPOINT_URL") or None
    key = (table, endpoint, region, host or "")
    with _lock:
        found = _publishers.get(key)
        if found is None:
            found = _publishers[key] = Publisher(ConnectionStore(table, region, host=host), endpoint, region)
        return found


def changed(kind: str, user_id: str, item_id: str, record: Mapping[str, Any] | Any) -> None:
    """A record's status, stage or progress was just written: push it to its subscribers. Never raises: a
    push that cannot go out is logged and counted, and the workflow goes on (clients can still poll)."""
    try:
        target = publisher()
        if target is None:
            stats["skipped"] += 1
            return
        target.publish(message(kind, item_id, record), user_id)
    except Exception as exc:  # noqa: BLE001 (the workflow must not fail because a push did)
        _failed("publish raised", exc)
