"""The local stack's S3 gateway over real HTTP: moto behind AWS's presigned-request rules and S3 -> EventBridge events."""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from unittest import mock

import boto3
import pytest
import requests
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import S3EventNotificationEventBridgeModel
from botocore.config import Config
from botocore.exceptions import ClientError
from moto.dynamodb.models.table import Table

from local_stack import s3gate

ACCESS_KEY = "AKIALOCALSTACKTEST01"
SECRET_KEY = "local-stack-test-secret"
REGION = "us-east-1"
ACCOUNT = "000000000000"  # the local stack's account (template ARNs), not moto's default
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 56
CONTENT_RANGE = ["content-length-range", 1, 1000]
SIGV4 = Config(signature_version="s3v4")


class FakeClock:
    """Wall-clock time moved by ``offset`` seconds."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@dataclass
class Sink:
    """Collects "Object Created" events; raises instead when ``fail`` is set."""

    events: list[dict[str, Any]] = field(default_factory=list)
    fail: bool = False

    def __call__(self, event: dict[str, Any]) -> None:
        if self.fail:
            raise RuntimeError("workflow runner unavailable")
        self.events.append(event)


@dataclass
class Stack:
    url: str
    clock: FakeClock
    sink: Sink
    entered: threading.Event
    release: threading.Event

    def client(self, service: str, **kwargs: Any) -> Any:
        session = boto3.session.Session()  # not the default session: it may hold other credentials
        return session.client(service, endpoint_url=self.url, region_name=kwargs.pop("region_name", REGION), **kwargs)


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    entered, release = threading.Event(), threading.Event()

    def echo(event: Any) -> Any:
        return {"echo": event}

    def crash(event: Any) -> Any:
        raise TransientTestError("the render service is busy")

    def blocking(event: Any) -> Any:
        entered.set()
        return {"released": release.wait(timeout=15)}

    with pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        env.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        env.setenv("AWS_DEFAULT_REGION", REGION)
        env.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
        env.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_REGION"):
            env.delenv(name, raising=False)
        clock, sink = FakeClock(), Sink()
        gateway = s3gate.Gateway(
            credentials=(ACCESS_KEY, SECRET_KEY),
            region=REGION,
            on_object_created=sink,
            functions={"Echo": echo, "Crash": crash, "Wait": blocking},
            account=ACCOUNT,
            clock=clock,
        )
        server, thread = s3gate.serve("127.0.0.1", 0, gateway)
        try:
            yield Stack(f"http://127.0.0.1:{server.port}", clock, sink, entered, release)
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)


@pytest.fixture(autouse=True)
def _fresh(stack: Stack) -> None:
    stack.clock.offset = 0.0
    stack.sink.events.clear()
    stack.sink.fail = False


@pytest.fixture
def s3(stack: Stack) -> Any:
    """Signs as the product's clients do (SigV4, also for presigned URLs and POST forms)."""
    return stack.client("s3", config=SIGV4)


@pytest.fixture
def bucket(s3: Any) -> str:
    name = f"media-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


def presigned_post(s3: Any, bucket: str, key: str = "images/u1/j1/input.png", **kwargs: Any) -> dict[str, Any]:
    return s3.generate_presigned_post(
        Bucket=bucket,
        Key=key,
        Fields={"Content-Type": "image/png", **kwargs.pop("fields", {})},
        Conditions=[{"Content-Type": "image/png"}, CONTENT_RANGE, *kwargs.pop("conditions", [])],
        ExpiresIn=kwargs.pop("expires_in", 300),
    )


def upload(form: dict[str, Any], content: bytes = PNG, filename: str = "picture.png", **headers: str) -> requests.Response:
    return requests.post(
        form["url"], data=form["fields"], files={"file": (filename, content, "image/png")}, headers=headers, timeout=30
    )


def xml(response: requests.Response) -> ET.Element:
    return ET.fromstring(response.content)  # noqa: S314 - a document from the gateway under test


def error(response: requests.Response) -> dict[str, str]:
    root = xml(response)
    assert root.tag == "Error"
    return {child.tag: child.text or "" for child in root}


def exists(s3: Any, bucket: str, key: str) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        assert exc.response["Error"]["Code"] == "404"
        return False
    return True


def signed_form(policy: dict[str, Any], fields: dict[str, str], *, secret: str = SECRET_KEY) -> dict[str, str]:
    """A SigV4 POST form signed by hand, for policies boto3 would not write."""
    date = datetime.now(UTC)
    credential = f"{ACCESS_KEY}/{date:%Y%m%d}/{REGION}/s3/aws4_request"
    encoded = base64.b64encode(json.dumps(policy).encode()).decode()
    return {
        **fields,
        "x-amz-algorithm": "AWS4-HMAC-SHA256",
        "x-amz-credential": credential,
        "x-amz-date": f"{date:%Y%m%dT%H%M%SZ}",
        "policy": encoded,
        "x-amz-signature": s3gate.post_policy_signature(secret, f"{date:%Y%m%d}", REGION, encoded),
    }


