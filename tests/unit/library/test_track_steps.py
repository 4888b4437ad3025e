"""The track workflow's zip steps against moto: inspect (claim, tags, cover), finish, failure."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from botocore.exceptions import ClientError
from PIL import Image

from soundcanvas.core import storage
from soundcanvas.core.errors import AudioRejected, TransientError
from soundcanvas.library.tracks import TrackStore
from soundcanvas.maps import fpkeys
from tests.apigw import call, event
from tests.audiogen import lying_wav, mp3, picture, tagged_flac, with_apic, with_pictures, write
from tests.conftest import FakeContext, load_function


@pytest.fixture
def steps(aws: dict[str, Any]) -> dict[str, Any]:
    return {name: load_function(name) for name in ("inspect_track", "finish_track", "track_failed")}


@pytest.fixture
def store(aws: dict[str, Any]) -> TrackStore:
    return TrackStore(aws["tracks_table"], "us-east-1")


def upload_event(bucket: str, key: str, s3: Any = None) -> dict[str, Any]:
    """The EventBridge event S3 sends for an upload (events/library/inspect_track.json has a full one),
    with the object's own ETag when `s3` can see it."""
    catalogue = json.loads((Path(__file__).parents[3] / "events/library/inspect_track.json").read_text())
    catalogue["detail"]["bucket"]["name"] = bucket
    catalogue["detail"]["object"]["key"] = key
    if s3 is not None:
        catalogue["detail"]["object"]["etag"] = s3.head_object(Bucket=bucket, Key=key)["ETag"].strip('"')
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
    assert result["claimedAt"] == record["claimedAt"] > "2026"  # orders this version's fingerprint (Maps' index)
    assert (record["name"], record["artist"], record["album"]) == ("Blue Hour", "Nadia K", "Evenings")
    assert record["durationSeconds"] == pytest.approx(2.0, abs=0.01) and record["sampleRate"] == 44100
    cover = aws["s3"].get_object(Bucket=aws["bucket"], Key=result["coverKey"])
    assert cover["ContentType"] == "image/jpeg" and result["coverKey"].endswith(".jpg")  # re-encoded, never as sent
    assert Image.open(io.BytesIO(cover["Body"].read())).size == (1, 1)
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
    stale = ["library/alice/t1/source.0ld.flac", "library/alice/t1/audio.0ld.mp3"]
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
    assert keys(aws, "library/alice/t1/") == sorted([track["originalKey"], mp3])
    assert track["originalKey"] == storage.source_key("alice", "t1", track["version"], "wav")


