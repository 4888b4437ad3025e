"""What the PynamoDB record stores (jobs, tracks, transcriptions, blends, maps, user settings) share: binding
a model to a table at run time, record timestamps, recognising a failed write condition, the reads
and deletes of a per-user work record (`UserRecordStore`), and the claim / advance / fail life of a
record its own workflow runs (`WorkflowRecordStore`)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from pynamodb.attributes import MapAttribute, UnicodeAttribute
from pynamodb.exceptions import DeleteError, PutError, UpdateError
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, IncludeProjection

from soundcanvas.core import cursors

ACTIVE_SHARDS = 8  # partitions of the sparse ByActivity indexes (work in progress, for the sweeper)


def active_shard(item_id: str) -> str:
    """Which ByActivity partition an item in progress is in: spread evenly, stable for the item."""
    return str(int(hashlib.sha256(item_id.encode()).hexdigest()[:8], 16) % ACTIVE_SHARDS)


def user_created_index() -> Any:
    """The `ByUserCreated` index (userId, createdAt, every attribute projected) a per-user record store
    declares to page a user's records newest first."""

    class ByUserCreated(GlobalSecondaryIndex[Any]):
        class Meta:
            index_name = "ByUserCreated"
            projection = AllProjection()

        userId = UnicodeAttribute(hash_key=True)
        createdAt = UnicodeAttribute(range_key=True)

    return ByUserCreated()


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


def announce(kind: str, user_id: str, item_id: str, record: Any) -> None:
    """Push a record's new status, stage and progress to whoever listens to it live (soundcanvas.core.live).
    Every store calls this right after the write that moved a record; it never raises and is bounded in time."""
    if not kind:
        return
    from soundcanvas.core import live  # imported here: live binds its own table with this module's helpers

    live.changed(kind, user_id, item_id, record)


def conditional_failed(exc: Exception) -> bool:
    """True when a PynamoDB write failed only because its condition did not hold."""
    return getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException"


def update_if(record: Any, actions: list[Any], condition: Any) -> bool:
    """Apply `actions` to a record if `condition` still holds; False (nothing written) when it no longer does."""
    try:
        record.update(actions=actions, condition=condition)
    except UpdateError as exc:
        if not conditional_failed(exc):
            raise
        return False
    return True


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


