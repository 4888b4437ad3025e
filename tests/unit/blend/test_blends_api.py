"""The Blends API handler against moto (Step Functions included): requests checked field by field and song
by song, the record and the execution a blend starts, the quota, reads, downloads and deletes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from soundcanvas.blend import blends, songs
from soundcanvas.blend.blends import BlendStore
from soundcanvas.blend.catalog import song_record
from soundcanvas.blend.seed import SeedSong
from soundcanvas.blend.songs import SongStore
from tests.apigw import call, event
from tests.conftest import FakeContext, ManualClock, load_function
from tests.unit.blend.conftest import executions, headers, keys, moto_state_machine


@pytest.fixture
def state_machine(aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> str:
    return moto_state_machine(monkeypatch, "BlendStateMachine", "BLEND_STATE_MACHINE_ARN")


def load_api(monkeypatch: pytest.MonkeyPatch, clock: ManualClock) -> Any:
    module = load_function("blends_api")
    monkeypatch.setattr(module, "clock", clock)
    module.quotas.clock = clock
    return module


@pytest.fixture
def api(aws: dict[str, Any], state_machine: str, monkeypatch: pytest.MonkeyPatch, clock: ManualClock) -> Any:
    return load_api(monkeypatch, clock)


@pytest.fixture
def catalog(song_store: SongStore, seed_songs: list[SeedSong]) -> list[str]:
    """Four public seed songs' records (the API reads records only), by id."""
    song_store.put_public(song_record(song) for song in seed_songs[:4])
    return [song.songId for song in seed_songs[:4]]


def own_song(store: SongStore, owner: str, song_id: str, *, ready: bool = True) -> None:
    store.create_upload(owner, song_id, title=f"Tune {song_id}", artist=None, upload_expires_at=int(store.clock()) + 900)
    if ready:
        assert store.mark_ready(
            song_id,
            midi_key=f"catalog/{song_id}/song-v1.mid",
            summary={"key": "C major", "tempoBpm": 100.0, "timeSignature": "4/4", "durationSeconds": 30.0},
        )


def blend(blend_id: str, suffix: str = "") -> dict[str, Any]:
    return {
        "path": f"/blends/{blend_id}{suffix}",
        "resource": f"/blends/{{blendId}}{suffix}",
        "path_params": {"blendId": blend_id},
    }


def complete(store: BlendStore, aws: dict[str, Any], user: str, blend_id: str) -> dict[str, str]:
    """Run a blend to COMPLETE through the store calls the workflow makes, with its files in the bucket."""
    store.create(
        user,
        blend_id,
        songs=[
            {"songId": "s1", "title": "One", "artist": None, "weight": 0.5},
            {"songId": "s2", "title": "Two", "artist": None, "weight": 0.5},
        ],
        options={"temperature": 0.8, "creativity": 0.7, "lengthSeconds": 30, "genre": None, "seed": 3},
    )
    assert store.claim(user, blend_id, execution_id="run-1") is not None
    outputs = {
        "midiKey": blends.output_key(user, blend_id, "blend.mid"),
        "audioKey": blends.output_key(user, blend_id, "blend.wav"),
        "mp3Key": blends.output_key(user, blend_id, "blend.mp3"),
    }
    for key in outputs.values():
        aws["s3"].put_object(Bucket=aws["bucket"], Key=key, Body=b"file")
    summary = {
        "key": "D major",
        "tempoBpm": 112.0,
        "timeSignature": "4/4",
        "durationSeconds": 30.2,
        "attribution": {"s1": 0.52, "s2": 0.48},
        "novelty": {"newPhraseShare": 0.4},
        "attempts": 1,
        "gates": {"attribution": {"passed": True}},
    }
    assert store.advance(
        user, blend_id, finished="render", elapsed_ms=5, next_stage="done", outputs=outputs, summary=summary
    )
    return outputs


def post(api: Any, body: Any, user: str = "alice") -> tuple[int, Any]:
    return call(api, event("POST", "/blends", user=user, body=body))


