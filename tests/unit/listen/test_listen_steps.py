"""ClaimTranscription and TranscriptionFailed against moto: exactly-once claims, single-use forms and
failures that say which stage failed and why, leaving nothing half-written."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from soundcanvas.listen import transcriptions
from soundcanvas.listen.transcriptions import TranscriptionStore
from tests.conftest import FakeContext, load_function

EVENTS = Path(__file__).resolve().parents[3] / "events"
OPTIONS = {"instrument": "guitar", "tuning": {"name": "standard", "strings": ["E2", "A2", "D3", "G3", "B3", "E4"]},
           "capo": 0}


@pytest.fixture
def store(aws: dict[str, Any]) -> TranscriptionStore:
    return TranscriptionStore(aws["env"]["TRANSCRIPTIONS_TABLE_NAME"], "us-east-1")


def pending(store: TranscriptionStore, user: str = "u1") -> tuple[str, str]:
    tid = uuid.uuid4().hex
    store.create(user, tid, source={"kind": "upload", "contentType": "audio/wav"}, options=OPTIONS,
                 retention_days=30, upload_expires_at=int(store.clock()) + 900)
    return tid, transcriptions.input_key(user, tid, "wav")


def post(aws: dict[str, Any], key: str, body: bytes) -> dict[str, Any]:
    """Put audio where the form would, and return the event S3 sends for it (wrapped as the ASL does)."""
    etag = aws["s3"].put_object(Bucket=aws["bucket"], Key=key, Body=body)["ETag"].strip('"')
    event = json.loads((EVENTS / "generation" / "start_job.json").read_text())
    event["detail"]["bucket"]["name"], event["detail"]["object"]["key"] = aws["bucket"], key
    event["detail"]["object"]["etag"] = etag
    return {"event": event}


def keys(aws: dict[str, Any], user: str, tid: str) -> list[str]:
    listing = aws["s3"].list_objects_v2(Bucket=aws["bucket"], Prefix=transcriptions.prefix(user, tid))
    return sorted(o["Key"].rsplit("/", 1)[1] for o in listing.get("Contents", []))


def test_an_upload_is_claimed_once_and_kept_under_the_source_key(aws: dict[str, Any], store: TranscriptionStore) -> None:
    claim = load_function("claim_transcription")
    tid, key = pending(store)
    event = post(aws, key, b"RIFF first take")
    first = claim.lambda_handler(event, FakeContext())
    assert first["claimed"] is True and first["sourceKey"].endswith(f"{tid}/source.wav")
    assert first["options"] == OPTIONS
    assert keys(aws, "u1", tid) == ["source.wav"]  # the upload key is empty again
    record = store.get("u1", tid)
    assert record["status"] == "RUNNING" and record["stage"] == "decode" and record["uploadExpiresAt"] is None
    again = claim.lambda_handler(event, FakeContext())
    assert again["claimed"] is False and again["reason"] == "duplicate event for the claimed upload"


def test_a_second_post_of_a_used_form_is_removed_unprocessed(aws: dict[str, Any], store: TranscriptionStore) -> None:
    claim = load_function("claim_transcription")
    tid, key = pending(store)
    claim.lambda_handler(post(aws, key, b"RIFF first take"), FakeContext())
    later = claim.lambda_handler(post(aws, key, b"RIFF second take"), FakeContext())
    assert later["claimed"] is False and "later post" in later["reason"]
    assert keys(aws, "u1", tid) == ["source.wav"]
    source = aws["s3"].get_object(Bucket=aws["bucket"], Key=transcriptions.source_key("u1", tid, "wav"))
    assert source["Body"].read() == b"RIFF first take"


def test_an_upload_for_no_transcription_is_removed(aws: dict[str, Any]) -> None:
    claim = load_function("claim_transcription")
    tid = uuid.uuid4().hex
    out = claim.lambda_handler(post(aws, transcriptions.input_key("u1", tid, "mp3"), b"ID3"), FakeContext())
    assert out["claimed"] is False and "no such transcription" in out["reason"]
    assert keys(aws, "u1", tid) == []


def test_events_that_are_not_listen_uploads_are_ignored(aws: dict[str, Any]) -> None:
    claim = load_function("claim_transcription")
    event = post(aws, "library/u1/t1/original.mp3", b"ID3")
    assert claim.lambda_handler(event, FakeContext())["reason"].startswith("not a Listen upload key")
    event["event"]["detail"]["bucket"]["name"] = "someone-elses-bucket"
    assert "another bucket" in claim.lambda_handler(event, FakeContext())["reason"]


def test_a_track_copy_is_claimed_by_ids(aws: dict[str, Any], store: TranscriptionStore) -> None:
    claim = load_function("claim_transcription")
    tid = uuid.uuid4().hex
    source = transcriptions.source_key("u1", tid, "flac")
    store.create("u1", tid, source={"kind": "track", "trackId": "t1"}, options=OPTIONS, retention_days=30,
                 source_key=source)
    first = claim.lambda_handler({"event": {"userId": "u1", "transcriptionId": tid}}, FakeContext())
    assert first["claimed"] is True and first["sourceKey"] == source
    assert claim.lambda_handler({"event": {"userId": "u1", "transcriptionId": tid}}, FakeContext())["claimed"] is False


def test_a_failure_names_the_stage_and_removes_everything_but_the_source(aws: dict[str, Any],
                                                                         store: TranscriptionStore) -> None:
    claim, failed = load_function("claim_transcription"), load_function("transcription_failed")
    tid, key = pending(store)
    job = claim.lambda_handler(post(aws, key, b"not audio at all"), FakeContext())
    aws["s3"].put_object(Bucket=aws["bucket"], Key=transcriptions.work_key("u1", tid, "audio.npy"), Body=b"x")
    cause = json.dumps({"errorMessage": "not an audio file: got text", "errorType": "AudioRejected"})
    out = failed.lambda_handler({"job": job, "error": {"Error": "AudioRejected", "Cause": cause}}, FakeContext())
    assert out["marked"] is True and out["stage"] == "decode"
    record = store.get("u1", tid)
    assert (record["status"], record["failedStage"], record["errorMessage"]) == (
        "FAILED", "decode", "not an audio file: got text")
    assert record["activeShard"] is None
    assert keys(aws, "u1", tid) == ["source.wav"]
    again = failed.lambda_handler({"job": job, "error": {"Error": "AudioRejected", "Cause": cause}}, FakeContext())
    assert again["marked"] is False and store.get("u1", tid)["errorMessage"] == "not an audio file: got text"


def test_an_internal_error_gets_a_plain_message_with_a_reference(aws: dict[str, Any],
                                                                 store: TranscriptionStore) -> None:
    claim, failed = load_function("claim_transcription"), load_function("transcription_failed")
    tid, key = pending(store)
    job = claim.lambda_handler(post(aws, key, b"RIFF"), FakeContext())
    error = {"Error": "KeyError", "Cause": json.dumps({"errorMessage": "'tempo'", "errorType": "KeyError"})}
    failed.lambda_handler({"job": job, "error": error}, FakeContext())
    message = store.get("u1", tid)["errorMessage"]
    assert "internal error in the decode stage (KeyError)" in message and tid in message and "'tempo'" not in message


def test_a_retried_claim_of_the_same_execution_resumes_and_another_stops(aws: dict[str, Any],
                                                                          store: TranscriptionStore) -> None:
    claim = load_function("claim_transcription")
    _tid, key = pending(store)
    event = post(aws, key, b"RIFF take")
    first = claim.lambda_handler({**event, "executionId": "run-1"}, FakeContext())
    retried = claim.lambda_handler({**event, "executionId": "run-1"}, FakeContext())
    duplicate = claim.lambda_handler({**event, "executionId": "run-2"}, FakeContext())
    assert first["claimed"] is True and retried["claimed"] is True and retried["sourceKey"] == first["sourceKey"]
    assert duplicate["claimed"] is False


def test_a_failed_claim_of_a_duplicate_event_leaves_the_running_transcription_alone(
        aws: dict[str, Any], store: TranscriptionStore) -> None:
    claim, failed = load_function("claim_transcription"), load_function("transcription_failed")
    tid, key = pending(store)
    event = post(aws, key, b"RIFF take")
    claim.lambda_handler(event, FakeContext())
    aws["s3"].put_object(Bucket=aws["bucket"], Key=transcriptions.work_key("u1", tid, "audio.npy"), Body=b"x")
    error = {"Error": "TransientError", "Cause": json.dumps({"errorMessage": "throttled"})}
    out = failed.lambda_handler({**event["event"], "error": error}, FakeContext())  # no $.job: the claim failed
    assert out["marked"] is False and store.get("u1", tid)["status"] == "RUNNING"
    assert "audio.npy" in keys(aws, "u1", tid)  # the running transcription's work files stay


def test_a_late_failure_keeps_a_complete_transcriptions_files(aws: dict[str, Any], store: TranscriptionStore) -> None:
    claim, failed = load_function("claim_transcription"), load_function("transcription_failed")
    tid, key = pending(store)
    job = claim.lambda_handler(post(aws, key, b"RIFF take"), FakeContext())
    result = transcriptions.output_key("u1", tid, "result.json")
    aws["s3"].put_object(Bucket=aws["bucket"], Key=result, Body=b"{}")
    assert store.advance("u1", tid, finished="tab", elapsed_ms=5, next_stage="done", outputs={"resultKey": result})
    error = {"Error": "TranscriptionNotFound", "Cause": json.dumps({"errorMessage": "stopped"})}
    out = failed.lambda_handler({"job": job, "error": error}, FakeContext())
    assert out["marked"] is False and store.get("u1", tid)["status"] == "COMPLETE"
    assert "result.json" in keys(aws, "u1", tid)
