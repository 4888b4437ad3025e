"""Sweeper: on a schedule, marks generations that stopped moving as FAILED, so none stays RUNNING.

A RUNNING job's record changes at every stage; the workflow gives up after 20 minutes and every
task has its own timeout, so a job whose record has not changed for STALLED_AFTER_SECONDS lost
its execution (an execution timeout skips the Catch, an operator stopped it, a bug). It reads
the sparse ByActivity index (only RUNNING jobs are in it), never the whole table, and marks each
stalled job with a conditional write, so a job that finishes at the same moment keeps its result.
"""

from __future__ import annotations

import os
import time
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from soundcanvas.steps import StepRuntime, transient_aws_errors

logger = Logger()
metrics = Metrics()
runtime = StepRuntime.from_env()
clock = time.time  # the local stack sets its own clock here
STALLED_AFTER_SECONDS = int(os.environ.get("STALLED_AFTER_SECONDS", "1800"))


def message(stage: str) -> str:
    minutes = STALLED_AFTER_SECONDS // 60
    return f"the {stage} stage stopped and the job was given up after {minutes} minutes; regenerate to try again"


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    swept = []
    with transient_aws_errors():
        for job in runtime.store.stalled(older_than=clock() - STALLED_AFTER_SECONDS):
            stage = str(job.get("stage") or "analyze")
            if runtime.store.fail(job["userId"], job["jobId"], stage=stage, message=message(stage)):
                logger.warning("stalled job marked FAILED", extra={"job_id": job["jobId"], "stage": stage,
                                                                    "last_update": job["updatedAt"]})
                swept.append(job["jobId"])
    if swept:
        metrics.add_metric(name="StalledJobsFailed", unit=MetricUnit.Count, value=len(swept))
    return {"failed": swept}