def later(seconds: int) -> str:
    return datetime.fromtimestamp(time.time() + seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ------------------------------------------------------------------------------------------ presigned POST


def test_good_upload_is_stored_and_announced_once(stack: Stack, s3: Any, bucket: str) -> None:
    response = upload(presigned_post(s3, bucket))

    assert response.status_code == 204
    head = s3.head_object(Bucket=bucket, Key="images/u1/j1/input.png")
    assert head["ContentLength"] == len(PNG)
    assert head["ContentType"] == "image/png"
    assert response.headers["ETag"] == head["ETag"]
    assert len(stack.sink.events) == 1
    event = stack.sink.events[0]
    assert event["detail-type"] == "Object Created"
    assert event["source"] == "aws.s3"
    assert event["region"] == REGION
    assert event["resources"] == [f"arn:aws:s3:::{bucket}"]
    detail = event["detail"]
    assert detail["bucket"] == {"name": bucket}
    assert detail["object"]["key"] == "images/u1/j1/input.png"
    assert detail["object"]["size"] == len(PNG)
    assert detail["object"]["etag"] == head["ETag"].strip('"')
    assert detail["reason"] == "PostObject"
    assert detail["request-id"] == response.headers["x-amz-request-id"]
    assert uuid.UUID(event["id"])
    # StartJob parses S3 EventBridge events with this model: it accepts the event as sent.
    parsed = parse(event=event, model=S3EventNotificationEventBridgeModel)
    assert parsed.detail.object.key == "images/u1/j1/input.png"


def test_too_big_is_entity_too_large_and_nothing_is_stored(stack: Stack, s3: Any, bucket: str) -> None:
    response = upload(presigned_post(s3, bucket), content=b"x" * 1001)

    assert response.status_code == 400
    body = error(response)
    assert body["Code"] == "EntityTooLarge"
    assert body["Message"] == "Your proposed upload exceeds the maximum allowed size"
    assert (body["ProposedSize"], body["MaxSizeAllowed"]) == ("1001", "1000")
    assert not exists(s3, bucket, "images/u1/j1/input.png")
    assert stack.sink.events == []


def test_empty_file_is_entity_too_small(stack: Stack, s3: Any, bucket: str) -> None:
    response = upload(presigned_post(s3, bucket), content=b"")

    assert response.status_code == 400
    body = error(response)
    assert (body["Code"], body["ProposedSize"], body["MinSizeAllowed"]) == ("EntityTooSmall", "0", "1")
    assert stack.sink.events == []


def test_size_bounds_are_inclusive(stack: Stack, s3: Any, bucket: str) -> None:
    assert upload(presigned_post(s3, bucket), content=b"x" * 1000).status_code == 204
    assert upload(presigned_post(s3, bucket, key="images/u1/j2/input.png"), content=b"x").status_code == 204
    assert len(stack.sink.events) == 2


def test_wrong_content_type_fails_the_condition(stack: Stack, s3: Any, bucket: str) -> None:
    form = presigned_post(s3, bucket)
    form["fields"]["Content-Type"] = "text/html"

    response = upload(form)

    assert response.status_code == 403
    body = error(response)
    assert body["Code"] == "AccessDenied"
    assert body["Message"] == ('Invalid according to Policy: Policy Condition failed: ["eq", "$Content-Type", "image/png"]')
    assert not exists(s3, bucket, "images/u1/j1/input.png")
    assert stack.sink.events == []


def test_expired_policy_is_refused(stack: Stack, s3: Any, bucket: str) -> None:
    form = presigned_post(s3, bucket, expires_in=60)
    stack.clock.offset = 120

    response = upload(form)

    assert response.status_code == 403
    assert error(response)["Message"] == "Invalid according to Policy: Policy expired."
    assert not exists(s3, bucket, "images/u1/j1/input.png")


def test_form_for_another_bucket_fails_the_bucket_condition(stack: Stack, s3: Any, bucket: str) -> None:
    other = f"{bucket}-other"
    s3.create_bucket(Bucket=other)
    form = presigned_post(s3, bucket)

    response = upload({"url": f"{stack.url}/{other}", "fields": form["fields"]})

    assert response.status_code == 403
    assert (
        error(response)["Message"] == f'Invalid according to Policy: Policy Condition failed: ["eq", "$bucket", "{bucket}"]'
    )
    assert not exists(s3, other, "images/u1/j1/input.png")


def test_tampered_policy_does_not_match_its_signature(stack: Stack, s3: Any, bucket: str) -> None:
    form = presigned_post(s3, bucket)
    policy = json.loads(base64.b64decode(form["fields"]["policy"]))
    policy["conditions"] = [c if c != CONTENT_RANGE else ["content-length-range", 1, 10**9] for c in policy["conditions"]]
    form["fields"]["policy"] = base64.b64encode(json.dumps(policy).encode()).decode()

    response = upload(form, content=b"x" * 5000)

    assert response.status_code == 403
    body = error(response)
    assert body["Code"] == "SignatureDoesNotMatch"
    assert body["StringToSign"] == form["fields"]["policy"]
    assert body["AWSAccessKeyId"] == ACCESS_KEY
    assert not exists(s3, bucket, "images/u1/j1/input.png")
    assert stack.sink.events == []


def test_policy_signed_with_another_secret_does_not_match(stack: Stack, bucket: str) -> None:
    other = stack.client("s3", aws_access_key_id=ACCESS_KEY, aws_secret_access_key="not-the-secret", config=SIGV4)

    response = upload(presigned_post(other, bucket))

    assert response.status_code == 403
    assert error(response)["Code"] == "SignatureDoesNotMatch"


def test_sigv2_forms_are_verified_too(stack: Stack, bucket: str) -> None:
    legacy = stack.client("s3", config=Config(signature_version="s3"))
    form = presigned_post(legacy, bucket)
    assert "signature" in form["fields"]
    tampered = {**form, "fields": {**form["fields"], "signature": base64.b64encode(b"0" * 20).decode()}}

    assert upload(tampered).status_code == 403
    assert error(upload(tampered))["Code"] == "SignatureDoesNotMatch"
    assert upload(form).status_code == 204
    assert len(stack.sink.events) == 1


def test_unknown_access_key_is_refused(stack: Stack, bucket: str) -> None:
    other = stack.client("s3", aws_access_key_id="AKIAUNKNOWNKEY000000", aws_secret_access_key=SECRET_KEY, config=SIGV4)

    response = upload(presigned_post(other, bucket))

    assert response.status_code == 403
    assert error(response)["Code"] == "InvalidAccessKeyId"


def test_credential_for_another_region_is_refused(stack: Stack, bucket: str) -> None:
    elsewhere = stack.client("s3", region_name="eu-west-1", config=SIGV4)

    response = upload(presigned_post(elsewhere, bucket))

    assert response.status_code == 400
    body = error(response)
    assert (body["Code"], body["Region"]) == ("InvalidArgument", REGION)
    assert body["Message"] == f"the region 'eu-west-1' is wrong; expecting '{REGION}'"


def test_field_no_condition_covers_is_refused(stack: Stack, s3: Any, bucket: str) -> None:
    form = presigned_post(s3, bucket)
    form["fields"]["x-custom"] = "1"

    response = upload(form)

    assert response.status_code == 403
    assert error(response)["Message"] == "Invalid according to Policy: Extra input fields: x-custom"
    assert not exists(s3, bucket, "images/u1/j1/input.png")


def test_x_ignore_fields_need_no_condition(stack: Stack, s3: Any, bucket: str) -> None:
    form = presigned_post(s3, bucket)
    form["fields"]["x-ignore-note"] = "from the browser"

    assert upload(form).status_code == 204


def test_fields_after_the_file_are_ignored(stack: Stack, s3: Any, bucket: str) -> None:
    form = presigned_post(s3, bucket)
    parts = [*((name, (None, value)) for name, value in form["fields"].items())]
    parts += [("file", ("picture.png", PNG, "image/png")), ("submit", (None, "Upload"))]

    response = requests.post(form["url"], files=parts, timeout=30)

    assert response.status_code == 204


def test_missing_key_and_missing_file_are_invalid_arguments(stack: Stack, s3: Any, bucket: str) -> None:
    form = presigned_post(s3, bucket)
    no_file = requests.post(form["url"], files={k: (None, v) for k, v in form["fields"].items()}, timeout=30)
    no_key = upload({"url": form["url"], "fields": {k: v for k, v in form["fields"].items() if k != "key"}})

    assert no_file.status_code == 400
    assert error(no_file)["Message"] == "POST requires exactly one file upload per request."
    assert no_key.status_code == 400
    assert error(no_key)["ArgumentName"] == "key"


def test_missing_signature_field_is_named(stack: Stack, s3: Any, bucket: str) -> None:
    form = presigned_post(s3, bucket)
    del form["fields"]["x-amz-signature"]

    response = upload(form)

    assert response.status_code == 400
    assert (error(response)["Code"], error(response)["ArgumentName"]) == ("InvalidArgument", "X-Amz-Signature")


def test_unsigned_form_is_anonymous_and_denied(stack: Stack, s3: Any, bucket: str) -> None:
    response = upload({"url": f"{stack.url}/{bucket}", "fields": {"key": "images/u1/j1/input.png"}})

    assert response.status_code == 403
    assert error(response)["Message"] == "Access Denied"
    assert stack.sink.events == []


def test_form_that_is_not_multipart_is_a_failed_precondition(stack: Stack, s3: Any, bucket: str) -> None:
    response = requests.post(f"{stack.url}/{bucket}", data={"key": "a"}, timeout=30)

    assert response.status_code == 412
    assert error(response)["Code"] == "PreconditionFailed"


def test_hand_signed_policy_conditions(stack: Stack, bucket: str) -> None:
    url = f"{stack.url}/{bucket}"
    starts_with = {"expiration": later(300), "conditions": [["starts-with", "$key", "images/"], {"bucket": bucket}]}
    starts_with["conditions"] += [{"x-amz-algorithm": "AWS4-HMAC-SHA256"}, ["starts-with", "$x-amz-credential", ""]]
    starts_with["conditions"] += [["starts-with", "$x-amz-date", ""]]

    good = upload({"url": url, "fields": signed_form(starts_with, {"key": "images/a.png"})})
    wrong_prefix = upload({"url": url, "fields": signed_form(starts_with, {"key": "audio/a.png"})})
    two_properties = {"expiration": later(300), "conditions": [{"bucket": bucket, "key": "a"}]}
    malformed = upload({"url": url, "fields": signed_form(two_properties, {"key": "a"})})

    assert good.status_code == 204
    assert wrong_prefix.status_code == 403
    assert error(wrong_prefix)["Message"] == (
        'Invalid according to Policy: Policy Condition failed: ["starts-with", "$key", "images/"]'
    )
    assert malformed.status_code == 400
    assert error(malformed)["Code"] == "InvalidPolicyDocument"
    assert [e["detail"]["object"]["key"] for e in stack.sink.events] == ["images/a.png"]


def test_filename_variable_is_expanded_before_the_policy_is_checked(stack: Stack, s3: Any, bucket: str) -> None:
    form = presigned_post(s3, bucket, key="images/u1/j3/${filename}")

    response = upload(form, filename="portrait.png")

    assert response.status_code == 204
    assert exists(s3, bucket, "images/u1/j3/portrait.png")
    assert stack.sink.events[0]["detail"]["object"]["key"] == "images/u1/j3/portrait.png"


def test_success_action_status_201_answers_with_a_post_response(stack: Stack, s3: Any, bucket: str) -> None:
    form = presigned_post(s3, bucket, fields={"success_action_status": "201"}, conditions=[{"success_action_status": "201"}])

    response = upload(form)

    assert response.status_code == 201
    root = xml(response)
    assert root.tag == "PostResponse"
    assert root.findtext("Key") == "images/u1/j1/input.png"
    assert root.findtext("Bucket") == bucket
    assert root.findtext("ETag") == s3.head_object(Bucket=bucket, Key="images/u1/j1/input.png")["ETag"]


def test_failing_event_handler_does_not_fail_the_upload(
    stack: Stack, s3: Any, bucket: str, caplog: pytest.LogCaptureFixture
) -> None:
    stack.sink.fail = True

    response = upload(presigned_post(s3, bucket))

    assert response.status_code == 204
    assert exists(s3, bucket, "images/u1/j1/input.png")
    assert any("Object Created handler failed" in record.getMessage() for record in caplog.records)


# ------------------------------------------------------------------------------------------ CORS


def test_browser_preflight_and_errors_follow_the_bucket_cors_rules(stack: Stack, s3: Any, bucket: str) -> None:
    origin = "http://app.soundcanvas.test"
    s3.put_bucket_cors(
        Bucket=bucket,
        CORSConfiguration={
            "CORSRules": [
                {
                    "AllowedOrigins": [origin],
                    "AllowedMethods": ["GET", "POST"],
                    "AllowedHeaders": ["*"],
                    "MaxAgeSeconds": 3000,
                }
            ]
        },
    )
    preflight = requests.options(
        f"{stack.url}/{bucket}",
        headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
        timeout=30,
    )
    form = presigned_post(s3, bucket)
    form["fields"]["Content-Type"] = "image/gif"

    refused = upload(form, Origin=origin)

    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == origin
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    assert refused.status_code == 403
    assert refused.headers["Access-Control-Allow-Origin"] == origin


# ------------------------------------------------------------------------------------------ presigned URLs


def test_presigned_get_works_until_it_expires(stack: Stack, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="audio/u1/j1/track.mp3", Body=b"ID3 audio")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "audio/u1/j1/track.mp3"}, ExpiresIn=60)

    fresh = requests.get(url, timeout=30)
    stack.clock.offset = 61
    expired = requests.get(url, timeout=30)

    assert (fresh.status_code, fresh.content) == (200, b"ID3 audio")
    assert expired.status_code == 403
    body = error(expired)
    assert (body["Code"], body["Message"], body["X-Amz-Expires"]) == ("AccessDenied", "Request has expired", "60")


