"""The GraphQL mutations of tracks, transcriptions, blends and maps against moto: each reaches the state its REST twin
reaches (the same function underneath), with the same rules, quotas and ownership, and REST's refusals as
GraphQL's codes."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from graphql import build_schema

from soundcanvas.blend.blends import BlendStore
from soundcanvas.blend.catalog import song_record
from soundcanvas.blend.seed import read_seed_catalog
from soundcanvas.blend.songs import SongStore
from soundcanvas.core import storage
from soundcanvas.library import tracks as library_tracks
from soundcanvas.library.tracks import TrackStore
from soundcanvas.listen import creation as listen_creation
from soundcanvas.listen.transcriptions import TranscriptionStore
from soundcanvas.maps import creation as map_creation
from soundcanvas.maps import drum_maps, fpkeys
from soundcanvas.maps.drum_maps import MapStore
from soundcanvas.maps.song_audio import SongAudioStore
from tests.apigw import call, event
from tests.conftest import ROOT, load_function
from tests.unit.blend.conftest import executions, moto_state_machine
from tests.unit.core.test_graphql_api import REGION, SCHEMA_FILE, gql

UPLOADS = """mutation($input: CreateTrackUploadsInput!) {
  createTrackUploads(input: $input) { files { trackId fileName replaces upload { url fields maxBytes expiresAt } } }
}"""
UPDATE = """mutation($id: ID!, $input: UpdateTrackInput!) {
  updateTrack(trackId: $id, input: $input) { trackId name artist album tags }
}"""
BLEND = "mutation($input: CreateBlendInput!) { createBlend(input: $input) { blendId status options } }"


@pytest.fixture
def blend_machine(aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> str:
    return moto_state_machine(monkeypatch, "BlendStateMachine", "BLEND_STATE_MACHINE_ARN")


@pytest.fixture
def listen_machine(aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> str:
    return moto_state_machine(monkeypatch, "ListenStateMachine", "LISTEN_STATE_MACHINE_ARN")


@pytest.fixture
def map_machine(aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> str:
    return moto_state_machine(monkeypatch, "MapStateMachine", "MAP_STATE_MACHINE_ARN")


@pytest.fixture
def api(aws: dict[str, Any], blend_machine: str, listen_machine: str, map_machine: str,
        monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("MAP_QUOTA", "2")
    monkeypatch.setenv("TRACK_UPLOAD_QUOTA", "3")
    monkeypatch.setenv("BLEND_QUOTA", "2")
    monkeypatch.setenv("TRANSCRIPTION_QUOTA", "2")
    return load_function("graphql_api")


def mp3(name: str, size: int = 1000) -> dict[str, Any]:
    return {"fileName": name, "contentType": "audio/mpeg", "sizeBytes": size}


def ok(payload: dict[str, Any], field: str) -> Any:
    assert "errors" not in payload, payload
    return payload["data"][field]


def refused(payload: dict[str, Any]) -> tuple[str, str | None]:
    """(code, field) of a payload's only error."""
    (error,) = payload["errors"]
    return error["extensions"]["code"], error["extensions"].get("field")


# --- tracks -------------------------------------------------------------------------------------------------
def test_upload_forms_are_the_rest_routes_forms(api: Any, aws: dict[str, Any]) -> None:
    _, payload = gql(api, UPLOADS, {"input": {"files": [mp3("a.mp3"), mp3("b.mp3")]}})
    files = ok(payload, "createTrackUploads")["files"]
    assert [f["fileName"] for f in files] == ["a.mp3", "b.mp3"] and not any(f["replaces"] for f in files)
    fields = files[0]["upload"]["fields"]
    assert fields["key"] == f"library/alice/{files[0]['trackId']}/original.mp3"
    assert fields["Content-Type"] == "audio/mpeg" and fields["x-amz-meta-form-id"]
    assert files[0]["upload"]["maxBytes"] == 200 * 1024 * 1024
    store = TrackStore(aws["tracks_table"], REGION)
    assert store.get("alice", files[0]["trackId"])["status"] == "UPLOADING"

    rest = load_function("tracks_api")  # the same file name through REST names the same track
    status, body = call(rest, event("POST", "/tracks/uploads", body={"files": [mp3("a.mp3")]}))
    assert status == 201 and body["files"][0]["trackId"] == files[0]["trackId"] and body["files"][0]["replaces"]
    assert set(body["files"][0]["upload"]) == set(files[0]["upload"])


