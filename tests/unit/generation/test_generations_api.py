"""The Generations API handler against moto: validation, identity, presigned forms, lifecycle."""

from __future__ import annotations

import base64
import json
from typing import Any
from unittest import mock

import pytest
from botocore.exceptions import EndpointConnectionError

from soundcanvas.generation import jobs
from tests.apigw import call, event
from tests.conftest import FakeContext, load_function


@pytest.fixture
def api(aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Any:
    module = load_function("generations_api")
    monkeypatch.setattr(module, "stepfunctions", mock.Mock())
    return module


def create(api: Any, user: str = "alice", **body: Any) -> dict[str, Any]:
    status, payload = call(api, event("POST", "/generations", user=user, body=body))
    assert status == 201, payload
    return payload


def job_path(job_id: str, suffix: str = "") -> dict[str, Any]:
    return {"path": f"/generations/{job_id}{suffix}", "resource": f"/generations/{{jobId}}{suffix}",
            "path_params": {"jobId": job_id}}


def test_create_returns_a_pending_job_and_an_enforcing_upload_form(api: Any, aws: dict[str, Any]) -> None:
    payload = create(api, genre="lofi", durationSeconds=30, contentType="image/png")
    assert payload["status"] == "PENDING"
    upload = payload["upload"]
    assert upload["fields"]["key"] == f"images/alice/{payload['jobId']}/input.png"
    assert upload["maxBytes"] == 20 * 1024 * 1024 and upload["contentTypes"] == ["image/png"]
    policy = json.loads(base64.b64decode(upload["fields"]["policy"]))
    assert ["content-length-range", 1, 20 * 1024 * 1024] in policy["conditions"]
    assert {"Content-Type": "image/png"} in policy["conditions"]
    store = jobs.JobStore(aws["table"], "us-east-1")
    record = store.get("alice", payload["jobId"])
    assert record["options"]["genre"] == "lofi" and record["options"]["durationSeconds"] == 30
    assert isinstance(record["options"]["seed"], int)


def test_create_with_no_body_uses_defaults(api: Any, aws: dict[str, Any]) -> None:
    status, payload = call(api, event("POST", "/generations", body=None))
    assert status == 201
    record = jobs.JobStore(aws["table"], "us-east-1").get("alice", payload["jobId"])
    assert record["options"]["durationSeconds"] == 60 and record["options"]["mode"] == "heuristic"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"genre": "polka"}, "genre"),
        ({"durationSeconds": 5}, "durationSeconds"),
        ({"durationSeconds": 301}, "durationSeconds"),
        ({"durationSeconds": "long"}, "durationSeconds"),
        ({"mode": "neural"}, "mode"),
        ({"seed": -1}, "seed"),
        ({"contentType": "application/pdf"}, "contentType"),
        ({"colour": "red"}, "colour"),
        ("{not json", "body"),
        ("[1, 2]", "body"),
    ],
)
def test_bad_create_requests_are_400_naming_the_field(api: Any, body: Any, field: str) -> None:
    status, payload = call(api, event("POST", "/generations", body=body))
    assert status == 400
    assert [e["field"] for e in payload["errors"]] == [field]
    assert field in payload["message"]


def test_requests_without_a_user_are_401(api: Any) -> None:
    status, payload = call(api, event("POST", "/generations", user=None, body={}))
    assert status == 401 and payload["message"]


def test_get_own_job_and_404_for_others(api: Any) -> None:
    job_id = create(api)["jobId"]
    status, payload = call(api, event("GET", user="alice", **job_path(job_id)))
    assert status == 200
    assert payload["status"] == "PENDING" and payload["audioUrl"] is None and payload["progress"] == 0
    status, payload = call(api, event("GET", user="mallory", **job_path(job_id)))
    assert status == 404 and "not found" in payload["message"]
    status, _ = call(api, event("GET", **job_path("0" * 32)))
    assert status == 404


def test_complete_job_has_presigned_urls(api: Any, aws: dict[str, Any]) -> None:
    job_id = create(api)["jobId"]
    store = jobs.JobStore(aws["table"], "us-east-1")
    store.claim("alice", job_id)
    store.advance("alice", job_id, finished="render", elapsed_ms=1, next_stage="done",
                  audioKey=f"audio/alice/{job_id}/output.wav", previewKey=f"audio/alice/{job_id}/preview.mp3",
                  midiKey=f"midi/alice/{job_id}/composition.mid")
    _, payload = call(api, event("GET", **job_path(job_id)))
    assert payload["status"] == "COMPLETE" and payload["progress"] == 100
    for field in ("audioUrl", "previewUrl", "midiUrl", "imageUrl"):
        assert "X-Amz-Signature" in payload[field] and "X-Amz-Expires=300" in payload[field]


