"""Picture -> music over real HTTP through the local stack, and every way an upload can go wrong."""

from __future__ import annotations

import hashlib
import io
import json
import threading
import wave
from typing import Any

import numpy as np
import pytest
import requests

from local_stack.stack import LocalStack
from tests import imagegen
from tests.e2e.conftest import SAMPLE, Client, ShiftableClock, job_objects

SAMPLE_VERSION = hashlib.md5(SAMPLE.read_bytes()).hexdigest()[:16]  # noqa: S324 (S3's ETag of a simple upload)

pytestmark = [pytest.mark.e2e, pytest.mark.fluidsynth]


def check_wav(data: bytes, seconds: float) -> None:
    with wave.open(io.BytesIO(data)) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (44100, 2, 2)
        assert abs(wav.getnframes() / 44100 - seconds) < 0.05
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").astype(np.float64) / 32768
    assert np.sqrt(np.mean(samples**2)) > 10 ** (-40 / 20), "the piece is silent"
    assert np.max(np.abs(samples)) <= 10 ** (-1 / 20) + 1e-4, "peak above -1 dBFS"


def test_picture_to_music_end_to_end(alice: Client, stack: LocalStack) -> None:
    job = alice.create(genre="lofi", durationSeconds=15, seed=11)
    assert job["status"] == "PENDING"
    assert alice.upload(job, SAMPLE.read_bytes()).status_code == 204
    progress: list[int] = []
    final = alice.wait(job["jobId"], seen=lambda s: progress.append(s["progress"]))
    assert final["status"] == "COMPLETE", final
    assert progress == sorted(progress) and final["progress"] == 100
    params = final["params"]
    assert params["genre"] == "lofi" and params["durationSeconds"] == 15 and params["seed"] == 11
    assert set(final["timings"]) == {"analyze", "compose", "render"}
    check_wav(requests.get(final["audioUrl"], timeout=30).content, 15)
    preview = requests.get(final["previewUrl"], timeout=30).content
    assert preview[:3] == b"ID3" or preview[0] == 0xFF, "preview is not MP3"
    assert requests.get(final["midiUrl"], timeout=30).content[:4] == b"MThd"
    assert requests.get(final["imageUrl"], timeout=30).content == SAMPLE.read_bytes()
    listed = alice.session.get(alice.url("/generations"), timeout=30).json()["items"]
    assert job["jobId"] in [item["jobId"] for item in listed]
    assert job_objects(stack, "alice", job["jobId"]) == sorted([
        f"analysis/alice/{job['jobId']}/features.json", f"audio/alice/{job['jobId']}/output.wav",
        f"audio/alice/{job['jobId']}/preview.mp3", f"images/alice/{job['jobId']}/picture.{SAMPLE_VERSION}.jpg",
        f"midi/alice/{job['jobId']}/composition.mid"])


@pytest.mark.parametrize(
    ("data", "content_type", "message"),
    [
        (b"hello, this is not a picture\n" * 20, "image/jpeg", "not a supported image"),
        (imagegen.pdf_bytes(), "image/jpeg", "not a supported image: got PDF data"),
        (imagegen.truncated_jpeg_bytes(), "image/jpeg", "truncated"),
        (imagegen.bomb_png_bytes(20000, 20000), "image/png", "image is 400 megapixels; the limit is 50"),
    ],
    ids=["text", "pdf", "truncated-jpeg", "decompression-bomb"],
)
def test_bad_pictures_fail_the_job_with_a_clear_message(alice: Client, stack: LocalStack, data: bytes,
                                                        content_type: str, message: str) -> None:
    job = alice.create(durationSeconds=15, contentType=content_type)
    assert alice.upload(job, data).status_code == 204
    final = alice.wait(job["jobId"])
    assert final["status"] == "FAILED" and final["failedStage"] == "analyze"
    assert message in final["errorMessage"]
    assert final["audioUrl"] is None and final["midiUrl"] is None
    # nothing half-written: only the job's copy of the upload is stored
    ext = "png" if content_type == "image/png" else "jpg"
    version = hashlib.md5(data).hexdigest()[:16]  # noqa: S324 (S3's ETag of a simple upload)
    assert job_objects(stack, "alice", job["jobId"]) == [f"images/alice/{job['jobId']}/picture.{version}.{ext}"]


def test_empty_and_oversize_uploads_are_refused_by_s3(alice: Client, stack: LocalStack) -> None:
    job = alice.create(durationSeconds=15)
    empty = alice.upload(job, b"")
    assert empty.status_code == 400 and "EntityTooSmall" in empty.text
    too_big = alice.upload(job, b"\xff" * (job["upload"]["maxBytes"] + 1))
    assert too_big.status_code == 400 and "EntityTooLarge" in too_big.text
    assert job_objects(stack, "alice", job["jobId"]) == []
    assert alice.get(job["jobId"]).json()["status"] == "PENDING"


def test_a_form_for_another_content_type_or_an_expired_form_is_refused(alice: Client, stack: LocalStack,
                                                                       clock: ShiftableClock) -> None:
    job = alice.create(durationSeconds=15, contentType="image/png")
    tampered = {**job["upload"]["fields"], "Content-Type": "text/html"}
    response = alice.upload(job, imagegen.jpeg_bytes(64, 64), fields=tampered)
    assert response.status_code == 403 and "Policy Condition failed" in response.text
    clock.offset = job["upload"]["expiresAt"] - clock() + 5
    response = alice.upload(job, imagegen.jpeg_bytes(64, 64))
    assert response.status_code == 403 and "Policy expired" in response.text
    assert job_objects(stack, "alice", job["jobId"]) == []


