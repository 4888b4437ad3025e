"""Track library and Guess the Track: upload forms, the library, downloads, due reviews, grades.

One Powertools resolver serves every library route (each declared in template.yaml); errors
become JSON in one place (soundcanvas.core.api). The caller is the Cognito user in the authorizer's
claims; another user's track is always a 404.

Uploads go straight to S3 with a presigned form; the upload event registers the track and the
track workflow reads, transcodes and readies it (statemachine/library.asl.json). A file name the
caller already has in the library names the same track: uploading it again replaces the audio
and keeps the track's id, edits and review history (see README, "Re-uploads").

Upload forms, edits, deletes and grades are made by soundcanvas.library.changes, with its request
models; GraphQL's track mutations (functions/core/graphql_api) call the same functions.
"""

from __future__ import annotations

import json
import time
from functools import cache
from typing import Annotated, Any, Literal
from urllib.parse import quote

import botocore.session
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from botocore.config import Config
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from soundcanvas.core import api, inputs, storage
from soundcanvas.core.quotas import Quota, QuotaStore
from soundcanvas.core.settings import Settings
from soundcanvas.generation import jobs
from soundcanvas.library import changes, training
from soundcanvas.library.changes import EditRequest, GradeRequest, TrackNotFound
from soundcanvas.library.tracks import READY, TrackConflict, TrackStore, UserSettingsStore, public_fields
from soundcanvas.maps import fpkeys  # the seam: a deleted track's fingerprint leaves the index

logger = Logger()
aws = botocore.session.Session()  # botocore's own: boto3 adds 20 ms to a cold start (docs/clients.md)
metrics = Metrics()
settings = Settings.from_env(need=("TRACKS_TABLE_NAME", "USERS_TABLE_NAME", "TRACK_STATE_MACHINE_ARN", "QUOTAS_TABLE_NAME"))
s3 = aws.create_client("s3", region_name=settings.region, config=Config(signature_version="s3v4"))
store = TrackStore(settings.tracks_table_name, settings.region, host=settings.dynamodb_endpoint)
user_settings = UserSettingsStore(settings.users_table_name, settings.region, host=settings.dynamodb_endpoint)
generations = jobs.JobStore(settings.table_name, settings.region, host=settings.dynamodb_endpoint)
quotas = QuotaStore(settings.quotas_table_name, settings.region, host=settings.dynamodb_endpoint)
UPLOADS = Quota("track uploads", settings.track_upload_quota, settings.track_upload_quota_window_seconds)
clock = time.time  # the local stack sets its own clock here
UPLOAD_GRACE_SECONDS = changes.UPLOAD_GRACE_SECONDS
LIMITS = changes.UploadLimits(settings.bucket_name, settings.track_upload_max_bytes, settings.upload_expiry_seconds)

app = api.resolver()

# What tools/openapi.py publishes for the body POST /tracks/direct reads itself, and its own 413 and 415.
OPENAPI_BODIES = {"/tracks/direct": {"multipart/form-data": inputs.audio_form_schema(
    "DirectUploadForm",
    f"An audio file in a part named `file`; the whole body at most {inputs.DIRECT_MAX_BYTES // 1048576} MB (a larger "
    "file goes to S3 with a form from POST /tracks/uploads). A file name the caller's library already has replaces "
    "that track's audio.",
    "The track's file name, instead of the `file` part's.")}}
OPENAPI_ERRORS = {"/tracks/direct": {
    "413": f"The body is over {inputs.DIRECT_MAX_BYTES // 1048576} MB: upload the file with a form from POST "
           "/tracks/uploads (`errors` names the field file); a JSON body over 256 KB is refused before it is read "
           "(`errors` names the field body).",
    "415": "The body is not multipart/form-data (`errors` names the field Content-Type), or the part named file is "
           "not audio of a type the API stores (`errors` names the field file).",
}}


@cache
def dynamodb() -> Any:
    return aws.create_client("dynamodb", region_name=settings.region)


@cache
def stepfunctions() -> Any:
    """The Step Functions client, made on first use: only POST /tracks needs it."""
    return aws.create_client("stepfunctions", region_name=settings.region)


FileName = changes.FileName
TrackId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
UploadRequest = changes.upload_request_model(settings.track_upload_max_bytes)  # models: soundcanvas.library.changes


class RegisterFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    trackId: Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
    fileName: FileName
    key: Annotated[str, StringConstraints(min_length=1, max_length=1024)]


class RegisterRequest(BaseModel):
    """Body of POST /tracks: objects already uploaded, or a finished generation to keep."""

    model_config = ConfigDict(extra="forbid")
    files: list[RegisterFile] | None = Field(None, min_length=1, max_length=50)
    generationId: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None

    @model_validator(mode="after")
    def exactly_one(self) -> RegisterRequest:
        if (self.files is None) == (self.generationId is None):
            raise ValueError("send either files or generationId")
        return self