def test_list_is_the_callers_newest_first_with_a_cursor(api: Any) -> None:
    mine = [create(api)["jobId"] for _ in range(3)]
    create(api, user="bob")
    status, page = call(api, event("GET", "/generations", query={"limit": "2"}))
    assert status == 200 and len(page["items"]) == 2 and page["nextCursor"]
    status, rest = call(api, event("GET", "/generations", query={"limit": "2", "cursor": page["nextCursor"]}))
    ids = [i["jobId"] for i in page["items"] + rest["items"]]
    assert sorted(ids) == sorted(mine) and rest["nextCursor"] is None
    status, payload = call(api, event("GET", "/generations", user="bob", query={"cursor": page["nextCursor"]}))
    assert status == 400 and payload["errors"][0]["field"] == "cursor"
    status, payload = call(api, event("GET", "/generations", query={"limit": "0"}))
    assert status == 400 and payload["errors"][0]["field"] == "limit"


def test_regenerate_needs_a_finished_job_and_starts_the_workflow(api: Any, aws: dict[str, Any]) -> None:
    job_id = create(api, genre="lofi")["jobId"]
    status, payload = call(api, event("POST", user="alice", body={"genre": "jazz"}, **job_path(job_id, "/regenerate")))
    assert status == 409 and "COMPLETE or FAILED" in payload["message"]
    store = jobs.JobStore(aws["table"], "us-east-1")
    store.claim("alice", job_id)
    store.fail("alice", job_id, stage="render", message="x")
    status, payload = call(api, event("POST", user="mallory", body={}, **job_path(job_id, "/regenerate")))
    assert status == 404
    status, payload = call(api, event("POST", user="alice", body={"genre": "jazz"}, **job_path(job_id, "/regenerate")))
    assert status == 202 and payload["run"] == 1
    kwargs = api.stepfunctions.return_value.start_execution.call_args.kwargs
    assert json.loads(kwargs["input"]) == {"userId": "alice", "jobId": job_id, "run": 1}
    record = store.get("alice", job_id)
    assert record["status"] == "PENDING" and record["options"]["genre"] == "jazz"
    status, payload = call(api, event("POST", user="alice", body={"genre": "bebop"}, **job_path(job_id, "/regenerate")))
    assert status == 400 and payload["errors"][0]["field"] == "genre"


def test_delete_removes_the_record_and_every_object(api: Any, aws: dict[str, Any]) -> None:
    job_id = create(api)["jobId"]
    other = create(api)["jobId"]
    s3, bucket = aws["s3"], aws["bucket"]
    keys = [f"images/alice/{job_id}/input.jpg", f"analysis/alice/{job_id}/features.json",
            f"midi/alice/{job_id}/composition.mid", f"audio/alice/{job_id}/output.wav",
            f"audio/alice/{job_id}/preview.mp3", f"images/alice/{other}/input.jpg"]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    status, _ = call(api, event("DELETE", user="mallory", **job_path(job_id)))
    assert status == 404
    status, _ = call(api, event("DELETE", user="alice", **job_path(job_id)))
    assert status == 204
    left = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert left == [f"images/alice/{other}/input.jpg"]
    status, _ = call(api, event("GET", **job_path(job_id)))
    assert status == 404


def test_missing_configuration_fails_at_import(aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STATE_MACHINE_ARN")
    with pytest.raises(Exception, match="STATE_MACHINE_ARN"):
        load_function("generations_api")


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "text/plain"])
def test_bodies_not_declared_as_json_are_415(api: Any, content_type: str) -> None:
    ev = event("POST", "/generations", body={"genre": "lofi"})
    ev["headers"] = {"Content-Type": content_type}
    status, payload = call(api, ev)
    assert status == 415 and "Content-Type: application/json" in payload["message"]


@pytest.mark.parametrize("headers", [{"content-type": "application/json; charset=utf-8"}, {}])
def test_json_bodies_are_accepted_with_a_json_or_no_content_type(api: Any, headers: dict[str, str]) -> None:
    ev = event("POST", "/generations", body={"genre": "lofi"})
    ev["headers"] = headers
    assert call(api, ev)[0] == 201


