"""Maps API: drum maps of catalog songs and library tracks; a recording for a catalog song; upload
forms for identifying long recordings.

`POST /maps {songId | trackId}` checks the source is one the caller may use (a public song with a
recording, one of their own songs, or one of their READY library tracks; anything else is a 404),
spends one unit of the map quota, writes a PENDING record and starts the Map workflow
(statemachine/map.asl.json) named after the map. A track's recording is copied to the map's work
prefix first (the seam of docs/architecture.md: the library stays untouched). The rules live in
soundcanvas.maps.creation, which GraphQL's createMap and deleteMap (functions/core/graphql_api) call too.

`POST /songs/{songId}/audio` hands out a presigned POST for the song's recording; its arrival starts
the song-audio workflow, which fingerprints it. `POST /identify/uploads` hands out a form for a
recording too long to send to `POST /identify` directly (the Identify function answers that).
"""

from __future__ import annotations

import time
import uuid
from functools import cache
from typing import Annotated, Any, Literal

import botocore.session
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from botocore.config import Config
from pydantic import BaseModel, ConfigDict, Field

from soundcanvas.core import api, storage
from soundcanvas.core.entitlements import Allowances
from soundcanvas.core.quotas import Quota, QuotaStore
from soundcanvas.core.settings import Settings
from soundcanvas.library.tracks import TrackStore  # the seam: a library track as a map's source
from soundcanvas.maps import creation, drum_maps, identify_uploads, song_audio
from soundcanvas.maps.creation import MapNotFound, MapRequest
from soundcanvas.maps.drum_maps import MapConflict, MapStore
from soundcanvas.maps.song_audio import SongAudioStore

logger = Logger()
aws = botocore.session.Session()  # botocore's own: boto3 adds 20 ms to a cold start (docs/clients.md)
metrics = Metrics()
settings = Settings.from_env(need=("MAPS_TABLE_NAME", "SONGS_TABLE_NAME", "TRACKS_TABLE_NAME", "QUOTAS_TABLE_NAME",
                                   "USERS_TABLE_NAME", "MAP_STATE_MACHINE_ARN"))
s3 = aws.create_client("s3", region_name=settings.region, config=Config(signature_version="s3v4"))
clock = time.time  # the local stack sets its own clock here
store = MapStore(settings.maps_table_name, settings.region, host=settings.dynamodb_endpoint, clock=lambda: clock())
songs = SongAudioStore(settings.songs_table_name, settings.region, host=settings.dynamodb_endpoint,
                       clock=lambda: clock())
tracks = TrackStore(settings.tracks_table_name, settings.region, host=settings.dynamodb_endpoint, clock=lambda: clock())
quotas = QuotaStore(settings.quotas_table_name, settings.region, host=settings.dynamodb_endpoint)
MAPS = Quota("maps", settings.map_quota, settings.map_quota_window_seconds)
allowances = Allowances.from_settings(settings, clock=lambda: clock())  # the plan's maps a month (docs/billing.md)
IDENTIFY = Quota("identify", settings.identify_quota, settings.identify_quota_window_seconds)
SPENDING = creation.Spending(quotas, MAPS, allowances)
COMMUNITY_STATES = (drum_maps.UNVERIFIED, drum_maps.VERIFIED, drum_maps.ARCHIVED)

app = api.resolver()
MapId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
SongId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
AudioType = Literal[tuple(storage.AUDIO_CONTENT_TYPES)]  # type: ignore[valid-type]


@cache
def stepfunctions() -> Any:
    return aws.create_client("stepfunctions", region_name=settings.region)


class UploadRequest(BaseModel):
    """Body of POST /songs/{songId}/audio and POST /identify/uploads."""

    model_config = ConfigDict(extra="forbid")
    contentType: AudioType = Field(description="The recording's type (MP3, FLAC, WAV, AIFF, OGG or M4A).")


def _visible(map_id: str) -> dict[str, Any]:
    """The caller's own map, or anyone's public one (a finished map of a public catalog song)."""
    record = store.visible(api.caller(app), map_id)
    if record is None:
        raise MapNotFound(f"map {map_id} not found")
    return record


def _view(record: dict[str, Any]) -> dict[str, Any]:
    finished = record["status"] == drum_maps.COMPLETE
    outputs = (record.get("outputs") or {}) if finished else {}
    summary = record.get("summary") or {}
    source = record.get("source") or {}
    return {
        "mapId": record["mapId"],
        "status": record["status"],
        "stage": record["stage"],
        "progress": int(record["progress"]),
        "state": record.get("state"),
        "songId": record.get("songId"),
        "source": {"kind": source.get("kind"), "id": source.get("id"), "title": source.get("title"),
                   "artist": source.get("artist")},
        "difficulty": record.get("difficulty"),
        "tempoBpm": summary.get("tempoBpm"),
        "offsetSeconds": summary.get("offsetSeconds"),
        "durationSeconds": summary.get("durationSeconds"),
        "counts": summary.get("counts"),
        "levels": summary.get("levels"),
        "mapUrl": storage.presign_get(s3, settings.bucket_name, outputs.get("mapKey"), settings.url_ttl_seconds),
        "public": bool(record.get("publicSongId")),
        "author": record.get("authorName") or record["userId"],
        "version": int(record.get("version") or 1),
        "verifiedVersion": int(record["verifiedVersion"]) if record.get("verifiedVersion") is not None else None,
        "votes": {"approve": int(record.get("approveVotes") or 0), "reject": int(record.get("rejectVotes") or 0)},
        "errorMessage": record.get("errorMessage"),
        "failedStage": record.get("failedStage"),
        "createdAt": record["createdAt"],
        "updatedAt": record["updatedAt"],
        "timings": {k: int(v) for k, v in (record.get("timings") or {}).items()},
    }


