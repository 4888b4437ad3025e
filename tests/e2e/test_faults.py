"""Injected faults on the local stack: transient failures are retried, crashes end FAILED with a
message, S3 throttling is absorbed, a job deleted mid-run leaves nothing behind; no job is lost or
left RUNNING, and a duplicated upload event does not double the work."""

from __future__ import annotations

import time
from typing import Any

import pytest

from local_stack.stack import LocalStack
from soundcanvas.core.errors import TransientError
from tests.e2e.conftest import SAMPLE, Client, job_objects, machine_executions, state_attempts

pytestmark = pytest.mark.e2e


def run(client: Client, **options: Any) -> dict[str, Any]:
    job = client.create(durationSeconds=15, **options)
    assert client.upload(job, SAMPLE.read_bytes()).status_code == 204
    return client.wait(job["jobId"])


def attempts(stack: LocalStack, job_id: str, state: str) -> int:
    """How many times the workflow ran a state for this job, from its execution's history (read through
    Step Functions once the execution has ended: the job reads COMPLETE or FAILED a moment before)."""
    executions = [e for e in machine_executions(stack, "GenerationStateMachine")
                  if job_id in stack.client("stepfunctions").describe_execution(executionArn=e["executionArn"])["input"]]
    if not executions:
        raise AssertionError(f"no execution for {job_id}")
    return state_attempts(stack, executions[0]["executionArn"], state)


def test_a_transient_render_failure_is_retried(stack: LocalStack) -> None:
    client = Client(stack, f"retry-{time.monotonic_ns()}")
    stack.functions.fail_next("RenderFunction", TransientError("temporary AWS error (ThrottlingException)"))
    done = run(client)
    assert done["status"] == "COMPLETE" and stack.functions.pending_faults("RenderFunction") == 0
    assert attempts(stack, done["jobId"], "Render") == 2


def test_a_render_crash_fails_the_job_with_a_message(stack: LocalStack) -> None:
    client = Client(stack, f"crash-{time.monotonic_ns()}")
    stack.functions.fail_next("RenderFunction", RuntimeError("segmentation fault in the synthesizer"))
    done = run(client)
    assert done["status"] == "FAILED" and done["failedStage"] == "render"
    assert done["errorMessage"].startswith("internal error in the render stage (RuntimeError); regenerate to try again")
    assert attempts(stack, done["jobId"], "Render") == 1  # not a transient error: not retried
    assert not [k for k in job_objects(stack, client.user, done["jobId"]) if k.startswith("audio/")]
    again = client.session.post(client.url(f"/generations/{done['jobId']}/regenerate"), json={}, timeout=30)
    assert again.status_code == 202 and client.wait(done["jobId"])["status"] == "COMPLETE"


def test_a_persistent_transient_error_ends_failed_not_running(stack: LocalStack) -> None:
    client = Client(stack, f"flaky-{time.monotonic_ns()}")
    stack.functions.fail_next("AnalyzeFunction", TransientError("temporary AWS error (ServiceUnavailable)"), times=5)
    done = run(client)
    assert done["status"] == "FAILED" and done["failedStage"] == "analyze"
    assert "kept hitting a temporary AWS problem" in done["errorMessage"]
    assert attempts(stack, done["jobId"], "Analyze") == 5  # the first try and MaxAttempts (4) retries


def test_s3_throttling_is_absorbed_by_retries(stack: LocalStack) -> None:
    client = Client(stack, f"slow-{time.monotonic_ns()}")
    job = client.create(durationSeconds=15)
    assert client.upload(job, SAMPLE.read_bytes()).status_code == 204
    stack.gateway.throttle_s3(3)  # the workflow's next S3 calls get 503 SlowDown
    assert client.wait(job["jobId"])["status"] == "COMPLETE" and stack.gateway.throttles_pending() == 0


def test_a_job_deleted_mid_run_leaves_nothing(stack: LocalStack) -> None:
    client = Client(stack, f"gone-{time.monotonic_ns()}")
    job = client.create(durationSeconds=60)
    assert client.upload(job, SAMPLE.read_bytes()).status_code == 204
    deadline = time.monotonic() + 60
    while client.get(job["jobId"]).json()["stage"] != "render" and time.monotonic() < deadline:
        time.sleep(0.02)
    assert client.session.delete(client.url(f"/generations/{job['jobId']}"), timeout=30).status_code == 204
    stack.wait_idle(120)
    assert client.get(job["jobId"]).status_code == 404
    assert job_objects(stack, client.user, job["jobId"]) == []  # the render's conditional write failed; it cleaned up
