"""StartJob and MarkFailed handlers against moto: exactly-once claims and actionable failures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from soundcanvas.core.errors import TransientError
from soundcanvas.core.steps import transient_aws_errors
from soundcanvas.generation import jobs
from tests.conftest import FakeContext, load_function

EVENTS = Path(__file__).resolve().parents[3] / "events"


def upload_event(bucket: str, key: str) -> dict[str, Any]:
    event = json.loads((EVENTS / "generation" / "start_job.json").read_text())
    event["detail"]["bucket"]["name"] = bucket
    event["detail"]["object"]["key"] = key
    event["resources"] = [f"arn:aws:s3:::{bucket}"]
    return event


@pytest.fixture
def store(aws: dict[str, Any]) -> jobs.JobStore:
    return jobs.JobStore(aws["table"], "us-east-1")


def make_job(store: jobs.JobStore, user: str = "u1", job: str = "j1") -> str:
    key = f"images/{user}/{job}/input.jpg"
    store.create(user, job, options={"mode": "heuristic", "durationSeconds": 30, "seed": 3, "genre": None},
                 image_key=key, content_type="image/jpeg", retention_days=30)
    return key


def test_upload_event_claims_once(aws: dict[str, Any], store: jobs.JobStore) -> None:
    start = load_function("start_job")
    key = make_job(store)
    first = start.lambda_handler(upload_event(aws["bucket"], key), FakeContext())
    assert first["claimed"] is True and first["jobId"] == "j1" and first["imageKey"] == key
    assert first["options"]["durationSeconds"] == 30
    replay = start.lambda_handler(upload_event(aws["bucket"], key), FakeContext())
    assert replay["claimed"] is False
    assert store.get("u1", "j1")["status"] == "RUNNING"


@pytest.mark.parametrize(
    ("bucket", "key", "reason"),
    [
        ("other-bucket", "images/u1/j1/input.jpg", "another bucket"),
        (None, "images/u1/j1/features.json", "not a picture upload key"),
        (None, "images/u1/input.jpg", "not a picture upload key"),
    ],
)
def test_foreign_events_are_ignored(aws: dict[str, Any], store: jobs.JobStore, bucket: str | None, key: str,
                                    reason: str) -> None:
    start = load_function("start_job")
    make_job(store)
    result = start.lambda_handler(upload_event(bucket or aws["bucket"], key), FakeContext())
    assert result["claimed"] is False and reason in result["reason"]
    assert store.get("u1", "j1")["status"] == "PENDING"


def test_regenerate_input_claims_only_its_run(aws: dict[str, Any], store: jobs.JobStore) -> None:
    start = load_function("start_job")
    make_job(store)
    store.claim("u1", "j1")
    store.fail("u1", "j1", stage="render", message="x")
    store.restart("u1", "j1", options={"mode": "model", "durationSeconds": 15, "seed": 1, "genre": "jazz"})
    assert start.lambda_handler({"userId": "u1", "jobId": "j1", "run": 0}, FakeContext())["claimed"] is False
    claimed = start.lambda_handler({"userId": "u1", "jobId": "j1", "run": 1}, FakeContext())
    assert claimed["claimed"] is True and claimed["run"] == 1 and claimed["options"]["genre"] == "jazz"


def lambda_error(error_type: str, message: str) -> dict[str, str]:
    return {"Error": error_type, "Cause": json.dumps({"errorMessage": message, "errorType": error_type,
                                                       "stackTrace": ["..."]})}


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (lambda_error("ImageRejected", "not a supported image: got PDF data"), "not a supported image: got PDF data"),
        ({"Error": "States.Timeout", "Cause": ""}, "the analyze stage did not finish in time"),
        (lambda_error("TransientError", "temporary AWS error (SlowDown)"), "temporary AWS problem"),
        (lambda_error("KeyError", "'job'"), "internal error in the analyze stage (KeyError)"),
    ],
)
def test_mark_failed_writes_an_actionable_message(aws: dict[str, Any], store: jobs.JobStore,
                                                  error: dict[str, str], expected: str) -> None:
    mark = load_function("mark_failed")
    make_job(store)
    store.claim("u1", "j1")
    result = mark.lambda_handler({"job": {"userId": "u1", "jobId": "j1"}, "error": error}, FakeContext())
    assert result["marked"] is True
    job = store.get("u1", "j1")
    assert job["status"] == "FAILED" and job["failedStage"] == "analyze"
    assert expected in job["errorMessage"]
    assert "Traceback" not in job["errorMessage"] and "stackTrace" not in job["errorMessage"]


def test_mark_failed_finds_the_job_from_the_raw_upload_event(aws: dict[str, Any], store: jobs.JobStore) -> None:
    mark = load_function("mark_failed")
    key = make_job(store)
    state = {**upload_event(aws["bucket"], key), "error": lambda_error("TransientError", "throttled")}
    assert mark.lambda_handler(state, FakeContext())["marked"] is True
    assert store.get("u1", "j1")["status"] == "FAILED"


def test_mark_failed_leaves_finished_and_deleted_jobs_alone(aws: dict[str, Any], store: jobs.JobStore) -> None:
    mark = load_function("mark_failed")
    make_job(store)
    store.claim("u1", "j1")
    store.advance("u1", "j1", finished="render", elapsed_ms=1, next_stage="done")
    error = lambda_error("RenderFailed", "x")
    assert mark.lambda_handler({"job": {"userId": "u1", "jobId": "j1"}, "error": error}, FakeContext())["marked"] is False
    assert store.get("u1", "j1")["status"] == "COMPLETE"
    gone = mark.lambda_handler({"job": {"userId": "u1", "jobId": "nope"}, "error": error}, FakeContext())
    assert gone["marked"] is False and store.get("u1", "nope") is None


@pytest.mark.parametrize(("code", "transient"), [("SlowDown", True), ("ThrottlingException", True),
                                                 ("AccessDenied", False), ("NoSuchKey", False)])
def test_transient_aws_errors_are_retryable_and_others_are_not(code: str, transient: bool) -> None:
    error = ClientError({"Error": {"Code": code, "Message": "m"}}, "GetObject")
    with pytest.raises(TransientError if transient else ClientError), transient_aws_errors():
        raise error
