"""TranscriptionFailed: every Catch in the Listen workflow lands here. Marks the transcription FAILED
with the stage that failed and a message a person can act on, and removes everything it wrote but
the source audio (kept so the record can show what was sent; it expires with the record).
Idempotent: a second call finds the record already FAILED and only removes leftovers.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from soundcanvas.core import failures, storage
from soundcanvas.core.steps import transient_aws_errors
from soundcanvas.listen import transcriptions
from soundcanvas.listen.steps import ListenRuntime

logger = Logger()
metrics = Metrics()
runtime = ListenRuntime.from_env()
RETRY_HINT = "try again with POST /transcriptions"


def _target(state: dict[str, Any]) -> tuple[str, str] | None:
    """(userId, transcriptionId) from the claim's result, or from the execution's raw input."""
    job = state.get("job") or {}
    if job.get("transcriptionId"):
        return str(job["userId"]), str(job["transcriptionId"])
    key = ((state.get("detail") or {}).get("object") or {}).get("key")
    ids = transcriptions.parse_input_key(str(key)) if key else None
    if ids:
        return ids[0], ids[1]
    if state.get("userId") and state.get("transcriptionId"):
        return str(state["userId"]), str(state["transcriptionId"])
    return None


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    target = _target(event)
    error = event.get("error") or {}
    if target is None:
        logger.error("failure without a transcription to mark", extra={"error": error.get("Error")})
        return {"marked": False, "reason": "no transcription in the workflow state"}
    user_id, transcription_id = target
    logger.append_keys(transcription_id=transcription_id)
    claimed = bool((event.get("job") or {}).get("claimed"))
    with transient_aws_errors():
        record = runtime.store.get(user_id, transcription_id)
        stage = str(record["stage"]) if record and claimed else "claim"
        message = failures.describe(error, stage, retry_hint=RETRY_HINT, reference=f"transcription {transcription_id}")
        # An execution whose claim failed may be a duplicate event's: it fails the transcription only while no
        # other execution has claimed it. A COMPLETE or FAILED one keeps its files; only a record this failure
        # marked, or none at all, has its objects removed.
        marked = bool(record) and runtime.store.fail(user_id, transcription_id, stage=stage, message=message,
                                                     only_pending=not claimed)
        removed = 0
        if marked or record is None:
            keep = frozenset({str(record["sourceKey"])}) if record and record.get("sourceKey") else frozenset()
            removed = storage.delete_prefix(runtime.s3, runtime.settings.bucket_name,
                                            transcriptions.prefix(user_id, transcription_id), keep=keep)
    metrics.add_metric(name="TranscriptionsFailed", unit=MetricUnit.Count, value=1)
    logger.warning("transcription failed", extra={"stage": stage, "error": error.get("Error"),
                                                  "error_message": message, "marked": marked,
                                                  "objects_removed": removed})
    return {"marked": marked, "transcriptionId": transcription_id, "stage": stage, "message": message}