def test_presigned_sigv2_url_expires_too(stack: Stack, bucket: str) -> None:
    legacy = stack.client("s3", config=Config(signature_version="s3"))
    legacy.put_object(Bucket=bucket, Key="midi/u1/j1/song.mid", Body=b"MThd")
    url = legacy.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "midi/u1/j1/song.mid"}, ExpiresIn=60)
    assert "Signature=" in url

    assert requests.get(url, timeout=30).status_code == 200
    stack.clock.offset = 120
    expired = requests.get(url, timeout=30)

    assert expired.status_code == 403
    assert error(expired)["Message"] == "Request has expired"


def test_presigned_lifetime_over_a_week_is_refused(stack: Stack, s3: Any, bucket: str) -> None:
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"}, ExpiresIn=604801)

    response = requests.get(url, timeout=30)

    assert response.status_code == 400
    assert error(response)["Code"] == "AuthorizationQueryParametersError"


# ------------------------------------------------------------------------------------------ events


def test_put_object_is_announced_once(stack: Stack, s3: Any, bucket: str) -> None:
    put = s3.put_object(Bucket=bucket, Key="images/u2/j2/input.jpg", Body=b"jpeg bytes", ContentType="image/jpeg")

    assert len(stack.sink.events) == 1
    detail = stack.sink.events[0]["detail"]
    assert detail["reason"] == "PutObject"
    assert detail["object"] == {
        "key": "images/u2/j2/input.jpg",
        "size": 10,
        "etag": put["ETag"].strip('"'),
        "sequencer": detail["object"]["sequencer"],
    }