def test_rest_and_graphql_spend_the_same_upload_quota(api: Any) -> None:
    rest = load_function("tracks_api")
    status, _ = call(rest, event("POST", "/tracks/uploads", body={"files": [mp3("a.mp3"), mp3("b.mp3")]}))
    assert status == 201
    _, payload = gql(api, UPLOADS, {"input": {"files": [mp3("c.mp3"), mp3("d.mp3")]}})  # 4 > TRACK_UPLOAD_QUOTA=3
    assert refused(payload)[0] == "RATE_LIMITED" and payload["errors"][0]["extensions"]["retryAfterSeconds"] > 0
    ok(gql(api, UPLOADS, {"input": {"files": [mp3("c.mp3")]}})[1], "createTrackUploads")


@pytest.mark.parametrize(("files", "field"), [
    ([], "input.files"),
    ([mp3("a.mp3", size=0)], "input.files.0.sizeBytes"),
    ([mp3("a.mp3"), mp3("b.mp3", size=200 * 1024 * 1024 + 1)], "input.files.1.sizeBytes"),
    ([{**mp3("a.mp3"), "contentType": "video/mp4"}], "input.files.0.contentType"),
    ([mp3("../a.mp3")], "input.files.0.fileName"),
])
def test_upload_requests_rest_refuses_are_bad_input_naming_the_field(api: Any, aws: dict[str, Any], files: list,
                                                                     field: str) -> None:
    _, payload = gql(api, UPLOADS, {"input": {"files": files}})
    assert payload["data"] is None and refused(payload) == ("BAD_USER_INPUT", field)
    assert TrackStore(aws["tracks_table"], REGION).list("alice", limit=10, cursor=None)[0] == []


def test_update_track_sets_and_clears_fields_as_patch_does(api: Any, aws: dict[str, Any]) -> None:
    store = TrackStore(aws["tracks_table"], REGION)
    store.create("alice", "t1", file_name="song.mp3", source="upload", name="Song", artist="Band")
    _, payload = gql(api, UPDATE, {"id": "t1", "input": {"album": "Live", "tags": ["folk", "fiddle"], "name": None}})
    assert ok(payload, "updateTrack") == {"trackId": "t1", "name": None, "artist": "Band", "album": "Live",
                                          "tags": ["folk", "fiddle"]}
    record = store.get("alice", "t1")
    assert set(record["edited"]) == {"album", "tags", "name"} and "live" in record["searchText"]


@pytest.mark.parametrize(("variables", "field"), [
    ({"id": "t1", "input": {}}, "input"),
    ({"id": "t1", "input": {"tags": ["x" * 51]}}, "input.tags.0"),
    ({"id": "t1", "input": {"artist": "   "}}, "input.artist"),
    ({"id": "bad id", "input": {"name": "x"}}, "trackId"),
])
def test_update_track_refusals_name_the_field(api: Any, aws: dict[str, Any], variables: dict, field: str) -> None:
    TrackStore(aws["tracks_table"], REGION).create("alice", "t1", file_name="song.mp3", source="upload")
    _, payload = gql(api, UPDATE, variables)
    assert refused(payload) == ("BAD_USER_INPUT", field)


@pytest.mark.parametrize("mutation", [
    'mutation { updateTrack(trackId: "t1", input: {name: "Mine"}) { trackId } }',
    'mutation { deleteTrack(trackId: "t1") { success } }',
    'mutation { gradeTrack(trackId: "t1", grade: 4) { dueAt } }',
])
def test_another_users_track_is_not_found_and_untouched(api: Any, aws: dict[str, Any], mutation: str) -> None:
    store = TrackStore(aws["tracks_table"], REGION)
    store.create("alice", "t1", file_name="song.mp3", source="upload", name="Song")
    _, payload = gql(api, mutation, user="mallory")
    assert payload["data"] is None and refused(payload) == ("NOT_FOUND", None)
    assert store.get("alice", "t1")["name"] == "Song"