class TrainingRequest(BaseModel):
    """Body of PUT /training."""

    model_config = ConfigDict(extra="forbid")
    scheduler: Literal["sm2", "fsrs"]
    desiredRetention: float = Field(0.9, ge=0.7, le=0.99)


class BadUpload(ValueError):
    """A direct upload or registration the API cannot accept; `field` names what is wrong."""

    def __init__(self, field: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.field, self.status = field, status


def _owned(track_id: str) -> dict[str, Any]:
    return changes.owned_track(store, api.caller(app), track_id)


def _download_name(track: dict[str, Any], ext: str) -> str:
    title = track.get("name") or track["fileName"].rsplit(".", 1)[0]
    return f"{track['artist']} - {title}.{ext}" if track.get("artist") else f"{title}.{ext}"


def _urls(track: dict[str, Any]) -> dict[str, str | None]:
    bucket, ttl = settings.bucket_name, settings.url_ttl_seconds
    ready = track["status"] == READY
    mp3 = track.get("mp3Key") if ready else None
    return {
        "streamUrl": storage.presign_get(s3, bucket, mp3, ttl),
        "downloadUrl": storage.presign_get(s3, bucket, mp3, ttl, download_as=_download_name(track, "mp3")),
        "originalUrl": storage.presign_get(s3, bucket, track.get("originalKey") if ready else None, ttl,
                                           download_as=track["fileName"]),
        "coverUrl": storage.presign_get(s3, bucket, track.get("coverKey") if ready else None, ttl),
    }


def _view(track: dict[str, Any], *, with_urls: bool = False) -> dict[str, Any]:
    """The public shape of a track: no keys, no internals; URLs only on request."""
    view: dict[str, Any] = {
        **public_fields(track),
        "format": track.get("format"),
        "durationSeconds": float(track["durationSeconds"]) if track.get("durationSeconds") is not None else None,
        "bitrateKbps": track.get("bitrateKbps"),
        "sampleRate": track.get("sampleRate"),
        "channels": track.get("channels"),
        "sizeBytes": track.get("sizeBytes"),
        "source": track["source"],
        "generationId": track.get("generationId"),
        "errorMessage": track.get("errorMessage"),
        "createdAt": track["createdAt"],
        "updatedAt": track["updatedAt"],
        "review": {"count": int(track.get("reviewCount") or 0), "dueAt": _iso(track.get("dueAt"))},
        "duplicateOf": _duplicate(track.get("duplicateOf")),
    }
    if with_urls:
        view.update(_urls(track))
    return {k: (int(v) if isinstance(v, float) and k in ("bitrateKbps", "sampleRate", "channels", "sizeBytes") else v)
            for k, v in view.items()}


def _duplicate(found: dict[str, Any] | None) -> dict[str, Any] | None:
    """The track this one holds the same recording as (Maps' fingerprints), or None."""
    if not found:
        return None
    return {"trackId": found["trackId"], "similarity": float(found["similarity"]), "kind": found["kind"]}


def _iso(epoch: Any) -> str | None:
    if epoch is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(epoch)))


def _track_for_file(
    user_id: str, file_name: str, *, source: str, content_type: str | None, expires_at: int
) -> tuple[str, bool]:
    """The track a file name belongs to (the newest one with that name), or a new UPLOADING track."""
    return changes.track_for_file(store, user_id, file_name, source=source, content_type=content_type,
                                  expires_at=expires_at)


# --- uploads -------------------------------------------------------------------------------------
@app.post("/tracks/uploads")
def create_uploads(body: UploadRequest) -> Response[dict[str, Any]]:  # type: ignore[valid-type]
    items = changes.create_uploads(user_id=api.caller(app), files=body.files, s3=s3,  # type: ignore[attr-defined]
                                   store=store, quotas=quotas, quota=UPLOADS, limits=LIMITS, clock=clock)
    metrics.add_metric(name="TrackUploadsIssued", unit=MetricUnit.Count, value=len(items))
    logger.info("upload forms issued", extra={"files": len(items)})
    return Response(201, "application/json", {"files": items})


def _start_processing(user_id: str, track_id: str, key: str) -> None:
    stepfunctions().start_execution(
        stateMachineArn=settings.track_state_machine_arn,
        input=json.dumps({"userId": user_id, "trackId": track_id, "key": key}),
    )