def test_subresource_puts_are_not_object_creations(stack: Stack, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="analysis/u1/j1/features.json", Body=b"{}")
    stack.sink.events.clear()

    s3.put_object_tagging(
        Bucket=bucket, Key="analysis/u1/j1/features.json", Tagging={"TagSet": [{"Key": "k", "Value": "v"}]}
    )

    assert stack.sink.events == []


def test_copy_object_is_announced_with_its_reason(stack: Stack, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="images/u1/j1/input.png", Body=PNG)
    stack.sink.events.clear()

    s3.copy_object(
        Bucket=bucket, Key="images/u1/j9/input.png", CopySource={"Bucket": bucket, "Key": "images/u1/j1/input.png"}
    )

    assert [(e["detail"]["reason"], e["detail"]["object"]["key"]) for e in stack.sink.events] == [
        ("CopyObject", "images/u1/j9/input.png")
    ]
    assert stack.sink.events[0]["detail"]["object"]["size"] == len(PNG)


def test_multipart_upload_is_announced_on_completion_only(stack: Stack, s3: Any, bucket: str) -> None:
    key = "audio/u1/j1/render.wav"
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    chunks = [b"a" * (5 * 1024 * 1024), b"tail"]
    parts = [
        {
            "PartNumber": number,
            "ETag": s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=chunk)["ETag"],
        }
        for number, chunk in enumerate(chunks, start=1)
    ]
    assert stack.sink.events == []

    done = s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts})

    assert len(stack.sink.events) == 1
    detail = stack.sink.events[0]["detail"]
    assert detail["reason"] == "CompleteMultipartUpload"
    assert detail["object"]["size"] == sum(map(len, chunks))
    assert detail["object"]["etag"] == done["ETag"].strip('"')


def test_sequencers_increase(stack: Stack, s3: Any, bucket: str) -> None:
    for body in (b"1", b"2", b"3"):
        s3.put_object(Bucket=bucket, Key="analysis/u1/j1/features.json", Body=body)

    sequencers = [int(e["detail"]["object"]["sequencer"], 16) for e in stack.sink.events]
    assert sequencers == sorted(set(sequencers))


# ------------------------------------------------------------------------------------------ other services


class TransientTestError(Exception):
    """Raised by the Crash function: its class name is the error name Step Functions matches."""


def test_lambda_invoke_runs_the_function_and_returns_its_result(stack: Stack) -> None:
    answer = stack.client("lambda").invoke(FunctionName=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:Echo",
                                           Payload=b'{"jobId": "j1"}')

    assert answer["StatusCode"] == 200 and "FunctionError" not in answer
    assert json.loads(answer["Payload"].read()) == {"echo": {"jobId": "j1"}}


def test_a_handler_exception_is_answered_as_lambda_reports_an_unhandled_error(stack: Stack) -> None:
    answer = stack.client("lambda").invoke(FunctionName="Crash", Payload=b"{}")

    error = json.loads(answer["Payload"].read())
    assert answer["StatusCode"] == 200 and answer["FunctionError"] == "Unhandled"
    assert error["errorType"] == "TransientTestError" and error["errorMessage"] == "the render service is busy"
    assert any("raise TransientTestError" in line for line in error["stackTrace"])


