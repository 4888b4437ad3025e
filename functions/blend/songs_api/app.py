"""Songs API: the catalog Blend draws on. Typo-tolerant search, a song with its MIDI, your own MIDI uploads.

- `GET /songs?q=&limit=&cursor=`: with `q`, a ranked search over title and artist (typos, word order,
  prefixes) of the public catalog plus the caller's own songs; without `q`, the public catalog by title.
  `GET /songs?mine=true` lists the caller's own songs (uploads, with their status), newest first.
- `GET /songs/{songId}`: a public song, or one of the caller's own (anyone else's is a 404), with a
  presigned URL of its MIDI and of its short preview (MP3). A catalog song's preview is rendered the
  first time anyone asks (`previewStatus: RENDERING`, then READY with `previewUrl`): the Songs API starts
  the song workflow's preview branch (statemachine/song.asl.json), which uses picture → music's Render.
- `POST /songs/uploads` `{title, artist?, sizeBytes?}`: a presigned POST for `audio/midi` (at most
  SongUploadMaxBytes, 2 MB); the upload's arrival starts the song workflow (statemachine/song.asl.json),
  which validates it: READY, or FAILED with a message.
- `POST /songs` `{trackId | transcriptionId, title?, artist?}`: a song from a Listen transcription of the
  caller's (of a READY library track, or of an upload): its notes.mid is copied to the song's upload key,
  and the same song workflow validates it. Reading the transcription (and the track, for its name) is a
  seam between products (docs/architecture.md, "Seams"): only this handler imports soundcanvas.listen
  and soundcanvas.library; the soundcanvas.blend package never does.
- `DELETE /songs/{songId}`: one of the caller's own songs, its record and files.

Search: the public catalog's index (soundcanvas.blend.search) is an S3 object the catalog loader
writes whenever the public catalog changes; this function loads it on the first search and looks
for a newer one (a conditional GET) at most every INDEX_CHECK_SECONDS. The caller's own songs are
not in it (they are private, and few): they come from the ByOwner index and are ranked with the
same scorer in the same list (docs/blend.md, "Search").
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from functools import cache
from typing import Annotated, Any

import botocore.session
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from botocore.config import Config
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from soundcanvas.blend import songs
from soundcanvas.blend.search import SearchEntry, SearchIndex
from soundcanvas.blend.songs import SongConflict, SongStore
from soundcanvas.core import api, cursors, storage
from soundcanvas.core.inputs import FieldError
from soundcanvas.core.quotas import Quota, QuotaStore
from soundcanvas.core.settings import Settings
from soundcanvas.library.tracks import READY as TRACK_READY  # the seam: a transcribed library track as a song
from soundcanvas.library.tracks import TrackStore
from soundcanvas.listen.transcriptions import COMPLETE as TRANSCRIPTION_COMPLETE  # the seam (docs/architecture.md)
from soundcanvas.listen.transcriptions import TranscriptionStore
from soundcanvas.maps import fpkeys  # the seam: a deleted song's recording leaves Maps' index (docs/architecture.md)

logger = Logger()
aws = botocore.session.Session()  # botocore's own: boto3 adds 20 ms to a cold start (docs/clients.md)
metrics = Metrics()
settings = Settings.from_env(need=("SONGS_TABLE_NAME", "QUOTAS_TABLE_NAME", "SONG_STATE_MACHINE_ARN",
                                   "TRACKS_TABLE_NAME", "TRANSCRIPTIONS_TABLE_NAME"))
s3 = aws.create_client("s3", region_name=settings.region, config=Config(signature_version="s3v4"))
clock = time.time  # the local stack sets its own clock here
store = SongStore(settings.songs_table_name, settings.region, host=settings.dynamodb_endpoint, clock=lambda: clock())
quotas = QuotaStore(settings.quotas_table_name, settings.region, host=settings.dynamodb_endpoint)
tracks = TrackStore(settings.tracks_table_name, settings.region, host=settings.dynamodb_endpoint, clock=lambda: clock())
transcriptions = TranscriptionStore(settings.transcriptions_table_name, settings.region,
                                    host=settings.dynamodb_endpoint, clock=lambda: clock())


@cache
def _dynamodb() -> Any:
    """The low-level DynamoDB client, made on first use: only DELETE /songs/{id} needs it (Maps' fingerprint index)."""
    return aws.create_client("dynamodb", region_name=settings.region)


SONG_UPLOADS = Quota("song uploads", settings.song_upload_quota, settings.song_upload_quota_window_seconds)
MIDI_TYPE = "audio/midi"
INDEX_CHECK_SECONDS = 60.0  # how stale a warm function's copy of the search index may get
SEARCH_PAGE_KEY = {"offset": "N", "userId": "S", "query": "S"}



@cache
def stepfunctions() -> Any:
    """The Step Functions client, made on first use: only a song's first preview needs it."""
    return aws.create_client("stepfunctions", region_name=settings.region)


app = api.resolver()
SongId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


class SongUploadRequest(BaseModel):
    """Body of POST /songs/uploads: what to call the song, and optionally the file's size."""

    model_config = ConfigDict(extra="forbid")
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    artist: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] | None = None
    contentType: Annotated[str, StringConstraints(pattern=r"^audio/midi$")] = Field(
        default=MIDI_TYPE, description="Always audio/midi (a Standard MIDI File).")
    sizeBytes: int | None = Field(default=None, ge=1, le=settings.song_upload_max_bytes, strict=True,
                                  description="The file's size, checked before you send it.")


