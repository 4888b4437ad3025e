"""Blend's workflow steps against moto over real seed songs: Prepare -> Compose -> (Render, faked here: FluidSynth
is for the e2e tests) -> Complete; claims by one execution; failures that name the stage and the reason and
leave nothing half-written; and the song workflow's single-use ingest of uploaded MIDI."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import mido
import pytest

from soundcanvas.blend import blends, songs
from soundcanvas.blend.blends import BlendStore
from soundcanvas.blend.catalog import load_catalog
from soundcanvas.blend.compose import BlendOptions, compose_blend
from soundcanvas.blend.midi_files import read_song
from soundcanvas.blend.prepare import prepare_blend
from soundcanvas.blend.seed import SeedSong
from soundcanvas.blend.songs import SongStore
from soundcanvas.core.errors import SongNotFound, SongRejected
from tests.conftest import FakeContext, load_function
from tests.unit.blend import songs as crafted
from tests.unit.blend.conftest import keys

EVENTS = Path(__file__).resolve().parents[3] / "events" / "blend"
EXEC_A = "arn:aws:states:us-east-1:000000000000:execution:BlendStateMachine:run-a"
EXEC_B = "arn:aws:states:us-east-1:000000000000:execution:BlendStateMachine:run-b"
OPTIONS = {"temperature": 0.8, "creativity": 0.7, "lengthSeconds": 30, "genre": None, "seed": 7}
GATE_MESSAGE = (
    "no blend of these songs passed the gate 'attribution' in 8 attempts; try other weights or a higher creativity"
)


class Steps(dict[str, Any]):
    """The step handlers, each imported on first use (inside the moto scope, after the environment is set)."""

    def __missing__(self, name: str) -> Any:
        self[name] = load_function(name)
        return self[name]


@pytest.fixture
def steps(aws: dict[str, Any]) -> Steps:
    return Steps()


@pytest.fixture
def catalog(aws: dict[str, Any], song_store: SongStore, seed_songs: list[SeedSong]) -> list[SeedSong]:
    """Six seed songs in the catalog (MIDI, records, index): reels and a hornpipe, in several keys."""
    load_catalog(seed_songs[:6], song_store, aws["s3"], aws["bucket"])
    return seed_songs[:6]


def request(
    store: BlendStore,
    chosen: list[SeedSong | dict[str, Any]],
    weights: list[float],
    *,
    blend_id: str = "b1",
    user: str = "alice",
) -> dict[str, Any]:
    """A PENDING blend as POST /blends writes it."""
    entries = []
    for song, weight in zip(chosen, weights, strict=True):
        if isinstance(song, SeedSong):
            song = {"songId": song.songId, "title": song.title, "artist": song.artist}
        entries.append({**song, "weight": weight})
    return store.create(user, blend_id, songs=entries, options=OPTIONS)


def prepare_event(blend_id: str = "b1", execution: str = EXEC_A, user: str = "alice") -> dict[str, Any]:
    return {"blend": {"userId": user, "blendId": blend_id}, "executionId": execution}


def failure(
    blend_id: str, error: str, message: str, *, execution: str = EXEC_A, prepared: dict[str, Any] | None = None
) -> dict[str, Any]:
    """BlendFailed's input, as the workflow's Catch hands it over (the state and the execution)."""
    cause = json.dumps({"errorType": error, "errorMessage": message})
    state = {"userId": "alice", "blendId": blend_id, "error": {"Error": error, "Cause": cause}}
    if prepared is not None:
        state["prepared"] = prepared
    return {"state": state, "executionId": execution}


def fake_render(aws: dict[str, Any], composed: dict[str, Any]) -> dict[str, Any]:
    """What the Render function returns, with a WAV and an MP3 where Compose asked for them."""
    render = composed["render"]
    aws["s3"].put_object(Bucket=aws["bucket"], Key=render["audioKey"], Body=b"RIFF....WAVEfmt ", ContentType="audio/wav")
    aws["s3"].put_object(Bucket=aws["bucket"], Key=render["previewKey"], Body=b"ID3\x04fake", ContentType="audio/mpeg")
    return {
        "audioKey": render["audioKey"],
        "previewKey": render["previewKey"],
        "durationSeconds": render["durationSeconds"],
        "peakDbfs": -1.2,
        "rmsDbfs": -17.5,
        "elapsedMs": 850,
    }


def names(aws: dict[str, Any], blend_id: str = "b1", user: str = "alice") -> list[str]:
    prefix = blends.prefix(user, blend_id)
    return [key.removeprefix(prefix) for key in keys(aws, prefix)]


# --- the happy path ------------------------------------------------------------------------------
def test_prepare_compose_render_complete(
    aws: dict[str, Any],
    steps: Steps,
    catalog: list[SeedSong],
    blend_store: BlendStore,
) -> None:
    chosen = [catalog[1], catalog[3], catalog[5]]
    request(blend_store, chosen, [0.4, 0.3, 0.3])
    prepared = steps["prepare_blend"].lambda_handler(prepare_event(), FakeContext())
    assert prepared["claimed"] is True and prepared["blend"]["options"] == OPTIONS
    assert prepared["preparedKey"] == blends.work_key("alice", "b1", "prepared.json")
    assert names(aws) == ["work/prepared.json"]
    record = blend_store.get("alice", "b1")
    assert record is not None and (record["status"], record["stage"], record["claimedBy"]) == ("RUNNING", "compose", EXEC_A)

    composed = steps["compose_blend"].lambda_handler(
        {"blend": prepared["blend"], "preparedKey": prepared["preparedKey"]}, FakeContext()
    )
    midi_key = blends.output_key("alice", "b1", "blend.mid")
    assert composed["midiKey"] == composed["render"]["midiKey"] == midi_key
    assert composed["render"]["audioKey"] == blends.output_key("alice", "b1", "blend.wav")
    assert composed["render"]["previewKey"] == blends.output_key("alice", "b1", "blend.mp3")
    assert abs(composed["render"]["durationSeconds"] - 30) <= 5
    midi = aws["s3"].get_object(Bucket=aws["bucket"], Key=midi_key)["Body"].read()
    # The work file carried everything: the same songs composed directly give the same bytes.
    direct = compose_blend(
        prepare_blend([(s.songId, read_song(s.midi)) for s in chosen], [0.4, 0.3, 0.3]), BlendOptions.from_json(OPTIONS)
    )
    assert midi == direct.midi
    assert mido.MidiFile(file=io.BytesIO(midi)).type == 1
    assert blend_store.get("alice", "b1")["stage"] == "render"  # type: ignore[index]

    rendered = fake_render(aws, composed)
    out = steps["complete_blend"].lambda_handler(
        {"blend": prepared["blend"], "composed": composed, "rendered": rendered}, FakeContext()
    )
    assert out == {"status": "COMPLETE"}
    done = blend_store.get("alice", "b1")
    assert done is not None
    assert (done["status"], done["stage"], done["progress"], done["activeShard"]) == ("COMPLETE", "done", 100, None)
    assert done["outputs"] == {"midiKey": midi_key, "audioKey": rendered["audioKey"], "mp3Key": rendered["previewKey"]}
    summary = done["summary"]
    assert set(summary["attribution"]) == {s.songId for s in chosen}
    assert sum(summary["attribution"].values()) == pytest.approx(1.0, abs=1e-3)
    assert set(summary["novelty"]) >= {"newPhraseShare", "longestCopiedBars"}
    assert set(summary["gates"]) == {"attribution", "copy", "inKey", "blend"}
    assert all(gate["passed"] for gate in summary["gates"].values())
    assert summary["key"] == direct.summary()["key"] and summary["attempts"] >= 1
    assert (summary["peakDbfs"], summary["rmsDbfs"]) == (-1.2, -17.5)
    assert set(done["timings"]) == {"prepare", "compose", "render"} and done["timings"]["render"] == 850
    assert names(aws) == ["blend.mid", "blend.mp3", "blend.wav"]  # the work file is gone
    # A retried CompleteBlend (its first response lost) changes nothing and still succeeds.
    again = steps["complete_blend"].lambda_handler(
        {"blend": prepared["blend"], "composed": composed, "rendered": rendered}, FakeContext()
    )
    assert again == {"status": "COMPLETE"} and blend_store.get("alice", "b1") == done
    assert names(aws) == ["blend.mid", "blend.mp3", "blend.wav"]


def test_a_private_song_of_the_callers_blends_too(
    aws: dict[str, Any],
    steps: Steps,
    catalog: list[SeedSong],
    song_store: SongStore,
    blend_store: BlendStore,
) -> None:
    song_store.create_upload(
        "alice", "mine-1", title="Reel in G", artist=None, upload_expires_at=int(song_store.clock()) + 900
    )
    key = f"{songs.prefix('mine-1')}song-abc.mid"
    aws["s3"].put_object(Bucket=aws["bucket"], Key=key, Body=crafted.reel_in_g())
    assert song_store.mark_ready("mine-1", midi_key=key, summary={"key": "G major"})
    request(blend_store, [catalog[0], {"songId": "mine-1", "title": "Reel in G", "artist": None}], [0.5, 0.5])
    prepared = steps["prepare_blend"].lambda_handler(prepare_event(), FakeContext())
    assert prepared["claimed"] is True
    work = json.loads(aws["s3"].get_object(Bucket=aws["bucket"], Key=prepared["preparedKey"])["Body"].read())
    assert "mine-1" in json.dumps(work)


# --- claims --------------------------------------------------------------------------------------
def test_prepare_claims_once_per_execution(
    aws: dict[str, Any],
    steps: Steps,
    catalog: list[SeedSong],
    blend_store: BlendStore,
) -> None:
    request(blend_store, catalog[:2], [0.5, 0.5])
    prepare = steps["prepare_blend"]
    first = prepare.lambda_handler(prepare_event(execution=EXEC_A), FakeContext())
    assert first["claimed"] is True
    assert prepare.lambda_handler(prepare_event(execution=EXEC_B), FakeContext()) == {"claimed": False}
    retried = prepare.lambda_handler(prepare_event(execution=EXEC_A), FakeContext())  # a retry after a lost reply
    assert retried["claimed"] is True and retried["preparedKey"] == first["preparedKey"]
    record = blend_store.get("alice", "b1")
    assert record is not None and record["claimedBy"] == EXEC_A and record["stage"] == "compose"
    assert prepare.lambda_handler(prepare_event(blend_id="missing"), FakeContext()) == {"claimed": False}


def test_a_song_deleted_before_prepare_fails_the_blend_naming_it(
    aws: dict[str, Any],
    steps: Steps,
    catalog: list[SeedSong],
    song_store: SongStore,
    blend_store: BlendStore,
) -> None:
    song_store.create_upload(
        "alice", "mine-1", title="Gone Tune", artist=None, upload_expires_at=int(song_store.clock()) + 900
    )
    key = f"{songs.prefix('mine-1')}song-abc.mid"
    aws["s3"].put_object(Bucket=aws["bucket"], Key=key, Body=crafted.reel_in_g())
    song_store.mark_ready("mine-1", midi_key=key, summary={})
    request(blend_store, [catalog[0], {"songId": "mine-1", "title": "Gone Tune", "artist": None}], [0.5, 0.5])
    assert song_store.delete("mine-1")  # DELETE /songs/mine-1 between the request and Prepare
    with pytest.raises(SongNotFound) as raised:
        steps["prepare_blend"].lambda_handler(prepare_event(), FakeContext())
    message = str(raised.value)
    assert "song mine-1 (Gone Tune)" in message and "deleted" in message
    assert names(aws) == []
    out = steps["blend_failed"].lambda_handler(failure("b1", "SongNotFound", message), FakeContext())
    assert out["marked"] is True and out["stage"] == "prepare" and out["message"] == message
    record = blend_store.get("alice", "b1")
    assert record is not None and (record["status"], record["failedStage"], record["errorMessage"]) == (
        "FAILED",
        "prepare",
        message,
    )


# --- failures ------------------------------------------------------------------------------------
def test_a_rejected_blend_fails_with_the_gate_message_and_leaves_no_files(
    aws: dict[str, Any],
    steps: Steps,
    catalog: list[SeedSong],
    blend_store: BlendStore,
) -> None:
    sample = json.loads((EVENTS / "blend_failed.json").read_text())
    assert json.loads(sample["state"]["error"]["Cause"])["errorMessage"] == GATE_MESSAGE
    request(blend_store, catalog[:2], [0.5, 0.5], blend_id=sample["state"]["blendId"], user=sample["state"]["userId"])
    prepare_in = prepare_event(
        blend_id=sample["state"]["blendId"], user=sample["state"]["userId"], execution=sample["executionId"]
    )
    prepared = steps["prepare_blend"].lambda_handler(prepare_in, FakeContext())
    user, blend_id = sample["state"]["userId"], sample["state"]["blendId"]
    aws["s3"].put_object(Bucket=aws["bucket"], Key=blends.output_key(user, blend_id, "blend.mid"), Body=b"MThd")
    assert names(aws, blend_id, user) == ["blend.mid", "work/prepared.json"]
    sample["state"]["prepared"] = prepared
    out = steps["blend_failed"].lambda_handler(sample, FakeContext())
    assert out == {"marked": True, "blendId": blend_id, "stage": "compose", "message": GATE_MESSAGE}
    record = blend_store.get(user, blend_id)
    assert record is not None
    assert (record["status"], record["failedStage"], record["errorMessage"], record["activeShard"]) == (
        "FAILED",
        "compose",
        GATE_MESSAGE,
        None,
    )
    assert names(aws, blend_id, user) == []
    again = steps["blend_failed"].lambda_handler(sample, FakeContext())  # a retry of the step: nothing changes
    assert again["marked"] is False and blend_store.get(user, blend_id) == record


def test_a_retried_blend_failed_removes_what_the_first_attempt_left(
    aws: dict[str, Any],
    steps: Steps,
    catalog: list[SeedSong],
    blend_store: BlendStore,
) -> None:
    request(blend_store, catalog[:2], [0.5, 0.5])
    steps["prepare_blend"].lambda_handler(prepare_event(), FakeContext())
    event = failure("b1", "BlendRejected", GATE_MESSAGE)
    assert steps["blend_failed"].lambda_handler(event, FakeContext())["marked"] is True
    # The first attempt's delete did not finish (a timeout), or a late write landed after it.
    aws["s3"].put_object(Bucket=aws["bucket"], Key=blends.output_key("alice", "b1", "blend.mid"), Body=b"MThd")
    steps["blend_failed"].lambda_handler(event, FakeContext())
    assert names(aws) == []


def test_an_internal_error_gets_a_plain_message_with_a_reference(
    aws: dict[str, Any],
    steps: Steps,
    catalog: list[SeedSong],
    blend_store: BlendStore,
) -> None:
    request(blend_store, catalog[:2], [0.5, 0.5])
    steps["prepare_blend"].lambda_handler(prepare_event(), FakeContext())
    out = steps["blend_failed"].lambda_handler(failure("b1", "KeyError", "'tempo'"), FakeContext())
    assert out["marked"] is True and out["stage"] == "compose"
    assert "internal error in the compose stage (KeyError)" in out["message"] and "b1" in out["message"]
    assert "'tempo'" not in out["message"] and "POST /blends" in out["message"]


def test_a_failed_claim_marks_a_pending_blend(
    aws: dict[str, Any],
    steps: Steps,
    blend_store: BlendStore,
) -> None:
    request(blend_store, [{"songId": "s1", "title": "One", "artist": None}], [1.0])
    out = steps["blend_failed"].lambda_handler(failure("b1", "States.Timeout", ""), FakeContext())
    assert out["marked"] is True and out["stage"] == "prepare"
    assert "the prepare stage did not finish in time" in out["message"]
    assert blend_store.get("alice", "b1")["status"] == "FAILED"  # type: ignore[index]


def test_another_executions_failure_leaves_the_running_blend_alone(
    aws: dict[str, Any],
    steps: Steps,
    catalog: list[SeedSong],
    blend_store: BlendStore,
) -> None:
    request(blend_store, catalog[:2], [0.5, 0.5])
    steps["prepare_blend"].lambda_handler(prepare_event(execution=EXEC_A), FakeContext())
    out = steps["blend_failed"].lambda_handler(failure("b1", "TransientError", "throttled", execution=EXEC_B), FakeContext())
    assert out["marked"] is False
    record = blend_store.get("alice", "b1")
    assert record is not None and record["status"] == "RUNNING" and record["claimedBy"] == EXEC_A
    assert names(aws) == ["work/prepared.json"]


def test_a_late_failure_leaves_a_complete_blend_and_its_files(
    aws: dict[str, Any],
    steps: Steps,
    catalog: list[SeedSong],
    blend_store: BlendStore,
) -> None:
    request(blend_store, catalog[:2], [0.5, 0.5])
    prepared = steps["prepare_blend"].lambda_handler(prepare_event(), FakeContext())
    composed = steps["compose_blend"].lambda_handler(
        {"blend": prepared["blend"], "preparedKey": prepared["preparedKey"]}, FakeContext()
    )
    steps["complete_blend"].lambda_handler(
        {"blend": prepared["blend"], "composed": composed, "rendered": fake_render(aws, composed)}, FakeContext()
    )
    before = blend_store.get("alice", "b1")
    out = steps["blend_failed"].lambda_handler(failure("b1", "States.Timeout", ""), FakeContext())
    assert out["marked"] is False and blend_store.get("alice", "b1") == before
    assert names(aws) == ["blend.mid", "blend.mp3", "blend.wav"]


def test_a_blend_deleted_mid_run_stops_and_its_files_go(
    aws: dict[str, Any],
    steps: Steps,
    catalog: list[SeedSong],
    blend_store: BlendStore,
) -> None:
    request(blend_store, catalog[:2], [0.5, 0.5])
    prepared = steps["prepare_blend"].lambda_handler(prepare_event(), FakeContext())
    blend_store.delete("alice", "b1")  # DELETE /blends/b1 while it runs
    with pytest.raises(Exception, match="stopped running") as raised:
        steps["compose_blend"].lambda_handler(
            {"blend": prepared["blend"], "preparedKey": prepared["preparedKey"]}, FakeContext()
        )
    assert type(raised.value).__name__ == "BlendNotFound"
    assert names(aws) == ["work/prepared.json"]  # Compose removed its own blend.mid
    out = steps["blend_failed"].lambda_handler(failure("b1", "BlendNotFound", str(raised.value)), FakeContext())
    assert out["marked"] is False and names(aws) == []
    assert blend_store.get("alice", "b1") is None  # failing it did not bring it back


# --- the song workflow: IngestSong and SongFailed --------------------------------------------------
@pytest.fixture
def ingest(aws: dict[str, Any]) -> Any:
    return load_function("ingest_song")


def post_upload(aws: dict[str, Any], song_id: str, body: bytes) -> dict[str, Any]:
    """Put a file where the upload form would, and return IngestSong's input for its Object Created event."""
    key = songs.upload_key(song_id)
    etag = aws["s3"].put_object(Bucket=aws["bucket"], Key=key, Body=body)["ETag"].strip('"')
    sample = json.loads((EVENTS / "ingest_song.json").read_text())
    detail = sample["event"]["detail"]
    detail["bucket"]["name"], detail["object"]["key"], detail["object"]["etag"] = aws["bucket"], key, etag
    detail["object"]["size"] = len(body)
    return sample


