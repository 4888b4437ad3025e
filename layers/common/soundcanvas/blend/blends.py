"""Blend records in DynamoDB (PynamoDB) and where a blend's objects live.

Table layout (BlendsTable in template.yaml): partition key `userId`, sort key `blendId`, so a
caller can only address their own; `ByUserCreated` (userId, createdAt) lists them newest first;
`expiresAt` is the TTL attribute (7 days; expired records are filtered on read). From its creation
(its workflow is started at once) until it finishes, a record carries `activeShard` for the sweeper's
sparse `ByActivity` index, like the other products.

Status: PENDING -(Prepare claims it)-> RUNNING -> COMPLETE | FAILED. Every change is a conditional
write, so a replayed execution finds the blend already claimed.

Objects, under one prefix per blend (the bucket's `expire-blends` rule removes them after a day):

    blends/{userId}/{id}/work/prepared.json   what Prepare hands Compose; removed at the end
    blends/{userId}/{id}/blend.mid            the blend
    blends/{userId}/{id}/blend.wav, blend.mp3 its rendering (the shared Render function)
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from pynamodb.attributes import ListAttribute, MapAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.models import Model

from soundcanvas.core.records import (
    COMPLETE,
    FAILED,
    PENDING,
    RUNNING,
    RecordConflict,
    WorkflowRecordStore,
    active_shard,
    activity_index,
    as_dict,
    bind,
    now_iso,
    user_created_index,
)

__all__ = ["COMPLETE", "FAILED", "PENDING", "RUNNING", "BlendConflict", "BlendStore"]
STAGES = ("queued", "prepare", "compose", "render", "done")
STAGE_PROGRESS = {"queued": 0, "prepare": 10, "compose": 30, "render": 60, "done": 100}
RETENTION_SECONDS = 7 * 86400  # a blend's record lives a week; its files a day (lifecycle rule)


BlendConflict = RecordConflict  # the blend is not in a state that allows the requested change


# --- object keys ---------------------------------------------------------------------------------
def prefix(user_id: str, blend_id: str) -> str:
    return f"blends/{user_id}/{blend_id}/"


def work_key(user_id: str, blend_id: str, name: str) -> str:
    return f"{prefix(user_id, blend_id)}work/{name}"


def output_key(user_id: str, blend_id: str, name: str) -> str:
    """blend.mid, blend.wav or blend.mp3."""
    return f"{prefix(user_id, blend_id)}{name}"


# --- records -------------------------------------------------------------------------------------
@lru_cache(maxsize=8)
def _record_class(table_name: str, region: str, host: str | None) -> Any:
    class BlendRecord(Model):
        class Meta:
            pass

        userId = UnicodeAttribute(hash_key=True)
        blendId = UnicodeAttribute(range_key=True)
        createdAt = UnicodeAttribute()
        updatedAt = UnicodeAttribute()
        status = UnicodeAttribute()
        stage = UnicodeAttribute()
        progress = NumberAttribute(default=0)
        songs = ListAttribute[Any](of=MapAttribute)  # [{songId, title, artist, weight, midiKey}]
        options = MapAttribute[str, Any]()  # temperature, creativity, lengthSeconds, genre, seed
        claimedBy = UnicodeAttribute(null=True)  # the execution that claimed it (a retried Prepare resumes)
        summary = MapAttribute[str, Any](default=dict)  # key, tempoBpm, attribution, novelty, gates, ...
        outputs = MapAttribute[str, Any](null=True)  # midiKey, audioKey, mp3Key
        errorMessage = UnicodeAttribute(null=True)
        failedStage = UnicodeAttribute(null=True)
        timings = MapAttribute[str, Any](default=dict)
        expiresAt = NumberAttribute()
        activeShard = UnicodeAttribute(null=True)  # from creation until COMPLETE or FAILED (for the sweeper)
        by_user_created = user_created_index()
        by_activity = activity_index(["stage", "status"])

    return bind(BlendRecord, table_name, region, host)


class BlendStore(WorkflowRecordStore):
    """Reads and writes blend records; takes its table and endpoint as arguments. claim, advance and
    fail are WorkflowRecordStore's; get, list, stalled, all_records, delete and delete_all UserRecordStore's."""

    stage_progress = STAGE_PROGRESS
    kind = "blend"  # its changes are pushed live (soundcanvas.core.live)

    def __init__(self, table_name: str, region: str, *, host: str | None = None, clock: Any = time.time) -> None:
        super().__init__(_record_class(table_name, region, host), clock)

    def plain(self, record: Any) -> dict[str, Any]:
        return _plain(record)

    def create(self, user_id: str, blend_id: str, *, songs: Sequence[dict[str, Any]],
               options: dict[str, Any]) -> dict[str, Any]:
        now = self.clock()
        record = self.model(
            user_id, blend_id, createdAt=now_iso(now), updatedAt=now_iso(now), status=PENDING, stage="queued",
            progress=0, songs=[dict(song) for song in songs], options=options, timings={}, summary={},
            expiresAt=int(now + RETENTION_SECONDS), activeShard=active_shard(blend_id),
        )
        self._insert(record, f"blend {blend_id}")
        return self.plain(record)



def _plain(record: Any) -> dict[str, Any]:
    data = as_dict(record)
    data["songs"] = [song.as_dict() if isinstance(song, MapAttribute) else dict(song) for song in data.get("songs") or []]
    return data
