"""Transcription records in DynamoDB (PynamoDB) and where a transcription's objects live.

Table layout (TranscriptionsTable in template.yaml): partition key `userId`, sort key
`transcriptionId`, so a caller can only address their own; `ByUserCreated` (userId, createdAt)
lists them newest first; `expiresAt` is the TTL attribute (expired records are filtered on read).

Status: PENDING -(audio claimed)-> RUNNING -> COMPLETE | FAILED. Every change is a conditional
write, so a duplicated event finds the record already claimed. While RUNNING (and while PENDING once its
workflow is started, for a library track's) the record carries `activeShard` for the sweeper's sparse
`ByActivity` index, like the other products' records.

Objects, under one prefix per transcription:

    listen/{userId}/{id}/input.<ext>       where the upload form puts the audio (its arrival starts the
                                           workflow; the claim copies it and removes this one)
    listen/{userId}/{id}/source.<ext>      the audio the transcription works on (claimed upload, or a
                                           copy of a library track's source)
    listen/{userId}/{id}/work/...          what one stage hands the next (decoded audio, notes, rhythm,
                                           harmony); removed when the workflow ends
    listen/{userId}/{id}/notes.mid         the notes as a Standard MIDI File
    listen/{userId}/{id}/tab.txt, tab.gp5  the guitar tab as text and as a Guitar Pro 5 file
    listen/{userId}/{id}/result.json       the whole analysis
    listen/{userId}/{id}/tab-{v}.txt, tab-{v}.gp5, result-{v}.json
                                           a re-tab's files (POST /transcriptions/{id}/tab), under new
                                           names so a URL handed out earlier never serves another tab;
                                           `outputs` names the current ones and the replaced are removed
"""

from __future__ import annotations

import re
import time
from functools import lru_cache
from typing import Any

from pynamodb.attributes import MapAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import PutError
from pynamodb.models import Model

from soundcanvas.core.records import (
    UserRecordStore,
    active_shard,
    activity_index,
    advance_stage,
    announce,
    as_dict,
    bind,
    conditional_failed,
    now_iso,
    update_if,
    user_created_index,
)

PENDING, RUNNING, COMPLETE, FAILED = "PENDING", "RUNNING", "COMPLETE", "FAILED"
STAGES = ("upload", "decode", "analyze", "harmony", "tab", "done")
STAGE_PROGRESS = {"upload": 0, "decode": 10, "analyze": 25, "harmony": 70, "tab": 85, "done": 100}
UPLOAD_GRACE_SECONDS = 3600  # a transcription whose audio never arrived outlives its form by this much
INPUT_KEY_RE = re.compile(r"^listen/(?P<userId>[A-Za-z0-9_.:@+-]{1,128})/(?P<transcriptionId>[0-9a-f]{32})/"
                          r"input\.(?P<ext>[a-z0-9]{2,4})$")


class TranscriptionConflict(Exception):
    """The transcription is not in a state that allows the requested change."""


# --- object keys ---------------------------------------------------------------------------------
def prefix(user_id: str, transcription_id: str) -> str:
    return f"listen/{user_id}/{transcription_id}/"


def input_key(user_id: str, transcription_id: str, ext: str) -> str:
    return f"{prefix(user_id, transcription_id)}input.{ext}"


def source_key(user_id: str, transcription_id: str, ext: str) -> str:
    return f"{prefix(user_id, transcription_id)}source.{ext}"


def work_key(user_id: str, transcription_id: str, name: str) -> str:
    return f"{prefix(user_id, transcription_id)}work/{name}"


def output_key(user_id: str, transcription_id: str, name: str) -> str:
    """notes.mid, tab.txt, tab.gp5 or result.json."""
    return f"{prefix(user_id, transcription_id)}{name}"


def parse_input_key(key: str) -> tuple[str, str, str] | None:
    """(userId, transcriptionId, ext) of an upload key, or None for any other key."""
    match = INPUT_KEY_RE.match(key)
    return (match["userId"], match["transcriptionId"], match["ext"]) if match else None


# --- records -------------------------------------------------------------------------------------
@lru_cache(maxsize=8)
def _record_class(table_name: str, region: str, host: str | None) -> Any:
    class TranscriptionRecord(Model):
        class Meta:
            pass

        userId = UnicodeAttribute(hash_key=True)
        transcriptionId = UnicodeAttribute(range_key=True)
        createdAt = UnicodeAttribute()
        updatedAt = UnicodeAttribute()
        status = UnicodeAttribute()
        stage = UnicodeAttribute()
        progress = NumberAttribute(default=0)
        source = MapAttribute[str, Any]()  # {kind: "upload", contentType} or {kind: "track", trackId}
        options = MapAttribute[str, Any]()  # instrument, tuning, capo
        sourceKey = UnicodeAttribute(null=True)
        uploadEtag = UnicodeAttribute(null=True)
        claimedBy = UnicodeAttribute(null=True)  # the execution that claimed it (a retried claim resumes)
        summary = MapAttribute[str, Any](default=dict)  # durationSeconds, tempoBpm, key, ... once known
        outputs = MapAttribute[str, Any](null=True)  # midiKey, tabKey, tabFileKey, resultKey
        errorMessage = UnicodeAttribute(null=True)
        failedStage = UnicodeAttribute(null=True)
        timings = MapAttribute[str, Any](default=dict)
        expiresAt = NumberAttribute()
        uploadExpiresAt = NumberAttribute(null=True)
        activeShard = UnicodeAttribute(null=True)  # while RUNNING, or PENDING with its workflow started (for the sweeper)
        by_user_created = user_created_index()
        by_activity = activity_index(["stage", "status"])

    return bind(TranscriptionRecord, table_name, region, host)