def pending_upload(store: SongStore, song_id: str = "up1") -> None:
    store.create_upload("alice", song_id, title="My Reel", artist=None, upload_expires_at=int(store.clock()) + 900)


def test_a_valid_upload_becomes_a_ready_song(aws: dict[str, Any], ingest: Any, song_store: SongStore) -> None:
    pending_upload(song_store)
    data = crafted.reel_in_g()
    out = ingest.lambda_handler(post_upload(aws, "up1", data), FakeContext())
    assert out["ingested"] is True and out["songId"] == "up1"
    record = song_store.get("up1")
    assert record is not None and record["status"] == "READY" and record["expiresAt"] is None
    assert record["key"] == "G major" and record["tempoBpm"] > 0 and record["timeSignature"] == "4/4"
    assert record["durationSeconds"] > 0
    (stored,) = keys(aws, songs.prefix("up1"))  # the upload is gone; the kept MIDI is all there is
    assert stored == record["midiKey"] and stored.startswith("catalog/up1/song-") and stored.endswith(".mid")
    assert aws["s3"].get_object(Bucket=aws["bucket"], Key=stored)["Body"].read() == data
    assert out["preview"]["midiKey"] == stored  # what the workflow's preview rendering reads


def test_text_posted_as_midi_is_rejected_and_the_song_marked_failed(
    aws: dict[str, Any],
    ingest: Any,
    song_store: SongStore,
) -> None:
    pending_upload(song_store)
    payload = post_upload(aws, "up1", b"X:1\nT:My Reel\nK:G\nGABc dedB|\n")
    with pytest.raises(SongRejected) as raised:
        ingest.lambda_handler(payload, FakeContext())
    message = str(raised.value)
    assert "not a MIDI file" in message
    assert song_store.get("up1")["status"] == "PENDING"  # type: ignore[index]
    # The song workflow's Catch hands SongFailed the state: the event, and the error.
    cause = json.dumps({"errorType": "SongRejected", "errorMessage": message})
    failed = load_function("song_failed")
    out = failed.lambda_handler({**payload["event"], "error": {"Error": "SongRejected", "Cause": cause}}, FakeContext())
    assert out == {"marked": True, "songId": "up1", "message": message}
    record = song_store.get("up1")
    assert record is not None and record["status"] == "FAILED" and record["errorMessage"] == message
    assert keys(aws, songs.prefix("up1")) == []  # the upload is removed
    again = failed.lambda_handler({**payload["event"], "error": {"Error": "SongRejected", "Cause": cause}}, FakeContext())
    assert again["marked"] is False and song_store.get("up1") == record