ItemId = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


class SongFromTranscriptionRequest(BaseModel):
    """Body of POST /songs: one of your Listen transcriptions (or a READY library track you transcribed)."""

    model_config = ConfigDict(extra="forbid")
    trackId: ItemId | None = Field(default=None, description="A READY track of your library with a COMPLETE "
                                   "transcription (the newest is used).")
    transcriptionId: ItemId | None = Field(default=None, description="One of your COMPLETE transcriptions.")
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] | None = Field(
        default=None, description="Default: the track's name.")
    artist: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] | None = None

    @model_validator(mode="after")
    def _one_source(self) -> SongFromTranscriptionRequest:
        if (self.trackId is None) == (self.transcriptionId is None):
            raise ValueError("give either trackId or transcriptionId")
        return self


class SongNotFound(LookupError):
    """No such song for this caller (missing, expired, or someone else's private song)."""


class NotYours(PermissionError):
    """A public catalog song: nobody deletes it through the API."""


class SearchIndexHolder:
    """The public catalog's search index, loaded on first use and refreshed when S3 has a newer one."""

    def __init__(self) -> None:
        self.index: SearchIndex | None = None
        self.etag: str | None = None
        self.checked_at = float("-inf")
        self.lock = threading.Lock()

    def current(self) -> SearchIndex | None:
        with self.lock:
            if time.monotonic() - self.checked_at >= INDEX_CHECK_SECONDS:
                self._refresh()
            return self.index

    def _refresh(self) -> None:
        args: dict[str, Any] = {"Bucket": settings.bucket_name, "Key": songs.SEARCH_INDEX_KEY}
        if self.etag:
            args["IfNoneMatch"] = self.etag
        try:
            started = time.perf_counter()
            found = s3.get_object(**args)
            self.index = SearchIndex.from_bytes(found["Body"].read())
            self.etag = found["ETag"]
            logger.info("search index loaded", extra={"elapsed_ms": round((time.perf_counter() - started) * 1000)})
        except ClientError as exc:
            code = storage.error_code(exc)
            if code not in ("304", "NotModified", *storage.MISSING):
                raise
            if code in storage.MISSING:  # the catalog was never loaded: search finds the caller's own songs only
                self.index, self.etag = None, None
        self.checked_at = time.monotonic()


search_index = SearchIndexHolder()


def _view(record: dict[str, Any], *, with_urls: bool = False) -> dict[str, Any]:
    view = songs.public_view(record, clock())
    view["mine"] = record.get("ownerId") == api.caller(app)
    if with_urls:
        ready = record.get("status") == songs.READY
        view["midiUrl"] = storage.presign_get(s3, settings.bucket_name, record.get("midiKey") if ready else None,
                                              settings.url_ttl_seconds, download_as=f"{record['songId']}.mid")
        preview_ready = ready and record.get("previewStatus") == songs.READY
        view["previewUrl"] = storage.presign_get(s3, settings.bucket_name,
                                                 record.get("previewKey") if preview_ready else None,
                                                 settings.url_ttl_seconds)
        view["previewError"] = record.get("previewError")
    return view


def _start_preview(record: dict[str, Any]) -> dict[str, Any]:
    """The first request for a READY song without a preview starts its rendering (once: a conditional write)."""
    if record.get("status") != songs.READY or record.get("previewStatus") or not store.start_preview(record["songId"]):
        return record
    try:
        stepfunctions().start_execution(stateMachineArn=settings.song_state_machine_arn,
                                        name=f"preview-{record['songId']}-{uuid.uuid4().hex[:8]}",
                                        input=json.dumps({"preview": {"songId": record["songId"]}}))
    except ClientError:
        store.set_preview(record["songId"], status=songs.FAILED, error="the preview could not be started")
        raise
    logger.info("song preview started", extra={"song_id": record["songId"]})
    return {**record, "previewStatus": "RENDERING"}


