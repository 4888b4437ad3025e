"""The S3 gate holds a presigned PUT to the headers it signs, as S3 does: the way createGeneration's
imageUploadUrl (GraphQL) keeps the picture to its declared type and size, and the PUT starts the workflow
through the same "Object Created" event as a POST form."""

from __future__ import annotations

from typing import Any

import requests

from tests.unit.local_stack import test_s3gate as gate
from tests.unit.local_stack.test_s3gate import PNG, Stack

# the gate's fixtures (one gate per module, a fresh bucket per test), shared rather than copied
stack, s3, bucket, _fresh = gate.stack, gate.s3, gate.bucket, gate._fresh

KEY = "images/u1/j1/input.png"


def presigned_put(s3: Any, bucket: str, **params: Any) -> str:
    url: str = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": KEY, **params},
                                         ExpiresIn=300)
    return url


def test_a_put_with_the_signed_type_and_length_is_stored_and_announced(stack: Stack, s3: Any, bucket: str) -> None:
    url = presigned_put(s3, bucket, ContentType="image/png", ContentLength=len(PNG))
    response = requests.put(url, data=PNG, headers={"Content-Type": "image/png"}, timeout=10)
    assert response.status_code == 200, response.text
    assert s3.get_object(Bucket=bucket, Key=KEY)["Body"].read() == PNG
    (event,) = stack.sink.events
    assert event["detail-type"] == "Object Created" and event["detail"]["object"]["key"] == KEY
    assert event["detail"]["reason"] == "PutObject" and event["detail"]["object"]["size"] == len(PNG)


def test_a_put_of_another_length_or_type_is_refused_and_stores_nothing(stack: Stack, s3: Any, bucket: str) -> None:
    url = presigned_put(s3, bucket, ContentType="image/png", ContentLength=len(PNG))
    for data, content_type in ((PNG + b"\0" * 1000, "image/png"), (PNG[:-1], "image/png"), (PNG, "image/jpeg")):
        response = requests.put(url, data=data, headers={"Content-Type": content_type}, timeout=10)
        assert response.status_code == 403 and b"<Code>SignatureDoesNotMatch</Code>" in response.content
    response = requests.put(url, data=PNG, timeout=10)  # the signed Content-Type left out
    assert response.status_code == 403
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0 and not stack.sink.events


def test_a_put_signed_without_a_length_takes_any_length(s3: Any, bucket: str) -> None:
    """What S3 does too: only a signed Content-Length binds the size (createGeneration signs it given sizeBytes)."""
    url = presigned_put(s3, bucket, ContentType="image/png")
    response = requests.put(url, data=PNG * 3, headers={"Content-Type": "image/png"}, timeout=10)
    assert response.status_code == 200
