"""The Maps API handler against moto (Step Functions included): a map from a library track (the seam: its
original copied to the map's work prefix) or a catalog song with a recording, the fields named when a
request is wrong, the quota, another user's anything a 404; the recording form of a song; identify forms."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError

from soundcanvas.blend.catalog import song_record
from soundcanvas.blend.seed import SeedSong
from soundcanvas.blend.songs import SongStore
from soundcanvas.library.tracks import TrackStore
from soundcanvas.maps import drum_maps, song_audio
from soundcanvas.maps.drum_maps import MapStore
from soundcanvas.maps.song_audio import SongAudioStore
from tests.apigw import call, event
from tests.conftest import FakeContext, ManualClock, load_function, record_dynamodb_calls
from tests.unit.blend.conftest import executions, keys, moto_state_machine

REGION = "us-east-1"


@pytest.fixture
def state_machine(aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> str:
    return moto_state_machine(monkeypatch, "MapStateMachine", "MAP_STATE_MACHINE_ARN")


@pytest.fixture
def api(aws: dict[str, Any], state_machine: str, monkeypatch: pytest.MonkeyPatch, clock: ManualClock) -> Any:
    module = load_function("maps_api")
    monkeypatch.setattr(module, "clock", clock)
    module.quotas.clock = clock
    return module


@pytest.fixture
def map_store(aws: dict[str, Any], clock: ManualClock) -> MapStore:
    return MapStore(aws["maps_table"], REGION, clock=clock)


@pytest.fixture
def song_id(aws: dict[str, Any], clock: ManualClock, seed_songs: list[SeedSong]) -> str:
    """A public catalog song (no recording yet)."""
    SongStore(aws["songs_table"], REGION, clock=clock).put_public([song_record(seed_songs[0])])
    return seed_songs[0].songId


def ready_track(aws: dict[str, Any], clock: ManualClock, user: str, *, duration: float = 30.0) -> str:
    """A READY library track of `user`'s with its original in the bucket (as the library's workflow leaves it)."""
    tracks = TrackStore(aws["tracks_table"], REGION, clock=clock)
    track_id = f"t{int(clock() * 1000) % 10**9}"
    key = f"library/{user}/{track_id}/original.mp3"
    aws["s3"].put_object(Bucket=aws["bucket"], Key=key, Body=b"ID3 audio bytes")
    tracks.model(user, track_id, createdAt="2026-11-30T00:00:00.000Z", updatedAt="2026-11-30T00:00:00.000Z",
                 status="READY", source="upload", fileName="groove.mp3", originalKey=key, format="mp3",
                 version="v1", name="Groove", artist="The Band", durationSeconds=duration).save()
    return track_id


def post_map(api: Any, body: Any, user: str = "alice") -> tuple[int, Any]:
    return call(api, event("POST", "/maps", body=body, user=user))


def test_a_map_of_a_track_copies_the_original_and_starts_the_workflow(
        api: Any, aws: dict[str, Any], clock: ManualClock, state_machine: str, map_store: MapStore) -> None:
    track_id = ready_track(aws, clock, "alice")
    status, body = post_map(api, {"trackId": track_id, "difficulty": "hard"})
    assert status == 202, body
    map_id = body["mapId"]
    assert body["status"] == "PENDING" and body["source"] == {"kind": "track", "id": track_id}
    record = map_store.get("alice", map_id)
    assert record is not None and record["songId"] == f"track-{track_id}" and record["difficulty"] == "hard"
    copied = keys(aws, drum_maps.work_prefix("alice", map_id))
    assert copied == [drum_maps.work_key("alice", map_id, "source.mp3")] == [record["source"]["audioKey"]]
    (execution,) = executions(state_machine)
    assert execution["name"] == map_id and f'"mapId": "{map_id}"' in execution["input"]
    status, view = call(api, event("GET", f"/maps/{map_id}", resource="/maps/{mapId}", path_params={"mapId": map_id}))
    assert status == 200 and view["status"] == "PENDING" and view["mapUrl"] is None


def test_another_users_track_and_map_are_not_found(api: Any, aws: dict[str, Any], clock: ManualClock) -> None:
    track_id = ready_track(aws, clock, "alice")
    status, body = post_map(api, {"trackId": track_id}, user="mallory")
    assert status == 404 and track_id in body["message"]
    _, created = post_map(api, {"trackId": track_id})
    map_id = created["mapId"]
    for method in ("GET", "DELETE"):
        status, _ = call(api, event(method, f"/maps/{map_id}", user="mallory", resource="/maps/{mapId}",
                                    path_params={"mapId": map_id}))
        assert status == 404
    status, listing = call(api, event("GET", "/maps", user="mallory"))
    assert status == 200 and listing["items"] == []


@pytest.mark.parametrize(("body", "field"), [
    ({}, "body"),
    ({"trackId": "a", "songId": "b"}, "body"),
    ({"trackId": "../x"}, "trackId"),
    ({"trackId": "a", "difficulty": "insane"}, "difficulty"),
    ({"trackId": "a", "extra": 1}, "extra"),
])
def test_bad_requests_name_the_field(api: Any, body: dict[str, Any], field: str) -> None:
    status, answer = post_map(api, body)
    assert status == 400, answer
    assert any(field in error["field"] for error in answer["errors"]), answer


def test_a_song_needs_a_recording_and_a_track_must_be_ready_and_short_enough(
        api: Any, aws: dict[str, Any], clock: ManualClock, song_id: str) -> None:
    status, body = post_map(api, {"songId": song_id})
    assert status == 400 and body["errors"][0]["field"] == "songId" and f"/songs/{song_id}/audio" in body["message"]
    long_track = ready_track(aws, clock, "alice", duration=4000.0)
    status, body = post_map(api, {"trackId": long_track})
    assert status == 400 and "lasts 4000 s" in body["message"]
    assert post_map(api, {"songId": "no-such-song"})[0] == 404


def test_a_song_with_a_recording_maps_from_it(api: Any, aws: dict[str, Any], clock: ManualClock, song_id: str,
                                               map_store: MapStore) -> None:
    audio = SongAudioStore(aws["songs_table"], REGION, clock=clock)
    assert audio.start_upload(song_id, "bob", "mp3")
    assert audio.mark_ready(song_id, audio_key=f"catalog/{song_id}/audio.mp3", fingerprint_key="fp",
                            duration_seconds=61.0)
    status, body = post_map(api, {"songId": song_id})
    assert status == 202, body
    record = map_store.get("alice", body["mapId"])
    assert record is not None and record["songId"] == song_id
    assert record["source"]["audioKey"] == f"catalog/{song_id}/audio.mp3"


def test_only_an_upload_in_flight_can_fail(aws: dict[str, Any], clock: ManualClock, song_id: str) -> None:
    """A failure ends a PENDING upload; a late or replayed one never turns a READY recording FAILED."""
    audio = SongAudioStore(aws["songs_table"], REGION, clock=clock)
    assert audio.start_upload(song_id, "bob", "mp3")
    assert audio.mark_ready(song_id, audio_key=f"catalog/{song_id}/audio.mp3", fingerprint_key="fp",
                            duration_seconds=61.0)
    assert not audio.mark_failed(song_id, message="late")
    song = audio.get(song_id)
    assert song is not None and song["audioStatus"] == "READY" and not song.get("audioError")
    assert audio.start_upload(song_id, "bob", "wav")
    assert audio.mark_failed(song_id, message="not an audio file")
    song = audio.get(song_id)
    assert song is not None and song["audioStatus"] == "FAILED" and song["audioError"] == "not an audio file"
    assert song["audioKey"] == f"catalog/{song_id}/audio.mp3"  # the recording attached before stays


def test_maps_are_limited_per_user(api: Any, aws: dict[str, Any], clock: ManualClock) -> None:
    track_id = ready_track(aws, clock, "alice")
    answers = [post_map(api, {"trackId": track_id})[0] for _ in range(api.MAPS.limit + 1)]
    assert answers[:-1] == [202] * api.MAPS.limit and answers[-1] == 429


def test_a_workflow_start_with_no_answer_leaves_nothing_and_costs_nothing(
        api: Any, aws: dict[str, Any], clock: ManualClock, map_store: MapStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """Step Functions not answering (a connection error, not a ClientError) is treated like a refusal."""
    class Unreachable:
        def start_execution(self, **kwargs: Any) -> None:
            raise EndpointConnectionError(endpoint_url="https://states.us-east-1.amazonaws.com")

    real = api.stepfunctions
    monkeypatch.setattr(api, "stepfunctions", Unreachable)
    track_id = ready_track(aws, clock, "alice")
    for _ in range(api.MAPS.limit + 1):  # none of these spends a unit
        with pytest.raises(EndpointConnectionError):
            api.lambda_handler(event("POST", "/maps", body={"trackId": track_id}), FakeContext())
    assert map_store.list("alice", limit=10, cursor=None)[0] == []
    assert keys(aws, "maps/work/alice/") == []
    monkeypatch.setattr(api, "stepfunctions", real)
    assert post_map(api, {"trackId": track_id})[0] == 202


def test_deleting_a_map_removes_its_record_and_files(api: Any, aws: dict[str, Any], clock: ManualClock,
                                                     map_store: MapStore) -> None:
    track_id = ready_track(aws, clock, "alice")
    map_id = post_map(api, {"trackId": track_id})[1]["mapId"]
    status, _ = call(api, event("DELETE", f"/maps/{map_id}", resource="/maps/{mapId}", path_params={"mapId": map_id}))
    assert status == 204
    assert map_store.get("alice", map_id) is None and keys(aws, drum_maps.work_prefix("alice", map_id)) == []


def test_an_abandoned_form_does_not_lock_a_songs_first_recording(
        api: Any, aws: dict[str, Any], song_id: str, clock: ManualClock) -> None:
    path, resource = f"/songs/{song_id}/audio", "/songs/{songId}/audio"

    def ask(user: str) -> int:
        return call(api, event("POST", path, user=user, body={"contentType": "audio/mpeg"}, resource=resource,
                               path_params={"songId": song_id}))[0]

    audio = SongAudioStore(aws["songs_table"], REGION, clock=clock)
    assert ask("bob") == 201
    clock.now += song_audio.FORM_HOLD_SECONDS - 60
    assert ask("carol") == 409  # bob's form may still be in use
    clock.now += 120
    assert ask("carol") == 201  # bob never uploaded: carol may give it
    assert audio.mark_failed(song_id, message="not an audio file")
    assert ask("dave") == 409  # carol's form may still be posted again until it expires
    clock.now += song_audio.FORM_HOLD_SECONDS + 1
    assert ask("dave") == 201  # nothing was given within the hour
    assert audio.mark_ready(song_id, audio_key=f"catalog/{song_id}/audio.mp3", fingerprint_key="fp",
                            duration_seconds=61.0)
    clock.now += 2 * song_audio.FORM_HOLD_SECONDS
    assert ask("erin") == 409  # dave gave it: only dave may replace it, however long ago
    assert ask("dave") == 201


def test_a_form_never_used_stops_showing_pending_once_its_hold_ends(
        api: Any, aws: dict[str, Any], song_id: str, clock: ManualClock, monkeypatch: pytest.MonkeyPatch) -> None:
    moto_state_machine(monkeypatch, "SongStateMachine", "SONG_STATE_MACHINE_ARN")  # a GET may start a preview
    songs_api = load_function("songs_api")
    monkeypatch.setattr(songs_api, "clock", clock)
    path, resource = f"/songs/{song_id}/audio", "/songs/{songId}/audio"

    def ask() -> int:
        return call(api, event("POST", path, user="bob", body={"contentType": "audio/mpeg"}, resource=resource,
                               path_params={"songId": song_id}))[0]

    def shown() -> dict[str, Any]:
        status, body = call(songs_api, event("GET", f"/songs/{song_id}", resource="/songs/{songId}",
                                             path_params={"songId": song_id}))
        assert status == 200, body
        return dict(body)

    assert ask() == 201
    clock.now += song_audio.FORM_HOLD_SECONDS - 1
    assert shown()["audioStatus"] == "PENDING"  # the form, or its upload's processing, may still come
    clock.now += 2
    gone = shown()
    assert gone["audioStatus"] == "FAILED" and f"POST /songs/{song_id}/audio" in gone["audioError"]
    assert SongAudioStore(aws["songs_table"], REGION, clock=clock).mark_ready(
        song_id, audio_key=f"catalog/{song_id}/audio.mp3", fingerprint_key="fp", duration_seconds=61.0)
    assert ask() == 201  # the giver takes a form to replace it, and never uploads
    assert shown()["audioStatus"] == "PENDING"
    clock.now += song_audio.FORM_HOLD_SECONDS
    shown_after = shown()
    assert shown_after["audioStatus"] == "READY" and shown_after["audioError"] is None  # the recording still maps


def test_a_song_recording_form_is_the_givers_to_replace(api: Any, aws: dict[str, Any], song_id: str) -> None:
    path, resource = f"/songs/{song_id}/audio", "/songs/{songId}/audio"

    def ask(user: str, content_type: str = "audio/mpeg") -> tuple[int, Any]:
        return call(api, event("POST", path, user=user, body={"contentType": content_type}, resource=resource,
                               path_params={"songId": song_id}))

    status, body = ask("bob")
    assert status == 201, body
    assert body["upload"]["fields"]["key"] == f"catalog/{song_id}/audio-upload.mp3"
    assert ask("bob", "audio/flac")[0] == 201  # the giver may send another
    status, body = ask("carol")
    assert status == 409 and "someone else" in body["message"]
    status, body = ask("bob", "text/plain")
    assert status == 400 and body["errors"][0]["field"].endswith("contentType")


def test_identify_forms_are_per_user(api: Any) -> None:
    status, body = call(api, event("POST", "/identify/uploads", body={"contentType": "audio/mpeg"}))
    assert status == 201, body
    assert body["upload"]["fields"]["key"] == f"identify/alice/{body['uploadId']}.mp3"


def test_an_erase_finds_what_a_user_gave_with_one_query_of_its_index(
        aws: dict[str, Any], clock: ManualClock, seed_songs: list[SeedSong], monkeypatch: pytest.MonkeyPatch) -> None:
    """Forgetting a giver reads the sparse ByAudioGiver index for that user (never a Scan of the catalog) and
    names the anonymous id on their recordings only."""
    SongStore(aws["songs_table"], REGION, clock=clock).put_public([song_record(s) for s in seed_songs[:3]])
    audio = SongAudioStore(aws["songs_table"], REGION, clock=clock)
    givers = {seed_songs[0].songId: "bob", seed_songs[1].songId: "carol", seed_songs[2].songId: "bob"}
    for song, giver in givers.items():
        assert audio.start_upload(song, giver, "mp3")
    calls = record_dynamodb_calls(monkeypatch)
    assert audio.forget_giver("bob", "anon-1") == 2
    reads = [(op, kwargs.get("IndexName")) for op, kwargs in calls if op in ("Query", "Scan")]
    assert reads == [("Query", "ByAudioGiver")]
    assert {song: (audio.get(song) or {}).get("audioBy") for song in givers} == {
        seed_songs[0].songId: "anon-1", seed_songs[1].songId: "carol", seed_songs[2].songId: "anon-1"}
    assert audio.forget_giver("bob", "anon-1") == 0