def test_delete_track_removes_the_record_its_objects_and_its_fingerprint(api: Any, aws: dict[str, Any]) -> None:
    TrackStore(aws["tracks_table"], REGION).create("alice", "t1", file_name="song.mp3", source="upload")
    aws["s3"].put_object(Bucket=aws["bucket"], Key="library/alice/t1/original.mp3", Body=b"x")
    fingerprint = {"pk": {"S": fpkeys.audio_key(fpkeys.audio_ref("alice", "track", "t1"))}}
    aws["dynamodb"].put_item(TableName=aws["fingerprints_table"], Item=fingerprint)
    _, payload = gql(api, 'mutation { deleteTrack(trackId: "t1") { success message } }')
    assert ok(payload, "deleteTrack") == {"success": True, "message": "track t1 deleted"}
    assert TrackStore(aws["tracks_table"], REGION).get("alice", "t1") is None
    assert aws["s3"].list_objects_v2(Bucket=aws["bucket"], Prefix="library/alice/t1/")["KeyCount"] == 0
    assert "Item" not in aws["dynamodb"].get_item(TableName=aws["fingerprints_table"], Key=fingerprint)


def test_grade_track_schedules_a_ready_track_and_refuses_what_rest_refuses(api: Any, aws: dict[str, Any]) -> None:
    store = TrackStore(aws["tracks_table"], REGION)
    store.create("alice", "t1", file_name="song.mp3", source="upload")
    query = "mutation($g: Int!) { gradeTrack(trackId: \"t1\", grade: $g) { trackId grade scheduler dueAt schedule } }"
    _, payload = gql(api, query, {"g": 4})
    assert refused(payload)[0] == "CONFLICT"  # not READY yet, as POST /grade's 409
    _, payload = gql(api, query, {"g": 6})
    assert refused(payload) == ("BAD_USER_INPUT", "grade")
    assert store.claim("alice", "t1", key="library/alice/t1/original.mp3", etag='"v1"', version="v1", size=10,
                       file_name="song.mp3", source="upload") is not None
    assert store.mark_ready("alice", "t1", "v1", mp3_key="library/alice/t1/audio.mp3", due_at=0)
    _, payload = gql(api, query, {"g": 4})
    graded = ok(payload, "gradeTrack")
    assert graded["trackId"] == "t1" and graded["grade"] == 4 and graded["scheduler"] == graded["schedule"]["scheduler"]
    assert graded["dueAt"] == graded["schedule"]["dueAt"] and store.get("alice", "t1")["reviewCount"] == 1


# --- transcriptions ----------------------------------------------------------------------------------------
TRANSCRIBE = """mutation($input: CreateTranscriptionInput!) {
  createTranscription(input: $input) {
    transcriptionId status source upload { url fields maxBytes expiresAt contentTypes }
  }
}"""


def ready_track(aws: dict[str, Any], user: str, track_id: str, duration: float = 120.0) -> None:
    """A READY track with its kept original in the bucket, made through the store calls the workflow makes."""
    store = TrackStore(aws["tracks_table"], REGION)
    store.create(user, track_id, file_name="take.flac", source="upload")
    key = storage.source_key(user, track_id, "abc123", "flac")
    aws["s3"].put_object(Bucket=aws["bucket"], Key=key, Body=b"fLaC-audio")
    assert store.claim(user, track_id, key=key, etag='"abc123"', version="abc123", size=10, file_name="take.flac",
                       source="upload") is not None
    store.set_metadata(user, track_id, "abc123", {"durationSeconds": duration})
    assert store.mark_ready(user, track_id, "abc123", mp3_key=key, due_at=int(store.clock()))


def test_listen_knows_the_librarys_ready_status() -> None:
    assert listen_creation.TRACK_READY == library_tracks.READY


def test_create_transcription_with_an_upload_form_as_post_transcriptions(api: Any, aws: dict[str, Any]) -> None:
    _, payload = gql(api, TRANSCRIBE, {"input": {"contentType": "audio/wav", "capo": 2, "tuning": "drop-d"}})
    created = ok(payload, "createTranscription")
    assert created["status"] == "PENDING" and created["source"] == {"kind": "upload"}
    assert created["upload"]["contentTypes"] == ["audio/wav"] and created["upload"]["fields"]["key"].endswith(".wav")
    record = TranscriptionStore(aws["transcriptions_table"], REGION).get("alice", created["transcriptionId"])
    assert record["options"]["capo"] == 2 and record["options"]["instrument"] == "auto"
    assert record["options"]["tuning"]["strings"] == ["D2", "A2", "D3", "G3", "B3", "E4"]

    rest = load_function("transcriptions_api")
    status, body = call(rest, event("POST", "/transcriptions", body={"contentType": "audio/wav", "capo": 2,
                                                                     "tuning": "drop-d"}))
    assert status == 201 and set(body["upload"]) == set(created["upload"])
    twin = TranscriptionStore(aws["transcriptions_table"], REGION).get("alice", body["transcriptionId"])
    assert twin["options"] == record["options"] and twin["source"] == record["source"]
    _, payload = gql(api, TRANSCRIBE, {"input": {}})  # the third of TRANSCRIPTION_QUOTA=2, shared with REST
    assert refused(payload)[0] == "RATE_LIMITED"


