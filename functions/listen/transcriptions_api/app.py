"""Listen API: start, read, list, re-tab and delete transcriptions.

One Powertools resolver serves every /transcriptions route (each declared in template.yaml); the user's
Listen preferences (`/me/preferences`) are served by core's account function, functions/core/me_api, with
Listen's fields and rules (soundcanvas.listen.preferences); a new transcription reads them. Errors become
JSON in one place (soundcanvas.core.api). The caller is the Cognito user in the authorizer's claims; another
user's transcription is always a 404.

A transcription starts one of two ways. `POST /transcriptions` with no `trackId` returns a presigned
upload form for `listen/{userId}/{id}/input.<ext>`; the upload's arrival starts the Listen workflow
(statemachine/listen.asl.json), which claims it. With `trackId`, the API copies that READY library
track's kept original to the transcription's source key and starts the workflow itself. Reading
the track is a seam between products (docs/architecture.md, "Seams"): only this handler imports
soundcanvas.library; the soundcanvas.listen package never does. Creating and deleting are
soundcanvas.listen.creation's (the track comes in as a record), which GraphQL's createTranscription
and deleteTranscription (functions/core/graphql_api) call too, reading the track themselves.

Re-tabbing (`POST /transcriptions/{id}/tab`) runs here, in this zip function, not in the Listen
container image: the tab solver (soundcanvas.listen.tab) is pure Python and fast enough for a
request, and the Guitar Pro writer (soundcanvas.listen.tab_files) needs only PyGuitarPro, which
requirements.txt adds to what the Common layer provides (no numpy: neither module uses it). The
re-tab itself is soundcanvas.listen.retab's (GraphQL's retabTranscription calls it too), which
imports both modules inside `retab` only (the tab module also on the first tuning a request
parses), so a cold start stays as light as the other API functions' (no numpy, no guitarpro).
"""

from __future__ import annotations

import json
import time
from functools import cache
from typing import Annotated, Any

import botocore.session
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from botocore.config import Config

from soundcanvas.core import api, records, storage
from soundcanvas.core.entitlements import Allowances
from soundcanvas.core.quotas import Quota, QuotaStore
from soundcanvas.core.settings import Settings
from soundcanvas.library.tracks import TrackStore  # the seam: a library track as a transcription's source
from soundcanvas.listen import creation, retab, transcriptions
from soundcanvas.listen import preferences as listen_preferences
from soundcanvas.listen.creation import TranscriptionNotFound
from soundcanvas.listen.retab import RetabRequest
from soundcanvas.listen.transcriptions import TranscriptionConflict, TranscriptionStore

logger = Logger()
aws = botocore.session.Session()  # botocore's own: boto3 adds 20 ms to a cold start (docs/clients.md)
metrics = Metrics()
settings = Settings.from_env(need=("TRANSCRIPTIONS_TABLE_NAME", "TRACKS_TABLE_NAME", "USERS_TABLE_NAME",
                                   "QUOTAS_TABLE_NAME", "LISTEN_STATE_MACHINE_ARN"))
s3 = aws.create_client("s3", region_name=settings.region, config=Config(signature_version="s3v4"))
clock = time.time  # the local stack sets its own clock here
store = TranscriptionStore(settings.transcriptions_table_name, settings.region, host=settings.dynamodb_endpoint,
                           clock=lambda: clock())
tracks = TrackStore(settings.tracks_table_name, settings.region, host=settings.dynamodb_endpoint, clock=lambda: clock())
preferences = listen_preferences.PreferencesStore(settings.users_table_name, settings.region,
                                                   host=settings.dynamodb_endpoint)
quotas = QuotaStore(settings.quotas_table_name, settings.region, host=settings.dynamodb_endpoint)
TRANSCRIPTIONS = Quota("transcriptions", settings.transcription_quota, settings.transcription_quota_window_seconds)
allowances = Allowances.from_settings(settings, clock=lambda: clock())  # the plan's transcriptions a month
RESULT_INLINE_MAX_BYTES = 5 * 1024 * 1024  # a Lambda answer through API Gateway stops at 6 MB; larger: a redirect


@cache
def stepfunctions() -> Any:
    """The Step Functions client, made on first use: only a transcription of a library track needs it."""
    return aws.create_client("stepfunctions", region_name=settings.region)


app = api.resolver()


