"""BlendFailed: every Catch in the Blend workflow lands here. Marks the blend FAILED with the stage
that failed and a message a person can act on (a quality gate no attempt passed names the gate), and
removes every file it wrote. Idempotent: a second call finds it FAILED and only removes leftovers;
a COMPLETE blend (a late failure of a replay) keeps its files."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from soundcanvas.blend import blends
from soundcanvas.blend.steps import BlendRuntime
from soundcanvas.core import failures, storage
from soundcanvas.core.steps import transient_aws_errors

logger = Logger()
metrics = Metrics()
runtime = BlendRuntime.from_env()
RETRY_HINT = "try again with POST /blends"


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    state = event.get("state") or {}
    user_id, blend_id = str(state.get("userId", "")), str(state.get("blendId", ""))
    error = state.get("error") or {}
    if not user_id or not blend_id:
        logger.error("failure without a blend to mark", extra={"error": error.get("Error")})
        return {"marked": False, "reason": "no blend in the workflow state"}
    logger.append_keys(blend_id=blend_id)
    with transient_aws_errors():
        record = runtime.blends.get(user_id, blend_id)
        # This execution's blend: one it claimed, or one still PENDING (its claim itself failed). Another
        # execution's run (a replay's failure) is left alone, and so is a finished blend.
        claimed = record is not None and record.get("claimedBy") == event.get("executionId")
        stage = str(record["stage"]) if record and claimed else "prepare"
        message = failures.describe(error, stage, retry_hint=RETRY_HINT, reference=f"blend {blend_id}")
        mine = record is not None and (claimed or record["status"] == blends.PENDING)
        marked = mine and runtime.blends.fail(user_id, blend_id, stage=stage, message=message)
        removed = 0
        if marked or record is None or (claimed and record["status"] == blends.FAILED):  # a retry: leftovers
            removed = storage.delete_prefix(runtime.s3, runtime.settings.bucket_name, blends.prefix(user_id, blend_id))
    metrics.add_metric(name="BlendsFailed", unit=MetricUnit.Count, value=1)
    logger.warning("blend failed", extra={"stage": stage, "error": error.get("Error"), "error_message": message,
                                          "marked": marked, "objects_removed": removed})
    return {"marked": marked, "blendId": blend_id, "stage": stage, "message": message}