# --- creating ------------------------------------------------------------------------------------
BAD_REQUESTS = [
    ({"songs": ["a"]}, "songs"),
    ({"songs": ["a", "b", "c", "d", "e"]}, "songs"),
    ({"songs": ["a", "b"], "temperature": 3}, "temperature"),
    ({"songs": ["a", "b"], "temperature": 0.05}, "temperature"),
    ({"songs": ["a", "b"], "creativity": -0.1}, "creativity"),
    ({"songs": ["a", "b"], "creativity": 1.5}, "creativity"),
    ({"songs": ["a", "b"], "lengthSeconds": 10}, "lengthSeconds"),
    ({"songs": ["a", "b"], "lengthSeconds": 301}, "lengthSeconds"),
    ({"songs": ["a", "b"], "lengthSeconds": 30.5}, "lengthSeconds"),
    ({"songs": ["a", "b"], "genre": "polka"}, "genre"),
    ({"songs": ["a", "b"], "seed": -1}, "seed"),
    ({"songs": ["a", "b"], "weights": [1, 0]}, "weights.1"),
    ({"songs": ["a", "../b"]}, "songs.1"),
    ({"songs": ["a", "b"], "mood": "happy"}, "mood"),
    ({}, "songs"),
]


def test_bad_requests_are_400_naming_the_field(api: Any, aws: dict[str, Any], state_machine: str) -> None:
    for body, field in BAD_REQUESTS:
        status, payload = post(api, body)
        assert status == 400, (body, payload)
        assert [e["field"] for e in payload["errors"]] == [field], (body, payload)
    assert executions(state_machine) == [] and call(api, event("GET", "/blends"))[1]["items"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"songs": ["a", "a"]}, "songs"),
        ({"songs": ["a", "b", "c"], "weights": [1, 2]}, "weights"),
    ],
)
def test_duplicate_songs_and_a_weight_per_song_are_400_naming_the_field(
    api: Any,
    body: dict[str, Any],
    field: str,
) -> None:
    status, payload = post(api, body)
    assert status == 400 and [e["field"] for e in payload["errors"]] == [field], payload


def test_the_request_names_duplicate_songs_and_the_weights_count(api: Any) -> None:
    status, payload = post(api, {"songs": ["a", "a"]})
    assert status == 400 and "songs: name each song once" in payload["message"]
    status, payload = post(api, {"songs": ["a", "b", "c"], "weights": [1, 2]})
    assert status == 400 and "one weight per song (3)" in payload["message"]


def test_songs_the_caller_may_not_use_are_404_naming_them_and_their_position(
    api: Any,
    aws: dict[str, Any],
    catalog: list[str],
    song_store: SongStore,
    state_machine: str,
) -> None:
    status, payload = post(api, {"songs": [catalog[0], "no-such-song", catalog[1]]})
    assert status == 404 and payload["message"] == "song no-such-song (songs[1]) not found"
    own_song(song_store, "bob", "bobs-song")
    status, payload = post(api, {"songs": ["bobs-song", catalog[0]]})
    assert status == 404 and payload["message"] == "song bobs-song (songs[0]) not found"
    own_song(song_store, "alice", "alices-pending", ready=False)
    status, payload = post(api, {"songs": [catalog[0], catalog[1], "alices-pending"]})
    assert status == 400 and payload["errors"][0]["field"] == "songs[2]"
    assert "is PENDING" in payload["message"] and "READY" in payload["message"]
    song_store.fail("alices-pending", message="not MIDI")
    assert post(api, {"songs": [catalog[0], "alices-pending"]})[0] == 400
    assert executions(state_machine) == [] and call(api, event("GET", "/blends"))[1]["items"] == []
    assert post(api, {"songs": ["bobs-song", catalog[0]]}, user="bob")[0] == 202  # bob may use his own


def test_a_blend_is_recorded_and_its_execution_started(
    api: Any,
    aws: dict[str, Any],
    catalog: list[str],
    song_store: SongStore,
    blend_store: BlendStore,
    state_machine: str,
) -> None:
    own_song(song_store, "alice", "mine-1")
    result = api.lambda_handler(
        event(
            "POST",
            "/blends",
            body={
                "songs": [catalog[2], "mine-1", catalog[0]],
                "weights": [1, 2, 1],
                "temperature": 1.2,
                "creativity": 0.3,
                "lengthSeconds": 45,
                "genre": "jazz",
            },
        ),
        FakeContext(),
    )
    assert result["statusCode"] == 202, result["body"]
    payload = json.loads(result["body"])
    blend_id = payload["blendId"]
    assert len(blend_id) == 32 and payload["status"] == "PENDING"
    assert headers(result)["Location"] == f"/blends/{blend_id}"
    record = blend_store.get("alice", blend_id)
    assert record is not None and record["status"] == "PENDING" and record["stage"] == "queued"
    assert [(s["songId"], s["weight"]) for s in record["songs"]] == [(catalog[2], 0.25), ("mine-1", 0.5), (catalog[0], 0.25)]
    assert record["songs"][1]["title"] == "Tune mine-1"
    options = record["options"]
    assert (options["temperature"], options["creativity"], options["lengthSeconds"], options["genre"]) == (
        1.2,
        0.3,
        45,
        "jazz",
    )
    assert isinstance(options["seed"], int) and 0 <= options["seed"] < 2**31 and payload["options"] == options
    (execution,) = executions(state_machine)
    assert execution["name"] == blend_id and execution["stateMachineArn"] == state_machine
    assert json.loads(execution["input"]) == {"userId": "alice", "blendId": blend_id}