def _own_entries(user_id: str) -> list[SearchEntry]:
    return [SearchEntry(song_id=r["songId"], title=r["title"], artist=r.get("artist") or "")
            for r in store.owned(user_id) if r["status"] == songs.READY]


# --- the catalog ---------------------------------------------------------------------------------
@app.get("/songs")
def list_songs(
    q: Annotated[str | None, Query(min_length=1, max_length=200, description="Words of a title or an artist; "
                                   "typos and any word order are fine.")] = None,
    mine: Annotated[bool, Query(description="Only your own songs (your uploads), newest first.")] = False,
    limit: Annotated[int, Query(ge=1, le=50)] = 20,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
) -> dict[str, Any]:
    user_id = api.caller(app)
    if mine:
        if q is not None:
            raise FieldError("q", "search all songs, or list your own with mine=true; not both")
        own = list(store.owned(user_id))
        start = _offset(user_id, cursor, "mine")
        more = start + limit < len(own)
        return {"items": [_view(r) for r in own[start:start + limit]],
                "nextCursor": _next(user_id, start + limit, "mine") if more else None}
    if q is None:
        listed, next_cursor = store.list_public(limit=limit, cursor=cursor, viewer_id=user_id)
        records = store.get_many([r["songId"] for r in listed])  # the index projects a summary; a song reads whole
        return {"items": [_view(records[r["songId"]]) for r in listed if r["songId"] in records],
                "nextCursor": next_cursor}
    started = time.perf_counter()
    start = _offset(user_id, cursor, q)
    index = search_index.current()
    extra = _own_entries(user_id)
    try:
        page = index.search(q, limit=limit, offset=start, extra=extra) if index is not None else \
            SearchIndex.from_entries(extra).search(q, limit=limit, offset=start)
    except ValueError as exc:  # a query with no word in it, or too many words
        raise FieldError("q", str(exc)) from exc
    records = store.get_many([hit.song_id for hit in page.hits])
    items = []
    for hit in page.hits:
        record = records.get(hit.song_id)
        if record is not None and (record["visibility"] == songs.PUBLIC or record.get("ownerId") == user_id):
            items.append({**_view(record), "score": round(float(hit.score), 1)})
    elapsed_ms = (time.perf_counter() - started) * 1000
    metrics.add_metric(name="SongSearchMilliseconds", unit=MetricUnit.Milliseconds, value=elapsed_ms)
    return {"items": items, "nextCursor": _next(user_id, start + limit, q) if page.has_more else None}


def _offset(user_id: str, cursor: str | None, query: str) -> int:
    """Where a ranked page starts: a cursor issued to this caller for this very query."""
    if not cursor:
        return 0
    key = cursors.decode(user_id, cursor, SEARCH_PAGE_KEY)
    if key["query"]["S"] != query[:200]:
        raise cursors.InvalidCursor("cursor belongs to another search; start again without it")
    offset = str(key["offset"]["N"])
    if not offset.isdigit() or len(offset) > 6:
        raise cursors.InvalidCursor("cursor is not one this API issued")
    return int(offset)


def _next(user_id: str, offset: int, query: str) -> str:
    return cursors.encode({"userId": {"S": user_id}, "offset": {"N": str(offset)}, "query": {"S": query[:200]}})


@app.get("/songs/<songId>")
def get_song(songId: SongId) -> dict[str, Any]:
    record = store.visible(songId, api.caller(app))
    if record is None:
        raise SongNotFound(f"song {songId} not found")
    return _view(_start_preview(record), with_urls=True)


@app.post("/songs/uploads")
def create_song_upload(body: SongUploadRequest) -> Response[dict[str, Any]]:
    user_id = api.caller(app)
    song_id = uuid.uuid4().hex
    logger.append_keys(song_id=song_id)
    expires_in, max_bytes = settings.upload_expiry_seconds, settings.song_upload_max_bytes
    with quotas.spend(user_id, SONG_UPLOADS):
        form = s3.generate_presigned_post(
            Bucket=settings.bucket_name,
            Key=songs.upload_key(song_id),
            Fields={"Content-Type": MIDI_TYPE},
            Conditions=[{"Content-Type": MIDI_TYPE}, ["content-length-range", 1, max_bytes]],
            ExpiresIn=expires_in,
        )
        upload_expires_at = int(clock()) + expires_in
        record = store.create_upload(user_id, song_id, title=body.title, artist=body.artist,
                                     upload_expires_at=upload_expires_at)
    metrics.add_metric(name="SongUploadsCreated", unit=MetricUnit.Count, value=1)
    upload = {"url": form["url"], "fields": form["fields"], "maxBytes": max_bytes, "expiresAt": upload_expires_at,
              "contentTypes": [MIDI_TYPE]}
    return Response(201, "application/json", {"songId": song_id, "status": record["status"], "upload": upload},
                    headers={"Location": f"/songs/{song_id}"})


