"""What a caller may change in their library, and the one place each change is made.

Both faces of the API change a library here: the REST routes (functions/library/tracks_api: `POST
/tracks/uploads`, `PATCH /tracks/{trackId}`, `DELETE /tracks/{trackId}`, `POST /grade`) and their GraphQL
twins (functions/core/graphql_api: `createTrackUploads`, `updateTrack`, `deleteTrack`, `gradeTrack`). The
rules are the same for both: the request models' bounds, the track-upload quota (one unit a file), a file name
the caller already has naming the same track (a re-upload keeps its id, edits and reviews), single-use upload
forms that S3 holds to the declared type and the size limit, and another user's track being `TrackNotFound`.
The clients (S3, the stores) come in as arguments; what a face adds (its status codes, metrics, a seam such as
Maps' fingerprint index on delete) stays with the face.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, Literal, Protocol
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from soundcanvas.core import inputs, storage
from soundcanvas.core.quotas import Quota, QuotaStore
from soundcanvas.library import training
from soundcanvas.library.tracks import UPLOADING, TrackStore, UserSettingsStore

AudioType = Literal[tuple(storage.AUDIO_CONTENT_TYPES)]  # type: ignore[valid-type]
FileName = inputs.name_type(255, file_name=True)
Text = inputs.name_type(200)
Tag = inputs.name_type(50)
UPLOAD_GRACE_SECONDS = 3600  # an UPLOADING record outlives its form by this much, for a slow upload


class TrackNotFound(LookupError):
    """The track does not exist for this caller (missing, expired form, or someone else's)."""


class UploadFileLike(Protocol):
    """One file of an upload request: what the form is signed for."""

    fileName: str
    contentType: str


@cache
def upload_request_model(max_bytes: int) -> type[BaseModel]:
    """The body of `POST /tracks/uploads` for an upload limit of `max_bytes` (the stack's TrackUploadMaxBytes):
    the limit is a bound of the model, so it is in the OpenAPI document and refused field by field."""

    class UploadFile(BaseModel):
        model_config = ConfigDict(extra="forbid")
        fileName: FileName  # type: ignore[valid-type]
        contentType: AudioType  # type: ignore[valid-type]
        sizeBytes: int = Field(ge=1, le=max_bytes, strict=True)

    class UploadRequest(BaseModel):
        """Body of POST /tracks/uploads."""

        model_config = ConfigDict(extra="forbid")
        files: list[UploadFile] = Field(min_length=1, max_length=50)

    return UploadRequest


class EditRequest(BaseModel):
    """Body of PATCH /tracks/{trackId}: the fields to change (null clears one)."""

    model_config = ConfigDict(extra="forbid")
    name: Text | None = None  # type: ignore[valid-type]
    artist: Text | None = None  # type: ignore[valid-type]
    album: Text | None = None  # type: ignore[valid-type]
    tags: list[Tag] | None = Field(None, max_length=20)  # type: ignore[valid-type]

    @model_validator(mode="after")
    def not_empty(self) -> EditRequest:
        if not self.model_fields_set:
            raise ValueError("send at least one of name, artist, album, tags")
        return self


class GradeRequest(BaseModel):
    """Body of POST /grade."""

    model_config = ConfigDict(extra="forbid", strict=True)
    trackId: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    grade: int = Field(ge=0, le=5)


@dataclass(frozen=True)
class UploadLimits:
    """Where uploads land, how large a file may be, how long a form stays open."""

    bucket: str
    max_bytes: int
    expiry_seconds: int


def owned_track(store: TrackStore, user_id: str, track_id: str) -> dict[str, Any]:
    """The caller's track; `TrackNotFound` for anything else (missing, or another user's)."""
    track = store.get(user_id, track_id)
    if track is None:
        raise TrackNotFound(f"track {track_id} not found")
    return track


def track_for_file(store: TrackStore, user_id: str, file_name: str, *, source: str, content_type: str | None,
                   expires_at: int) -> tuple[str, bool]:
    """The track a file name belongs to (the newest one with that name), or a new UPLOADING track; and whether
    it was already there (the upload replaces its audio)."""
    existing = store.by_file_name(user_id, file_name)
    if existing:
        track = existing[0]
        if track["status"] == UPLOADING:
            store.extend_upload(user_id, track["trackId"], expires_at=expires_at)
        return str(track["trackId"]), True
    track_id = uuid.uuid4().hex
    store.create(user_id, track_id, file_name=file_name, source=source, content_type=content_type, expires_at=expires_at)
    return track_id, False


def create_uploads(
    *,
    user_id: str,
    files: Sequence[UploadFileLike],
    s3: Any,
    store: TrackStore,
    quotas: QuotaStore,
    quota: Quota,
    limits: UploadLimits,
    clock: Callable[[], float],
) -> list[dict[str, Any]]:
    """Take one unit of the upload quota per file and hand out one single-use presigned POST form per file.

    Each item is `{trackId, fileName, replaces, upload: {url, fields, maxBytes, expiresAt}}`; the form's policy
    holds the content type, the file's name and source, the form's id (claimed once by the track workflow) and
    a content-length-range of 1 to `max_bytes`. Raises `QuotaExceeded` over the quota (nothing is written).
    """
    quotas.take(user_id, quota, len(files))
    expires_at = int(clock()) + limits.expiry_seconds
    return [_upload_form(user_id, file, s3=s3, store=store, limits=limits, expires_at=expires_at) for file in files]


def _upload_form(user_id: str, file: UploadFileLike, *, s3: Any, store: TrackStore, limits: UploadLimits,
                 expires_at: int) -> dict[str, Any]:
    track_id, replaces = track_for_file(store, user_id, file.fileName, source="upload", content_type=file.contentType,
                                        expires_at=expires_at + UPLOAD_GRACE_SECONDS)
    key = storage.original_key(user_id, track_id, storage.AUDIO_CONTENT_TYPES[file.contentType])
    # signed into the form; InspectTrack claims it once (single-use form)
    form_id = store.open_form(user_id, track_id, claimable_until=expires_at + UPLOAD_GRACE_SECONDS)
    fields = {
        "Content-Type": file.contentType,
        "x-amz-meta-file-name": quote(file.fileName),
        "x-amz-meta-source": "upload",
        "x-amz-meta-form-id": form_id,
    }
    form = s3.generate_presigned_post(
        Bucket=limits.bucket,
        Key=key,
        Fields=fields,
        Conditions=[*({k: v} for k, v in fields.items()), ["content-length-range", 1, limits.max_bytes]],
        ExpiresIn=limits.expiry_seconds,
    )
    upload = {"url": form["url"], "fields": form["fields"], "maxBytes": limits.max_bytes, "expiresAt": expires_at}
    return {"trackId": track_id, "fileName": file.fileName, "replaces": replaces, "upload": upload}


def edit_track(store: TrackStore, user_id: str, track_id: str, request: EditRequest) -> dict[str, Any]:
    """Set the fields the request names (null clears one, and each is remembered as edited); the new record."""
    updated = store.edit(user_id, track_id, request.model_dump(include=request.model_fields_set))
    if updated is None:
        raise TrackNotFound(f"track {track_id} not found")
    return updated


def delete_track(store: TrackStore, s3: Any, bucket: str, user_id: str, track_id: str) -> int:
    """Remove the caller's track and its objects; how many objects went. `TrackNotFound` if it is not theirs."""
    track = owned_track(store, user_id, track_id)
    store.delete(track["userId"], track_id)
    return storage.delete_prefix(s3, bucket, storage.track_prefix(track["userId"], track_id))


def grade_track(store: TrackStore, user_settings: UserSettingsStore, user_id: str, request: GradeRequest,
                now: float) -> dict[str, Any]:
    """Record one review of the caller's READY track: `{trackId, grade, scheduler, ..., dueAt}`.
    `TrackNotFound` if it is not theirs, `GradeConflict` if it is not READY or another grade landed first."""
    track = owned_track(store, user_id, request.trackId)
    schedule = training.grade(store, track, user_settings.training(track["userId"]), request.grade, now)
    return {"trackId": request.trackId, "grade": request.grade, **schedule}