def test_create_transcription_of_a_library_track_starts_its_workflow(api: Any, aws: dict[str, Any],
                                                                     listen_machine: str) -> None:
    ready_track(aws, "alice", "t1")
    _, payload = gql(api, TRANSCRIBE, {"input": {"trackId": "t1", "instrument": "guitar"}})
    created = ok(payload, "createTranscription")
    assert created["upload"] is None and created["source"] == {"kind": "track", "trackId": "t1"}
    assert [e["name"] for e in executions(listen_machine)] == [created["transcriptionId"]]
    record = TranscriptionStore(aws["transcriptions_table"], REGION).get("alice", created["transcriptionId"])
    assert record["options"]["instrument"] == "guitar" and record["sourceKey"].endswith(".flac")


@pytest.mark.parametrize(("transcription_input", "field"), [
    ({"capo": 13}, "input.capo"),
    ({"instrument": "kazoo"}, "input.instrument"),
    ({"tuning": "banjo"}, "input.tuning"),
    ({"contentType": "image/png"}, "input.contentType"),
    ({"sizeBytes": 100 * 1024 * 1024 + 1}, "input.sizeBytes"),
    ({"trackId": "t1", "contentType": "audio/wav"}, "input.contentType"),
    ({"trackId": "long"}, "input.trackId"),
])
def test_create_transcription_refusals_name_the_field(api: Any, aws: dict[str, Any], transcription_input: dict,
                                                      field: str) -> None:
    ready_track(aws, "alice", "long", duration=3600.0)
    _, payload = gql(api, TRANSCRIBE, {"input": transcription_input})
    assert payload["data"] is None and refused(payload) == ("BAD_USER_INPUT", field)


def test_another_users_track_cannot_be_transcribed(api: Any, aws: dict[str, Any], listen_machine: str) -> None:
    ready_track(aws, "bob", "t3")
    _, payload = gql(api, TRANSCRIBE, {"input": {"trackId": "t3"}})
    assert refused(payload) == ("NOT_FOUND", None) and executions(listen_machine) == []
    TrackStore(aws["tracks_table"], REGION).create("alice", "t4", file_name="b.mp3", source="upload")
    _, payload = gql(api, TRANSCRIBE, {"input": {"trackId": "t4"}})
    assert refused(payload)[0] == "CONFLICT"  # not READY yet: REST's 409


RETAB = """mutation($id: ID!, $input: RetabTranscriptionInput) {
  retabTranscription(transcriptionId: $id, input: $input) { transcriptionId tuning capo tab tabUrl tabFileUrl }
}"""


def uploaded_transcription(api: Any, aws: dict[str, Any], user: str = "alice") -> str:
    """A transcription made by createTranscription and run to COMPLETE through the workflow's store calls."""
    from tests.unit.listen.test_transcriptions_api import complete

    _, payload = gql(api, TRANSCRIBE, {"input": {"instrument": "guitar"}}, user=user)
    transcription_id = str(ok(payload, "createTranscription")["transcriptionId"])
    complete(TranscriptionStore(aws["transcriptions_table"], REGION), aws, user, transcription_id)
    return transcription_id