def test_finish_run_again_after_ready_keeps_the_tracks_files(
    steps: dict[str, Any], aws: dict[str, Any], store: TrackStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The clean-up after READY fails on S3 (TransientError, so the workflow retries): the retry finds this version
    READY and must finish the clean-up, not discard the READY version's files as if it had been replaced."""
    key = storage.original_key("alice", "t1", "wav")
    aws["s3"].put_object(Bucket=aws["bucket"], Key="library/alice/t1/audio.0ld.mp3", Body=b"old")
    put(aws, key, write(tmp_path / "a.wav").read_bytes(), "a.wav")
    track = run(steps, "inspect_track", upload_event(aws["bucket"], key))
    mp3 = storage.track_mp3_key("alice", "t1", track["version"])
    aws["s3"].put_object(Bucket=aws["bucket"], Key=mp3, Body=b"mp3")
    payload = {"track": {**track, "transcode": {"mp3Key": mp3}}}
    finish = steps["finish_track"]
    real = finish.storage.delete_prefix

    def throttled(*args: Any, **kwargs: Any) -> int:
        raise ClientError({"Error": {"Code": "SlowDown", "Message": "Please reduce your request rate."}}, "ListObjectsV2")

    monkeypatch.setattr(finish.storage, "delete_prefix", throttled)
    with pytest.raises(TransientError):
        run(steps, "finish_track", payload)
    assert store.get("alice", "t1")["status"] == "READY"
    monkeypatch.setattr(finish.storage, "delete_prefix", real)
    again = run(steps, "finish_track", payload)
    assert again["ready"] is True and again["removed"] == 1
    assert keys(aws, "library/alice/t1/") == sorted([track["originalKey"], mp3])
    assert store.get("alice", "t1")["status"] == "READY"


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
    item = index_item(aws, "alice", "t1")  # indexed by the newer version's workflow
    aws["dynamodb"].put_item(TableName=aws["fingerprints_table"], Item=item)
    assert run(steps, "finish_track", {"track": {**old, "transcode": {"mp3Key": old_mp3}}})["ready"] is False
    assert old_mp3 not in keys(aws, "library/alice/t1/") and indexed(aws, item)
    record = store.get("alice", "t1")
    assert record["status"] == "PROCESSING" and record["version"] == new["version"]
    assert record["durationSeconds"] == pytest.approx(3.0, abs=0.01)


def index_item(aws: dict[str, Any], user: str, track_id: str) -> dict[str, Any]:
    """The key of a track's audio item in Maps' fingerprint index (what its Fingerprint step writes)."""
    return {"pk": {"S": fpkeys.audio_key(fpkeys.audio_ref(user, "track", track_id))}}


def indexed(aws: dict[str, Any], key: dict[str, Any]) -> bool:
    return "Item" in aws["dynamodb"].get_item(TableName=aws["fingerprints_table"], Key=key)


def test_a_track_deleted_while_fingerprinted_leaves_no_fingerprint_behind(
    steps: dict[str, Any], aws: dict[str, Any], store: TrackStore, tmp_path: Path
) -> None:
    """Maps' Fingerprint step indexes the track after its DELETE took the index item out: FinishTrack removes it
    again (and the step's .fp object, which the version's own clean-up does not name)."""
    key = storage.original_key("alice", "t1", "wav")
    put(aws, key, write(tmp_path / "a.wav").read_bytes(), "a.wav")
    track = run(steps, "inspect_track", upload_event(aws["bucket"], key))
    assert store.delete("alice", "t1")  # the DELETE, while the Fingerprint step is still decoding
    fp_key = f"library/alice/t1/fingerprint-{track['version']}.fp"
    aws["s3"].put_object(Bucket=aws["bucket"], Key=fp_key, Body=b"fp")  # ...which then writes its results
    item = index_item(aws, "alice", "t1")
    aws["dynamodb"].put_item(TableName=aws["fingerprints_table"], Item=item)
    done = run(steps, "finish_track", {"track": {**track, "fingerprint": {"fingerprintKey": fp_key, "duplicateOf": None}}})
    assert done["ready"] is False
    assert not indexed(aws, item) and keys(aws, "library/alice/t1/") == []


@pytest.mark.parametrize(("data", "message"), [
    (b"", "the file is empty"),
    (b"%PDF-1.7\n" + b"x" * 2000, "not a supported audio file"),
], ids=["empty", "pdf"])
def test_bad_audio_fails_the_track_and_leaves_nothing(steps: dict[str, Any], aws: dict[str, Any], store: TrackStore,
                                                      data: bytes, message: str) -> None:
    key = storage.original_key("alice", "t1", "mp3")
    put(aws, key, data, "song.mp3")
    event = upload_event(aws["bucket"], key, aws["s3"])
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


def test_an_empty_upload_key_is_already_handled(steps: dict[str, Any], aws: dict[str, Any]) -> None:
    # Claimed uploads move to their source key: a replayed event (or a removed upload) finds nothing there.
    result = run(steps, "inspect_track", upload_event(aws["bucket"], storage.original_key("alice", "gone", "mp3")))
    assert result["claimed"] is False and "no longer there" in result["reason"]


def test_events_for_other_keys_or_buckets_are_ignored(steps: dict[str, Any], aws: dict[str, Any]) -> None:
    assert run(steps, "inspect_track", upload_event(aws["bucket"], "images/alice/j/input.jpg"))["claimed"] is False
    assert run(steps, "inspect_track", upload_event("other-bucket", "library/a/t/original.mp3"))["claimed"] is False
    forged = {"userId": "mallory", "trackId": "t1", "key": "library/alice/t1/original.mp3"}
    assert run(steps, "inspect_track", forged)["claimed"] is False


# --- cover art: decoded, re-encoded, served as what we encoded -----------------------------------
def cover_objects(aws: dict[str, Any], user: str, track_id: str) -> list[str]:
    return [k for k in keys(aws, f"library/{user}/{track_id}/") if k.rsplit("/", 1)[-1].startswith("cover.")]


SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect width="9" height="9"/></svg>'


@pytest.mark.parametrize(("container", "data", "mime"), [
    ("flac", b"<html><script>alert(document.cookie)</script></html>", "text/html"),
    ("flac", SVG, "image/svg+xml"),
    ("mp3", b"<html><script>alert(document.cookie)</script></html>", "text/html"),
    ("mp3", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "image/png"),  # a PNG signature and nothing decodable
], ids=["flac-html", "flac-svg", "mp3-html", "mp3-broken-png"])
def test_cover_art_that_is_not_a_raster_image_is_dropped(
    steps: dict[str, Any], aws: dict[str, Any], store: TrackStore, tmp_path: Path, container: str, data: bytes,
    mime: str,
) -> None:
    if container == "flac":
        source = with_pictures(tagged_flac(tmp_path / "a.flac", cover=None), (data, mime))
    else:
        source = with_apic(mp3(tmp_path / "a.mp3"), data, mime)
    key = storage.original_key("alice", "t1", container)
    put(aws, key, source.read_bytes(), f"a.{container}")
    result = run(steps, "inspect_track", upload_event(aws["bucket"], key))
    assert result["claimed"] and result["coverKey"] is None
    assert "coverKey" not in store.get("alice", "t1")
    assert cover_objects(aws, "alice", "t1") == []


@pytest.mark.parametrize(("data", "mime", "content_type", "mode"), [
    (picture(2400, 1600), "text/html", "image/jpeg", "RGB"),  # an opaque picture under a lying type: JPEG
    (picture(300, 200, alpha=True), "image/jpeg", "image/png", "RGBA"),  # transparency kept: PNG
    (picture(640, 640, fmt="GIF"), "image/gif", "image/jpeg", "RGB"),
], ids=["opaque-as-html", "transparent-as-jpeg", "gif"])
def test_cover_art_is_re_encoded_and_served_as_what_we_encoded(
    steps: dict[str, Any], aws: dict[str, Any], tmp_path: Path, data: bytes, mime: str, content_type: str, mode: str
) -> None:
    source = with_pictures(tagged_flac(tmp_path / "a.flac", cover=None), (data, mime))
    key = storage.original_key("alice", "t1", "flac")
    put(aws, key, source.read_bytes(), "a.flac")
    result = run(steps, "inspect_track", upload_event(aws["bucket"], key))
    stored = aws["s3"].get_object(Bucket=aws["bucket"], Key=result["coverKey"])
    assert stored["ContentType"] == content_type
    assert result["coverKey"].endswith(".jpg" if content_type == "image/jpeg" else ".png")
    image = Image.open(io.BytesIO(stored["Body"].read()))
    assert Image.MIME[image.format] == content_type and image.mode == mode
    original = Image.open(io.BytesIO(data))
    assert max(image.size) == min(1200, max(original.size))
    assert image.size[0] / image.size[1] == pytest.approx(original.size[0] / original.size[1], rel=0.01)


# --- oversized tags are refused before mutagen reads them ----------------------------------------
def test_an_mp3_whose_id3_tag_is_over_the_limit_is_refused_unread(
    steps: dict[str, Any], aws: dict[str, Any], store: TrackStore, tmp_path: Path
) -> None:
    source = with_apic(mp3(tmp_path / "a.mp3"), b"\x89PNG\r\n\x1a\n" + bytes(17 * 1024 * 1024), "image/png")
    key = storage.original_key("alice", "t1", "mp3")
    put(aws, key, source.read_bytes(), "a.mp3")
    event = upload_event(aws["bucket"], key, aws["s3"])
    with pytest.raises(AudioRejected, match=r"embedded tags and pictures take 17 MB; the limit is 16 MB") as caught:
        run(steps, "inspect_track", event)
    assert cover_objects(aws, "alice", "t1") == []
    error = {"Error": "AudioRejected", "Cause": json.dumps({"errorMessage": str(caught.value)})}
    assert "remove the embedded cover art" in run(steps, "track_failed", {**event, "error": error})["message"]
    assert store.get("alice", "t1")["status"] == "FAILED" and keys(aws, "library/alice/t1/") == []


def test_a_flac_whose_pictures_add_up_past_the_limit_is_refused_unread(
    steps: dict[str, Any], aws: dict[str, Any], tmp_path: Path
) -> None:
    nine_mb = b"\x89PNG\r\n\x1a\n" + bytes(9 * 1024 * 1024)
    source = with_pictures(tagged_flac(tmp_path / "a.flac", cover=None), (nine_mb, "image/png"), (nine_mb, "image/png"))
    key = storage.original_key("alice", "t1", "flac")
    put(aws, key, source.read_bytes(), "a.flac")
    with pytest.raises(AudioRejected, match=r"embedded tags and pictures take 18 MB; the limit is 16 MB"):
        run(steps, "inspect_track", upload_event(aws["bucket"], key))
    assert cover_objects(aws, "alice", "t1") == []


# --- a failed track reports no stream facts it could not stand behind ----------------------------
def test_a_failed_track_does_not_report_the_duration_its_header_claimed(
    steps: dict[str, Any], aws: dict[str, Any], store: TrackStore, tmp_path: Path
) -> None:
    key = storage.original_key("alice", "t1", "wav")
    put(aws, key, write(tmp_path / "a.wav").read_bytes(), "a.wav")
    track = run(steps, "inspect_track", upload_event(aws["bucket"], key))
    assert store.get("alice", "t1")["durationSeconds"] == pytest.approx(2.0, abs=0.01)
    cause = json.dumps({"errorMessage": "could not decode the audio: the file is truncated"})
    run(steps, "track_failed", {"track": track, "error": {"Error": "TranscodeFailed", "Cause": cause}})
    record = store.get("alice", "t1")
    assert record["status"] == "FAILED"
    assert not {"durationSeconds", "bitrateKbps", "sampleRate", "channels"} & set(record)


def test_a_wav_shorter_than_its_header_says_is_refused_as_truncated(
    steps: dict[str, Any], aws: dict[str, Any], store: TrackStore, tmp_path: Path
) -> None:
    key = storage.original_key("alice", "t1", "wav")
    put(aws, key, lying_wav(tmp_path / "a.wav", actual_seconds=1.0, header_minutes=29), "a.wav")
    event = upload_event(aws["bucket"], key)
    with pytest.raises(AudioRejected, match=r"truncated: its header says 29\.0 minutes of audio, the file holds 1\.0 s"):
        run(steps, "inspect_track", event)
    assert "durationSeconds" not in store.get("alice", "t1")


# --- an upload form is single-use ------------------------------------------------------------------
def post_form(aws: dict[str, Any], form: dict[str, Any], data: bytes) -> str:
    """What S3 does with a presigned POST: the object under the form's key, with the form's x-amz-meta-* fields."""
    fields = form["upload"]["fields"]
    metadata = {k.removeprefix("x-amz-meta-"): v for k, v in fields.items() if k.startswith("x-amz-meta-")}
    aws["s3"].put_object(Bucket=aws["bucket"], Key=fields["key"], Body=data, Metadata=metadata,
                         ContentType=fields["Content-Type"])
    return str(fields["key"])


def issue_form(aws: dict[str, Any], file_name: str, content_type: str = "audio/wav") -> dict[str, Any]:
    api = load_function("tracks_api")
    status, payload = call(api, event("POST", "/tracks/uploads", body={
        "files": [{"fileName": file_name, "contentType": content_type, "sizeBytes": 1000}]}))
    assert status == 201, payload
    return dict(payload["files"][0])


def test_an_upload_form_is_single_use(steps: dict[str, Any], aws: dict[str, Any], store: TrackStore,
                                      tmp_path: Path) -> None:
    form = issue_form(aws, "take.wav")
    first = write(tmp_path / "a.wav", 1.0).read_bytes()
    key = post_form(aws, form, first)
    track = run(steps, "inspect_track", upload_event(aws["bucket"], key))
    assert track["claimed"] and track["originalKey"] != key
    kept = aws["s3"].get_object(Bucket=aws["bucket"], Key=track["originalKey"])["Body"].read()
    assert kept == first and key not in keys(aws, "library/alice/")  # the form's key is free again
    # The same form posted again with other audio: no work, nothing processed is touched.
    again = post_form(aws, form, write(tmp_path / "b.wav", 3.0).read_bytes())
    refused = run(steps, "inspect_track", upload_event(aws["bucket"], again))
    assert refused["claimed"] is False and "upload form was already used" in refused["reason"]
    record = store.get("alice", form["trackId"])
    assert record["version"] == track["version"] and record["durationSeconds"] == pytest.approx(1.0, abs=0.01)
    assert keys(aws, f"library/alice/{form['trackId']}/") == [track["originalKey"]]
    assert aws["s3"].get_object(Bucket=aws["bucket"], Key=track["originalKey"])["Body"].read() == first


def test_a_new_form_for_the_same_file_name_replaces_the_audio(steps: dict[str, Any], aws: dict[str, Any],
                                                              store: TrackStore, tmp_path: Path) -> None:
    form = issue_form(aws, "take.wav")
    first = run(steps, "inspect_track", upload_event(aws["bucket"], post_form(aws, form, write(tmp_path / "a.wav", 1.0)
                                                                                  .read_bytes())))
    second_form = issue_form(aws, "take.wav")
    assert second_form["trackId"] == form["trackId"] and second_form["replaces"] is True
    key = post_form(aws, second_form, write(tmp_path / "b.wav", 3.0).read_bytes())
    second = run(steps, "inspect_track", upload_event(aws["bucket"], key))
    assert second["claimed"] and second["version"] != first["version"]
    assert store.get("alice", form["trackId"])["durationSeconds"] == pytest.approx(3.0, abs=0.01)


def test_a_retried_inspect_carries_on_with_its_own_claim(steps: dict[str, Any], aws: dict[str, Any],
                                                         store: TrackStore, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    form = issue_form(aws, "take.wav")
    key = post_form(aws, form, write(tmp_path / "a.wav", 1.0).read_bytes())
    execution = "arn:aws:states:us-east-1:000000000000:execution:TrackStateMachine:one"
    wrapped = {"event": upload_event(aws["bucket"], key), "executionId": execution}  # as the workflow passes it
    s3 = steps["inspect_track"].runtime.s3

    def slow_down(**_: Any) -> Any:
        raise ClientError({"Error": {"Code": "SlowDown", "Message": "Please reduce your request rate."}}, "GetObject")

    with monkeypatch.context() as patch:
        patch.setattr(s3, "get_object", slow_down)  # S3 throttles the download, after the claim and the move
        with pytest.raises(TransientError):
            run(steps, "inspect_track", wrapped)
    assert key not in keys(aws, "library/alice/")
    # Another execution for the same upload (a duplicated event) stops; this one, retried, carries on.
    assert run(steps, "inspect_track", {**wrapped, "executionId": execution[:-3] + "two"})["claimed"] is False
    track = run(steps, "inspect_track", wrapped)
    assert track["claimed"] and track["originalKey"] == storage.source_key("alice", form["trackId"],
                                                                           track["version"], "wav")
    assert store.get("alice", form["trackId"])["durationSeconds"] == pytest.approx(1.0, abs=0.01)


def test_an_object_without_a_form_is_claimed_by_its_content(steps: dict[str, Any], aws: dict[str, Any],
                                                            store: TrackStore, tmp_path: Path) -> None:
    # POST /tracks (an object already in the bucket) and direct uploads carry no form id.
    key = storage.original_key("alice", "t1", "wav")
    data = write(tmp_path / "a.wav", 1.0).read_bytes()
    put(aws, key, data, "a.wav")
    registered = {"userId": "alice", "trackId": "t1", "key": key}
    track = run(steps, "inspect_track", {"event": registered, "executionId": "arn:execution:one"})
    assert track["claimed"] and keys(aws, "library/alice/t1/") == [track["originalKey"]]
    assert store.mark_ready("alice", "t1", track["version"], mp3_key=track["originalKey"], due_at=0)
    put(aws, key, data, "a.wav")  # the same content again: nothing to do, and the copy is removed
    again = run(steps, "inspect_track", {"event": registered, "executionId": "arn:execution:two"})
    assert again["claimed"] is False and "already processed" in again["reason"]
    assert keys(aws, "library/alice/t1/") == [track["originalKey"]]
