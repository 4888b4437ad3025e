"""Generation job records in DynamoDB (PynamoDB), with every status change a conditional write.

Table layout (see GenerationsTable in template.yaml): partition key `userId`, sort key `jobId`,
so a caller can only ever address their own jobs; the `ByUserCreated` index (userId, createdAt)
lists a user's jobs newest first. `expiresAt` is the TTL attribute; expired records are
filtered on read because DynamoDB deletes them lazily.

Status machine: PENDING -(upload event)-> RUNNING -> COMPLETE | FAILED, and
COMPLETE | FAILED -(regenerate)-> PENDING. Conditions make duplicated events harmless.

While a job is RUNNING, or PENDING after a regenerate started its run, it carries `activeShard` (one of
ACTIVE_SHARDS, from its id): the sparse `ByActivity` index (activeShard, updatedAt) lets the sweeper find
jobs that stopped moving (or never started) without a scan, and without one partition key that every
running job would share.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from pynamodb.attributes import MapAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import PutError
from pynamodb.models import Model

from soundcanvas.core import records
from soundcanvas.core.records import (
    UserRecordStore,
    active_shard,
    activity_index,
    announce,
    as_dict,
    bind,
    conditional_failed,
    now_iso,
    update_if,
    user_created_index,
)

PENDING, RUNNING, COMPLETE, FAILED = "PENDING", "RUNNING", "COMPLETE", "FAILED"
STAGE_PROGRESS = {"upload": 0, "analyze": 10, "compose": 40, "render": 60, "done": 100}
REGENERATE_CONFLICT = "only a COMPLETE or FAILED generation can be regenerated"
UPLOAD_GRACE_SECONDS = 3600  # a job whose picture never arrived outlives its form by this much


@dataclass(frozen=True)
class Upload:
    """A picture that arrived for a job: its ETag, the job's own copy of it, how long the job is then kept."""

    etag: str
    picture_key: str
    retention_days: int


def upload_missed(job: dict[str, Any], now: float) -> str | None:
    """What to tell a client about a job whose upload expired before its picture arrived (None otherwise)."""
    return records.upload_missed(job, now, awaited="picture", kind="generation")


class JobConflict(Exception):
    """The job is not in a state that allows the requested change."""


@lru_cache(maxsize=8)
def _record_class(table_name: str, region: str, host: str | None) -> Any:
    """A PynamoDB model bound to one table (tests and the local stack use their own tables)."""

    class GenerationRecord(Model):
        class Meta:
            pass

        userId = UnicodeAttribute(hash_key=True)
        jobId = UnicodeAttribute(range_key=True)
        createdAt = UnicodeAttribute()
        updatedAt = UnicodeAttribute()
        status = UnicodeAttribute()
        stage = UnicodeAttribute()
        progress = NumberAttribute(default=0)
        run = NumberAttribute(default=0)
        options = MapAttribute[str, Any]()
        params = MapAttribute[str, Any](null=True)
        imageKey = UnicodeAttribute()
        contentType = UnicodeAttribute()
        featuresKey = UnicodeAttribute(null=True)
        midiKey = UnicodeAttribute(null=True)
        audioKey = UnicodeAttribute(null=True)
        previewKey = UnicodeAttribute(null=True)
        errorMessage = UnicodeAttribute(null=True)
        failedStage = UnicodeAttribute(null=True)
        timings = MapAttribute[str, Any](default=dict)
        expiresAt = NumberAttribute()
        uploadExpiresAt = NumberAttribute(null=True)  # while the picture has not arrived: when its form expires
        uploadEtag = UnicodeAttribute(null=True)  # the upload the job claimed (later posts of the form are ignored)
        activeShard = UnicodeAttribute(null=True)  # while RUNNING, or PENDING after a regenerate (for the sweeper)
        by_user_created = user_created_index()
        by_activity = activity_index(["stage", "status"])

    return bind(GenerationRecord, table_name, region, host)


