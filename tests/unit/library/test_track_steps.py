"""The track workflow's zip steps against moto: inspect (claim, tags, cover), finish, failure."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from soundcanvas.core import storage
from soundcanvas.core.errors import AudioRejected, TrackNotFound
from soundcanvas.library.tracks import TrackStore
from tests.audiogen import PNG_1PX, tagged_flac, write
from tests.conftest import FakeContext, load_function


@pytest.fixture
def steps(aws: dict[str, Any]) -> dict[str, Any]:
    return {name: load_function(name) for name in ("inspect_track", "finish_track", "track_failed")}


@pytest.fixture
def store(aws: dict[str, Any]) -> TrackStore:
    return TrackStore(aws["tracks_table"], "us-east-1")


def upload_event(bucket: str, key: str) -> dict[str, Any]:
    """The EventBridge event S3 sends for an upload (events/library/inspect_track.json has a full one)."""
    catalogue = json.loads((Path(__file__).parents[3] / "events/library/inspect_track.json").read_text())
    catalogue["detail"]["bucket"]["name"] = bucket
    catalogue["detail"]["object"]["key"] = key
    return dict(catalogue)


def put(aws: dict[str, Any], key: str, data: bytes, file_name: str) -> None:
    aws["s3"].put_object(Bucket=aws["bucket"], Key=key, Body=data, Metadata={"file-name": quote(file_name)})


def run(steps: dict[str, Any], name: str, payload: dict[str, Any]) -> Any:
    return steps[name].lambda_handler(payload, FakeContext())


def keys(aws: dict[str, Any], prefix: str) -> list[str]:
    listing = aws["s3"].list_objects_v2(Bucket=aws["bucket"], Prefix=prefix)
    return sorted(o["Key"] for o in listing.get("Contents", []))


def test_an_upload_registers_the_track_and_reads_tags_and_cover(
    steps: dict[str, Any], aws: dict[str, Any], store: TrackStore, tmp_path: Path
) -> None:
    key = storage.original_key("alice", "t1", "flac")
    put(aws, key, tagged_flac(tmp_path / "a.flac", 2.0).read_bytes(), "Blue Hour (final).flac")
    result = run(steps, "inspect_track", upload_event(aws["bucket"], key))
    assert result["claimed"] and result["needsTranscode"] and result["format"] == "flac"
    record = store.get("alice", "t1")
    assert record["status"] == "PROCESSING" and record["fileName"] == "Blue Hour (final).flac"
    assert (record["name"], record["artist"], record["album"]) == ("Blue Hour", "Nadia K", "Evenings")
    assert record["durationSeconds"] == pytest.approx(2.0, abs=0.01) and record["sampleRate"] == 44100
    cover = aws["s3"].get_object(Bucket=aws["bucket"], Key=result["coverKey"])
    assert cover["Body"].read() == PNG_1PX and cover["ContentType"] == "image/png"
    # The same event again (S3 delivers at least once) is a no-op.
    assert run(steps, "inspect_track", upload_event(aws["bucket"], key))["claimed"] is False


def test_edited_fields_survive_a_re_upload(steps: dict[str, Any], aws: dict[str, Any], store: TrackStore,
                                           tmp_path: Path) -> None:
    store.create("alice", "t1", file_name="a.flac", source="upload")
    store.edit("alice", "t1", {"name": "My Name"})
    key = storage.original_key("alice", "t1", "flac")
    put(aws, key, tagged_flac(tmp_path / "a.flac").read_bytes(), "a.flac")
    run(steps, "inspect_track", upload_event(aws["bucket"], key))
    record = store.get("alice", "t1")
    assert (record["name"], record["artist"]) == ("My Name", "Nadia K")
    assert "my name" in record["searchText"] and record["artistKey"] == "nadia k"


def test_finish_marks_ready_and_removes_the_previous_versions_objects(
    steps: dict[str, Any], aws: dict[str, Any], store: TrackStore, tmp_path: Path
) -> None:
    key = storage.original_key("alice", "t1", "wav")
    stale = ["library/alice/t1/original.flac", "library/alice/t1/audio.0ld.mp3"]
    for old in stale:
        aws["s3"].put_object(Bucket=aws["bucket"], Key=old, Body=b"old")
    put(aws, key, write(tmp_path / "a.wav").read_bytes(), "a.wav")
    track = run(steps, "inspect_track", upload_event(aws["bucket"], key))
    mp3 = storage.track_mp3_key("alice", "t1", track["version"])
    aws["s3"].put_object(Bucket=aws["bucket"], Key=mp3, Body=b"mp3")
    done = run(steps, "finish_track", {"track": {**track, "transcode": {"mp3Key": mp3}}})
    assert done["ready"] and done["removed"] == 2
    record = store.get("alice", "t1")
    assert record["status"] == "READY" and record["mp3Key"] == mp3 and record["dueAt"] == done["dueAt"]
    assert keys(aws, "library/alice/t1/") == sorted([key, mp3])


def test_a_superseded_version_leaves_the_newer_one_alone(steps: dict[str, Any], aws: dict[str, Any],
                                                         store: TrackStore, tmp_path: Path) -> None:
    key = storage.original_key("alice", "t1", "wav")
    put(aws, key, write(tmp_path / "a.wav", 1.0).read_bytes(), "a.wav")
    old = run(steps, "inspect_track", upload_event(aws["bucket"], key))
    put(aws, key, write(tmp_path / "b.wav", 3.0).read_bytes(), "a.wav")
    new = run(steps, "inspect_track", upload_event(aws["bucket"], key))
    assert new["claimed"] and new["version"] != old["version"]
    old_mp3 = storage.track_mp3_key("alice", "t1", old["version"])
    aws["s3"].put_object(Bucket=aws["bucket"], Key=old_mp3, Body=b"mp3")
    assert run(steps, "finish_track", {"track": {**old, "transcode": {"mp3Key": old_mp3}}})["ready"] is False
    assert old_mp3 not in keys(aws, "library/alice/t1/")
    record = store.get("alice", "t1")
    assert record["status"] == "PROCESSING" and record["version"] == new["version"]
    assert record["durationSeconds"] == pytest.approx(3.0, abs=0.01)


@pytest.mark.parametrize(("data", "message"), [
    (b"", "the file is empty"),
    (b"%PDF-1.7\n" + b"x" * 2000, "not a supported audio file"),
], ids=["empty", "pdf"])
def test_bad_audio_fails_the_track_and_leaves_nothing(steps: dict[str, Any], aws: dict[str, Any], store: TrackStore,
                                                      data: bytes, message: str) -> None:
    key = storage.original_key("alice", "t1", "mp3")
    put(aws, key, data, "song.mp3")
    event = upload_event(aws["bucket"], key)
    with pytest.raises(AudioRejected) as caught:
        run(steps, "inspect_track", event)
    error = {"Error": "AudioRejected", "Cause": json.dumps({"errorMessage": str(caught.value)})}
    result = run(steps, "track_failed", {**event, "error": error})
    assert result["marked"] and message in result["message"]
    record = store.get("alice", "t1")
    assert record["status"] == "FAILED" and message in record["errorMessage"] and "dueAt" not in record
    assert keys(aws, "library/alice/t1/") == []


def test_an_internal_error_gets_a_message_with_what_to_do(steps: dict[str, Any], aws: dict[str, Any],
                                                          store: TrackStore, tmp_path: Path) -> None:
    key = storage.original_key("alice", "t1", "wav")
    put(aws, key, write(tmp_path / "a.wav").read_bytes(), "a.wav")
    track = run(steps, "inspect_track", upload_event(aws["bucket"], key))
    error = {"Error": "States.Timeout", "Cause": ""}
    result = run(steps, "track_failed", {"track": track, "error": error})
    assert result["message"] == "the transcode stage did not finish in time; upload the file again"
    assert store.get("alice", "t1")["status"] == "FAILED"


def test_a_deleted_upload_is_reported_not_crashed(steps: dict[str, Any], aws: dict[str, Any]) -> None:
    with pytest.raises(TrackNotFound):
        run(steps, "inspect_track", upload_event(aws["bucket"], storage.original_key("alice", "gone", "mp3")))


def test_events_for_other_keys_or_buckets_are_ignored(steps: dict[str, Any], aws: dict[str, Any]) -> None:
    assert run(steps, "inspect_track", upload_event(aws["bucket"], "images/alice/j/input.jpg"))["claimed"] is False
    assert run(steps, "inspect_track", upload_event("other-bucket", "library/a/t/original.mp3"))["claimed"] is False
    forged = {"userId": "mallory", "trackId": "t1", "key": "library/alice/t1/original.mp3"}
    assert run(steps, "inspect_track", forged)["claimed"] is False