def test_defaults_weights_even_and_a_seed_drawn_when_not_given(
    api: Any,
    catalog: list[str],
    blend_store: BlendStore,
) -> None:
    seeds = set()
    for _ in range(3):
        status, payload = post(api, {"songs": catalog[:3]})
        assert status == 202
        record = blend_store.get("alice", payload["blendId"])
        assert record is not None
        assert [s["weight"] for s in record["songs"]] == [pytest.approx(1 / 3, abs=1e-6)] * 3
        options = record["options"]
        assert (options["temperature"], options["creativity"], options["lengthSeconds"], options["genre"]) == (
            0.8,
            0.7,
            120,
            None,
        )
        seeds.add(options["seed"])
    assert len(seeds) == 3
    status, payload = post(api, {"songs": catalog[:2], "seed": 0})
    assert status == 202 and blend_store.get("alice", payload["blendId"])["options"]["seed"] == 0  # type: ignore[index]


def test_the_blend_quota_is_429_with_retry_after(
    aws: dict[str, Any],
    state_machine: str,
    catalog: list[str],
    monkeypatch: pytest.MonkeyPatch,
    clock: ManualClock,
) -> None:
    monkeypatch.setenv("BLEND_QUOTA", "2")
    api = load_api(monkeypatch, clock)
    assert post(api, {"songs": [catalog[0], "missing"]})[0] == 404  # refusals cost nothing
    for _ in range(2):
        assert post(api, {"songs": catalog[:2]})[0] == 202
    result = api.lambda_handler(event("POST", "/blends", body={"songs": catalog[:2]}), FakeContext())
    assert result["statusCode"] == 429
    retry_after = int(headers(result)["Retry-After"])
    assert 0 < retry_after <= 900
    assert "2 blends per 15 minutes" in json.loads(result["body"])["message"]
    assert len(executions(state_machine)) == 2
    assert post(api, {"songs": catalog[:2]}, user="bob")[0] == 202
    clock.now += retry_after + 1
    assert post(api, {"songs": catalog[:2]})[0] == 202  # a new window


def test_retrying_after_retry_after_seconds_is_accepted(
    aws: dict[str, Any],
    state_machine: str,
    catalog: list[str],
    monkeypatch: pytest.MonkeyPatch,
    clock: ManualClock,
) -> None:
    monkeypatch.setenv("BLEND_QUOTA", "1")
    api = load_api(monkeypatch, clock)
    clock.now = int(clock.now) // 900 * 900 + 100.5  # mid-second, 100.5 s into a window
    assert post(api, {"songs": catalog[:2]})[0] == 202
    result = api.lambda_handler(event("POST", "/blends", body={"songs": catalog[:2]}), FakeContext())
    assert result["statusCode"] == 429
    clock.now += int(headers(result)["Retry-After"])
    assert post(api, {"songs": catalog[:2]})[0] == 202


def test_a_workflow_that_cannot_start_leaves_no_record(
    aws: dict[str, Any],
    catalog: list[str],
    monkeypatch: pytest.MonkeyPatch,
    clock: ManualClock,
) -> None:
    monkeypatch.setenv("BLEND_STATE_MACHINE_ARN", "arn:aws:states:us-east-1:123456789012:stateMachine:Gone")
    monkeypatch.setenv("BLEND_QUOTA", "1")
    api = load_api(monkeypatch, clock)
    for _ in range(2):  # the second try is not a 429: the first gave its unit back
        with pytest.raises(ClientError) as raised:
            api.lambda_handler(event("POST", "/blends", body={"songs": catalog[:2]}), FakeContext())
        assert raised.value.response["Error"]["Code"] == "StateMachineDoesNotExist"
    assert call(api, event("GET", "/blends"))[1]["items"] == []