class JobStore(UserRecordStore):
    """Reads and writes job records. Takes its table and endpoint as arguments, so tests need no patching.
    get, list, stalled, all_records, delete and delete_all are UserRecordStore's. Every status or stage change
    is announced to the job's live subscribers (soundcanvas.core.records.announce)."""

    kind = "generation"

    def __init__(self, table_name: str, region: str, *, host: str | None = None, clock=time.time) -> None:
        super().__init__(_record_class(table_name, region, host), clock)

    # --- writes (the reads are UserRecordStore's) ----------------------------------------------
    def create(
        self,
        user_id: str,
        job_id: str,
        *,
        options: dict[str, Any],
        image_key: str,
        content_type: str,
        retention_days: int,
        upload_expires_at: int | None = None,
    ) -> dict[str, Any]:
        """A PENDING job. With `upload_expires_at` (its form's expiry) the record lives only an hour past
        the form until the picture arrives; the claim then keeps it for `retention_days`."""
        now = self.clock()
        expires_at = upload_expires_at + UPLOAD_GRACE_SECONDS if upload_expires_at else int(now + retention_days * 86400)
        record = self.model(
            user_id,
            job_id,
            createdAt=now_iso(now),
            updatedAt=now_iso(now),
            status=PENDING,
            stage="upload",
            progress=0,
            run=0,
            options=options,
            imageKey=image_key,
            contentType=content_type,
            timings={},
            expiresAt=expires_at,
            uploadExpiresAt=upload_expires_at,
        )
        try:
            record.save(condition=self.model.jobId.does_not_exist())
        except PutError as exc:
            if conditional_failed(exc):
                raise JobConflict(f"job {job_id} already exists") from exc
            raise
        return as_dict(record)

    def claim(
        self, user_id: str, job_id: str, *, run: int | None = None, upload: Upload | None = None
    ) -> dict[str, Any] | None:
        """PENDING -> RUNNING, once. None when another event already claimed it (or it is gone).

        A regenerate names its `run`; an arrived picture is an `Upload`, which only a job still waiting
        for its picture can claim: the job keeps that upload (its ETag and the copy the workflow reads)
        and from then on lives for the retention period."""
        now = self.clock()
        condition = (self.model.status == PENDING) & (self.model.expiresAt > int(now))
        actions = [
            self.model.status.set(RUNNING),
            self.model.activeShard.set(active_shard(job_id)),
            self.model.stage.set("analyze"),
            self.model.progress.set(STAGE_PROGRESS["analyze"]),
            self.model.errorMessage.remove(),
            self.model.failedStage.remove(),
            self.model.updatedAt.set(now_iso(now)),
        ]
        if run is not None:
            condition &= self.model.run == run
        if upload is not None:
            condition &= self.model.stage == "upload"
            actions += [
                self.model.uploadEtag.set(upload.etag),
                self.model.imageKey.set(upload.picture_key),
                self.model.expiresAt.set(int(now + upload.retention_days * 86400)),
                self.model.uploadExpiresAt.remove(),
            ]
        record = self.model(user_id, job_id)
        if not update_if(record, actions, condition):
            return None
        announce(self.kind, user_id, job_id, record)
        return as_dict(record)

    def advance(
        self,
        user_id: str,
        job_id: str,
        *,
        finished: str,
        elapsed_ms: int,
        next_stage: str,
        **attributes: Any,
    ) -> bool:
        """Record a finished stage (its timing and results) and move on; False if the job is no longer RUNNING."""
        actions = [
            self.model.stage.set(next_stage),
            self.model.progress.set(STAGE_PROGRESS[next_stage]),
            self.model.timings[finished].set(elapsed_ms),
            self.model.updatedAt.set(now_iso(self.clock())),
        ]
        if next_stage == "done":
            actions += [self.model.status.set(COMPLETE), self.model.activeShard.remove()]
        for name, value in attributes.items():
            actions.append(getattr(self.model, name).set(value))
        record = self.model(user_id, job_id)
        if not update_if(record, actions, self.model.status == RUNNING):
            return False
        announce(self.kind, user_id, job_id, record)
        return True

    def fail(self, user_id: str, job_id: str, *, stage: str, message: str) -> bool:
        """Mark a PENDING or RUNNING job FAILED; False if it is gone or already finished."""
        record = self.model(user_id, job_id)
        if not update_if(
            record,
            [
                self.model.status.set(FAILED),
                self.model.activeShard.remove(),
                self.model.failedStage.set(stage),
                self.model.errorMessage.set(message),
                self.model.updatedAt.set(now_iso(self.clock())),
            ],
            self.model.status.is_in(PENDING, RUNNING),
        ):
            return False
        announce(self.kind, user_id, job_id, record)
        return True

    def restart(self, user_id: str, job_id: str, *, options: dict[str, Any]) -> dict[str, Any]:
        """COMPLETE | FAILED -> PENDING with new options and the next run number (regenerate). The caller starts
        the run's execution at once, so the job is on ByActivity from now: a run that never starts is swept."""
        record = self.model(user_id, job_id)
        if not update_if(
            record,
            [
                self.model.status.set(PENDING),
                self.model.stage.set("analyze"),
                self.model.progress.set(0),
                self.model.options.set(options),
                self.model.run.add(1),
                self.model.errorMessage.remove(),
                self.model.failedStage.remove(),
                self.model.timings.set({}),
                self.model.activeShard.set(active_shard(job_id)),
                self.model.updatedAt.set(now_iso(self.clock())),
            ],
            self.model.status.is_in(COMPLETE, FAILED) & (self.model.expiresAt > int(self.clock())),
        ):
            raise JobConflict(REGENERATE_CONFLICT)
        announce(self.kind, user_id, job_id, record)
        return as_dict(record)
