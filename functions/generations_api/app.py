"""Generations API: create, read, list, regenerate and delete picture-to-music jobs.

One Powertools resolver serves every /generations route (each declared in template.yaml);
errors become JSON in one place (the exception handlers below). The caller is the Cognito
user in the authorizer's claims; another user's job is always a 404.
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
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError, UnauthorizedError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from botocore.config import Config
from pydantic import BaseModel, ConfigDict, Field

from soundcanvas import jobs, storage
from soundcanvas.genres import DEFAULT_DURATION_SECONDS, GENRE_NAMES, MAX_DURATION_SECONDS, MIN_DURATION_SECONDS
from soundcanvas.settings import Settings

logger = Logger()
metrics = Metrics()
settings = Settings.from_env(need_state_machine=True)
s3 = boto3.client("s3", region_name=settings.region, config=Config(signature_version="s3v4"))
store = jobs.JobStore(settings.table_name, settings.region, host=settings.dynamodb_endpoint)


@cache
def stepfunctions() -> Any:
    """The Step Functions client, made on first use: only regenerate needs it."""
    return boto3.client("stepfunctions", region_name=settings.region)


app = APIGatewayRestResolver(
    enable_validation=True,
    cors=CORSConfig(allow_origin="*", allow_headers=["Authorization", "Content-Type"], max_age=600),
)



Genre = Literal[GENRE_NAMES]  # type: ignore[valid-type]
Mode = Literal["heuristic", "model"]
ContentType = Literal[tuple(storage.IMAGE_CONTENT_TYPES)]  # type: ignore[valid-type]
JobId = Annotated[str, Path(min_length=1, max_length=64)]


class GenerationRequest(BaseModel):
    """Body of POST /generations."""

    model_config = ConfigDict(extra="forbid")
    genre: Genre | None = None
    mode: Mode = "heuristic"
    durationSeconds: int = Field(DEFAULT_DURATION_SECONDS, ge=MIN_DURATION_SECONDS, le=MAX_DURATION_SECONDS)
    seed: int | None = Field(None, ge=0, le=2**31 - 1)
    contentType: ContentType = "image/jpeg"


class RegenerateRequest(BaseModel):
    """Body of POST /generations/{jobId}/regenerate: unspecified fields keep their values, except seed."""

    model_config = ConfigDict(extra="forbid")
    genre: Genre | None = None
    mode: Mode | None = None
    durationSeconds: int | None = Field(None, ge=MIN_DURATION_SECONDS, le=MAX_DURATION_SECONDS)
    seed: int | None = Field(None, ge=0, le=2**31 - 1)


class GenerationNotFound(LookupError):
    """The job does not exist for this caller (missing, expired, or someone else's)."""


def _caller() -> str:
    claims = app.current_event.request_context.authorizer.claims or {}
    user_id = claims.get("sub")
    if not user_id:
        raise UnauthorizedError("no authenticated user")
    return str(user_id)


def _owned_job(job_id: str) -> dict[str, Any]:
    job = store.get(_caller(), job_id)
    if job is None:
        raise GenerationNotFound(f"generation {job_id} not found")
    return job


def _view(job: dict[str, Any]) -> dict[str, Any]:
    """The public shape of a job: presigned URLs instead of keys."""
    bucket, ttl = settings.bucket_name, settings.url_ttl_seconds
    finished = job["status"] == jobs.COMPLETE
    params = job.get("params") or {}
    return {
        "jobId": job["jobId"],
        "status": job["status"],
        "stage": job["stage"],
        "progress": int(job["progress"]),
        "options": job["options"],
        "params": params or None,
        "imageUrl": storage.presign_get(s3, bucket, job["imageKey"], ttl) if job["stage"] != "upload" else None,
        "midiUrl": storage.presign_get(s3, bucket, job.get("midiKey"), ttl) if finished else None,
        "audioUrl": storage.presign_get(s3, bucket, job.get("audioKey"), ttl) if finished else None,
        "previewUrl": storage.presign_get(s3, bucket, job.get("previewKey"), ttl) if finished else None,
        "errorMessage": job.get("errorMessage"),
        "failedStage": job.get("failedStage"),
        "createdAt": job["createdAt"],
        "updatedAt": job["updatedAt"],
        "timings": {k: int(v) for k, v in (job.get("timings") or {}).items()},
    }


@app.post("/generations")
def create_generation(body: GenerationRequest | None = None) -> Response[dict[str, Any]]:
    request = body or GenerationRequest()
    user_id = _caller()
    job_id = uuid.uuid4().hex
    logger.append_keys(job_id=job_id)
    options = request.model_dump(exclude={"contentType"})
    options["seed"] = request.seed if request.seed is not None else secrets.randbelow(2**31)
    key = storage.image_key(user_id, job_id, request.contentType)
    expires_in = settings.upload_expiry_seconds
    form = s3.generate_presigned_post(
        Bucket=settings.bucket_name,
        Key=key,
        Fields={"Content-Type": request.contentType},
        Conditions=[
            {"Content-Type": request.contentType},
            ["content-length-range", 1, settings.upload_max_bytes],
        ],
        ExpiresIn=expires_in,
    )
    job = store.create(
        user_id,
        job_id,
        options=options,
        image_key=key,
        content_type=request.contentType,
        retention_days=settings.job_retention_days,
    )
    metrics.add_metric(name="GenerationsCreated", unit=MetricUnit.Count, value=1)
    logger.info("generation created", extra={"options": options})
    upload = {
        "url": form["url"],
        "fields": form["fields"],
        "maxBytes": settings.upload_max_bytes,
        "expiresAt": int(time.time()) + expires_in,
        "contentTypes": [request.contentType],
    }
    return Response(
        201,
        "application/json",
        {"jobId": job_id, "status": job["status"], "upload": upload},
        headers={"Location": f"/generations/{job_id}"},
    )


@app.get("/generations/<jobId>")
def get_generation(jobId: JobId) -> dict[str, Any]:
    return _view(_owned_job(jobId))


@app.get("/generations")
def list_generations(
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
) -> dict[str, Any]:
    items, next_cursor = store.list(_caller(), limit=limit, cursor=cursor)
    return {"items": [_view(item) for item in items], "nextCursor": next_cursor}


@app.post("/generations/<jobId>/regenerate")
def regenerate_generation(jobId: JobId, body: RegenerateRequest | None = None) -> Response[dict[str, Any]]:
    job = _owned_job(jobId)
    logger.append_keys(job_id=jobId)
    changes = (body or RegenerateRequest()).model_dump(exclude_none=True)
    options = {**job["options"], **changes}
    if "seed" not in changes:
        options["seed"] = secrets.randbelow(2**31)
    restarted = store.restart(job["userId"], jobId, options=options)
    run = int(restarted["run"])
    stepfunctions().start_execution(
        stateMachineArn=settings.state_machine_arn,
        name=f"{jobId}-run{run}",
        input=json.dumps({"userId": job["userId"], "jobId": jobId, "run": run}),
    )
    metrics.add_metric(name="GenerationsRegenerated", unit=MetricUnit.Count, value=1)
    return Response(202, "application/json", {"jobId": jobId, "status": jobs.PENDING, "run": run})


@app.delete("/generations/<jobId>")
def delete_generation(jobId: JobId) -> Response[str]:
    job = _owned_job(jobId)
    logger.append_keys(job_id=jobId)
    store.delete(job["userId"], jobId)
    removed = storage.delete_job_objects(s3, settings.bucket_name, job["userId"], jobId)
    logger.info("generation deleted", extra={"objects_removed": removed})
    return Response(204, "application/json", "")


# --- errors: mapped to HTTP in one place ---------------------------------------------------------
def _error(status: int, message: str, **extra: Any) -> Response:
    return Response(status, "application/json", json.dumps({"message": message, **extra}))


NOT_JSON = "send the request body as JSON with the header Content-Type: application/json"


def _body_is_not_json() -> bool:
    event = app.current_event
    content_type = event.headers.get("content-type") or ""  # Powertools' headers are case-insensitive
    media_type = content_type.split(";")[0].strip().lower()
    return bool(event.body) and bool(media_type) and not media_type.endswith("json")


@app.exception_handler(RequestUnsupportedContentType)
def _unsupported_content_type(exc: RequestUnsupportedContentType | None = None) -> Response:
    return _error(415, NOT_JSON, errors=[{"field": "Content-Type", "message": NOT_JSON}])


@app.exception_handler(RequestValidationError)
def _invalid_request(exc: RequestValidationError) -> Response:
    if _body_is_not_json():  # e.g. curl -d without the header: the body was read as a form
        return _unsupported_content_type()
    errors = []
    for err in exc.errors():
        loc = [str(part) for part in err.get("loc", ()) if part not in ("body", "query", "path")]
        field = ".".join(loc) or "body"
        if err.get("type") == "json_invalid":
            field, text = "body", "is not valid JSON"
        else:
            text = err.get("msg", "is invalid")
        errors.append({"field": field, "message": text})
    summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    return _error(400, f"invalid request: {summary}", errors=errors)


@app.exception_handler(jobs.InvalidCursor)
def _bad_cursor(exc: jobs.InvalidCursor) -> Response:
    return _error(400, f"invalid request: cursor: {exc}", errors=[{"field": "cursor", "message": str(exc)}])


@app.exception_handler(GenerationNotFound)
def _not_found(exc: GenerationNotFound) -> Response:
    return _error(404, str(exc))


@app.exception_handler(jobs.JobConflict)
def _conflict(exc: jobs.JobConflict) -> Response:
    return _error(409, str(exc))


@app.not_found
def _no_route(exc: NotFoundError) -> Response:
    return _error(404, "no such route")


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, log_event=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