TranscriptionId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
TranscriptionRequest = creation.transcription_request_model(settings.transcription_upload_max_bytes)
LIMITS = creation.Limits(settings.bucket_name, settings.transcription_upload_max_bytes, settings.upload_expiry_seconds,
                         settings.job_retention_days, settings.transcription_max_seconds)
SPENDING = creation.Spending(quotas, TRANSCRIPTIONS, allowances)


def _owned(transcription_id: str) -> dict[str, Any]:
    return creation.owned_transcription(store, api.caller(app), transcription_id)


def _options(request: Any, base: dict[str, Any]) -> dict[str, Any]:
    """The record's options: what the request gives, else `base`."""
    return creation.options(request, base)


def _defaults(user_id: str) -> dict[str, Any]:
    """Options for what a new transcription's request leaves out: the user's preferred tuning, no capo."""
    preferred = preferences.get(user_id)["guitarTuning"]
    defaults, stale = creation.default_options(preferred)
    if stale:  # a preference saved before the tab module stopped knowing it: not the request's fault
        logger.warning("preferred tuning no longer parses; using standard", extra={"tuning": preferred})
    return defaults


def _key_view(key: Any) -> dict[str, Any] | None:
    if not isinstance(key, dict):
        return None
    return {"tonic": key.get("tonic"), "mode": key.get("mode"), "confidence": key.get("confidence"),
            "alternatives": key.get("alternatives") or []}


def _view(record: dict[str, Any]) -> dict[str, Any]:
    """The public shape of a transcription: what is known so far, and presigned URLs once COMPLETE."""
    bucket, ttl = settings.bucket_name, settings.url_ttl_seconds
    finished = record["status"] == transcriptions.COMPLETE
    outputs = (record.get("outputs") or {}) if finished else {}
    summary = record.get("summary") or {}
    options = record.get("options") or {}
    tuning = options.get("tuning")
    return {
        "transcriptionId": record["transcriptionId"],
        "status": record["status"],
        "stage": record["stage"],
        "progress": int(record["progress"]),
        "source": record["source"],
        "instrument": options.get("instrument"),
        "tuning": tuning,
        "capo": int(options["capo"]) if options.get("capo") is not None else None,
        "durationSeconds": summary.get("durationSeconds"),
        "tempoBpm": summary.get("tempoBpm"),
        "timeSignature": summary.get("timeSignature"),
        "key": _key_view(summary.get("key")),
        "chordCount": summary.get("chordCount"),
        "noteCount": summary.get("noteCount"),
        "midiUrl": storage.presign_get(s3, bucket, outputs.get("midiKey"), ttl),
        "tabUrl": storage.presign_get(s3, bucket, outputs.get("tabKey"), ttl),
        "tabFileUrl": storage.presign_get(s3, bucket, outputs.get("tabFileKey"), ttl,
                                          download_as=f"{record['transcriptionId']}.gp5"),
        "resultUrl": storage.presign_get(s3, bucket, outputs.get("resultKey"), ttl),
        "errorMessage": record.get("errorMessage") or _upload_missed(record),
        "failedStage": record.get("failedStage"),
        "createdAt": record["createdAt"],
        "updatedAt": record["updatedAt"],
        "timings": {k: int(v) for k, v in (record.get("timings") or {}).items()},
    }


def _upload_missed(record: dict[str, Any]) -> str | None:
    """What to tell a client about a transcription whose upload form expired before its audio arrived."""
    return records.upload_missed(record, clock(), awaited="audio", kind="transcription")


# --- transcriptions ------------------------------------------------------------------------------
@app.post("/transcriptions")
def create_transcription(body: TranscriptionRequest | None = None) -> Response[dict[str, Any]]:  # type: ignore[valid-type]
    request = body or TranscriptionRequest()  # type: ignore[operator]
    user_id = api.caller(app)
    options = _options(request, _defaults(user_id))
    if request.trackId is not None:
        return _from_track(user_id, request.trackId, options)
    return _with_upload_form(user_id, request.contentType, options)


def _with_upload_form(user_id: str, content_type: str, options: dict[str, Any]) -> Response[dict[str, Any]]:
    created = creation.create_with_upload(user_id=user_id, content_type=content_type, options=options, s3=s3,
                                          store=store, spending=SPENDING, limits=LIMITS, clock=clock)
    transcription_id = created["transcriptionId"]
    logger.append_keys(transcription_id=transcription_id)
    metrics.add_metric(name="TranscriptionsCreated", unit=MetricUnit.Count, value=1)
    logger.info("transcription created", extra={"options": options, "source": "upload"})
    return Response(201, "application/json", created, headers={"Location": f"/transcriptions/{transcription_id}"})