def test_retab_transcription_replaces_the_tab_as_post_tab_does(api: Any, aws: dict[str, Any]) -> None:
    pytest.importorskip("soundcanvas.listen.tab_files", reason="the Guitar Pro writer is not installed")
    from tests.unit.listen.test_transcriptions_api import NOTES

    tid = uploaded_transcription(api, aws)
    store = TranscriptionStore(aws["transcriptions_table"], REGION)
    before = store.get("alice", tid)["outputs"]
    _, payload = gql(api, RETAB, {"id": tid, "input": {"tuning": "drop-d"}})
    retabbed = ok(payload, "retabTranscription")
    assert retabbed["transcriptionId"] == tid and retabbed["capo"] == 0 and retabbed["tuning"]["name"] == "drop-d"
    assert retabbed["tab"]["unplaced"] == [] and sum(len(e["notes"]) for e in retabbed["tab"]["events"]) == len(NOTES)
    record = store.get("alice", tid)
    outputs = record["outputs"]
    assert record["options"]["tuning"]["name"] == "drop-d" and outputs["midiKey"] == before["midiKey"]
    assert retabbed["tabUrl"].split("?")[0].endswith(outputs["tabKey"])
    assert retabbed["tabFileUrl"].split("?")[0].endswith(outputs["tabFileKey"])
    listed = aws["s3"].list_objects_v2(Bucket=aws["bucket"], Prefix=f"listen/alice/{tid}/")["Contents"]
    kept = sorted(o["Key"] for o in listed if not o["Key"].endswith(".wav"))
    assert kept == sorted(outputs[k] for k in ("midiKey", "tabKey", "tabFileKey", "resultKey"))  # old tab gone

    rest = load_function("transcriptions_api")
    status, body = call(rest, event("POST", f"/transcriptions/{tid}/tab", resource="/transcriptions/{transcriptionId}/tab",
                                    path_params={"transcriptionId": tid}, body={"capo": 0}))
    assert status == 200 and body["tab"] == retabbed["tab"] and body["tuning"] == retabbed["tuning"]
    _, payload = gql(api, RETAB, {"id": tid})  # no input: the record's own tuning and capo, as REST's empty body
    assert ok(payload, "retabTranscription")["tab"] == retabbed["tab"]


def test_retab_transcription_refuses_what_rest_refuses(api: Any, aws: dict[str, Any]) -> None:
    pytest.importorskip("soundcanvas.listen.tab_files", reason="the Guitar Pro writer is not installed")
    bobs = uploaded_transcription(api, aws, user="bob")
    _, payload = gql(api, RETAB, {"id": bobs, "input": {"tuning": "drop-d"}})
    assert refused(payload) == ("NOT_FOUND", None)
    assert TranscriptionStore(aws["transcriptions_table"], REGION).get("bob", bobs)["options"]["tuning"]["name"] \
        == "standard"
    for retab_input, field in (({"capo": 13}, "input.capo"), ({"tuning": "banjo"}, "input.tuning")):
        _, payload = gql(api, RETAB, {"id": bobs, "input": retab_input})
        assert refused(payload) == ("BAD_USER_INPUT", field)
    _, payload = gql(api, TRANSCRIBE, {"input": {}})
    pending = ok(payload, "createTranscription")["transcriptionId"]
    _, payload = gql(api, RETAB, {"id": pending, "input": {"capo": 2}})
    assert refused(payload) == ("CONFLICT", None) and "re-tabbed when it is COMPLETE" in payload["errors"][0]["message"]


# --- blends -------------------------------------------------------------------------------------------------
@pytest.fixture
def catalog(aws: dict[str, Any]) -> list[str]:
    """Three public songs of the committed seed catalog."""
    seed = list(itertools.islice(read_seed_catalog(), 3))
    SongStore(aws["songs_table"], REGION).put_public(song_record(song) for song in seed)
    return [song.songId for song in seed]


def test_create_blend_writes_what_post_blends_writes_and_starts_its_workflow(
        api: Any, aws: dict[str, Any], catalog: list[str], blend_machine: str) -> None:
    _, payload = gql(api, BLEND, {"input": {"songs": catalog[:2], "weights": [3, 1], "seed": 7, "genre": None}})
    created = ok(payload, "createBlend")
    assert created["status"] == "PENDING" and created["options"] == {
        "temperature": 0.8, "creativity": 0.7, "lengthSeconds": 120, "genre": None, "seed": 7}
    record = BlendStore(aws["blends_table"], REGION).get("alice", created["blendId"])
    assert [(s["songId"], float(s["weight"])) for s in record["songs"]] == [(catalog[0], 0.75), (catalog[1], 0.25)]
    assert [e["name"] for e in executions(blend_machine)] == [created["blendId"]]

    rest = load_function("blends_api")
    status, body = call(rest, event("POST", "/blends", body={"songs": catalog[:2], "weights": [3, 1], "seed": 7}))
    assert status == 202 and body["options"] == created["options"] and set(body) == set(created)
    twin = BlendStore(aws["blends_table"], REGION).get("alice", body["blendId"])
    assert twin["songs"] == record["songs"] and twin["options"] == record["options"]


