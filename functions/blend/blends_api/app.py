"""Blends API: blend two to four songs of the catalog into a new piece; read, list, download, delete.

`POST /blends` checks every song is one the caller may use (a public catalog song or one of their own
READY songs; anything else is a 404 naming it), spends one unit of the blend quota, writes a PENDING
record and starts the Blend workflow (statemachine/blend.asl.json) named after the blend. What the
knobs mean (temperature, creativity) is in docs/blend.md and in soundcanvas.blend.compose.
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from functools import cache
from typing import Annotated, Any, Literal

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from botocore.config import Config
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationInfo, field_validator

from soundcanvas.blend import blends
from soundcanvas.blend.blends import BlendConflict, BlendStore
from soundcanvas.blend.songs import READY, SongStore
from soundcanvas.core import api, storage
from soundcanvas.core.quotas import Quota, QuotaStore
from soundcanvas.core.settings import Settings

logger = Logger()
metrics = Metrics()
settings = Settings.from_env(need=("BLENDS_TABLE_NAME", "SONGS_TABLE_NAME", "QUOTAS_TABLE_NAME",
                                   "BLEND_STATE_MACHINE_ARN"))
s3 = boto3.client("s3", region_name=settings.region, config=Config(signature_version="s3v4"))
clock = time.time  # the local stack sets its own clock here
store = BlendStore(settings.blends_table_name, settings.region, host=settings.dynamodb_endpoint, clock=lambda: clock())
catalog = SongStore(settings.songs_table_name, settings.region, host=settings.dynamodb_endpoint, clock=lambda: clock())
quotas = QuotaStore(settings.quotas_table_name, settings.region, host=settings.dynamodb_endpoint)
BLENDS = Quota("blends", settings.blend_quota, settings.blend_quota_window_seconds)
GENRES = ("folk", "classical", "pop", "rock", "jazz", "electronic")
DOWNLOADS = {"midi": ("midiKey", "mid"), "mp3": ("mp3Key", "mp3"), "wav": ("audioKey", "wav")}


@cache
def stepfunctions() -> Any:
    return boto3.client("stepfunctions", region_name=settings.region)


app = api.resolver()
BlendId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
SongIdField = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


class BlendRequest(BaseModel):
    """Body of POST /blends."""

    model_config = ConfigDict(extra="forbid")
    songs: list[SongIdField] = Field(min_length=2, max_length=4, description="Two to four songIds (three is the "
                                     "classic blend): public catalog songs or your own READY songs.")
    weights: list[Annotated[float, Field(gt=0, le=100)]] | None = Field(
        default=None, description="How much of each song, in the songs' order (normalised; default equal).")
    temperature: float = Field(default=0.8, ge=0.1, le=2.0, description="Below 1 sharpens each next-note choice "
                               "toward the songs' likeliest moves; above 1 flattens it toward surprises.")
    creativity: float = Field(default=0.7, ge=0.0, le=1.0, description="0 stays close to the songs (longer "
                              "memories, copies of up to 4 bars); 1 wanders (short memories, copies of at most 1 bar).")
    lengthSeconds: int = Field(default=120, ge=15, le=300, strict=True, description="The blend's length.")
    genre: Literal[GENRES] | None = Field(default=None,  # type: ignore[valid-type]
                                          description="Instruments and groove; default: from the songs.")
    seed: int | None = Field(default=None, ge=0, le=2**31 - 1, strict=True,
                             description="The same songs, options and seed give the same MIDI, byte for byte.")

    @field_validator("songs")
    @classmethod
    def _each_once(cls, songs: list[str]) -> list[str]:
        if len(set(songs)) != len(songs):
            raise ValueError("name each song once")
        return songs

    @field_validator("weights")
    @classmethod
    def _one_per_song(cls, weights: list[float] | None, info: ValidationInfo) -> list[float] | None:
        songs = info.data.get("songs")
        if weights is not None and songs is not None and len(weights) != len(songs):
            raise ValueError(f"give one weight per song ({len(songs)}), or none for equal weights")
        return weights


class BlendNotFound(LookupError):
    """No such blend (or song) for this caller."""


class BadRequest(ValueError):
    """A request the models cannot judge alone (it needs a record); `field` names what is wrong."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _owned(blend_id: str) -> dict[str, Any]:
    record = store.get(api.caller(app), blend_id)
    if record is None:
        raise BlendNotFound(f"blend {blend_id} not found")
    return record