def _upload_form(key: str, content_type: str, max_bytes: int) -> dict[str, Any]:
    expires_in = settings.upload_expiry_seconds
    form = s3.generate_presigned_post(
        Bucket=settings.bucket_name, Key=key, Fields={"Content-Type": content_type},
        Conditions=[{"Content-Type": content_type}, ["content-length-range", 1, max_bytes]], ExpiresIn=expires_in,
    )
    return {"url": form["url"], "fields": form["fields"], "maxBytes": max_bytes,
            "expiresAt": int(clock()) + expires_in, "contentTypes": [content_type]}


# --- maps ----------------------------------------------------------------------------------------
@app.post("/maps")
def create_map(body: MapRequest) -> Response[dict[str, Any]]:
    user_id = api.caller(app)
    map_id = creation.new_map_id()
    logger.append_keys(map_id=map_id)
    if body.trackId is not None:
        source = creation.track_source(user_id=user_id, track_id=body.trackId, track=tracks.get(user_id, body.trackId),
                                       map_id=map_id, s3=s3, bucket=settings.bucket_name,
                                       max_seconds=settings.map_max_seconds)
    else:
        source = creation.song_source(songs, user_id, str(body.songId))
    created = creation.create_map(user_id=user_id, map_id=map_id, source=source, difficulty=body.difficulty, s3=s3,
                                  bucket=settings.bucket_name, store=store, spending=SPENDING,
                                  stepfunctions=stepfunctions(), state_machine_arn=settings.map_state_machine_arn)
    metrics.add_metric(name="MapsCreated", unit=MetricUnit.Count, value=1)
    logger.info("map created", extra={"source": source["kind"]})
    return Response(202, "application/json", created, headers={"Location": f"/maps/{map_id}"})


@app.get("/maps")
def list_maps(
    songId: Annotated[str | None, Query(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$",
                                        description="The public maps of this catalog song.")] = None,
    state: Annotated[Literal[COMMUNITY_STATES] | None, Query(  # type: ignore[valid-type]
        description="Public maps in this community state.")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
) -> dict[str, Any]:
    """Your own maps, newest first; with songId or state, the public maps of a song or in a state."""
    if songId is None and state is None:
        items, next_cursor = store.list(api.caller(app), limit=limit, cursor=cursor)
    else:
        items, next_cursor = store.public(song_id=songId, state=state, limit=limit, cursor=cursor)
    return {"items": [_view(item) for item in items], "nextCursor": next_cursor}


@app.get("/maps/<mapId>")
def get_map(mapId: MapId) -> dict[str, Any]:
    return _view(_visible(mapId))


@app.delete("/maps/<mapId>")
def delete_map(mapId: MapId) -> Response[str]:
    logger.append_keys(map_id=mapId)
    removed = creation.delete_map(store, s3, settings.bucket_name, api.caller(app), mapId)
    logger.info("map deleted", extra={"objects_removed": removed})
    return Response(204, "application/json", "")


# --- recordings ----------------------------------------------------------------------------------
@app.post("/songs/<songId>/audio")
def attach_song_audio(songId: SongId, body: UploadRequest) -> Response[dict[str, Any]]:
    """A form for the song's recording: a public song's first recording is anyone's to give, and then
    only its giver may replace it; your own songs are yours. A form for the first recording holds the song an
    hour (song_audio.FORM_HOLD_SECONDS); with no recording attached by then, anyone may take one."""
    user_id = api.caller(app)
    song = songs.visible(songId, user_id)
    if song is None:
        raise MapNotFound(f"song {songId} not found")
    ext = storage.AUDIO_CONTENT_TYPES[body.contentType]
    if not songs.start_upload(songId, user_id, ext):
        raise MapConflict(f"song {songId} already has a recording given by someone else" if song.get("status") == "READY"
                          else f"song {songId} is {song.get('status')}; wait until it is READY")
    form = _upload_form(song_audio.audio_upload_key(songId, ext), body.contentType, settings.song_audio_max_bytes)
    logger.info("song audio form", extra={"song_id": songId})
    return Response(201, "application/json", {"songId": songId, "audioStatus": song_audio.PENDING, "upload": form},
                    headers={"Location": f"/songs/{songId}"})


@app.post("/identify/uploads")
def identify_upload(body: UploadRequest) -> Response[dict[str, Any]]:
    """A form for a recording to identify; then POST /identify {uploadId}. The object expires in a day."""
    user_id = api.caller(app)
    upload_id = uuid.uuid4().hex
    ext = storage.AUDIO_CONTENT_TYPES[body.contentType]
    with quotas.spend(user_id, IDENTIFY):
        form = _upload_form(identify_uploads.key(user_id, upload_id, ext), body.contentType,
                            settings.identify_upload_max_bytes)
    return Response(201, "application/json", {"uploadId": upload_id, "upload": form})


# --- errors: mapped to HTTP in one place (soundcanvas.core.api) ---------------------------------------
api.install_error_handlers(app, not_found=(MapNotFound,), conflict=(MapConflict,))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, log_event=False, clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return api.resolve(app, event, context)