@pytest.mark.parametrize(("blend_input", "field"), [
    ({"songs": ["only-one"]}, "input.songs"),
    ({"songs": ["a", "a"]}, "input.songs"),
    ({"songs": ["a", "b"], "weights": [1]}, "input.weights"),
    ({"songs": ["a", "b"], "temperature": 3.0}, "input.temperature"),
    ({"songs": ["a", "b"], "genre": "polka"}, "input.genre"),
    ({"songs": ["a", "b"], "lengthSeconds": 5}, "input.lengthSeconds"),
])
def test_create_blend_refusals_name_the_field(api: Any, aws: dict[str, Any], blend_input: dict, field: str) -> None:
    _, payload = gql(api, BLEND, {"input": blend_input})
    assert payload["data"] is None and refused(payload) == ("BAD_USER_INPUT", field)


def test_a_song_not_ready_is_bad_input_and_another_users_private_song_not_found(
        api: Any, aws: dict[str, Any], catalog: list[str], blend_machine: str) -> None:
    songs = SongStore(aws["songs_table"], REGION)
    songs.create_upload("bob", "bobs", title="Bob's", artist=None, upload_expires_at=int(songs.clock()) + 900)
    songs.create_upload("alice", "mine", title="Mine", artist=None, upload_expires_at=int(songs.clock()) + 900)
    _, payload = gql(api, BLEND, {"input": {"songs": [catalog[0], "bobs"]}})
    assert refused(payload) == ("NOT_FOUND", None) and "songs[1]" in payload["errors"][0]["message"]
    _, payload = gql(api, BLEND, {"input": {"songs": ["mine", catalog[0]]}})
    assert refused(payload) == ("BAD_USER_INPUT", "input.songs[0]")
    assert executions(blend_machine) == []


def test_rest_and_graphql_spend_the_same_blend_quota(api: Any, catalog: list[str]) -> None:
    rest = load_function("blends_api")
    assert call(rest, event("POST", "/blends", body={"songs": catalog[:2]}))[0] == 202
    ok(gql(api, BLEND, {"input": {"songs": catalog[:2]}})[1], "createBlend")  # the second of BLEND_QUOTA=2
    _, payload = gql(api, BLEND, {"input": {"songs": catalog[:2]}})
    assert refused(payload)[0] == "RATE_LIMITED"
    assert call(rest, event("POST", "/blends", body={"songs": catalog[:2]}))[0] == 429


def test_delete_blend_is_the_owners_alone(api: Any, aws: dict[str, Any], catalog: list[str]) -> None:
    blend_id = ok(gql(api, BLEND, {"input": {"songs": catalog[:2]}})[1], "createBlend")["blendId"]
    query = "mutation($id: ID!) { deleteBlend(blendId: $id) { success } }"
    assert refused(gql(api, query, {"id": blend_id}, user="mallory")[1]) == ("NOT_FOUND", None)
    assert ok(gql(api, query, {"id": blend_id})[1], "deleteBlend") == {"success": True}
    assert BlendStore(aws["blends_table"], REGION).get("alice", blend_id) is None


# --- maps ---------------------------------------------------------------------------------------------------
MAP = "mutation($input: CreateMapInput!) { createMap(input: $input) { mapId status sourceKind sourceId } }"


def test_maps_know_the_librarys_ready_status() -> None:
    assert map_creation.TRACK_READY == library_tracks.READY


def test_create_map_of_a_track_is_what_post_maps_makes(api: Any, aws: dict[str, Any], map_machine: str) -> None:
    ready_track(aws, "alice", "t1", duration=30.0)
    _, payload = gql(api, MAP, {"input": {"trackId": "t1", "difficulty": "hard"}})
    created = ok(payload, "createMap")
    assert created["status"] == "PENDING" and (created["sourceKind"], created["sourceId"]) == ("track", "t1")
    assert [e["name"] for e in executions(map_machine)] == [created["mapId"]]
    store = MapStore(aws["maps_table"], REGION)
    record = store.get("alice", created["mapId"])
    source = drum_maps.work_key("alice", created["mapId"], "source.flac")
    assert record["difficulty"] == "hard" and record["source"]["audioKey"] == source
    assert aws["s3"].get_object(Bucket=aws["bucket"], Key=source)["Body"].read() == b"fLaC-audio"

    rest = load_function("maps_api")
    status, body = call(rest, event("POST", "/maps", body={"trackId": "t1", "difficulty": "hard"}))
    assert status == 202 and body["source"] == {"kind": "track", "id": "t1"}
    twin = store.get("alice", body["mapId"])
    assert {k: v for k, v in twin["source"].items() if k != "audioKey"} == {
        k: v for k, v in record["source"].items() if k != "audioKey"}
    _, payload = gql(api, MAP, {"input": {"trackId": "t1"}})  # the third of MAP_QUOTA=2, shared with REST
    assert refused(payload)[0] == "RATE_LIMITED"