def test_lambda_invoke_of_an_unknown_function_is_resource_not_found(stack: Stack) -> None:
    with pytest.raises(ClientError) as missing:
        stack.client("lambda").invoke(FunctionName="Nope", Payload=b"{}")

    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert missing.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_step_functions_calls_reach_moto_in_the_gateways_account(stack: Stack) -> None:
    sfn = stack.client("stepfunctions")
    definition = {"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}

    created = sfn.create_state_machine(name=f"m-{uuid.uuid4().hex[:8]}", definition=json.dumps(definition),
                                       roleArn=f"arn:aws:iam::{ACCOUNT}:role/r")

    assert created["stateMachineArn"].startswith(f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:")
    with pytest.raises(ClientError) as missing:
        sfn.describe_execution(executionArn=f"arn:aws:states:{REGION}:{ACCOUNT}:execution:nope:x")
    assert missing.value.response["Error"]["Code"] == "ExecutionDoesNotExist"


def test_dynamodb_still_reaches_moto(stack: Stack) -> None:
    dynamodb = stack.client("dynamodb")
    table = f"jobs-{uuid.uuid4().hex[:8]}"
    dynamodb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "job#1"}, "status": {"S": "PENDING"}})

    item = dynamodb.get_item(TableName=table, Key={"pk": {"S": "job#1"}})["Item"]

    assert item["status"] == {"S": "PENDING"}


def test_an_index_query_reads_the_index_not_the_table(stack: Stack) -> None:
    """The gateway's tables answer an index Query from sorted index keys: page by page, without reading the table."""
    dynamodb = stack.client("dynamodb")
    table = f"tracks-{uuid.uuid4().hex[:8]}"
    dynamodb.create_table(
        TableName=table, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "user", "KeyType": "HASH"}, {"AttributeName": "track", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": name, "AttributeType": kind}
                              for name, kind in (("user", "S"), ("track", "S"), ("due", "N"))],
        GlobalSecondaryIndexes=[{"IndexName": "ByUserDue", "Projection": {"ProjectionType": "KEYS_ONLY"},
                                 "KeySchema": [{"AttributeName": "user", "KeyType": "HASH"},
                                               {"AttributeName": "due", "KeyType": "RANGE"}]}],
    )
    for start in range(0, 100, 25):
        dynamodb.batch_write_item(RequestItems={table: [
            {"PutRequest": {"Item": {"user": {"S": "u1"}, "track": {"S": f"t{i:03}"}, "due": {"N": str(100 - i)}}}}
            for i in range(start, start + 25)]})
    due = {"TableName": table, "IndexName": "ByUserDue", "KeyConditionExpression": "#u = :u AND due <= :now",
           "ExpressionAttributeNames": {"#u": "user"},
           "ExpressionAttributeValues": {":u": {"S": "u1"}, ":now": {"N": "5"}}, "Limit": 3}
    first = dynamodb.query(**due)  # builds the sorted keys
    with mock.patch.object(Table, "all_items", side_effect=AssertionError("the Query read the whole table")):
        dynamodb.put_item(TableName=table, Item={"user": {"S": "u1"}, "track": {"S": "t999"}, "due": {"N": "0"}})
        second = dynamodb.query(**due, ExclusiveStartKey=first["LastEvaluatedKey"])

    assert [item["track"]["S"] for item in first["Items"]] == ["t099", "t098", "t097"]
    assert [item["track"]["S"] for item in second["Items"]] == ["t096", "t095"]  # due 4 and 5; t999 (due 0) sorts first


def test_requests_are_served_concurrently(stack: Stack, s3: Any, bucket: str) -> None:
    replies: list[dict[str, Any]] = []
    stack.entered.clear()
    stack.release.clear()

    def blocked() -> None:
        answer = stack.client("lambda").invoke(FunctionName="Wait", Payload=b"{}")
        replies.append(json.loads(answer["Payload"].read()))

    waiter = threading.Thread(target=blocked)
    waiter.start()
    assert stack.entered.wait(timeout=10)
    # Served while the other request is still being handled; a serial server would answer after it gave up.
    s3.put_object(Bucket=bucket, Key="images/u3/j3/input.png", Body=PNG)
    stack.release.set()
    waiter.join(timeout=30)

    assert replies == [{"released": True}]


# ------------------------------------------------------------------------------------------ signing