@pytest.mark.parametrize(("body", "status", "says"), [
    ('{"genre": ' + "[" * 1000 + "]" * 1000 + "}", 400, "levels deep"),  # was RecursionError -> 502
    ('{"seed": ' + "9" * 5000 + "}", 400, "digits"),  # was ValueError (int over 4,300 digits) -> 502
    ('{"genre": "' + "x" * 300_000 + '"}', 413, "KB"),
], ids=["nested-1000-deep", "5000-digit-number", "300-KB-body"])
def test_hostile_bodies_are_refused_as_json_naming_the_body(api: Any, body: str, status: int, says: str) -> None:
    got, payload = call(api, event("POST", "/generations", body=body))
    assert got == status and says in payload["message"] and payload["errors"][0]["field"] == "body"


def test_an_edited_cursor_of_the_callers_own_is_400(api: Any) -> None:
    for _ in range(2):
        create(api)
    _, page = call(api, event("GET", "/generations", query={"limit": "1"}))
    key = json.loads(base64.urlsafe_b64decode(page["nextCursor"] + "=" * (-len(page["nextCursor"]) % 4)))
    key["createdAt"] = {"N": "x"}  # the probe's cursor: DynamoDB refused it and the API answered 502
    edited = base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")
    status, payload = call(api, event("GET", "/generations", query={"cursor": edited}))
    assert status == 400 and payload["errors"][0]["field"] == "cursor"


def test_a_boolean_is_not_a_number(api: Any) -> None:
    status, payload = call(api, event("POST", "/generations", body={"durationSeconds": True}))
    assert status == 400 and payload["errors"][0]["field"] == "durationSeconds"
    assert "valid integer" in payload["message"] and "15" not in payload["message"]  # not "must be >= 15"


def test_a_query_parameter_given_twice_is_named_as_such(api: Any) -> None:
    ev = event("GET", "/generations", query={"limit": "1"})
    ev["multiValueQueryStringParameters"] = {"limit": ["1", "2"]}
    status, payload = call(api, ev)
    assert status == 400 and payload["errors"] == [{"field": "limit", "message": "is given more than once; give it once"}]


def test_refused_regenerates_spend_no_quota(api: Any) -> None:
    job_id = create(api)["jobId"]  # 1 of the 10 generations this window
    for _ in range(5):
        assert call(api, event("POST", body={}, **job_path(job_id, "/regenerate")))[0] == 409  # still PENDING
    assert [call(api, event("POST", "/generations", body={}))[0] for _ in range(9)] == [201] * 9
    assert call(api, event("POST", "/generations", body={}))[0] == 429


def test_a_regenerate_whose_run_cannot_start_fails_the_job_and_gives_the_unit_back(api: Any, aws: dict[str, Any]) -> None:
    job_id = create(api)["jobId"]  # 1 of the 10 generations this window
    store = jobs.JobStore(aws["table"], "us-east-1")
    store.claim("alice", job_id)
    store.fail("alice", job_id, stage="render", message="x")
    api.stepfunctions.return_value.start_execution.side_effect = EndpointConnectionError(endpoint_url="https://states")
    for _ in range(10):  # more than the window allows: none of them spends a unit
        with pytest.raises(EndpointConnectionError):
            api.lambda_handler(event("POST", body={}, **job_path(job_id, "/regenerate")), FakeContext())
        record = store.get("alice", job_id)
        assert record["status"] == "FAILED" and record["errorMessage"].startswith("the new run could not start")
    assert [call(api, event("POST", "/generations", body={}))[0] for _ in range(9)] == [201] * 9


def test_a_generation_whose_picture_never_came_says_so_then_expires(api: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1_800_000_000.0]
    monkeypatch.setattr(api, "clock", lambda: now[0])
    payload = create(api)
    assert payload["upload"]["expiresAt"] == 1_800_000_900
    _, job = call(api, event("GET", **job_path(payload["jobId"])))
    assert job["status"] == "PENDING" and job["errorMessage"] is None
    now[0] += 901  # the form has expired: S3 refuses it now
    _, job = call(api, event("GET", **job_path(payload["jobId"])))
    assert job["status"] == "PENDING" and job["errorMessage"].startswith(
        "no picture arrived before the upload form expired at 2027-01-15T08:15:00Z; create a new generation")
    now[0] += 3600  # an hour after its form: gone, not PENDING for a month
    assert call(api, event("GET", **job_path(payload["jobId"])))[0] == 404
    assert call(api, event("GET", "/generations"))[1]["items"] == []
