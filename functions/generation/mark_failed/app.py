"""MarkFailed: every Catch in the workflow lands here. Marks the job FAILED with a message a
person can act on, and the stage it failed in. Idempotent; a job already gone is left alone.

Input: the workflow state at the failing step, with the caught error at `$.error`
(`{"Error": <exception class name>, "Cause": <Lambda error JSON>}`).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from soundcanvas.core import failures, storage
from soundcanvas.core.steps import transient_aws_errors
from soundcanvas.generation.steps import StepRuntime

logger = Logger()
metrics = Metrics()
runtime = StepRuntime.from_env()


def _ids(state: dict[str, Any]) -> tuple[str, str] | None:
    job = state.get("job") or {}
    if job.get("jobId") and job.get("userId"):
        return str(job["userId"]), str(job["jobId"])
    if state.get("jobId") and state.get("userId"):  # regenerate input
        return str(state["userId"]), str(state["jobId"])
    key = ((state.get("detail") or {}).get("object") or {}).get("key")  # the raw upload event
    return storage.parse_image_key(key) if key else None


def describe(error: dict[str, Any], stage: str, job_id: str) -> str:
    """Turn a caught Step Functions error into one sentence for the person who made the job."""
    timed_out = error.get("Error") == "States.Timeout"
    hint = "try a shorter durationSeconds, or regenerate to try again" if timed_out else "regenerate to try again"
    return failures.describe(error, stage, retry_hint=hint, reference=f"job {job_id}")


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    ids = _ids(event)
    error = event.get("error") or {}
    if ids is None:
        logger.error("failure without a job to mark", extra={"error": error.get("Error")})
        return {"marked": False, "reason": "no job in the workflow state"}
    user_id, job_id = ids
    logger.append_keys(job_id=job_id)
    with transient_aws_errors():
        job = runtime.store.get(user_id, job_id)
        stage = str(job["stage"]) if job else "analyze"
        message = describe(error, stage, job_id)
        marked = runtime.store.fail(user_id, job_id, stage=stage, message=message)
    metrics.add_metric(name="GenerationsFailed", unit=MetricUnit.Count, value=1)
    logger.warning("job failed", extra={"stage": stage, "error": error.get("Error"), "error_message": message})
    return {"marked": marked, "jobId": job_id, "failedStage": stage, "message": message}