def test_post_signature_matches_the_aws_documented_example() -> None:
    # The SigV4 POST example in the S3 API reference: its policy (base64, as sent) and its published signature.
    policy = (
        "eyAiZXhwaXJhdGlvbiI6ICIyMDE1LTEyLTMwVDEyOjAwOjAwLjAwMFoiLA0KICAiY29uZGl0aW9ucyI6IFsNCiAgICB7ImJ1Y2tldCI6ICJzaWd2NGV4YW"
        "1wbGVidWNrZXQifSwNCiAgICBbInN0YXJ0cy13aXRoIiwgIiRrZXkiLCAidXNlci91c2VyMS8iXSwNCiAgICB7ImFjbCI6ICJwdWJsaWMtcmVhZCJ9LA0K"
        "ICAgIHsic3VjY2Vzc19hY3Rpb25fcmVkaXJlY3QiOiAiaHR0cDovL3NpZ3Y0ZXhhbXBsZWJ1Y2tldC5zMy5hbWF6b25hd3MuY29tL3N1Y2Nlc3NmdWxfdX"
        "Bsb2FkLmh0bWwifSwNCiAgICBbInN0YXJ0cy13aXRoIiwgIiRDb250ZW50LVR5cGUiLCAiaW1hZ2UvIl0sDQogICAgeyJ4LWFtei1tZXRhLXV1aWQiOiAi"
        "MTQzNjUxMjM2NTEyNzQifSwNCiAgICB7IngtYW16LXNlcnZlci1zaWRlLWVuY3J5cHRpb24iOiAiQUVTMjU2In0sDQogICAgWyJzdGFydHMtd2l0aCIsIC"
        "IkeC1hbXotbWV0YS10YWciLCAiIl0sDQoNCiAgICB7IngtYW16LWNyZWRlbnRpYWwiOiAiQUtJQUlPU0ZPRE5ON0VYQU1QTEUvMjAxNTEyMjkvdXMtZWFz"
        "dC0xL3MzL2F3czRfcmVxdWVzdCJ9LA0KICAgIHsieC1hbXotYWxnb3JpdGhtIjogIkFXUzQtSE1BQy1TSEEyNTYifSwNCiAgICB7IngtYW16LWRhdGUiOi"
        "AiMjAxNTEyMjlUMDAwMDAwWiIgfQ0KICBdDQp9"
    )

    signature = s3gate.post_policy_signature("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "20151229", "us-east-1", policy)

    assert signature == "8afdbf4008c03f22c2cd3cdb72e4afbb1f6a588f3255ac628749a66d7f09699e"


def test_presigned_get_honours_response_header_overrides(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="library/u1/t1/audio.v1.mp3", Body=b"ID3", ContentType="audio/mpeg")
    disposition = "attachment; filename=\"Nadia K - Blue Hour.mp3\"; filename*=UTF-8''Nadia%20K%20-%20Blue%20Hour.mp3"
    url = s3.generate_presigned_url("get_object", ExpiresIn=60, Params={
        "Bucket": bucket, "Key": "library/u1/t1/audio.v1.mp3", "ResponseContentDisposition": disposition,
        "ResponseContentType": "application/octet-stream"})
    response = requests.get(url, timeout=10)
    assert response.status_code == 200 and response.content == b"ID3"
    assert response.headers["Content-Disposition"] == disposition
    assert response.headers["Content-Type"] == "application/octet-stream"
    plain = requests.get(s3.generate_presigned_url("get_object", ExpiresIn=60, Params={
        "Bucket": bucket, "Key": "library/u1/t1/audio.v1.mp3"}), timeout=10)
    assert "Content-Disposition" not in plain.headers and plain.headers["Content-Type"] == "audio/mpeg"


def test_post_form_metadata_fields_are_stored(s3: Any, bucket: str) -> None:
    fields = {"Content-Type": "audio/flac", "x-amz-meta-file-name": "Bj%C3%B6rk.flac"}
    form = s3.generate_presigned_post(bucket, "library/u1/t2/original.flac", Fields=fields,
                                      Conditions=[{k: v} for k, v in fields.items()], ExpiresIn=60)
    sent = requests.post(form["url"], data=form["fields"], files={"file": ("a.flac", b"fLaC", "audio/flac")}, timeout=10)
    assert sent.status_code == 204, sent.text
    head = s3.head_object(Bucket=bucket, Key="library/u1/t2/original.flac")
    assert head["Metadata"] == {"file-name": "Bj%C3%B6rk.flac"} and head["ContentType"] == "audio/flac"


# ------------------------------------------------------------------------------------------ query signatures


def test_presigned_get_with_another_key_does_not_match_its_signature(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="exports/alice/a.json", Body=b"alice's")
    s3.put_object(Bucket=bucket, Key="exports/mallory/m.json", Body=b"mallory's")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "exports/mallory/m.json"},
                                    ExpiresIn=60)

    tampered = requests.get(url.replace("exports/mallory/m.json", "exports/alice/a.json"), timeout=10)

    assert requests.get(url, timeout=10).content == b"mallory's"
    assert tampered.status_code == 403 and b"alice's" not in tampered.content
    assert tampered.headers["Content-Type"] == "application/xml"
    body = error(tampered)
    assert body["Code"] == "SignatureDoesNotMatch" and body["AWSAccessKeyId"] == ACCESS_KEY
    assert "/exports/alice/a.json" in body["CanonicalRequest"]


def test_an_added_response_override_does_not_match_the_signature(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="audio/u1/j1/track.mp3", Body=b"<script>", ContentType="audio/mpeg")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "audio/u1/j1/track.mp3"},
                                    ExpiresIn=60)

    response = requests.get(url + "&response-content-type=text/html", timeout=10)

    assert response.status_code == 403 and response.headers["Content-Type"] == "application/xml"
    assert error(response)["Code"] == "SignatureDoesNotMatch"


def test_a_changed_signed_override_does_not_match_either(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="library/u1/t1/audio.mp3", Body=b"ID3", ContentType="audio/mpeg")
    url = s3.generate_presigned_url("get_object", ExpiresIn=60, Params={
        "Bucket": bucket, "Key": "library/u1/t1/audio.mp3", "ResponseContentType": "audio/mpeg"})

    response = requests.get(url.replace("response-content-type=audio%2Fmpeg", "response-content-type=text%2Fhtml"),
                            timeout=10)

    assert "response-content-type=audio%2Fmpeg" in url
    assert response.status_code == 403 and error(response)["Code"] == "SignatureDoesNotMatch"


def test_a_removed_signature_is_an_anonymous_request_and_denied(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="images/u1/j1/input.png", Body=PNG)
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "images/u1/j1/input.png"},
                                    ExpiresIn=60)

    anonymous = requests.get(url.split("?", 1)[0], timeout=10)
    unsigned_put = requests.put(url.split("?", 1)[0], data=b"x", timeout=10)

    assert anonymous.status_code == 403 and error(anonymous)["Code"] == "AccessDenied"
    assert unsigned_put.status_code == 403 and error(unsigned_put)["Code"] == "AccessDenied"
    assert s3.get_object(Bucket=bucket, Key="images/u1/j1/input.png")["Body"].read() == PNG


def test_signature_covers_the_host_header(stack: Stack, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k.txt", Body=b"v")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k.txt"}, ExpiresIn=60)
    port = stack.url.rsplit(":", 1)[1]

    assert url.startswith(f"http://127.0.0.1:{port}/") and requests.get(url, timeout=10).status_code == 200
    other_host = requests.get(url, headers={"Host": f"localhost:{port}"}, timeout=10)

    assert other_host.status_code == 403 and error(other_host)["Code"] == "SignatureDoesNotMatch"


def test_presigned_put_to_another_key_is_refused_and_stores_nothing(stack: Stack, s3: Any, bucket: str) -> None:
    url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "images/u1/j1/input.png"},
                                    ExpiresIn=60)

    tampered = requests.put(url.replace("images/u1/j1/input.png", "images/u2/j2/input.png"), data=PNG, timeout=10)
    honest = requests.put(url, data=PNG, timeout=10)

    assert tampered.status_code == 403 and error(tampered)["Code"] == "SignatureDoesNotMatch"
    assert not exists(s3, bucket, "images/u2/j2/input.png")
    assert honest.status_code == 200 and exists(s3, bucket, "images/u1/j1/input.png")
    assert [e["detail"]["object"]["key"] for e in stack.sink.events] == ["images/u1/j1/input.png"]