def _view(record: dict[str, Any]) -> dict[str, Any]:
    bucket, ttl = settings.bucket_name, settings.url_ttl_seconds
    finished = record["status"] == blends.COMPLETE
    outputs = (record.get("outputs") or {}) if finished else {}
    summary = record.get("summary") or {}
    blend_id = record["blendId"]
    return {
        "blendId": blend_id,
        "status": record["status"],
        "stage": record["stage"],
        "progress": int(record["progress"]),
        "songs": [{"songId": s["songId"], "title": s.get("title"), "artist": s.get("artist"),
                   "weight": float(s["weight"])} for s in record["songs"]],
        "options": record.get("options") or {},
        "key": summary.get("key"),
        "tempoBpm": summary.get("tempoBpm"),
        "timeSignature": summary.get("timeSignature"),
        "durationSeconds": summary.get("durationSeconds"),
        "attribution": summary.get("attribution"),
        "novelty": summary.get("novelty"),
        "gates": summary.get("gates"),
        "attempts": summary.get("attempts"),
        "midiUrl": storage.presign_get(s3, bucket, outputs.get("midiKey"), ttl, download_as=f"blend-{blend_id}.mid"),
        "audioUrl": storage.presign_get(s3, bucket, outputs.get("mp3Key"), ttl),
        "errorMessage": record.get("errorMessage"),
        "failedStage": record.get("failedStage"),
        "createdAt": record["createdAt"],
        "updatedAt": record["updatedAt"],
        "timings": {k: int(v) for k, v in (record.get("timings") or {}).items()},
    }


# --- blends --------------------------------------------------------------------------------------
@app.post("/blends")
def create_blend(body: BlendRequest) -> Response[dict[str, Any]]:
    user_id = api.caller(app)
    found = catalog.get_many(body.songs)
    weights = body.weights or [1.0] * len(body.songs)
    total = sum(weights)
    chosen = []
    for position, (song_id, weight) in enumerate(zip(body.songs, weights, strict=True)):
        song = found.get(song_id)
        if song is None or (song["visibility"] != "public" and song.get("ownerId") != user_id):
            raise BlendNotFound(f"song {song_id} (songs[{position}]) not found")
        if song["status"] != READY:
            raise BadRequest(f"songs[{position}]", f"song {song_id} is {song['status']}; only READY songs blend")
        chosen.append({"songId": song_id, "title": song["title"], "artist": song.get("artist"),
                       "weight": round(weight / total, 6)})
    options = {"temperature": body.temperature, "creativity": body.creativity, "lengthSeconds": body.lengthSeconds,
               "genre": body.genre, "seed": body.seed if body.seed is not None else secrets.randbelow(2**31)}
    blend_id = uuid.uuid4().hex
    logger.append_keys(blend_id=blend_id)
    with quotas.spend(user_id, BLENDS):
        store.create(user_id, blend_id, songs=chosen, options=options)
        try:
            stepfunctions().start_execution(stateMachineArn=settings.blend_state_machine_arn, name=blend_id,
                                            input=json.dumps({"userId": user_id, "blendId": blend_id}))
        except ClientError:
            store.delete(user_id, blend_id)  # nothing would ever run it: leave no PENDING record behind
            raise
    metrics.add_metric(name="BlendsCreated", unit=MetricUnit.Count, value=1)
    logger.info("blend created", extra={"songs": [s["songId"] for s in chosen], "options": options})
    return Response(202, "application/json", {"blendId": blend_id, "status": blends.PENDING, "options": options},
                    headers={"Location": f"/blends/{blend_id}"})


@app.get("/blends")
def list_blends(
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
) -> dict[str, Any]:
    items, next_cursor = store.list(api.caller(app), limit=limit, cursor=cursor)
    return {"items": [_view(item) for item in items], "nextCursor": next_cursor}


@app.get("/blends/<blendId>")
def get_blend(blendId: BlendId) -> dict[str, Any]:
    return _view(_owned(blendId))


@app.get("/blends/<blendId>/download")
def download_blend(
    blendId: BlendId, format: Annotated[Literal["midi", "mp3", "wav"], Query()] = "mp3",
) -> Response[dict[str, Any]]:
    record = _owned(blendId)
    outputs = record.get("outputs") or {}
    field, ext = DOWNLOADS[format]
    if record["status"] != blends.COMPLETE or not outputs.get(field):
        raise BlendConflict(f"blend {blendId} is {record['status']}; its files are ready when it is COMPLETE")
    url = storage.presign_get(s3, settings.bucket_name, outputs[field], settings.url_ttl_seconds,
                              download_as=f"blend-{blendId}.{ext}")
    return Response(302, "application/json", {"url": url}, headers={"Location": str(url)})


@app.delete("/blends/<blendId>")
def delete_blend(blendId: BlendId) -> Response[str]:
    record = _owned(blendId)
    logger.append_keys(blend_id=blendId)
    store.delete(record["userId"], blendId)
    removed = storage.delete_prefix(s3, settings.bucket_name, blends.prefix(record["userId"], blendId))
    logger.info("blend deleted", extra={"objects_removed": removed})
    return Response(204, "application/json", "")


# --- errors: mapped to HTTP in one place (soundcanvas.core.api) ---------------------------------------
api.install_error_handlers(app, not_found=(BlendNotFound,), conflict=(BlendConflict,))


@app.exception_handler(BadRequest)
def _bad_request(exc: BadRequest) -> Response:
    return api.field_error(400, exc.field, str(exc))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, log_event=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return api.resolve(app, event, context)
