"""StartJob: the workflow's first step. Claims the job (PENDING -> RUNNING) exactly once.

Input is either the bucket's EventBridge "Object Created" event for an uploaded picture, or
`{"userId", "jobId", "run"}` from the regenerate route. S3 events arrive at least once, so
the claim is a conditional write: a duplicated or replayed event finds the job already
claimed and the workflow ends at once (`claimed: false`) without touching the record.

An upload form is single-use: the first picture that arrives is copied to the job's own key
(`picture.{version}.<ext>`, which no form can write), the claim records that upload's ETag, and the
upload itself is removed. A later post of the same form finds the job claimed: its object is
deleted and nothing else happens, so the picture the job analysed is the one it keeps and shows.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import ValidationError, parse
from aws_lambda_powertools.utilities.parser.models import S3EventNotificationEventBridgeModel
from botocore.exceptions import ClientError

from soundcanvas.core import storage
from soundcanvas.core.steps import transient_aws_errors
from soundcanvas.generation.jobs import PENDING, Upload
from soundcanvas.generation.steps import StepRuntime

logger = Logger()
metrics = Metrics()
runtime = StepRuntime.from_env()


def _target(event: dict[str, Any]) -> tuple[str, str, int | None, str | None]:
    """(userId, jobId, run, reason-if-ignored) from either input shape."""
    if "detail-type" in event:
        try:
            parsed = parse(event=event, model=S3EventNotificationEventBridgeModel)
        except ValidationError as exc:
            return "", "", None, f"not an S3 Object Created event: {exc.errors()[0]['msg']}"
        if parsed.detail.bucket.name != runtime.settings.bucket_name:
            return "", "", None, f"event for another bucket ({parsed.detail.bucket.name})"
        ids = storage.parse_image_key(parsed.detail.object.key)
        if ids is None:
            return "", "", None, f"not a picture upload key: {parsed.detail.object.key}"
        return ids[0], ids[1], None, None
    return str(event["userId"]), str(event["jobId"]), int(event["run"]), None


def _same_etag(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and str(a).strip('"') == str(b).strip('"')


def _delete_if_unchanged(key: str, etag: str) -> None:
    storage.delete_if_unchanged(runtime.s3, runtime.settings.bucket_name, key, etag)


def _copy_upload(key: str, etag: str, picture: str) -> bool:
    """Copy the upload with this ETag to the job's picture key; False if the upload changed or vanished."""
    s3, bucket = runtime.s3, runtime.settings.bucket_name
    try:
        s3.copy_object(Bucket=bucket, Key=picture, CopySource={"Bucket": bucket, "Key": key}, CopySourceIfMatch=etag)
    except ClientError as exc:
        if storage.error_code(exc) in storage.GONE:
            return False
        raise
    return True


def _claim_upload(user_id: str, job_id: str, key: str, etag: str) -> tuple[dict[str, Any] | None, str]:
    """Claim the job for the picture that arrived at `key`; (job, "") or (None, why not)."""
    job = runtime.store.get(user_id, job_id)
    if job is None:
        _delete_if_unchanged(key, etag)
        return None, "no such job (deleted, expired or never created): upload removed"
    if job["status"] != PENDING or job["stage"] != "upload":
        if _same_etag(job.get("uploadEtag"), etag):
            return None, "duplicate event for the claimed upload"
        _delete_if_unchanged(key, etag)
        return None, "the job already has its picture: a later post of its form was removed"
    ext = key.rsplit(".", 1)[-1]
    picture = storage.picture_key(user_id, job_id, storage.object_version(etag), ext)
    if not _copy_upload(key, etag, picture):
        return None, "the upload changed or vanished since this event (the newer one has its own event)"
    upload = Upload(etag=etag.strip('"'), picture_key=picture, retention_days=runtime.settings.job_retention_days)
    claimed = runtime.store.claim(user_id, job_id, upload=upload)
    if claimed is None:  # another event claimed it between our read and our write
        runtime.s3.delete_object(Bucket=runtime.settings.bucket_name, Key=picture)
        return None, "claimed by another event"
    _delete_if_unchanged(key, etag)
    return claimed, ""


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    user_id, job_id, run, ignored = _target(event)
    if ignored:
        logger.warning("event ignored", extra={"reason": ignored})
        return {"claimed": False, "reason": ignored}
    logger.append_keys(job_id=job_id)
    with transient_aws_errors():
        if run is None:
            detail = event["detail"]["object"]
            job, reason = _claim_upload(user_id, job_id, detail["key"], str(detail.get("etag") or ""))
        else:
            job = runtime.store.claim(user_id, job_id, run=run)
            reason = "already started or not pending"
    if job is None:
        logger.info("not claimed: event ignored", extra={"run": run, "reason": reason})
        metrics.add_metric(name="DuplicateStartsIgnored", unit=MetricUnit.Count, value=1)
        return {"claimed": False, "userId": user_id, "jobId": job_id, "reason": reason}
    logger.info("job claimed", extra={"run": int(job["run"])})
    return {
        "claimed": True,
        "userId": user_id,
        "jobId": job_id,
        "run": int(job["run"]),
        "bucket": runtime.settings.bucket_name,
        "imageKey": job["imageKey"],
        "options": job["options"],
    }