def test_presigned_put_checks_its_signed_content_type(s3: Any, bucket: str) -> None:
    url = s3.generate_presigned_url("put_object", ExpiresIn=60, Params={
        "Bucket": bucket, "Key": "covers/u1/c.png", "ContentType": "image/png"})

    wrong = requests.put(url, data=PNG, headers={"Content-Type": "text/html"}, timeout=10)
    right = requests.put(url, data=PNG, headers={"Content-Type": "image/png"}, timeout=10)

    assert wrong.status_code == 403 and error(wrong)["Code"] == "SignatureDoesNotMatch"
    assert right.status_code == 200, right.text


def test_presigned_head_and_delete_are_verified(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="a.txt", Body=b"a")
    s3.put_object(Bucket=bucket, Key="b.txt", Body=b"b")
    head = s3.generate_presigned_url("head_object", Params={"Bucket": bucket, "Key": "a.txt"}, ExpiresIn=60)
    delete = s3.generate_presigned_url("delete_object", Params={"Bucket": bucket, "Key": "a.txt"}, ExpiresIn=60)

    assert requests.head(head, timeout=10).status_code == 200
    assert requests.head(head.replace("a.txt", "b.txt"), timeout=10).status_code == 403
    assert requests.delete(delete.replace("a.txt", "b.txt"), timeout=10).status_code == 403
    assert exists(s3, bucket, "b.txt")
    assert requests.delete(delete, timeout=10).status_code == 204
    assert not exists(s3, bucket, "a.txt")


def test_presigned_url_of_an_unknown_key_or_secret_is_refused(stack: Stack, bucket: str) -> None:
    session = boto3.session.Session(aws_access_key_id="UNKNOWNLOCALKEY00000", aws_secret_access_key=SECRET_KEY)
    stranger = session.client("s3", endpoint_url=stack.url, region_name=REGION, config=SIGV4)
    session = boto3.session.Session(aws_access_key_id=ACCESS_KEY, aws_secret_access_key="not-the-secret")
    forger = session.client("s3", endpoint_url=stack.url, region_name=REGION, config=SIGV4)
    params = {"Bucket": bucket, "Key": "k"}

    unknown = requests.get(stranger.generate_presigned_url("get_object", Params=params, ExpiresIn=60), timeout=10)
    forged = requests.get(forger.generate_presigned_url("get_object", Params=params, ExpiresIn=60), timeout=10)

    assert unknown.status_code == 403
    assert (error(unknown)["Code"], error(unknown)["AWSAccessKeyId"]) == ("InvalidAccessKeyId", "UNKNOWNLOCALKEY00000")
    assert forged.status_code == 403 and error(forged)["Code"] == "SignatureDoesNotMatch"


def test_presigned_sigv2_url_is_verified_too(stack: Stack, bucket: str) -> None:
    legacy = stack.client("s3", config=Config(signature_version="s3"))
    legacy.put_object(Bucket=bucket, Key="midi/u1/j1/song.mid", Body=b"MThd")
    legacy.put_object(Bucket=bucket, Key="midi/u2/j2/song.mid", Body=b"MThd other")
    url = legacy.generate_presigned_url("get_object", ExpiresIn=60, Params={
        "Bucket": bucket, "Key": "midi/u1/j1/song.mid", "ResponseContentDisposition": "attachment"})

    honest = requests.get(url, timeout=10)
    tampered = requests.get(url.replace("/u1/j1/", "/u2/j2/"), timeout=10)
    added = requests.get(url + "&response-content-type=text%2Fhtml", timeout=10)

    assert honest.status_code == 200 and honest.headers["Content-Disposition"] == "attachment"
    assert tampered.status_code == 403 and error(tampered)["Code"] == "SignatureDoesNotMatch"
    assert added.status_code == 403 and error(added)["Code"] == "SignatureDoesNotMatch"


def test_keys_that_need_escaping_still_verify(s3: Any, bucket: str) -> None:
    key = "library/u1/t1/Björk \u2013 Jóga (live) +1 & 100%.flac"
    s3.put_object(Bucket=bucket, Key=key, Body=b"fLaC")
    disposition = "attachment; filename*=UTF-8''Bj%C3%B6rk.flac"
    url = s3.generate_presigned_url("get_object", ExpiresIn=60, Params={
        "Bucket": bucket, "Key": key, "ResponseContentDisposition": disposition})

    response = requests.get(url, timeout=10)

    assert response.status_code == 200, response.text
    assert response.content == b"fLaC" and response.headers["Content-Disposition"] == disposition


# ------------------------------------------------------------------------------------------ concurrent writes


def test_simultaneous_posts_of_one_form_all_succeed_and_one_upload_wins_whole(stack: Stack, s3: Any, bucket: str) -> None:
    key = "images/u1/j1/input.png"
    form = s3.generate_presigned_post(bucket, key, Fields={"Content-Type": "image/png"}, ExpiresIn=300, Conditions=[
        {"Content-Type": "image/png"}, ["content-length-range", 1, 1_000_000]])
    uploads = [PNG + bytes([n]) * (50_000 + n) for n in range(6)]
    statuses: list[int] = []

    for _ in range(4):
        start = threading.Barrier(len(uploads))

        def send(content: bytes, start: threading.Barrier = start) -> None:
            start.wait(timeout=10)
            statuses.append(upload(form, content).status_code)

        threads = [threading.Thread(target=send, args=(content,)) for content in uploads]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() in uploads

    assert statuses == [204] * 4 * len(uploads)
    assert len(stack.sink.events) == 4 * len(uploads)


