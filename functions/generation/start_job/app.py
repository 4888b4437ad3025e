"""StartJob: the workflow's first step. Claims the job (PENDING -> RUNNING) exactly once.

Input is either the bucket's EventBridge "Object Created" event for an uploaded picture, or
`{"userId", "jobId", "run"}` from the regenerate route. S3 events arrive at least once, so
the claim is a conditional write: a duplicated or replayed event finds the job already
claimed and the workflow ends at once (`claimed: false`) without touching the record.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import ValidationError, parse
from aws_lambda_powertools.utilities.parser.models import S3EventNotificationEventBridgeModel

from soundcanvas.core import storage
from soundcanvas.core.steps import transient_aws_errors
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


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    user_id, job_id, run, ignored = _target(event)
    if ignored:
        logger.warning("event ignored", extra={"reason": ignored})
        return {"claimed": False, "reason": ignored}
    logger.append_keys(job_id=job_id)
    with transient_aws_errors():
        job = runtime.store.claim(user_id, job_id, run=run)
    if job is None:
        logger.info("job already claimed, finished or gone: duplicate event ignored", extra={"run": run})
        metrics.add_metric(name="DuplicateStartsIgnored", unit=MetricUnit.Count, value=1)
        return {"claimed": False, "userId": user_id, "jobId": job_id, "reason": "already started or not pending"}
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
