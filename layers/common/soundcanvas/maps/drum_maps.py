"""Drum-map records in DynamoDB (PynamoDB) and where a map's objects live.

Table layout (MapsTable in template.yaml): partition key `userId` (who asked for the map; once their account
is erased, the anonymous author id of a map kept for its community history: `move`), sort key
`mapId`, so a caller can only address their own; `ByUserCreated` (userId, createdAt) lists them
newest first; a sparse `ByActivity` index carries PENDING and RUNNING maps for the sweeper. A finished map is
kept (MAP_RETENTION_SECONDS: community content lives on); `expiresAt` is still set, as on every
per-user record, and filtered on read.

Status: PENDING -(Decode claims it)-> RUNNING -> COMPLETE | FAILED, each change a conditional write
(soundcanvas.core.records.WorkflowRecordStore), so a replayed execution runs once. `state` is the
community state of the map (`unverified` until verified).

Objects:

    maps/work/{userId}/{mapId}/source.{ext}   a library track's recording, copied when the map is asked for
    maps/work/{userId}/{mapId}/audio.npy      Decode's samples; hits.json, grid.json the next stages'
                                              (the whole work prefix is removed at the end; the bucket's
                                              `expire-map-work` rule removes leftovers after a day)
    maps/{state}/{songId}/{mapId}/v{n}.json   version n of the map document (the seed's layout; songId is the catalog
                                              song's id, or `track-{trackId}` for a map of a library track)
"""

from __future__ import annotations

import time
from functools import lru_cache
from typing import Any

from pynamodb.attributes import MapAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.connection import Connection
from pynamodb.exceptions import DeleteError, TransactWriteError
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from soundcanvas.core import cursors
from soundcanvas.core.records import (
    COMPLETE,
    FAILED,
    PENDING,
    RUNNING,
    RecordConflict,
    WorkflowRecordStore,
    active_shard,
    activity_index,
    bind,
    conditional_failed,
    now_iso,
    page_key_types,
    update_if,
    user_created_index,
)

__all__ = ["COMPLETE", "FAILED", "PENDING", "RUNNING", "MapConflict", "MapStore"]

STAGE_PROGRESS = {"queued": 0, "decode": 5, "drums": 25, "grid": 70, "levels": 85, "done": 100}
MAP_RETENTION_SECONDS = 10 * 365 * 86400
MOVE_ATTEMPTS = 5
FAILED_RETENTION_SECONDS = 7 * 86400
UNVERIFIED, VERIFIED, ARCHIVED = "unverified", "verified", "archived"
MapConflict = RecordConflict


def work_prefix(user_id: str, map_id: str) -> str:
    return f"maps/work/{user_id}/{map_id}/"


def work_key(user_id: str, map_id: str, name: str) -> str:
    return f"{work_prefix(user_id, map_id)}{name}"


def map_song_id(source: dict[str, Any]) -> str:
    """The songId a map document carries: the catalog song's, or `track-{trackId}`."""
    return source["id"] if source["kind"] == "song" else f"track-{source['id']}"


def document_key(song_id: str, map_id: str, version: int = 1, state: str = UNVERIFIED) -> str:
    """Where version `version` of a map is kept: under the state the map was in when it was published
    (version 1 is always `unverified`). A published version is never overwritten."""
    return f"maps/{state}/{song_id}/{map_id}/v{version}.json"