def test_simultaneous_puts_and_reads_of_one_key_all_succeed(s3: Any, bucket: str) -> None:
    key = "audio/u1/j1/track.mp3"
    bodies = [bytes([n]) * (40_000 + n) for n in range(4)]
    s3.put_object(Bucket=bucket, Key=key, Body=bodies[0])
    put = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=300)
    get = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=300)
    results: list[tuple[int, bool]] = []

    def writer(body: bytes) -> None:
        for _ in range(5):
            results.append((requests.put(put, data=body, timeout=30).status_code, True))

    def reader() -> None:
        for _ in range(10):
            response = requests.get(get, timeout=30)
            results.append((response.status_code, response.content in bodies))

    threads = [threading.Thread(target=writer, args=(body,)) for body in bodies]
    threads += [threading.Thread(target=reader) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert results == [(200, True)] * (5 * len(bodies) + 20)


# ------------------------------------------------------------------------------------------ user-defined metadata


def test_put_with_more_than_2_kb_of_metadata_is_metadata_too_large(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as refused:
        s3.put_object(Bucket=bucket, Key="big.txt", Body=b"x", Metadata={"note": "n" * 3000})

    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert refused.value.response["Error"]["Code"] == "MetadataTooLarge"
    assert refused.value.response["Error"]["MaxSizeAllowed"] == "2048"
    assert not exists(s3, bucket, "big.txt")


def test_metadata_limit_counts_keys_and_values_in_utf8_bytes(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="at-limit.txt", Body=b"x", Metadata={"a": "x" * 1000, "bb": "y" * 1045})

    with pytest.raises(ClientError) as over:
        s3.put_object(Bucket=bucket, Key="over.txt", Body=b"x", Metadata={"a": "x" * 1000, "bbb": "y" * 1045})

    assert s3.head_object(Bucket=bucket, Key="at-limit.txt")["Metadata"]["a"] == "x" * 1000
    assert over.value.response["Error"]["Code"] == "MetadataTooLarge"
    assert over.value.response["Error"]["Size"] == "2049"


def test_post_form_with_more_than_2_kb_of_metadata_is_refused(stack: Stack, s3: Any, bucket: str) -> None:
    fields = {"Content-Type": "image/png", "x-amz-meta-note": "n" * 3000}
    form = s3.generate_presigned_post(bucket, "images/u1/j1/input.png", Fields=fields, ExpiresIn=60,
                                      Conditions=[{k: v} for k, v in fields.items()])

    response = upload(form)

    assert response.status_code == 400 and error(response)["Code"] == "MetadataTooLarge"
    assert not exists(s3, bucket, "images/u1/j1/input.png") and stack.sink.events == []


def test_copy_that_replaces_metadata_with_more_than_2_kb_is_refused(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="src.txt", Body=b"x", Metadata={"note": "small"})
    source = {"Bucket": bucket, "Key": "src.txt"}

    with pytest.raises(ClientError) as refused:
        s3.copy_object(Bucket=bucket, Key="dst.txt", CopySource=source, MetadataDirective="REPLACE",
                       Metadata={"note": "n" * 3000})
    s3.copy_object(Bucket=bucket, Key="kept.txt", CopySource=source)

    assert refused.value.response["Error"]["Code"] == "MetadataTooLarge"
    assert not exists(s3, bucket, "dst.txt")
    assert s3.head_object(Bucket=bucket, Key="kept.txt")["Metadata"] == {"note": "small"}


def test_header_signed_requests_are_verified_too(stack: Stack, s3: Any, bucket: str) -> None:
    forger = boto3.session.Session(aws_access_key_id=ACCESS_KEY, aws_secret_access_key="not-the-secret").client(
        "s3", endpoint_url=stack.url, region_name=REGION, config=SIGV4)
    stranger = boto3.session.Session(aws_access_key_id="UNKNOWNLOCALKEY00000", aws_secret_access_key=SECRET_KEY).client(
        "s3", endpoint_url=stack.url, region_name=REGION, config=SIGV4)
    s3.put_object(Bucket=bucket, Key="a.txt", Body=b"a", Metadata={"name": "Bjork"}, ContentType="text/plain")

    with pytest.raises(ClientError) as forged:
        forger.put_object(Bucket=bucket, Key="a.txt", Body=b"forged")
    with pytest.raises(ClientError) as unknown:
        stranger.get_object(Bucket=bucket, Key="a.txt")

    assert forged.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    assert unknown.value.response["Error"]["Code"] == "InvalidAccessKeyId"
    assert s3.get_object(Bucket=bucket, Key="a.txt")["Body"].read() == b"a"
    listing = s3.list_objects_v2(Bucket=bucket, Prefix="a", Delimiter="/", MaxKeys=5)
    assert [item["Key"] for item in listing["Contents"]] == ["a.txt"]
    s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "a.txt"}]})
    assert not exists(s3, bucket, "a.txt")


def test_copy_source_conditions_are_evaluated_as_s3_does(stack: Stack, s3: Any, bucket: str) -> None:
    etag = s3.put_object(Bucket=bucket, Key="in/a.wav", Body=b"first")["ETag"]
    source = {"Bucket": bucket, "Key": "in/a.wav"}
    s3.copy_object(Bucket=bucket, Key="kept/a.wav", CopySource=source, CopySourceIfMatch=etag)
    s3.put_object(Bucket=bucket, Key="in/a.wav", Body=b"a later post")  # the source changed since its event
    stack.sink.events.clear()
    with pytest.raises(ClientError) as refused:
        s3.copy_object(Bucket=bucket, Key="kept/b.wav", CopySource=source, CopySourceIfMatch=etag)
    assert refused.value.response["Error"]["Code"] == "PreconditionFailed"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="kept/b")  # nothing copied
    assert not stack.sink.events  # and nothing announced
    with pytest.raises(ClientError) as refused:
        s3.copy_object(Bucket=bucket, Key="kept/c.wav", CopySource=source,
                       CopySourceIfNoneMatch=s3.head_object(Bucket=bucket, Key="in/a.wav")["ETag"])
    assert refused.value.response["Error"]["Code"] == "PreconditionFailed"
    s3.copy_object(Bucket=bucket, Key="kept/d.wav", CopySource=source, CopySourceIfNoneMatch=etag)
    assert s3.get_object(Bucket=bucket, Key="kept/d.wav")["Body"].read() == b"a later post"
    with pytest.raises(ClientError) as missing:
        s3.copy_object(Bucket=bucket, Key="kept/e.wav", CopySource={"Bucket": bucket, "Key": "in/none.wav"},
                       CopySourceIfMatch=etag)
    assert missing.value.response["Error"]["Code"] == "NoSuchKey"