@pytest.mark.parametrize(("map_input", "field"), [
    ({}, "input"),
    ({"songId": "s", "trackId": "t"}, "input"),
    ({"trackId": "t1", "difficulty": "insane"}, "input.difficulty"),
    ({"trackId": "long"}, "input.trackId"),
])
def test_create_map_refusals_name_the_field(api: Any, aws: dict[str, Any], map_input: dict, field: str) -> None:
    ready_track(aws, "alice", "long", duration=4000.0)
    _, payload = gql(api, MAP, {"input": map_input})
    assert payload["data"] is None and refused(payload) == ("BAD_USER_INPUT", field)


def test_a_song_needs_a_recording_and_another_users_track_is_not_found(api: Any, aws: dict[str, Any],
                                                                       catalog: list[str], map_machine: str) -> None:
    _, payload = gql(api, MAP, {"input": {"songId": catalog[0]}})
    assert refused(payload) == ("BAD_USER_INPUT", "input.songId")
    ready_track(aws, "bob", "t9")
    _, payload = gql(api, MAP, {"input": {"trackId": "t9"}})
    assert refused(payload) == ("NOT_FOUND", None) and executions(map_machine) == []
    audio = SongAudioStore(aws["songs_table"], REGION)
    assert audio.start_upload(catalog[0], "bob", "mp3")
    assert audio.mark_ready(catalog[0], audio_key=f"catalog/{catalog[0]}/audio.mp3", fingerprint_key="fp",
                            duration_seconds=61.0)
    created = ok(gql(api, MAP, {"input": {"songId": catalog[0]}})[1], "createMap")
    assert (created["sourceKind"], created["sourceId"]) == ("song", catalog[0])


def test_delete_map_is_the_owners_alone(api: Any, aws: dict[str, Any]) -> None:
    ready_track(aws, "alice", "t1", duration=30.0)
    map_id = ok(gql(api, MAP, {"input": {"trackId": "t1"}})[1], "createMap")["mapId"]
    query = "mutation($id: ID!) { deleteMap(mapId: $id) { success } }"
    assert refused(gql(api, query, {"id": map_id}, user="mallory")[1]) == ("NOT_FOUND", None)
    assert ok(gql(api, query, {"id": map_id})[1], "deleteMap") == {"success": True}
    assert MapStore(aws["maps_table"], REGION).get("alice", map_id) is None
    assert aws["s3"].list_objects_v2(Bucket=aws["bucket"], Prefix=drum_maps.work_prefix("alice", map_id))["KeyCount"] == 0



def test_docs_list_every_mutation_with_its_rest_twin() -> None:
    page = (ROOT / "docs/clients.md").read_text()
    graphql_part = page.split("## GraphQL", 1)[1].split("\n## ", 1)[0]
    for field in build_schema(SCHEMA_FILE.read_text()).mutation_type.fields:
        assert f"{field}(" in graphql_part, f"docs/clients.md's GraphQL section does not list Mutation.{field}"


# --- map edits and votes (the community) -------------------------------------------------------------------
PROPOSE = """mutation($id: ID!, $input: ProposeMapEditInput!) {
  proposeMapEdit(mapId: $id, input: $input) { editId state diff }
}"""
VOTE = """mutation($id: ID!, $input: VoteOnEditInput!) {
  voteOnEdit(editId: $id, input: $input) { editId decision state approvals rejections appliedVersion }
}"""