def test_a_second_post_of_a_used_form_is_removed_and_changes_nothing(
    aws: dict[str, Any],
    ingest: Any,
    song_store: SongStore,
) -> None:
    pending_upload(song_store)
    first = post_upload(aws, "up1", crafted.reel_in_g())
    assert ingest.lambda_handler(first, FakeContext())["ingested"] is True
    ready = song_store.get("up1")
    later = post_upload(aws, "up1", crafted.waltz_in_a_minor())
    out = ingest.lambda_handler(later, FakeContext())
    assert out["ingested"] is False and "already has its MIDI" in out["reason"]
    assert song_store.get("up1") == ready
    assert keys(aws, songs.prefix("up1")) == [ready["midiKey"]]  # type: ignore[index]
    assert aws["s3"].get_object(Bucket=aws["bucket"], Key=ready["midiKey"])["Body"].read() == crafted.reel_in_g()  # type: ignore[index]
    assert ingest.lambda_handler(first, FakeContext())["ingested"] is False  # a duplicated event, too


def test_an_upload_for_no_song_is_removed(aws: dict[str, Any], ingest: Any) -> None:
    out = ingest.lambda_handler(post_upload(aws, "nobody", crafted.reel_in_g()), FakeContext())
    assert out["ingested"] is False and "no such song" in out["reason"]
    assert keys(aws, songs.prefix("nobody")) == []


def test_events_that_are_not_song_uploads_are_ignored(
    aws: dict[str, Any],
    ingest: Any,
    song_store: SongStore,
) -> None:
    pending_upload(song_store)
    payload = post_upload(aws, "up1", crafted.reel_in_g())
    payload["event"]["detail"]["bucket"]["name"] = "someone-elses-bucket"
    out = ingest.lambda_handler(payload, FakeContext())
    assert out["ingested"] is False and "another bucket" in out["reason"]
    payload["event"]["detail"]["bucket"]["name"] = aws["bucket"]
    payload["event"]["detail"]["object"]["key"] = songs.midi_key("up1")
    assert "not a song upload key" in ingest.lambda_handler(payload, FakeContext())["reason"]
    assert "not an S3 Object Created event" in ingest.lambda_handler({"event": {"hello": 1}}, FakeContext())["reason"]
    assert song_store.get("up1")["status"] == "PENDING"  # type: ignore[index]
    assert keys(aws, songs.prefix("up1")) == [songs.upload_key("up1")]