class UserRecordStore:
    """What every product's store of per-user work records shares (generations, transcriptions, blends).

    The table: partition key `userId`, sort key the record's id; a `ByUserCreated` index (userId,
    createdAt) to page newest first; `expiresAt`, the TTL, filtered on every read (DynamoDB deletes
    expired items only eventually); a sparse `ByActivity` index for the sweeper. A subclass gives the
    bound model and, where a record holds more than maps and scalars, how it becomes plain data.
    `kind` names its records to live-progress subscribers (soundcanvas.core.live.KINDS).
    """

    kind: str = ""

    def __init__(self, model: Any, clock: Any) -> None:
        self.model: Any = model
        self.clock = clock

    def plain(self, record: Any) -> dict[str, Any]:
        """A record as plain data (what every read returns)."""
        return as_dict(record)

    def get(self, user_id: str, item_id: str) -> dict[str, Any] | None:
        """The caller's record, or None when it does not exist, belongs to someone else or has expired."""
        try:
            record = self.model.get(user_id, item_id, consistent_read=True)
        except self.model.DoesNotExist:
            return None
        return None if record.expiresAt <= self.clock() else self.plain(record)

    def list(self, user_id: str, *, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
        """A page of the user's records, newest first (a query on ByUserCreated)."""
        start_key = cursors.decode(user_id, cursor, page_key_types(self.model, self.model.by_user_created)) \
            if cursor else None
        results = self.model.by_user_created.query(
            user_id, scan_index_forward=False, limit=limit, last_evaluated_key=start_key,
            filter_condition=self.model.expiresAt > int(self.clock()),
        )
        items = [self.plain(r) for r in results]
        last = results.last_evaluated_key
        return items, (cursors.encode(last) if last else None)

    def stalled(self, *, older_than: float) -> Iterator[dict[str, Any]]:
        """Records in progress whose record has not changed since `older_than` (epoch seconds)."""
        return (self.plain(record) for record in stalled_records(self.model, older_than))

    def all_records(self, user_id: str) -> Iterator[dict[str, Any]]:
        """Every record of a user that has not expired (for an export)."""
        now = int(self.clock())
        return (self.plain(r) for r in self.model.query(user_id) if r.expiresAt > now)

    def delete_all(self, user_id: str) -> int:
        """Delete every record of a user, expired ones too; returns how many."""
        return delete_partition(self.model, user_id)

    def delete(self, user_id: str, item_id: str) -> bool:
        """Delete the record; False when there was none."""
        return self._delete_if(user_id, item_id, self.model._range_key_attribute().exists())

    def delete_unclaimed(self, user_id: str, item_id: str) -> bool:
        """Delete the record only while it is PENDING (no workflow has claimed it); False otherwise. For an API
        call whose workflow start failed: a start that did happen unseen keeps the record its workflow runs."""
        return self._delete_if(user_id, item_id, self.model.status == PENDING)

    def _delete_if(self, user_id: str, item_id: str, condition: Any) -> bool:
        try:
            self.model(user_id, item_id).delete(condition=condition)
        except DeleteError as exc:
            if conditional_failed(exc):
                return False
            raise
        return True


PENDING, RUNNING, COMPLETE, FAILED = "PENDING", "RUNNING", "COMPLETE", "FAILED"


def upload_missed(record: dict[str, Any], now: float, *, awaited: str, kind: str) -> str | None:
    """What to tell a client about a PENDING record whose upload form expired before its file arrived (None
    otherwise): `awaited` names the file ("picture", "audio"), `kind` the record ("generation", "transcription")."""
    form_expired_at = record.get("uploadExpiresAt")
    if record["status"] != PENDING or not form_expired_at or now < float(form_expired_at):
        return None
    return (f"no {awaited} arrived before the upload form expired at {_epoch_iso(form_expired_at)}; create a new "
            f"{kind} (this one is removed at {_epoch_iso(record['expiresAt'])})")


def _epoch_iso(epoch: Any) -> str:
    return datetime.fromtimestamp(int(epoch), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class RecordConflict(Exception):
    """The record is not in a state that allows the requested change (or already exists)."""


def advance_stage(model: Any, clock: Any, user_id: str, item_id: str, stage_progress: dict[str, int], *,
                  finished: str, elapsed_ms: int, next_stage: str | None, summary: dict[str, Any] | None = None,
                  outputs: dict[str, Any] | None = None, kind: str = "") -> bool:
    """Record a finished stage of a RUNNING record (its timing, what it learned) and move on to `next_stage`
    (None: stay, for a branch of a Parallel state that finishes before its sibling; "done": COMPLETE);
    False if the record is no longer RUNNING (it failed elsewhere, or was deleted). A record of a `kind`
    announces the change to its live subscribers."""
    m = model
    actions = [m.timings[finished].set(elapsed_ms), m.updatedAt.set(now_iso(clock()))]
    if next_stage is not None:
        actions += [m.stage.set(next_stage), m.progress.set(stage_progress[next_stage])]
    for name, value in (summary or {}).items():
        actions.append(m.summary[name].set(value))
    if outputs is not None:
        actions.append(m.outputs.set(outputs))
    if next_stage == "done":
        actions += [m.status.set(COMPLETE), m.activeShard.remove()]
    record = m(user_id, item_id)
    if not update_if(record, actions, m.status == RUNNING):
        return False
    if next_stage is not None:
        announce(kind, user_id, item_id, record)
    return True


class WorkflowRecordStore(UserRecordStore):
    """A per-user record that one workflow execution runs: PENDING -(claim)-> RUNNING -> COMPLETE | FAILED.

    Every change is a conditional write, so a replayed execution finds the record already claimed
    and a stage of a record that failed or was deleted meanwhile learns it (advance returns False).
    The model declares `status`, `stage`, `progress`, `claimedBy`, `timings`, `summary`, `outputs`,
    `errorMessage`, `failedStage`, `updatedAt`, `expiresAt` and `activeShard`; a subclass names its
    stages and their progress (`stage_progress`, in order: the first is "queued", the last "done").
    """

    stage_progress: dict[str, int] = {}
    failed_retention_seconds: int | None = None  # set: FAILED also moves expiresAt to now + this, in the same write

    def _insert(self, record: Any, item_id: str) -> None:
        range_key = self.model._range_key_attribute()
        try:
            record.save(condition=range_key.does_not_exist())
        except PutError as exc:
            if conditional_failed(exc):
                raise RecordConflict(f"{item_id} already exists") from exc
            raise

    def claim(self, user_id: str, item_id: str, *, execution_id: str) -> dict[str, Any] | None:
        """PENDING -> RUNNING for this execution (a retried claim by the same execution resumes it);
        None when it is gone, finished, expired or another execution's."""
        m = self.model
        now = self.clock()
        first = list(self.stage_progress)[1]
        if not update_if(
            m(user_id, item_id),
            [m.status.set(RUNNING), m.activeShard.set(active_shard(item_id)), m.stage.set(first),
             m.progress.set(self.stage_progress[first]), m.claimedBy.set(execution_id),
             m.updatedAt.set(now_iso(now))],
            ((m.status == PENDING) | ((m.status == RUNNING) & (m.claimedBy == execution_id)))
            & (m.expiresAt > int(now)),
        ):
            return None
        claimed = self.get(user_id, item_id)
        announce(self.kind, user_id, item_id, claimed or {})
        return claimed

    def advance(self, user_id: str, item_id: str, *, finished: str, elapsed_ms: int, next_stage: str,
                summary: dict[str, Any] | None = None, outputs: dict[str, Any] | None = None) -> bool:
        """Record a finished stage (its timing, what it learned) and move on; False if no longer RUNNING."""
        return advance_stage(self.model, self.clock, user_id, item_id, self.stage_progress, finished=finished,
                             elapsed_ms=elapsed_ms, next_stage=next_stage, summary=summary, outputs=outputs,
                             kind=self.kind)

    def fail(self, user_id: str, item_id: str, *, stage: str, message: str) -> bool:
        """Mark a PENDING or RUNNING record FAILED; False if it is gone or already finished."""
        m = self.model
        record = m(user_id, item_id)
        now = self.clock()
        actions = [m.status.set(FAILED), m.activeShard.remove(), m.failedStage.set(stage),
                   m.errorMessage.set(message), m.updatedAt.set(now_iso(now))]
        if self.failed_retention_seconds is not None:  # a failed record expires sooner than a finished one
            actions.append(m.expiresAt.set(int(now + self.failed_retention_seconds)))
        if not update_if(record, actions, m.status.is_in(PENDING, RUNNING)):
            return False
        announce(self.kind, user_id, item_id, record)
        return True