@app.post("/songs")
def create_song_from_transcription(body: SongFromTranscriptionRequest) -> Response[dict[str, Any]]:
    user_id = api.caller(app)
    transcription, track = _transcribed(user_id, body)
    title = body.title or (track or {}).get("name") or f"Transcription {transcription['transcriptionId']}"
    artist = body.artist or (track or {}).get("artist")
    song_id = uuid.uuid4().hex
    logger.append_keys(song_id=song_id)
    with quotas.spend(user_id, SONG_UPLOADS):
        record = store.create_upload(user_id, song_id, title=title, artist=artist,
                                     upload_expires_at=int(clock()) + settings.upload_expiry_seconds,
                                     source=f"transcription {transcription['transcriptionId']}")
        try:  # the copy's Object Created event starts the song workflow, as an upload's does
            s3.copy_object(Bucket=settings.bucket_name, Key=songs.upload_key(song_id), ContentType=MIDI_TYPE,
                           MetadataDirective="REPLACE",
                           CopySource={"Bucket": settings.bucket_name, "Key": transcription["outputs"]["midiKey"]})
        except ClientError as exc:
            store.delete(song_id)
            if storage.error_code(exc) in storage.MISSING:
                raise SongConflict(f"transcription {transcription['transcriptionId']} changed while it was read; "
                                   "try again") from exc
            raise
    metrics.add_metric(name="SongsFromTranscriptions", unit=MetricUnit.Count, value=1)
    source = {"transcriptionId": transcription["transcriptionId"], **({"trackId": track["trackId"]} if track else {})}
    return Response(202, "application/json", {"songId": song_id, "status": record["status"], "source": source},
                    headers={"Location": f"/songs/{song_id}"})


def _transcribed(user_id: str, body: SongFromTranscriptionRequest) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The COMPLETE transcription the request names (and its library track, if it came from one)."""
    if body.transcriptionId is not None:
        transcription = transcriptions.get(user_id, body.transcriptionId)
        if transcription is None:
            raise SongNotFound(f"transcription {body.transcriptionId} not found")
        track_id = (transcription.get("source") or {}).get("trackId")
        track = tracks.get(user_id, str(track_id)) if track_id else None
    else:
        track = tracks.get(user_id, str(body.trackId))
        if track is None:
            raise SongNotFound(f"track {body.trackId} not found")
        if track["status"] != TRACK_READY:
            raise SongConflict(f"track {body.trackId} is {track['status']}; wait until it is READY")
        done = [t for t in transcriptions.all_records(user_id)
                if (t.get("source") or {}).get("trackId") == body.trackId and t["status"] == TRANSCRIPTION_COMPLETE]
        if not done:
            raise SongConflict(f"track {body.trackId} has no COMPLETE transcription; transcribe it first with "
                               f"POST /transcriptions {{\"trackId\": \"{body.trackId}\"}}")
        transcription = max(done, key=lambda t: t["createdAt"])
    if transcription["status"] != TRANSCRIPTION_COMPLETE or not (transcription.get("outputs") or {}).get("midiKey"):
        raise SongConflict(f"transcription {transcription['transcriptionId']} is {transcription['status']}; "
                           "a song can be made from it when it is COMPLETE")
    return transcription, track


@app.delete("/songs/<songId>")
def delete_song(songId: SongId) -> Response[str]:
    record = store.visible(songId, api.caller(app))
    if record is None:
        raise SongNotFound(f"song {songId} not found")
    if record.get("ownerId") != api.caller(app):
        raise NotYours(f"song {songId} belongs to the public catalog; only your own songs can be deleted")
    store.delete(songId)
    removed = storage.delete_prefix(s3, settings.bucket_name, songs.prefix(songId))
    if settings.fingerprints_table_name:  # its recording, if it had one, leaves the index with it
        fpkeys.delete_audio_items(_dynamodb(), settings.fingerprints_table_name, fpkeys.song_scope(record),
                                  [("song", songId)])
    logger.info("song deleted", extra={"song_id": songId, "objects_removed": removed})
    return Response(204, "application/json", "")


# --- errors: mapped to HTTP in one place (soundcanvas.core.api) ---------------------------------------
api.install_error_handlers(app, not_found=(SongNotFound,), conflict=(SongConflict,))


@app.exception_handler(NotYours)
def _not_yours(exc: NotYours) -> Response:
    return api.error(403, str(exc))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, log_event=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return api.resolve(app, event, context)
