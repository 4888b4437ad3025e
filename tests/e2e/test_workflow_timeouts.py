"""Task timeouts on the engine: the real definition, with one task's TimeoutSeconds shortened to
1 s, run by Step Functions on the local stack with the real handlers; the task overruns (a stalled
invocation) and the workflow catches States.Timeout into its failure task, which marks the job or
track FAILED. TimeoutSeconds is never scaled by time_scale, so this is the deployed behaviour."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from local_stack.stack import LocalStack
from tests.audiogen import tagged_flac
from tests.e2e.conftest import SAMPLE, Client

pytestmark = pytest.mark.e2e
STALL_SECONDS = 3  # the stalled task's call lasts this long, its TimeoutSeconds is 1


def shortened(stack: LocalStack, machine: str, task: str | None) -> str:
    """A copy of a template state machine whose `task` (or, with None, whole execution) times out after 1 s,
    created through Step Functions."""
    definition = json.loads(json.dumps(stack.template.state_machines[machine]["definition"]))
    (definition["States"][task] if task else definition)["TimeoutSeconds"] = 1
    created = stack.client("stepfunctions").create_state_machine(
        name=f"{machine}-{task or 'execution'}-timeout-{uuid.uuid4().hex[:8]}", definition=json.dumps(definition),
        roleArn="arn:aws:iam::000000000000:role/local")
    return str(created["stateMachineArn"])


def object_created(stack: LocalStack, key: str, size: int) -> dict[str, Any]:
    """The EventBridge event S3 sends for a new object (the rule's target receives it as input)."""
    event = json.loads((SAMPLE.parent.parent / "start_job.json").read_text())
    event["detail"]["bucket"]["name"] = stack.template.names["MediaBucket"]
    event["detail"]["object"].update({"key": key, "size": size})
    return event


def put_quietly(stack: LocalStack, key: str, body: bytes) -> None:
    """Store an upload without delivering its event: the test starts its own execution with it."""
    stack.deliver_events = False
    try:
        stack.client("s3").put_object(Bucket=stack.template.names["MediaBucket"], Key=key, Body=body)
    finally:
        stack.deliver_events = True


def entered_input(history: list[dict[str, Any]], state: str) -> dict[str, Any]:
    """The input of the state's first entry in an execution's history."""
    for event in history:
        details = event.get("stateEnteredEventDetails") or {}
        if details.get("name") == state:
            return dict(json.loads(details["input"]))
    raise AssertionError(f"the execution never entered {state}")


def run_with_stall(stack: LocalStack, machine_arn: str, function: str, event: dict[str, Any]) -> list[dict[str, Any]]:
    stack.functions.delay_next(function, STALL_SECONDS)
    started = time.monotonic()
    arn = stack.start_execution(machine_arn, json.dumps(event))
    result = stack.execution(arn, timeout=60)
    assert result["status"] == "FAILED"
    assert time.monotonic() - started < 30
    return stack.history(arn)


def test_an_overrunning_analyze_is_caught_into_mark_failed(stack: LocalStack) -> None:
    client = Client(stack, f"timeout-{time.monotonic_ns()}")
    job = client.create(durationSeconds=15)
    key = job["upload"]["fields"]["key"]
    put_quietly(stack, key, SAMPLE.read_bytes())

    history = run_with_stall(stack, shortened(stack, "GenerationStateMachine", "Analyze"), "AnalyzeFunction",
                             object_created(stack, key, SAMPLE.stat().st_size))

    assert entered_input(history, "MarkFailed")["error"]["Error"] == "States.Timeout"
    assert history[-1]["type"] == "ExecutionFailed"
    assert history[-1]["executionFailedEventDetails"]["error"] == "GenerationFailed"
    assert client.get(job["jobId"]).json()["status"] == "FAILED"


def test_an_overrunning_transcode_is_caught_into_track_failed(stack: LocalStack, tmp_path: Path) -> None:
    client = Client(stack, f"timeout-{time.monotonic_ns()}")
    data = tagged_flac(tmp_path / "take.flac", 2.0).read_bytes()
    forms = client.session.post(client.url("/tracks/uploads"), timeout=30, json={"files": [
        {"fileName": "take.flac", "contentType": "audio/flac", "sizeBytes": len(data)}]})
    assert forms.status_code == 201, forms.text
    (item,) = forms.json()["files"]
    key = item["upload"]["fields"]["key"]
    put_quietly(stack, key, data)

    history = run_with_stall(stack, shortened(stack, "TrackStateMachine", "TranscodeTrack"), "TranscodeTrackFunction",
                             object_created(stack, key, len(data)))

    assert entered_input(history, "TrackFailed")["error"]["Error"] == "States.Timeout"
    assert history[-1]["type"] == "ExecutionFailed"
    assert client.session.get(client.url(f"/tracks/{item['trackId']}"), timeout=30).json()["status"] == "FAILED"


def test_an_execution_past_the_machines_timeout_ends_timed_out(stack: LocalStack) -> None:
    client = Client(stack, f"timeout-{time.monotonic_ns()}")
    job = client.create(durationSeconds=15)
    key = job["upload"]["fields"]["key"]
    put_quietly(stack, key, SAMPLE.read_bytes())
    machine_arn = shortened(stack, "GenerationStateMachine", None)  # Analyze's own TimeoutSeconds (60) is not reached
    stack.functions.delay_next("AnalyzeFunction", STALL_SECONDS)

    arn = stack.start_execution(machine_arn, json.dumps(object_created(stack, key, SAMPLE.stat().st_size)))

    assert stack.execution(arn, timeout=60)["status"] == "TIMED_OUT"
