"""Blends API: blend two to four songs of the catalog into a new piece; read, list, download, delete.

`POST /blends` checks every song is one the caller may use (a public catalog song or one of their own
READY songs; anything else is a 404 naming it), spends one unit of the blend quota, writes a PENDING
record and starts the Blend workflow (statemachine/blend.asl.json) named after the blend. What the
knobs mean (temperature, creativity) is in docs/blend.md and in soundcanvas.blend.compose.
A blend is created and deleted by soundcanvas.blend.creation, which GraphQL's createBlend and
deleteBlend (functions/core/graphql_api) call too.
"""

from __future__ import annotations

import time
from functools import cache
from typing import Annotated, Any, Literal

import botocore.session
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from botocore.config import Config

from soundcanvas.blend import blends, creation
from soundcanvas.blend.blends import BlendConflict, BlendStore
from soundcanvas.blend.creation import BlendNotFound, BlendRequest
from soundcanvas.blend.songs import SongStore
from soundcanvas.core import api, storage
from soundcanvas.core.quotas import Quota, QuotaStore
from soundcanvas.core.settings import Settings

logger = Logger()
aws = botocore.session.Session()  # botocore's own: boto3 adds 20 ms to a cold start (docs/clients.md)
metrics = Metrics()
settings = Settings.from_env(need=("BLENDS_TABLE_NAME", "SONGS_TABLE_NAME", "QUOTAS_TABLE_NAME",
                                   "BLEND_STATE_MACHINE_ARN"))
s3 = aws.create_client("s3", region_name=settings.region, config=Config(signature_version="s3v4"))
clock = time.time  # the local stack sets its own clock here
store = BlendStore(settings.blends_table_name, settings.region, host=settings.dynamodb_endpoint, clock=lambda: clock())
catalog = SongStore(settings.songs_table_name, settings.region, host=settings.dynamodb_endpoint, clock=lambda: clock())
quotas = QuotaStore(settings.quotas_table_name, settings.region, host=settings.dynamodb_endpoint)
BLENDS = Quota("blends", settings.blend_quota, settings.blend_quota_window_seconds)
DOWNLOADS = {"midi": ("midiKey", "mid"), "mp3": ("mp3Key", "mp3"), "wav": ("audioKey", "wav")}


@cache
def stepfunctions() -> Any:
    return aws.create_client("stepfunctions", region_name=settings.region)


app = api.resolver()
BlendId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


def _owned(blend_id: str) -> dict[str, Any]:
    return creation.owned_blend(store, api.caller(app), blend_id)


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
    created = creation.create_blend(user_id=api.caller(app), request=body, catalog=catalog, store=store,
                                    quotas=quotas, quota=BLENDS, stepfunctions=stepfunctions(),
                                    state_machine_arn=settings.blend_state_machine_arn)
    blend_id, options = created["blendId"], created["options"]
    logger.append_keys(blend_id=blend_id)
    metrics.add_metric(name="BlendsCreated", unit=MetricUnit.Count, value=1)
    logger.info("blend created", extra={"songs": [s["songId"] for s in created["songs"]], "options": options})
    return Response(202, "application/json", {"blendId": blend_id, "status": created["status"], "options": options},
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
    logger.append_keys(blend_id=blendId)
    removed = creation.delete_blend(store, s3, settings.bucket_name, api.caller(app), blendId)
    logger.info("blend deleted", extra={"objects_removed": removed})
    return Response(204, "application/json", "")


# --- errors: mapped to HTTP in one place (soundcanvas.core.api) ---------------------------------------
api.install_error_handlers(app, not_found=(BlendNotFound,), conflict=(BlendConflict,))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, log_event=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return api.resolve(app, event, context)