@pytest.fixture
def community(api: Any, aws: dict[str, Any], clock: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A finished public map `map1` of `owner` and the community API beside GraphQL, both on one manual clock."""
    from tests.unit.maps.test_community import make_public_map

    clock.now = 1_800_000_000.0
    rest = load_function("community_api")
    for module in (api, rest):
        monkeypatch.setattr(module, "clock", clock)
    make_public_map(rest.maps, aws, clock, "owner", "map1")
    return {"api": api, "rest": rest, "karma": rest.karma_store, "maps": rest.maps, "clock": clock, "aws": aws}


def verifiers(community: dict[str, Any], *users: str) -> None:
    from tests.unit.maps.test_community import age_accounts, make_verifier

    for user in users:
        make_verifier(community, user)
    age_accounts(community)


def test_an_edit_proposed_and_voted_in_graphql_is_applied_as_rest_applies_it(community: dict[str, Any]) -> None:
    from tests.unit.maps.test_community import swap_lane

    api, rest = community["api"], community["rest"]
    verifiers(community, "ver1", "ver2")
    _, payload = gql(api, PROPOSE, {"id": "map1", "input": {"baseVersion": 1, "patch": swap_lane(), "comment": "fix"}},
                     user="fixer1")
    proposed = ok(payload, "proposeMapEdit")
    assert proposed["state"] == "pending"
    assert proposed["diff"] == {"levels": {"expert": {"added": 1, "removed": 1}}, "fields": []}
    edit_id = proposed["editId"]
    status, stored = call(rest, event("GET", f"/edits/{edit_id}", resource="/edits/{editId}",
                                      path_params={"editId": edit_id}))
    assert status == 200 and stored["author"] == "fixer1" and stored["patch"] == swap_lane()

    _, payload = gql(api, VOTE, {"id": edit_id, "input": {"decision": "approve"}}, user="ver1")
    assert ok(payload, "voteOnEdit") == {"editId": edit_id, "decision": "approve", "state": "pending",
                                         "approvals": 1, "rejections": 0, "appliedVersion": None}
    _, payload = gql(api, VOTE, {"id": edit_id, "input": {"decision": "approve"}}, user="ver1")
    assert refused(payload) == ("CONFLICT", None) and "already voted" in payload["errors"][0]["message"]
    _, payload = gql(api, VOTE, {"id": edit_id, "input": {"decision": "approve", "reason": "right"}}, user="ver2")
    applied = ok(payload, "voteOnEdit")
    assert (applied["state"], applied["approvals"], applied["appliedVersion"]) == ("applied", 2, 2)
    record = community["maps"].get("owner", "map1")
    assert int(record["version"]) == 2
    assert rest.store.load_version(record, 2)["levels"]["expert"][7]["lane"] == "crash"
    assert community["karma"].standing("fixer1", touch=False).karma > 0  # the author credited, as REST credits


def test_map_edits_refuse_what_the_community_api_refuses(community: dict[str, Any]) -> None:
    from soundcanvas.maps import karma
    from tests.unit.maps.test_community import FREE_LANES, make_public_map, swap_lane

    api = community["api"]

    def propose(patch: list[dict[str, Any]], user: str = "fixer1", base: int = 1, map_id: str = "map1") -> Any:
        return gql(api, PROPOSE, {"id": map_id, "input": {"baseVersion": base, "patch": patch}}, user=user)[1]

    assert refused(propose([{"op": "remove", "path": "/levels/expert/99"}])) == ("BAD_USER_INPUT", "input.patch[0]")
    assert refused(propose([{"op": "jump", "path": "/tempoBpm"}])) == ("BAD_USER_INPUT", "input.patch.0.op")
    assert refused(propose(swap_lane(), base=2)) == ("BAD_USER_INPUT", "input.baseVersion")
    assert refused(propose([])) == ("BAD_USER_INPUT", "input.patch")
    make_public_map(community["maps"], community["aws"], community["clock"], "owner", "private1", public=False)
    assert refused(propose(swap_lane(), user="stranger", map_id="private1")) == ("NOT_FOUND", None)
    assert refused(propose(swap_lane(), map_id="nope")) == ("NOT_FOUND", None)

    verifiers(community, "ver1")
    edit_id = ok(propose(swap_lane(), user="ver1"), "proposeMapEdit")["editId"]
    for user, words in (("fixer2", "only verifiers vote"), ("ver1", "your own edit")):
        _, payload = gql(api, VOTE, {"id": edit_id, "input": {"decision": "approve"}}, user=user)
        assert refused(payload) == ("FORBIDDEN", None) and words in payload["errors"][0]["message"]
    _, payload = gql(api, VOTE, {"id": edit_id, "input": {"decision": "maybe"}}, user="ver2")
    assert refused(payload) == ("BAD_USER_INPUT", "input.decision")
    _, payload = gql(api, VOTE, {"id": "nope", "input": {"decision": "approve"}}, user="ver1")
    assert refused(payload) == ("NOT_FOUND", None)

    for i in range(karma.EDITS_PER_DAY[karma.FIXER]):  # a fixer's daily limit
        ok(propose(swap_lane(7, FREE_LANES[i]), user="busy"), "proposeMapEdit")
    assert refused(propose(swap_lane(0, "crash"), user="busy"))[0] == "RATE_LIMITED"