@app.post("/tracks")
def register_tracks(body: RegisterRequest) -> Response[dict[str, Any]]:
    user_id = api.caller(app)
    if body.generationId is not None:
        return _save_generation(user_id, body.generationId)
    files = body.files or []
    for i, file in enumerate(files):  # every file checked before the quota: a refused request costs nothing
        _check_uploaded(user_id, i, file)
    items = []
    with quotas.spend(user_id, UPLOADS, len(files)):
        for file in files:
            if store.get(user_id, file.trackId) is None:
                store.create(user_id, file.trackId, file_name=file.fileName, source="registered")
            _start_processing(user_id, file.trackId, file.key)
            items.append({"trackId": file.trackId, "fileName": file.fileName, "status": "PROCESSING"})
    return Response(202, "application/json", {"files": items})


def _check_uploaded(user_id: str, i: int, file: RegisterFile) -> None:
    """The object a registration names is the caller's, at this track's key, and is in the bucket."""
    ids = storage.parse_original_key(file.key)
    expected = storage.original_key(user_id, file.trackId, "<ext>")
    if ids is not None and ids[0] != user_id:
        raise TrackNotFound(f"no object {file.key} in your library")  # someone else's: as if it did not exist
    if ids is None or ids[1] != file.trackId:
        raise BadUpload(f"files.{i}.key", f"must be {expected} for this track")
    try:
        s3.head_object(Bucket=settings.bucket_name, Key=file.key)
    except ClientError as exc:
        raise BadUpload(f"files.{i}.key", f"no object at {file.key}; upload it first") from exc


def _save_generation(user_id: str, generation_id: str) -> Response[dict[str, Any]]:
    """Keep a finished generation in the library: its WAV becomes the track's original."""
    job = generations.get(user_id, generation_id)
    if job is None:
        raise TrackNotFound(f"generation {generation_id} not found")
    if job["status"] != jobs.COMPLETE or not job.get("audioKey"):
        raise TrackConflict(f"generation {generation_id} is {job['status']}; only a COMPLETE generation can be saved")
    track_id = f"gen-{generation_id}"
    existing = store.get(user_id, track_id)
    if existing is not None:
        return Response(200, "application/json", _view(existing))
    params = job.get("params") or {}
    title = f"{str(params.get('genre', 'SoundCanvas')).title()} in {params.get('key', '')} {params.get('scale', '')}".strip()
    file_name = f"{title}.wav"
    track = store.create(user_id, track_id, file_name=file_name, source="generation", name=title, artist="SoundCanvas",
                         edited=["name", "artist"], generation_id=generation_id)
    s3.copy_object(
        Bucket=settings.bucket_name,
        Key=storage.original_key(user_id, track_id, "wav"),
        CopySource={"Bucket": settings.bucket_name, "Key": job["audioKey"]},
        ContentType="audio/wav",
        Metadata={"file-name": quote(file_name), "source": "generation"},
        MetadataDirective="REPLACE",
    )
    metrics.add_metric(name="GenerationsSaved", unit=MetricUnit.Count, value=1)
    return Response(201, "application/json", _view(track))


@app.post("/tracks/direct")
def upload_direct() -> Response[dict[str, Any]]:
    """multipart/form-data with a `file` part (and optionally a `fileName` field), up to 4 MB."""
    user_id = api.caller(app)
    file_name, content_type, data = _read_multipart()
    with quotas.spend(user_id, UPLOADS):
        track_id, replaces = _track_for_file(user_id, file_name, source="direct", content_type=content_type,
                                             expires_at=int(clock()) + UPLOAD_GRACE_SECONDS)
        s3.put_object(
            Bucket=settings.bucket_name,
            Key=storage.original_key(user_id, track_id, storage.AUDIO_CONTENT_TYPES[content_type]),
            Body=data,
            ContentType=content_type,
            Metadata={"file-name": quote(file_name), "source": "direct"},
        )
    metrics.add_metric(name="TrackDirectUploads", unit=MetricUnit.Count, value=1)
    return Response(202, "application/json", {"trackId": track_id, "fileName": file_name, "replaces": replaces,
                                              "status": "PROCESSING"})


def _read_multipart() -> tuple[str, str, bytes]:
    event = app.current_event
    try:
        return inputs.audio_part(event.headers.get("content-type") or "", event.body, event.is_base64_encoded,
                                 max_bytes=inputs.DIRECT_MAX_BYTES, instead="POST /tracks/uploads")
    except inputs.FieldProblem as exc:
        raise BadUpload(exc.field, str(exc), exc.status) from exc


# --- the library ---------------------------------------------------------------------------------
@app.get("/tracks")
def list_tracks(
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
    artist: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    q: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    duplicates: Annotated[bool, Query(description="Only tracks that hold the same recording as another of "
                                                  "your tracks (marked, never deleted).")] = False,
) -> dict[str, Any]:
    items, next_cursor = store.list(api.caller(app), limit=limit, cursor=cursor, artist=artist, q=q,
                                    duplicates=duplicates)
    return {"items": [_view(item) for item in items], "nextCursor": next_cursor}