# --- reading -------------------------------------------------------------------------------------
def test_a_blend_reads_as_its_owners_and_nobody_elses(
    api: Any,
    aws: dict[str, Any],
    catalog: list[str],
    blend_store: BlendStore,
    clock: ManualClock,
) -> None:
    _, created = post(api, {"songs": catalog[:2], "seed": 9})
    blend_id = created["blendId"]
    status, view = call(api, event("GET", **blend(blend_id)))
    assert status == 200
    assert (view["blendId"], view["status"], view["stage"], view["progress"]) == (blend_id, "PENDING", "queued", 0)
    assert [s["songId"] for s in view["songs"]] == catalog[:2] and view["options"]["seed"] == 9
    assert view["midiUrl"] is None and view["audioUrl"] is None and view["attribution"] is None
    status, payload = call(api, event("GET", **blend(blend_id), user="bob"))
    assert status == 404 and payload["message"] == f"blend {blend_id} not found"
    assert call(api, event("GET", **blend(blend_id, "/download"), user="bob"))[0] == 404
    assert call(api, event("DELETE", **blend(blend_id), user="bob"))[0] == 404
    assert blend_store.get("alice", blend_id) is not None
    clock.now += 1  # done-1 is the newer (two blends created in one millisecond list in either order)
    complete(blend_store, aws, "alice", "done-1")
    status, view = call(api, event("GET", **blend("done-1")))
    assert status == 200 and view["status"] == "COMPLETE" and view["key"] == "D major"
    assert view["attribution"] == {"s1": 0.52, "s2": 0.48} and view["attempts"] == 1
    assert "blends/alice/done-1/blend.mid?" in view["midiUrl"] and "blends/alice/done-1/blend.mp3?" in view["audioUrl"]
    status, listing = call(api, event("GET", "/blends", query={"limit": "1"}))
    assert status == 200 and [i["blendId"] for i in listing["items"]] == ["done-1"] and listing["nextCursor"]
    status, rest = call(api, event("GET", "/blends", query={"limit": "1", "cursor": listing["nextCursor"]}))
    assert [i["blendId"] for i in rest["items"]] == [blend_id]
    status, payload = call(api, event("GET", "/blends", user="bob", query={"cursor": listing["nextCursor"]}))
    assert status == 400 and payload["errors"][0]["field"] == "cursor"


def test_a_download_waits_for_complete_then_redirects_to_a_presigned_url(
    api: Any,
    aws: dict[str, Any],
    catalog: list[str],
    blend_store: BlendStore,
) -> None:
    _, created = post(api, {"songs": catalog[:2]})
    status, payload = call(api, event("GET", **blend(created["blendId"], "/download")))
    assert status == 409 and "PENDING" in payload["message"]
    outputs = complete(blend_store, aws, "alice", "done-1")
    for fmt, field, name in (
        ("mp3", "mp3Key", "blend-done-1.mp3"),
        ("wav", "audioKey", "blend-done-1.wav"),
        ("midi", "midiKey", "blend-done-1.mid"),
    ):
        result = api.lambda_handler(event("GET", **blend("done-1", "/download"), query={"format": fmt}), FakeContext())
        assert result["statusCode"] == 302, result["body"]
        location = headers(result)["Location"]
        assert location == json.loads(result["body"])["url"]
        assert f"/{outputs[field]}?" in location and "X-Amz-Signature=" in location and name in location
    result = api.lambda_handler(event("GET", **blend("done-1", "/download")), FakeContext())  # mp3 by default
    assert result["statusCode"] == 302 and "/blend.mp3?" in headers(result)["Location"]
    status, payload = call(api, event("GET", **blend("done-1", "/download"), query={"format": "flac"}))
    assert status == 400 and payload["errors"][0]["field"] == "format"
    blend_store.create("alice", "failed-1", songs=[], options={})
    blend_store.fail("alice", "failed-1", stage="prepare", message="gone")
    assert call(api, event("GET", **blend("failed-1", "/download")))[0] == 409


def test_delete_removes_the_record_and_only_that_blends_files(
    api: Any,
    aws: dict[str, Any],
    blend_store: BlendStore,
) -> None:
    complete(blend_store, aws, "alice", "b1")
    complete(blend_store, aws, "alice", "b10")  # its prefix starts like b1's
    aws["s3"].put_object(Bucket=aws["bucket"], Key=blends.work_key("alice", "b1", "prepared.json"), Body=b"{}")
    result = api.lambda_handler(event("DELETE", **blend("b1")), FakeContext())
    assert result["statusCode"] == 204 and not result["body"]
    assert blend_store.get("alice", "b1") is None and keys(aws, blends.prefix("alice", "b1")) == []
    assert blend_store.get("alice", "b10") is not None and len(keys(aws, blends.prefix("alice", "b10"))) == 3
    assert call(api, event("GET", **blend("b1")))[0] == 404
    assert call(api, event("DELETE", **blend("b1")))[0] == 404
    assert keys(aws, songs.prefix("s1")) == []
