"""Blend records in DynamoDB (PynamoDB) and where a blend's objects live.

Table layout (BlendsTable in template.yaml): partition key `userId`, sort key `blendId`, so a
caller can only address their own; `ByUserCreated` (userId, createdAt) lists them newest first;
`expiresAt` is the TTL attribute (7 days; expired records are filtered on read). While RUNNING a
record carries `activeShard` for the sweeper's sparse `ByActivity` index, like the other products.

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
from pynamodb.exceptions import PutError, UpdateError
from pynamodb.models import Model

from soundcanvas.core.records import (
    UserRecordStore,
    active_shard,
    activity_index,
    as_dict,
    bind,
    conditional_failed,
    now_iso,
    user_created_index,
)

PENDING, RUNNING, COMPLETE, FAILED = "PENDING", "RUNNING", "COMPLETE", "FAILED"
STAGES = ("queued", "prepare", "compose", "render", "done")
STAGE_PROGRESS = {"queued": 0, "prepare": 10, "compose": 30, "render": 60, "done": 100}
RETENTION_SECONDS = 7 * 86400  # a blend's record lives a week; its files a day (lifecycle rule)


class BlendConflict(Exception):
    """The blend is not in a state that allows the requested change."""


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
        activeShard = UnicodeAttribute(null=True)  # only while RUNNING
        by_user_created = user_created_index()
        by_activity = activity_index(["stage", "status"])

    return bind(BlendRecord, table_name, region, host)


class BlendStore(UserRecordStore):
    """Reads and writes blend records; takes its table and endpoint as arguments. get, list, stalled,
    all_records, delete and delete_all are UserRecordStore's."""

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
            expiresAt=int(now + RETENTION_SECONDS),
        )
        try:
            record.save(condition=self.model.blendId.does_not_exist())
        except PutError as exc:
            if conditional_failed(exc):
                raise BlendConflict(f"blend {blend_id} already exists") from exc
            raise
        return self.plain(record)

    def claim(self, user_id: str, blend_id: str, *, execution_id: str) -> dict[str, Any] | None:
        """PENDING -> RUNNING for this execution (a retried claim by the same execution resumes it);
        None when it is gone, finished or another execution's."""
        m = self.model
        now = self.clock()
        try:
            m(user_id, blend_id).update(
                actions=[m.status.set(RUNNING), m.activeShard.set(active_shard(blend_id)), m.stage.set("prepare"),
                         m.progress.set(STAGE_PROGRESS["prepare"]), m.claimedBy.set(execution_id),
                         m.updatedAt.set(now_iso(now))],
                condition=((m.status == PENDING) | ((m.status == RUNNING) & (m.claimedBy == execution_id)))
                & (m.expiresAt > int(now)),
            )
        except UpdateError as exc:
            if conditional_failed(exc):
                return None
            raise
        return self.get(user_id, blend_id)

    def advance(self, user_id: str, blend_id: str, *, finished: str, elapsed_ms: int, next_stage: str,
                summary: dict[str, Any] | None = None, outputs: dict[str, Any] | None = None) -> bool:
        """Record a finished stage (its timing, what it learned) and move on; False if no longer RUNNING."""
        m = self.model
        actions = [m.timings[finished].set(elapsed_ms), m.updatedAt.set(now_iso(self.clock())),
                   m.stage.set(next_stage), m.progress.set(STAGE_PROGRESS[next_stage])]
        for name, value in (summary or {}).items():
            actions.append(m.summary[name].set(value))
        if outputs is not None:
            actions.append(m.outputs.set(outputs))
        if next_stage == "done":
            actions += [m.status.set(COMPLETE), m.activeShard.remove()]
        try:
            m(user_id, blend_id).update(actions=actions, condition=m.status == RUNNING)
        except UpdateError as exc:
            if conditional_failed(exc):
                return False
            raise
        return True

    def fail(self, user_id: str, blend_id: str, *, stage: str, message: str) -> bool:
        """Mark a PENDING or RUNNING blend FAILED; False if it is gone or already finished."""
        m = self.model
        try:
            m(user_id, blend_id).update(
                actions=[m.status.set(FAILED), m.activeShard.remove(), m.failedStage.set(stage),
                         m.errorMessage.set(message), m.updatedAt.set(now_iso(self.clock()))],
                condition=m.status.is_in(PENDING, RUNNING),
            )
        except UpdateError as exc:
            if conditional_failed(exc):
                return False
            raise
        return True



def _plain(record: Any) -> dict[str, Any]:
    data = as_dict(record)
    data["songs"] = [song.as_dict() if isinstance(song, MapAttribute) else dict(song) for song in data.get("songs") or []]
    return data
