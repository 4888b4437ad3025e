"""Generations API: create, read, list, regenerate and delete picture-to-music jobs.

One Powertools resolver serves every /generations route (each declared in template.yaml);
errors become JSON in one place (the exception handlers below). The caller is the Cognito
user in the authorizer's claims; another user's job is always a 404.
"""

from __future__ import annotations

import json
import secrets
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
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ConfigDict, Field

from soundcanvas.core import api, storage
from soundcanvas.core.quotas import Quota, QuotaStore
from soundcanvas.core.settings import Settings
from soundcanvas.generation import creation, jobs
from soundcanvas.generation.creation import GenerationRequest, Genre, Mode
from soundcanvas.generation.genres import MAX_DURATION_SECONDS, MIN_DURATION_SECONDS

logger = Logger()
aws = botocore.session.Session()  # botocore's own: boto3 adds 20 ms to a cold start (docs/clients.md)
metrics = Metrics()
settings = Settings.from_env(need_state_machine=True, need=("QUOTAS_TABLE_NAME",))
s3 = aws.create_client("s3", region_name=settings.region, config=Config(signature_version="s3v4"))
clock = time.time  # the local stack sets its own clock here
store = jobs.JobStore(settings.table_name, settings.region, host=settings.dynamodb_endpoint, clock=lambda: clock())
quotas = QuotaStore(settings.quotas_table_name, settings.region, host=settings.dynamodb_endpoint)
GENERATIONS = Quota("generations", settings.generation_quota, settings.generation_quota_window_seconds)
LIMITS = creation.UploadLimits(settings.bucket_name, settings.upload_max_bytes, settings.upload_expiry_seconds,
                               settings.job_retention_days)


@cache
def stepfunctions() -> Any:
    """The Step Functions client, made on first use: only regenerate needs it."""
    return aws.create_client("stepfunctions", region_name=settings.region)


app = api.resolver()


JobId = Annotated[str, Path(min_length=1, max_length=64)]


class RegenerateRequest(BaseModel):
    """Body of POST /generations/{jobId}/regenerate: unspecified fields keep their values, except seed."""

    model_config = ConfigDict(extra="forbid")
    genre: Genre | None = None
    mode: Mode | None = None
    durationSeconds: int | None = Field(None, ge=MIN_DURATION_SECONDS, le=MAX_DURATION_SECONDS, strict=True)
    seed: int | None = Field(None, ge=0, le=2**31 - 1, strict=True)


class GenerationNotFound(LookupError):
    """The job does not exist for this caller (missing, expired, or someone else's)."""


def _owned_job(job_id: str) -> dict[str, Any]:
    job = store.get(api.caller(app), job_id)
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
        "errorMessage": job.get("errorMessage") or _upload_missed(job),
        "failedStage": job.get("failedStage"),
        "createdAt": job["createdAt"],
        "updatedAt": job["updatedAt"],
        "timings": {k: int(v) for k, v in (job.get("timings") or {}).items()},
    }


def _upload_missed(job: dict[str, Any]) -> str | None:
    """What to tell a client about a job whose upload form expired before its picture arrived."""
    return jobs.upload_missed(job, clock())


@app.post("/generations")
def create_generation(body: GenerationRequest | None = None) -> Response[dict[str, Any]]:
    request = body or GenerationRequest()
    created = creation.create_generation(user_id=api.caller(app), request=request, s3=s3, store=store, quotas=quotas,
                                         quota=GENERATIONS, limits=LIMITS, clock=clock)
    job_id = created.job["jobId"]
    logger.append_keys(job_id=job_id)
    metrics.add_metric(name="GenerationsCreated", unit=MetricUnit.Count, value=1)
    logger.info("generation created", extra={"options": created.job["options"]})
    form = created.form or {}
    upload = {
        "url": form["url"],
        "fields": form["fields"],
        "maxBytes": settings.upload_max_bytes,
        "expiresAt": created.expires_at,
        "contentTypes": [created.content_type],
    }
    return Response(
        201,
        "application/json",
        {"jobId": job_id, "status": created.job["status"], "upload": upload},
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
    items, next_cursor = store.list(api.caller(app), limit=limit, cursor=cursor)
    return {"items": [_view(item) for item in items], "nextCursor": next_cursor}


@app.post("/generations/<jobId>/regenerate")
def regenerate_generation(jobId: JobId, body: RegenerateRequest | None = None) -> Response[dict[str, Any]]:
    job = _owned_job(jobId)
    logger.append_keys(job_id=jobId)
    if job["status"] not in (jobs.COMPLETE, jobs.FAILED):  # checked before the quota: a refusal costs nothing
        raise jobs.JobConflict(jobs.REGENERATE_CONFLICT)
    changes = (body or RegenerateRequest()).model_dump(exclude_none=True)
    options = {**job["options"], **changes}
    if "seed" not in changes:
        options["seed"] = secrets.randbelow(2**31)
    # the conditional restart commits; a lost race, or a run that cannot start, gives the unit back
    with quotas.spend(job["userId"], GENERATIONS):
        restarted = store.restart(job["userId"], jobId, options=options)
        run = int(restarted["run"])
        try:
            stepfunctions().start_execution(
                stateMachineArn=settings.state_machine_arn,
                name=f"{jobId}-run{run}",
                input=json.dumps({"userId": job["userId"], "jobId": jobId, "run": run}),
            )
        except (ClientError, BotoCoreError):  # refused, or no answer: the job is FAILED, not PENDING for good
            store.fail(job["userId"], jobId, stage="analyze", message="the new run could not start; regenerate to try again")
            raise
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


# --- errors: mapped to HTTP in one place (soundcanvas.core.api) ---------------------------------------
api.install_error_handlers(app, not_found=(GenerationNotFound,), conflict=(jobs.JobConflict,))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, log_event=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return api.resolve(app, event, context)