@lru_cache(maxsize=8)
def _record_class(table_name: str, region: str, host: str | None) -> Any:
    # The index classes are made per model: an index remembers the one model it reads items as.
    class _ByMap(GlobalSecondaryIndex[Any]):
        """A map by its id alone (anyone may read a public map): which user's partition holds it."""

        class Meta:
            index_name = "ByMap"
            projection = KeysOnlyProjection()

        mapId = UnicodeAttribute(hash_key=True)


    class _BySong(GlobalSecondaryIndex[Any]):
        """The public maps of a catalog song, newest first (sparse: only public maps carry publicSongId)."""

        class Meta:
            index_name = "BySong"
            projection = AllProjection()

        publicSongId = UnicodeAttribute(hash_key=True)
        createdAt = UnicodeAttribute(range_key=True)

    class _ByPublicState(GlobalSecondaryIndex[Any]):
        """The public maps in one community state (unverified | verified | archived), newest first."""

        class Meta:
            index_name = "ByPublicState"
            projection = AllProjection()

        publicState = UnicodeAttribute(hash_key=True)
        createdAt = UnicodeAttribute(range_key=True)

    class MapRecord(Model):
        class Meta:
            pass

        userId = UnicodeAttribute(hash_key=True)
        mapId = UnicodeAttribute(range_key=True)
        createdAt = UnicodeAttribute()
        updatedAt = UnicodeAttribute()
        status = UnicodeAttribute()
        stage = UnicodeAttribute()
        progress = NumberAttribute(default=0)
        state = UnicodeAttribute(default=UNVERIFIED)  # the community state: unverified | verified | archived
        songId = UnicodeAttribute()  # what the map document names (see map_song_id)
        source = MapAttribute[str, Any]()  # {kind: song|track, id, title, artist, audioKey}
        difficulty = UnicodeAttribute(null=True)  # the level GET /maps/{id} leads with (all four are made)
        claimedBy = UnicodeAttribute(null=True)
        summary = MapAttribute[str, Any](default=dict)  # durationSeconds, tempoBpm, counts, hits
        outputs = MapAttribute[str, Any](null=True)  # mapKey
        errorMessage = UnicodeAttribute(null=True)
        failedStage = UnicodeAttribute(null=True)
        timings = MapAttribute[str, Any](default=dict)
        expiresAt = NumberAttribute()
        activeShard = UnicodeAttribute(null=True)  # from creation until COMPLETE or FAILED (for the sweeper)
        # The community (soundcanvas.maps.edits): a map of a public catalog song is public once COMPLETE.
        version = NumberAttribute(default=1)  # the current published version
        verifiedVersion = NumberAttribute(null=True)
        publicSongId = UnicodeAttribute(null=True)  # set on maps of public catalog songs (BySong)
        publicState = UnicodeAttribute(null=True)  # `state`, on public maps only (ByPublicState)
        authorName = UnicodeAttribute(null=True)  # the anonymous author id, once the author's account is erased
        approveVotes = NumberAttribute(default=0)  # votes cast on the map's edits (a tally for display)
        rejectVotes = NumberAttribute(default=0)
        by_user_created = user_created_index()
        by_activity = activity_index(["stage", "status"])
        by_map = _ByMap()
        by_song = _BySong()
        by_public_state = _ByPublicState()

    return bind(MapRecord, table_name, region, host)