def _from_track(user_id: str, track_id: str, options: dict[str, Any]) -> Response[dict[str, Any]]:
    """Transcribe a READY library track: copy its kept original to the source key, then start the workflow."""
    track = tracks.get(user_id, track_id)  # the seam, read before the quota: a refusal costs nothing
    created = creation.create_from_track(user_id=user_id, track_id=track_id, track=track, options=options, s3=s3,
                                         store=store, spending=SPENDING, limits=LIMITS,
                                         stepfunctions=stepfunctions(),
                                         state_machine_arn=settings.listen_state_machine_arn)
    transcription_id = created["transcriptionId"]
    logger.append_keys(transcription_id=transcription_id)
    metrics.add_metric(name="TranscriptionsCreated", unit=MetricUnit.Count, value=1)
    logger.info("transcription created", extra={"options": options, "source": "track"})
    return Response(202, "application/json", created, headers={"Location": f"/transcriptions/{transcription_id}"})


@app.get("/transcriptions")
def list_transcriptions(
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
) -> dict[str, Any]:
    items, next_cursor = store.list(api.caller(app), limit=limit, cursor=cursor)
    return {"items": [_view(item) for item in items], "nextCursor": next_cursor}


@app.get("/transcriptions/<transcriptionId>")
def get_transcription(transcriptionId: TranscriptionId) -> dict[str, Any]:
    return _view(_owned(transcriptionId))


def _complete(record: dict[str, Any], what: str) -> dict[str, Any]:
    """The record's outputs; a conflict unless it is COMPLETE."""
    return retab.complete_outputs(record, what)


def _read_json(key: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(s3.get_object(Bucket=settings.bucket_name, Key=key)["Body"].read())
    return data


@app.get("/transcriptions/<transcriptionId>/result")
def get_transcription_result(transcriptionId: TranscriptionId) -> Response[dict[str, Any]]:
    """The whole analysis (result.json); a redirect to it when it is too large to answer inline."""
    outputs = _complete(_owned(transcriptionId), "the result is ready when it is COMPLETE")
    key = str(outputs["resultKey"])
    size = int(s3.head_object(Bucket=settings.bucket_name, Key=key)["ContentLength"])
    if size > RESULT_INLINE_MAX_BYTES:
        url = storage.presign_get(s3, settings.bucket_name, key, settings.url_ttl_seconds)
        return Response(303, "application/json", {"resultUrl": url}, headers={"Location": str(url)})
    return Response(200, "application/json", _read_json(key))


@app.delete("/transcriptions/<transcriptionId>")
def delete_transcription(transcriptionId: TranscriptionId) -> Response[str]:
    logger.append_keys(transcription_id=transcriptionId)
    removed = creation.delete_transcription(store, s3, settings.bucket_name, api.caller(app), transcriptionId)
    logger.info("transcription deleted", extra={"objects_removed": removed})
    return Response(204, "application/json", "")


@app.post("/transcriptions/<transcriptionId>/tab")
def retab_transcription(transcriptionId: TranscriptionId, body: RetabRequest | None = None) -> dict[str, Any]:
    """Place the transcription's notes again for another tuning or capo; the new tab replaces the old one."""
    record = _owned(transcriptionId)
    logger.append_keys(transcription_id=transcriptionId)
    bucket = settings.bucket_name
    done = retab.retab(store=store, s3=s3, bucket=bucket, record=record, request=body or RetabRequest())
    metrics.add_metric(name="TranscriptionsRetabbed", unit=MetricUnit.Count, value=1)
    ttl = settings.url_ttl_seconds
    return {
        "transcriptionId": transcriptionId,
        "tuning": done["options"]["tuning"],
        "capo": done["options"]["capo"],
        "tab": done["tab"],
        "tabUrl": storage.presign_get(s3, bucket, done["tabKey"], ttl),
        "tabFileUrl": storage.presign_get(s3, bucket, done["tabFileKey"], ttl,
                                          download_as=f"{transcriptionId}.gp5"),
    }


# --- errors: mapped to HTTP in one place (soundcanvas.core.api) ---------------------------------------
api.install_error_handlers(app, not_found=(TranscriptionNotFound,), conflict=(TranscriptionConflict,))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, log_event=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return api.resolve(app, event, context)
