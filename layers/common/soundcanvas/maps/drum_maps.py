"""Drum-map records in DynamoDB (PynamoDB) and where a map's objects live.

Table layout (MapsTable in template.yaml): partition key `userId` (who asked for the map), sort key
`mapId`, so a caller can only address their own; `ByUserCreated` (userId, createdAt) lists them
newest first; a sparse `ByActivity` index carries RUNNING maps for the sweeper. A finished map is
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
    maps/unverified/{songId}/{mapId}.json     the map document (the seed's layout; songId is the catalog
                                              song's id, or `track-{trackId}` for a map of a library track)
"""

from __future__ import annotations

import time
from functools import lru_cache
from typing import Any

from pynamodb.attributes import MapAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.models import Model

from soundcanvas.core.records import (
    COMPLETE,
    FAILED,
    PENDING,
    RUNNING,
    RecordConflict,
    WorkflowRecordStore,
    activity_index,
    bind,
    now_iso,
    user_created_index,
)

__all__ = ["COMPLETE", "FAILED", "PENDING", "RUNNING", "MapConflict", "MapStore"]

STAGE_PROGRESS = {"queued": 0, "decode": 5, "drums": 25, "grid": 70, "levels": 85, "done": 100}
MAP_RETENTION_SECONDS = 10 * 365 * 86400
FAILED_RETENTION_SECONDS = 7 * 86400
UNVERIFIED = "unverified"
MapConflict = RecordConflict


def work_prefix(user_id: str, map_id: str) -> str:
    return f"maps/work/{user_id}/{map_id}/"


def work_key(user_id: str, map_id: str, name: str) -> str:
    return f"{work_prefix(user_id, map_id)}{name}"


def map_song_id(source: dict[str, Any]) -> str:
    """The songId a map document carries: the catalog song's, or `track-{trackId}`."""
    return source["id"] if source["kind"] == "song" else f"track-{source['id']}"


def document_key(song_id: str, map_id: str, state: str = UNVERIFIED) -> str:
    return f"maps/{state}/{song_id}/{map_id}.json"


@lru_cache(maxsize=8)
def _record_class(table_name: str, region: str, host: str | None) -> Any:
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
        activeShard = UnicodeAttribute(null=True)  # only while RUNNING
        by_user_created = user_created_index()
        by_activity = activity_index(["stage", "status"])

    return bind(MapRecord, table_name, region, host)


class MapStore(WorkflowRecordStore):
    """Reads and writes drum-map records; takes its table and endpoint as arguments. claim, advance and
    fail are WorkflowRecordStore's; get, list, stalled, all_records, delete and delete_all UserRecordStore's."""

    stage_progress = STAGE_PROGRESS

    def __init__(self, table_name: str, region: str, *, host: str | None = None, clock: Any = time.time) -> None:
        super().__init__(_record_class(table_name, region, host), clock)

    def create(self, user_id: str, map_id: str, *, source: dict[str, Any], difficulty: str | None) -> dict[str, Any]:
        now = self.clock()
        record = self.model(
            user_id, map_id, createdAt=now_iso(now), updatedAt=now_iso(now), status=PENDING, stage="queued",
            progress=0, state=UNVERIFIED, songId=map_song_id(source), source=dict(source), difficulty=difficulty,
            timings={}, summary={}, expiresAt=int(now + MAP_RETENTION_SECONDS),
        )
        self._insert(record, f"map {map_id}")
        return self.plain(record)

    def fail(self, user_id: str, item_id: str, *, stage: str, message: str) -> bool:
        """FAILED, with the stage and a message; a failed map's record is kept a week, then expires."""
        if not super().fail(user_id, item_id, stage=stage, message=message):
            return False
        m = self.model
        m(user_id, item_id).update(actions=[m.expiresAt.set(int(self.clock() + FAILED_RETENTION_SECONDS))])
        return True