def test_download_urls_expire(alice: Client, clock: ShiftableClock) -> None:
    job = alice.create(durationSeconds=15)
    alice.upload(job, SAMPLE.read_bytes())
    final = alice.wait(job["jobId"])
    assert requests.get(final["midiUrl"], timeout=30).status_code == 200
    clock.offset = 301
    expired = requests.get(final["midiUrl"], timeout=30)
    assert expired.status_code == 403 and "Request has expired" in expired.text


def test_other_users_cannot_see_regenerate_or_delete(alice: Client, mallory: Client, stack: LocalStack) -> None:
    job = alice.create(durationSeconds=15)
    alice.upload(job, SAMPLE.read_bytes())
    alice.wait(job["jobId"])
    job_id = job["jobId"]
    assert mallory.get(job_id).status_code == 404
    assert mallory.session.post(mallory.url(f"/generations/{job_id}/regenerate"), json={}, timeout=30).status_code == 404
    assert mallory.session.delete(mallory.url(f"/generations/{job_id}"), timeout=30).status_code == 404
    assert job_id not in [i["jobId"] for i in mallory.session.get(mallory.url("/generations"), timeout=30).json()["items"]]
    assert alice.get(job_id).json()["status"] == "COMPLETE"


def test_regenerate_reuses_the_analysis_and_delete_removes_everything(alice: Client, stack: LocalStack) -> None:
    job = alice.create(genre="ambient", durationSeconds=15, seed=1)
    alice.upload(job, SAMPLE.read_bytes())
    first = alice.wait(job["jobId"])
    s3, bucket = stack.client("s3"), stack.template.names["MediaBucket"]
    features_key = f"analysis/alice/{job['jobId']}/features.json"
    stamp = s3.head_object(Bucket=bucket, Key=features_key)["ETag"], s3.head_object(Bucket=bucket, Key=features_key)[
        "LastModified"]
    response = alice.session.post(alice.url(f"/generations/{job['jobId']}/regenerate"),
                                  json={"genre": "jazz", "durationSeconds": 20}, timeout=30)
    assert response.status_code == 202 and response.json()["run"] == 1
    second = alice.wait(job["jobId"])
    assert second["status"] == "COMPLETE"
    assert second["params"]["genre"] == "jazz" and second["params"]["durationSeconds"] == 20
    assert first["params"]["genre"] == "ambient"
    head = s3.head_object(Bucket=bucket, Key=features_key)
    assert (head["ETag"], head["LastModified"]) == stamp, "features.json was recomputed"
    check_wav(requests.get(second["audioUrl"], timeout=30).content, 20)
    assert alice.session.delete(alice.url(f"/generations/{job['jobId']}"), timeout=30).status_code == 204
    assert job_objects(stack, "alice", job["jobId"]) == []
    assert alice.get(job["jobId"]).status_code == 404


def test_ten_concurrent_jobs_all_complete(stack: LocalStack) -> None:
    clients = [Client(stack, f"user{i}") for i in range(10)]
    jobs = [c.create(durationSeconds=15, seed=i) for i, c in enumerate(clients)]
    data = SAMPLE.read_bytes()
    threads = [threading.Thread(target=c.upload, args=(j, data)) for c, j in zip(clients, jobs, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    finals = [c.wait(j["jobId"], timeout=300) for c, j in zip(clients, jobs, strict=True)]
    assert [f["status"] for f in finals] == ["COMPLETE"] * 10


def _upload_event(stack: LocalStack, key: str) -> dict[str, Any]:
    event = json.loads((SAMPLE.parent.parent / "start_job.json").read_text())
    event["detail"]["bucket"]["name"] = stack.template.names["MediaBucket"]
    event["detail"]["object"]["key"] = key
    return event


def test_replayed_and_duplicated_upload_events_run_the_job_once(alice: Client, stack: LocalStack) -> None:
    job = alice.create(durationSeconds=15)
    key = job["upload"]["fields"]["key"]
    s3 = stack.client("s3")
    stack.deliver_events = False
    try:
        s3.put_object(Bucket=stack.template.names["MediaBucket"], Key=key, Body=SAMPLE.read_bytes())
    finally:
        stack.deliver_events = True
    # The same event delivered twice at once (at-least-once delivery), then replayed later.
    arns = stack.publish(_upload_event(stack, key)) + stack.publish(_upload_event(stack, key))
    final = alice.wait(job["jobId"])
    stack.wait_idle()
    assert final["status"] == "COMPLETE"
    replay = stack.publish(_upload_event(stack, key))
    stack.wait_idle()
    results = [stack.execution(arn) for arn in arns + replay]  # DescribeExecution, each has ended
    assert all(r["status"] == "SUCCEEDED" for r in results)
    claimed = [r for r in results if json.loads(r["output"])["job"]["claimed"]]
    assert len(claimed) == 1, "the job ran more than once"
    after = alice.get(job["jobId"]).json()
    assert after["updatedAt"] == final["updatedAt"] and after["timings"] == final["timings"]


def test_health_cors_and_unknown_routes(stack: LocalStack) -> None:
    health = requests.get(f"{stack.api_url}/health", timeout=10)
    assert health.status_code == 200 and health.json()["status"] == "ok"
    preflight = requests.options(f"{stack.api_url}/generations", timeout=10,
                                 headers={"Origin": "http://localhost:5173", "Access-Control-Request-Method": "POST"})
    assert preflight.status_code == 200 and preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert requests.get(f"{stack.api_url}/nope", timeout=10).status_code == 403
    bad = requests.post(f"{stack.api_url}/generations", data="{oops", timeout=10,
                        headers={"Content-Type": "application/json", "Authorization": f"Bearer {stack.token('alice')}"})
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "body"