class TranscriptionStore(UserRecordStore):
    """Reads and writes transcription records; takes its table and endpoint as arguments. get, list,
    stalled, all_records, delete and delete_all are UserRecordStore's. Every status or stage change is
    announced to the transcription's live subscribers (soundcanvas.core.records.announce)."""

    kind = "transcription"

    def __init__(self, table_name: str, region: str, *, host: str | None = None, clock: Any = time.time) -> None:
        super().__init__(_record_class(table_name, region, host), clock)

    def create(self, user_id: str, transcription_id: str, *, source: dict[str, Any], options: dict[str, Any],
               retention_days: int, upload_expires_at: int | None = None,
               source_key: str | None = None) -> dict[str, Any]:
        """A PENDING transcription. One waiting for its upload lives an hour past its form until claimed; one
        whose workflow is started at once (no `upload_expires_at`: a library track's) is on ByActivity from now,
        so the sweeper finds it if the workflow never starts."""
        now = self.clock()
        expires_at = upload_expires_at + UPLOAD_GRACE_SECONDS if upload_expires_at else int(now + retention_days * 86400)
        record = self.model(
            user_id, transcription_id, createdAt=now_iso(now), updatedAt=now_iso(now), status=PENDING,
            stage="upload", progress=0, source=source, options=options, sourceKey=source_key, timings={}, summary={},
            expiresAt=expires_at, uploadExpiresAt=upload_expires_at,
            activeShard=None if upload_expires_at else active_shard(transcription_id),
        )
        try:
            record.save(condition=self.model.transcriptionId.does_not_exist())
        except PutError as exc:
            if conditional_failed(exc):
                raise TranscriptionConflict(f"transcription {transcription_id} already exists") from exc
            raise
        return as_dict(record)

    def claim(self, user_id: str, transcription_id: str, *, source_key: str, retention_days: int,
              upload_etag: str | None = None, execution_id: str | None = None) -> dict[str, Any] | None:
        """PENDING -> RUNNING, once; None when another event claimed it first (or it is gone)."""
        now = self.clock()
        record = self.model(user_id, transcription_id)
        actions = [
            self.model.status.set(RUNNING),
            self.model.activeShard.set(active_shard(transcription_id)),
            self.model.stage.set("decode"),
            self.model.progress.set(STAGE_PROGRESS["decode"]),
            self.model.sourceKey.set(source_key),
            self.model.expiresAt.set(int(now + retention_days * 86400)),
            self.model.uploadExpiresAt.remove(),
            self.model.updatedAt.set(now_iso(now)),
        ]
        if upload_etag:
            actions.append(self.model.uploadEtag.set(upload_etag))
        if execution_id:
            actions.append(self.model.claimedBy.set(execution_id))
        if not update_if(record, actions, (self.model.status == PENDING) & (self.model.expiresAt > int(now))):
            return None
        announce(self.kind, user_id, transcription_id, record)
        return as_dict(record)

    def advance(self, user_id: str, transcription_id: str, *, finished: str, elapsed_ms: int,
                next_stage: str | None, summary: dict[str, Any] | None = None,
                outputs: dict[str, Any] | None = None) -> bool:
        """Record a finished stage (its timing, what it learned) and move on to `next_stage` (None: stay,
        for a branch of a Parallel state that finishes before its sibling); False if no longer RUNNING."""
        return advance_stage(self.model, self.clock, user_id, transcription_id, STAGE_PROGRESS, finished=finished,
                             elapsed_ms=elapsed_ms, next_stage=next_stage, summary=summary, outputs=outputs,
                             kind=self.kind)

    def replace_outputs(self, user_id: str, transcription_id: str, *, outputs: dict[str, Any], options: dict[str, Any],
                        expected_result_key: str) -> bool:
        """A COMPLETE transcription's files and options replaced (a new tab for another tuning or capo).

        False when it is gone, no longer COMPLETE, or another change replaced its result since
        `expected_result_key` was read: of two concurrent re-tabs, one wins whole."""
        m = self.model
        return update_if(
            m(user_id, transcription_id),
            [m.outputs.set(outputs), m.options.set(options), m.updatedAt.set(now_iso(self.clock()))],
            (m.status == COMPLETE) & (m.outputs["resultKey"] == expected_result_key),
        )

    def fail(self, user_id: str, transcription_id: str, *, stage: str, message: str,
             only_pending: bool = False) -> bool:
        """Mark a PENDING or RUNNING transcription FAILED (with `only_pending`, only a PENDING one: a failed
        claim must not fail the run that did claim it); False if it is gone or already finished."""
        m = self.model
        record = m(user_id, transcription_id)
        if not update_if(
            record,
            [m.status.set(FAILED), m.activeShard.remove(), m.failedStage.set(stage),
             m.errorMessage.set(message), m.updatedAt.set(now_iso(self.clock()))],
            (m.status == PENDING) if only_pending else m.status.is_in(PENDING, RUNNING),
        ):
            return False
        announce(self.kind, user_id, transcription_id, record)
        return True