class MapStore(WorkflowRecordStore):
    """Reads and writes drum-map records; takes its table and endpoint as arguments. claim, advance and
    fail are WorkflowRecordStore's; get, list, stalled, all_records, delete and delete_all UserRecordStore's."""

    stage_progress = STAGE_PROGRESS
    failed_retention_seconds = FAILED_RETENTION_SECONDS  # a failed map's record is kept a week, then expires
    kind = "map"  # its changes are pushed live (soundcanvas.core.live)

    def __init__(self, table_name: str, region: str, *, host: str | None = None, clock: Any = time.time) -> None:
        super().__init__(_record_class(table_name, region, host), clock)

    def create(self, user_id: str, map_id: str, *, source: dict[str, Any], difficulty: str | None) -> dict[str, Any]:
        """A PENDING record. A source marked `public` (a public catalog song) makes a public map: listed and
        open to edits once COMPLETE. Its workflow is started at once, so it is on ByActivity from now: one
        that never starts is found by the sweeper, not left PENDING."""
        now = self.clock()
        public = bool(source.get("public"))
        record = self.model(
            user_id, map_id, createdAt=now_iso(now), updatedAt=now_iso(now), status=PENDING, stage="queued",
            progress=0, state=UNVERIFIED, songId=map_song_id(source), source=dict(source), difficulty=difficulty,
            timings={}, summary={}, expiresAt=int(now + MAP_RETENTION_SECONDS), version=1,
            activeShard=active_shard(map_id),
            publicSongId=source["id"] if public else None, publicState=UNVERIFIED if public else None,
        )
        self._insert(record, f"map {map_id}")
        return self.plain(record)


    # ------------------------------------------------------------------ the community's view
    def find(self, map_id: str) -> dict[str, Any] | None:
        """A map by id whoever owns it (ByMap, then a consistent read of the record), or None."""
        for key in self.model.by_map.query(map_id, limit=1):
            return self.get(key.userId, map_id)
        return None

    def visible(self, viewer_id: str, map_id: str) -> dict[str, Any] | None:
        """The map if `viewer_id` may see it: their own in any status, anyone's public COMPLETE map."""
        own = self.get(viewer_id, map_id)
        if own is not None:
            return own
        found = self.find(map_id)
        return found if found is not None and is_public(found) else None

    def public(self, *, song_id: str | None, state: str | None, limit: int,
               cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
        """A page of public COMPLETE maps of a song (BySong) or in a state (ByPublicState), newest first."""
        m = self.model
        index, hash_key = (m.by_song, song_id) if song_id is not None else (m.by_public_state, state)
        condition = (m.status == COMPLETE) & (m.expiresAt > int(self.clock()))
        if song_id is not None and state is not None:
            condition = condition & (m.publicState == state)
        partition = "publicSongId" if song_id is not None else "publicState"
        start = cursors.decode(str(hash_key), cursor, page_key_types(m, index), partition=partition) if cursor else None
        results = index.query(hash_key, scan_index_forward=False, limit=limit, last_evaluated_key=start,
                              filter_condition=condition)
        items = [self.plain(r) for r in results]
        last = results.last_evaluated_key
        return items, (cursors.encode(last) if last else None)

    def state_actions(self, state: str) -> list[Any]:
        """The writes that move a map to a community state (`set_state`'s, for a caller's own transaction too)."""
        m = self.model
        return [m.state.set(state), m.publicState.set(state), m.updatedAt.set(now_iso(self.clock()))]

    def set_state(self, user_id: str, map_id: str, state: str, *, verified_version: int | None = None) -> bool:
        """Move a public map to a community state; False when it is gone or not public."""
        m = self.model
        actions = self.state_actions(state)
        condition = m.publicSongId.exists() & (m.status == COMPLETE)
        if verified_version is not None:  # what the curator reviewed is still the current version
            actions.append(m.verifiedVersion.set(verified_version))
            condition = condition & (m.version == verified_version)
        return update_if(m(user_id, map_id), actions, condition)


    def delete_unshared(self, user_id: str, map_id: str) -> bool:
        """Delete a map that has no community history (version 1, unverified), conditionally: an edit applied or
        a verification at the same moment keeps it. False when it is gone or has history."""
        m = self.model
        try:
            m(user_id, map_id).delete(condition=m.mapId.exists() & (m.version == 1) & (m.state == UNVERIFIED))
        except DeleteError as exc:
            if conditional_failed(exc):
                return False
            raise
        return True

    def has_history(self, record: dict[str, Any]) -> bool:
        """Community versions or a verification: the map belongs to its history, not only to its author."""
        return int(record.get("version") or 1) > 1 or record.get("state") != UNVERIFIED

    def move(self, user_id: str, map_id: str, new_user_id: str) -> bool:
        """Move a map record to another partition, every attribute kept (erasing its author's account: the map
        stays under the anonymous author id, its key too). The new item and the old one's deletion are one
        transaction; the deletion holds only while the record is as read (a vote counted or an edit applied
        meanwhile: read again and retry). False when there is nothing to move (moved already)."""
        m = self.model
        for _ in range(MOVE_ATTEMPTS):
            try:
                old = m.get(user_id, map_id, consistent_read=True)
            except m.DoesNotExist:
                return False
            kept = {name: getattr(old, name) for name in m.get_attributes() if name not in ("userId", "mapId")}
            moved = m(new_user_id, map_id, **{**kept, "authorName": new_user_id})
            try:
                with TransactWrite(connection=Connection(region=m.Meta.region, host=m.Meta.host)) as transaction:
                    transaction.save(moved, condition=m.mapId.does_not_exist())
                    transaction.delete(m(user_id, map_id), condition=_unchanged(m, old))
            except TransactWriteError as exc:
                codes = {getattr(r, "code", None) for r in getattr(exc, "cancellation_reasons", None) or [] if r}
                if codes & {"ConditionalCheckFailed", "TransactionConflict"}:
                    continue
                raise
            return True
        raise MapConflict(f"map {map_id} kept changing while it was moved; try again")


def _unchanged(m: Any, old: Any) -> Any:
    """A condition that holds while the record still has what `old` read in everything a write may change."""
    condition = (m.updatedAt == old.updatedAt) & (m.version == old.version) & (m.state == old.state)
    for tally in (m.approveVotes, m.rejectVotes):
        value = getattr(old, tally.attr_name)
        condition &= (tally == value) | tally.does_not_exist() if value == 0 else tally == value
    return condition


def is_public(record: dict[str, Any]) -> bool:
    """A COMPLETE map of a public catalog song: anyone signed in may read it and propose edits."""
    return bool(record.get("publicSongId")) and record.get("status") == COMPLETE

