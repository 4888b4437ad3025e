"""ClaimTranscription: the Listen workflow's first step. Claims the transcription (PENDING -> RUNNING)
exactly once.

Input (`{"event": <the execution's input>, "executionId": $$.Execution.Id}`) is either the bucket's
EventBridge "Object Created" event for `listen/{userId}/{id}/input.<ext>`, or `{"userId", "transcriptionId"}` from
POST /transcriptions {trackId}, whose audio the API already copied to the source key. S3 events
arrive at least once, so the claim is a conditional write: a duplicated or replayed event finds the
record claimed and the workflow ends at once (`claimed: false`); the claim records the execution,
so when Step Functions retries this step after a transient error, the same execution finds its own
claim and carries on.

An upload form is single-use: the first audio that arrives is copied to `source.<ext>` (a key no
form can write, CopySourceIfMatch its ETag), the claim records that ETag, and the upload is removed;
a later post of the same form is deleted without any work.
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
from soundcanvas.listen import transcriptions
from soundcanvas.listen.steps import ListenRuntime

logger = Logger()
metrics = Metrics()
runtime = ListenRuntime.from_env()


def _target(event: dict[str, Any]) -> tuple[str, str, str | None, str | None] | str:
    """(userId, transcriptionId, upload key, etag) from either input shape, or why it is not ours."""
    if "detail-type" not in event:
        return str(event.get("userId", "")), str(event.get("transcriptionId", "")), None, None
    try:
        parsed = parse(event=event, model=S3EventNotificationEventBridgeModel)
    except ValidationError as exc:
        return f"not an S3 Object Created event: {exc.errors()[0]['msg']}"
    if parsed.detail.bucket.name != runtime.settings.bucket_name:
        return f"event for another bucket ({parsed.detail.bucket.name})"
    key = parsed.detail.object.key
    ids = transcriptions.parse_input_key(key)
    if ids is None:
        return f"not a Listen upload key: {key}"
    return ids[0], ids[1], key, str(event["detail"]["object"].get("etag") or "")


def _resumed(record: dict[str, Any] | None, execution_id: str | None) -> bool:
    """True when this execution claimed the record before and Step Functions retried the step."""
    return bool(record and execution_id and record.get("claimedBy") == execution_id
                and record["status"] == transcriptions.RUNNING)


def _claim_upload(user_id: str, transcription_id: str, key: str, etag: str,
                  execution_id: str | None) -> tuple[dict[str, Any] | None, str]:
    s3, bucket = runtime.s3, runtime.settings.bucket_name
    record = runtime.store.get(user_id, transcription_id)
    if _resumed(record, execution_id):
        storage.delete_if_unchanged(s3, bucket, key, etag)
        return record, ""
    if record is None:
        storage.delete_if_unchanged(s3, bucket, key, etag)
        return None, "no such transcription (deleted, expired or never created): upload removed"
    if record["status"] != transcriptions.PENDING or record["source"].get("kind") != "upload":
        if (record.get("uploadEtag") or "") == etag.strip('"'):
            return None, "duplicate event for the claimed upload"
        storage.delete_if_unchanged(s3, bucket, key, etag)
        return None, "the transcription already has its audio: a later post of its form was removed"
    source = transcriptions.source_key(user_id, transcription_id, key.rsplit(".", 1)[-1])
    try:
        s3.copy_object(Bucket=bucket, Key=source, CopySource={"Bucket": bucket, "Key": key}, CopySourceIfMatch=etag)
    except ClientError as exc:
        if storage.error_code(exc) in storage.GONE:
            return None, "the upload changed or vanished since this event (a newer one has its own event)"
        raise
    claimed = runtime.store.claim(user_id, transcription_id, source_key=source, upload_etag=etag.strip('"'),
                                  retention_days=runtime.settings.job_retention_days, execution_id=execution_id)
    if claimed is None:
        return None, "claimed by another event"
    storage.delete_if_unchanged(s3, bucket, key, etag)
    return claimed, ""


def _claim_track_copy(user_id: str, transcription_id: str,
                      execution_id: str | None) -> tuple[dict[str, Any] | None, str]:
    record = runtime.store.get(user_id, transcription_id)
    if _resumed(record, execution_id):
        return record, ""
    if record is None or record["status"] != transcriptions.PENDING or not record.get("sourceKey"):
        return None, "already started, finished or deleted"
    claimed = runtime.store.claim(user_id, transcription_id, source_key=str(record["sourceKey"]),
                                  retention_days=runtime.settings.job_retention_days, execution_id=execution_id)
    return claimed, "claimed by another execution"


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def lambda_handler(payload: dict[str, Any], context: Any) -> dict[str, Any]:
    target = _target(payload.get("event", payload))
    execution_id = payload.get("executionId")
    if isinstance(target, str):
        logger.warning("event ignored", extra={"reason": target})
        return {"claimed": False, "reason": target}
    user_id, transcription_id, key, etag = target
    logger.append_keys(transcription_id=transcription_id)
    with transient_aws_errors():
        if key is not None:
            record, reason = _claim_upload(user_id, transcription_id, key, etag or "", execution_id)
        else:
            record, reason = _claim_track_copy(user_id, transcription_id, execution_id)
    if record is None:
        logger.info("not claimed", extra={"reason": reason})
        metrics.add_metric(name="DuplicateStartsIgnored", unit=MetricUnit.Count, value=1)
        return {"claimed": False, "userId": user_id, "transcriptionId": transcription_id, "reason": reason}
    logger.info("transcription claimed")
    return {
        "claimed": True,
        "userId": user_id,
        "transcriptionId": transcription_id,
        "bucket": runtime.settings.bucket_name,
        "sourceKey": record["sourceKey"],
        "options": record["options"],
    }
