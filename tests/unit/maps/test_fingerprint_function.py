"""functions/maps/analysis/fingerprint.py's song recordings against moto: an upload is used once, and only the
one its event names (its ETag). A replayed event finds it gone and a late one a newer upload in its place;
neither changes the song, and the newer upload is left for its own event. A late failure never turns a READY
recording FAILED; an error that is not a missing or replaced upload still reaches the workflow's Catch."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
import soundfile
from botocore.exceptions import ClientError

from soundcanvas.blend.catalog import song_record
from soundcanvas.blend.seed import SeedSong
from soundcanvas.blend.songs import SongStore
from soundcanvas.maps.song_audio import SongAudioStore, audio_upload_key
from tests.conftest import FakeContext, ManualClock, load_module_at
from tests.unit.maps.test_fingerprints import RATE_HZ, rendered_songs

pytestmark = pytest.mark.fluidsynth
REGION = "us-east-1"
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def fn(aws: dict[str, Any]) -> Any:
    """A fresh import of the function (it reads its configuration at import)."""
    return load_module_at(ROOT / "functions" / "maps" / "analysis" / "fingerprint.py")


@pytest.fixture
def songs(aws: dict[str, Any], clock: ManualClock) -> SongAudioStore:
    return SongAudioStore(aws["songs_table"], REGION, clock=clock)


@pytest.fixture
def song_id(aws: dict[str, Any], clock: ManualClock, seed_songs: list[SeedSong], songs: SongAudioStore) -> str:
    """A public catalog song whose giver has been handed a recording form (PENDING)."""
    SongStore(aws["songs_table"], REGION, clock=clock).put_public([song_record(seed_songs[0])])
    assert songs.start_upload(seed_songs[0].songId, "giver", "wav")
    return seed_songs[0].songId


def wav(name: str, seconds: float = 20.0) -> bytes:
    out = io.BytesIO()
    soundfile.write(out, rendered_songs()[name].samples[:int(seconds * RATE_HZ)], RATE_HZ, format="WAV")
    return out.getvalue()


def upload(aws: dict[str, Any], song_id: str, body: bytes) -> dict[str, Any]:
    """Put the recording where the form puts it; the S3 event EventBridge would send for it."""
    key = audio_upload_key(song_id, "wav")
    etag = aws["s3"].put_object(Bucket=aws["bucket"], Key=key, Body=body)["ETag"].strip('"')
    return {"detail": {"bucket": {"name": aws["bucket"]}, "object": {"key": key, "etag": etag, "size": len(body)}}}


def upload_exists(aws: dict[str, Any], event: dict[str, Any]) -> bool:
    try:
        aws["s3"].head_object(Bucket=aws["bucket"], Key=event["detail"]["object"]["key"])
    except ClientError:
        return False
    return True


def test_a_replayed_event_finds_its_upload_used_and_changes_nothing(
        fn: Any, aws: dict[str, Any], songs: SongAudioStore, song_id: str) -> None:
    event = upload(aws, song_id, wav("a"))
    first = fn.lambda_handler({"songAudio": event}, FakeContext())
    assert first["ready"] is True, first
    ready = songs.get(song_id)
    assert ready is not None and ready["audioStatus"] == "READY" and ready["audioKey"] == first["audioKey"]
    assert not upload_exists(aws, event)
    again = fn.lambda_handler({"songAudio": event}, FakeContext())
    assert again == {"ready": False, "reason": "the upload was used already or replaced"}
    assert songs.get(song_id) == ready


def test_a_late_event_leaves_the_newer_upload_to_its_own(
        fn: Any, aws: dict[str, Any], songs: SongAudioStore, song_id: str) -> None:
    older = upload(aws, song_id, wav("a"))
    newer = upload(aws, song_id, wav("b"))
    assert older["detail"]["object"]["etag"] != newer["detail"]["object"]["etag"]
    late = fn.lambda_handler({"songAudio": older}, FakeContext())
    assert late["ready"] is False and "replaced" in late["reason"]
    assert upload_exists(aws, newer)
    pending = songs.get(song_id)
    assert pending is not None and pending["audioStatus"] == "PENDING"
    assert fn.lambda_handler({"songAudio": newer}, FakeContext())["ready"] is True
    fp = aws["s3"].get_object(Bucket=aws["bucket"], Key=f"catalog/{song_id}/audio.fp")["Body"].read()
    assert fn.fingerprints.from_bytes(fp).size > 0


def test_a_late_failure_does_not_undo_a_ready_recording(
        fn: Any, aws: dict[str, Any], songs: SongAudioStore, song_id: str) -> None:
    event = upload(aws, song_id, wav("a"))
    assert fn.lambda_handler({"songAudio": event}, FakeContext())["ready"] is True
    ready = songs.get(song_id)
    failure = {"Error": "Lambda.ServiceException", "Cause": "{}"}
    marked = fn.lambda_handler({"songAudioFailed": event, "error": failure}, FakeContext())
    assert marked["marked"] is False
    assert songs.get(song_id) == ready


def test_a_recording_that_is_not_audio_fails_the_upload_in_flight(
        fn: Any, aws: dict[str, Any], songs: SongAudioStore, song_id: str) -> None:
    event = upload(aws, song_id, b"this is text, not audio " * 40)
    answer = fn.lambda_handler({"songAudio": event}, FakeContext())
    assert answer["ready"] is False and "not an audio file" in answer["reason"]
    failed = songs.get(song_id)
    assert failed is not None and failed["audioStatus"] == "FAILED" and "not an audio file" in failed["audioError"]
    assert not upload_exists(aws, event)


def test_other_errors_reach_the_workflows_catch(
        fn: Any, aws: dict[str, Any], song_id: str, monkeypatch: pytest.MonkeyPatch) -> None:
    event = upload(aws, song_id, wav("a"))

    def denied(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "denied"}}, "GetObject")

    monkeypatch.setattr(fn.runtime.s3, "get_object", denied)
    with pytest.raises(ClientError):
        fn.lambda_handler({"songAudio": event}, FakeContext())
    assert upload_exists(aws, event)


def test_a_song_deleted_while_its_recording_is_read_keeps_nothing_of_it(
        fn: Any, aws: dict[str, Any], song_id: str, monkeypatch: pytest.MonkeyPatch) -> None:
    event = upload(aws, song_id, wav("a"))
    monkeypatch.setattr(fn.runtime.songs, "mark_ready", lambda *_, **__: False)  # its record gone by then
    answer = fn.lambda_handler({"songAudio": event}, FakeContext())
    assert answer == {"ready": False, "reason": "the song was deleted"}
    assert aws["s3"].list_objects_v2(Bucket=aws["bucket"], Prefix=f"catalog/{song_id}/").get("KeyCount") == 0
    snippet = fn.fingerprints.fingerprint_samples(rendered_songs()["a"].samples[5 * RATE_HZ:15 * RATE_HZ], RATE_HZ)
    assert fn.index.identify(snippet, ["public"]) == []