@app.get("/tracks/lookup")
def lookup_tracks(fileName: Annotated[str, Query(min_length=1, max_length=255)]) -> dict[str, Any]:
    found = store.by_file_name(api.caller(app), fileName)
    return {
        "fileName": fileName,
        "trackIds": [t["trackId"] for t in found],
        "tracks": [{"trackId": t["trackId"], "status": t["status"], "createdAt": t["createdAt"]} for t in found],
    }


@app.get("/tracks/<trackId>")
def get_track(trackId: TrackId) -> dict[str, Any]:
    return _view(_owned(trackId), with_urls=True)


@app.patch("/tracks/<trackId>")
def edit_track(trackId: TrackId, body: EditRequest) -> dict[str, Any]:
    return _view(changes.edit_track(store, api.caller(app), trackId, body), with_urls=True)


@app.delete("/tracks/<trackId>")
def delete_track(trackId: TrackId) -> Response[str]:
    user_id = api.caller(app)
    removed = changes.delete_track(store, s3, settings.bucket_name, user_id, trackId)
    if settings.fingerprints_table_name:  # the seam: the track's fingerprint leaves Maps' index with it
        fpkeys.delete_audio_items(dynamodb(), settings.fingerprints_table_name, user_id, [("track", trackId)])
    logger.info("track deleted", extra={"track_id": trackId, "objects_removed": removed})
    return Response(204, "application/json", "")


@app.get("/downloads")
def list_downloads(
    limit: Annotated[int, Query(ge=1, le=100)] = 100,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
) -> dict[str, Any]:
    items, next_cursor = store.list(api.caller(app), limit=limit, cursor=cursor)
    downloads = []
    for track in items:
        urls = _urls(track)
        downloads.append({"trackId": track["trackId"], "fileName": track["fileName"], "status": track["status"],
                          "originalUrl": urls["originalUrl"], "mp3Url": urls["downloadUrl"]})
    return {"items": downloads, "expiresInSeconds": settings.url_ttl_seconds, "nextCursor": next_cursor}


# --- Guess the Track -----------------------------------------------------------------------------
@app.get("/due")
def list_due(limit: Annotated[int, Query(ge=1, le=100)] = 20) -> dict[str, Any]:
    now = clock()
    due = store.due(api.caller(app), now=now, limit=limit)
    items = []
    for track in due:
        clip = training.snippet(track["trackId"], int(track.get("reviewCount") or 0), track.get("durationSeconds"))
        url = storage.presign_get(s3, settings.bucket_name, track.get("mp3Key"), settings.url_ttl_seconds)
        items.append({
            "trackId": track["trackId"],
            "dueAt": _iso(track["dueAt"]),
            "overdueSeconds": int(now - float(track["dueAt"])),
            "reviewCount": int(track.get("reviewCount") or 0),
            "snippet": {"url": url, **clip},
            "answer": {"name": track.get("name"), "artist": track.get("artist"), "album": track.get("album")},
        })
    # When the next track falls due after now (one more item of the same index), so a client can say when to come
    # back; null when no track is scheduled.
    return {"now": _iso(now), "items": items, "nextDueAt": _iso(store.next_due_at(api.caller(app), now=now))}


@app.post("/grade")
def grade_track(body: GradeRequest) -> dict[str, Any]:
    graded = changes.grade_track(store, user_settings, api.caller(app), body, clock())
    metrics.add_metric(name="TracksGraded", unit=MetricUnit.Count, value=1)
    return graded


@app.get("/training")
def get_training() -> dict[str, Any]:
    return user_settings.training(api.caller(app))


@app.put("/training")
def set_training(body: TrainingRequest) -> dict[str, Any]:
    user_id = api.caller(app)
    previous = user_settings.training(user_id)
    chosen = user_settings.set_training(user_id, scheduler=body.scheduler, desired_retention=body.desiredRetention,
                                        now=clock())
    changed = 0
    if chosen != previous:
        changed = training.reschedule_all(store, user_id, chosen)
        logger.info("scheduler switched", extra={"from": previous, "to": chosen, "rescheduled": changed})
    return {**chosen, "rescheduled": changed}


# --- errors: mapped to HTTP in one place (soundcanvas.core.api) ---------------------------------------
api.install_error_handlers(app, not_found=(TrackNotFound,), conflict=(TrackConflict,))


@app.exception_handler(BadUpload)
def _bad_upload(exc: BadUpload) -> Response:
    return api.field_error(exc.status, exc.field, str(exc))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, log_event=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return api.resolve(app, event, context)
