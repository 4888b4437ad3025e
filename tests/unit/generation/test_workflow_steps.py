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


def upload_event(bucket: str, key: str, etag: str = "345c01198e6e27ca3cfe4e2e9793d8c8") -> dict[str, Any]:
    event = json.loads((EVENTS / "generation" / "start_job.json").read_text())
    event["detail"]["bucket"]["name"] = bucket
    event["detail"]["object"]["key"] = key
    event["detail"]["object"]["etag"] = etag
    event["resources"] = [f"arn:aws:s3:::{bucket}"]
    return event


def post_picture(aws: dict[str, Any], key: str, body: bytes) -> dict[str, Any]:
    """Put a picture where the form would, and return the event S3 sends for it."""
    etag = aws["s3"].put_object(Bucket=aws["bucket"], Key=key, Body=body, ContentType="image/jpeg")["ETag"]
    return upload_event(aws["bucket"], key, etag.strip('"'))


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
    event = post_picture(aws, key, b"first picture")
    first = start.lambda_handler(event, FakeContext())
    picture = first["imageKey"]
    assert first["claimed"] is True and first["jobId"] == "j1" and picture.startswith("images/u1/j1/picture.")
    assert first["options"]["durationSeconds"] == 30
    assert aws["s3"].get_object(Bucket=aws["bucket"], Key=picture)["Body"].read() == b"first picture"
    assert "Contents" not in aws["s3"].list_objects_v2(Bucket=aws["bucket"], Prefix=key)  # the upload is removed
    replay = start.lambda_handler(event, FakeContext())
    assert replay["claimed"] is False and replay["reason"] == "duplicate event for the claimed upload"
    job = store.get("u1", "j1")
    assert job["status"] == "RUNNING" and job["imageKey"] == picture and job["uploadExpiresAt"] is None


def test_a_second_post_of_the_form_is_removed_without_work(aws: dict[str, Any], store: jobs.JobStore) -> None:
    start = load_function("start_job")
    key = make_job(store)
    picture = start.lambda_handler(post_picture(aws, key, b"first picture"), FakeContext())["imageKey"]
    again = start.lambda_handler(post_picture(aws, key, b"another picture"), FakeContext())
    assert again["claimed"] is False and "later post" in again["reason"]
    listed = aws["s3"].list_objects_v2(Bucket=aws["bucket"], Prefix="images/u1/j1/")["Contents"]
    assert [o["Key"] for o in listed] == [picture]  # the re-post is gone; the claimed picture stays
    assert aws["s3"].get_object(Bucket=aws["bucket"], Key=picture)["Body"].read() == b"first picture"
    assert store.get("u1", "j1")["imageKey"] == picture


def test_a_regenerated_job_is_not_claimed_by_a_late_upload(aws: dict[str, Any], store: jobs.JobStore) -> None:
    start = load_function("start_job")
    key = make_job(store)
    start.lambda_handler(post_picture(aws, key, b"first picture"), FakeContext())
    store.fail("u1", "j1", stage="render", message="x")
    store.restart("u1", "j1", options={"mode": "model", "durationSeconds": 15, "seed": 1, "genre": "jazz"})
    late = start.lambda_handler(post_picture(aws, key, b"late picture"), FakeContext())
    assert late["claimed"] is False
    assert store.get("u1", "j1")["status"] == "PENDING"  # still waiting for its regenerate run, not taken over


def test_an_upload_for_a_job_that_is_gone_is_removed(aws: dict[str, Any], store: jobs.JobStore) -> None:
    start = load_function("start_job")
    stray = start.lambda_handler(post_picture(aws, "images/u1/nojob/input.jpg", b"x"), FakeContext())
    assert stray["claimed"] is False and "no such job" in stray["reason"]
    assert "Contents" not in aws["s3"].list_objects_v2(Bucket=aws["bucket"], Prefix="images/u1/nojob/")


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
