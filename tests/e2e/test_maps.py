"""Maps end to end on the local stack over real HTTP: library uploads fingerprinted with Chromaprint and
marked as duplicates of the same recording, a recording attached to a catalog song and a 10 s MP3
snippet of it identified (and an unknown song not), drum maps from a library track and a catalog song
through the Map workflow, and the bad inputs each answered with a clear error or a FAILED map.

The songs are grooves written by bench.maps.grooves (drums, bass and piano) and rendered with FluidSynth."""

from __future__ import annotations

import io
import itertools
import json
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import requests
import soundfile
from scipy.signal import resample_poly

from bench.maps import grooves
from local_stack.stack import LocalStack
from soundcanvas.maps import document, fingerprints
from soundcanvas.maps.drums import SAMPLE_RATE_HZ
from soundcanvas.maps.fpindex import FingerprintIndex, IndexedAudio
from tests.e2e.conftest import machine_executions
from tests.e2e.test_track_library import Library

pytestmark = pytest.mark.e2e
SNIPPET_START_SECONDS = 12.0
KNOWN_TEMPO_BPM = 120.0


class Mapper(Library):
    """A caller of the library, songs, identify and maps routes."""

    def identify(self, data: bytes, file_name: str = "snippet.mp3", content_type: str = "audio/mpeg") -> requests.Response:
        return self.session.post(self.url("/identify"), files={"file": (file_name, data, content_type)}, timeout=60)

    def new_map(self, **body: Any) -> requests.Response:
        return self.session.post(self.url("/maps"), json=body, timeout=30)

    def get_map(self, map_id: str) -> requests.Response:
        return self.session.get(self.url(f"/maps/{map_id}"), timeout=30)

    def map_finished(self, map_id: str, timeout: float = 120.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        state: dict[str, Any] = {}
        while time.monotonic() < deadline:
            state = self.get_map(map_id).json()
            if state.get("status") in ("COMPLETE", "FAILED"):
                return state
            time.sleep(0.2)
        raise AssertionError(f"map {map_id} not finished in {timeout} s: {state}")

    def song(self, song_id: str) -> dict[str, Any]:
        response = self.session.get(self.url(f"/songs/{song_id}"), timeout=30)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def attach_audio(self, song_id: str, data: bytes, content_type: str = "audio/mpeg") -> dict[str, Any]:
        created = self.session.post(self.url(f"/songs/{song_id}/audio"), json={"contentType": content_type}, timeout=30)
        assert created.status_code == 201, created.text
        form = created.json()["upload"]
        posted = requests.post(form["url"], data=form["fields"], files={"file": ("song", data, content_type)}, timeout=60)
        assert posted.status_code == 204, posted.text
        deadline = time.monotonic() + 60
        while (song := self.song(song_id))["audioStatus"] == "PENDING":
            assert time.monotonic() < deadline, f"the recording of {song_id} was not processed: {song}"
            time.sleep(0.2)
        return song


def mapper(stack: LocalStack, name: str) -> Mapper:
    return Mapper(stack, f"{name}-{time.monotonic_ns()}")


def encode(samples: np.ndarray, fmt: str, *, start_seconds: float = 0.0, seconds: float | None = None) -> bytes:
    """WAV by libsndfile, MP3 (128k) by ffmpeg, of the samples (or a cut of them)."""
    begin = int(start_seconds * SAMPLE_RATE_HZ)
    end = begin + int(seconds * SAMPLE_RATE_HZ) if seconds is not None else None
    buffer = io.BytesIO()
    soundfile.write(buffer, samples[begin:end], SAMPLE_RATE_HZ, format="WAV", subtype="PCM_16")
    if fmt == "wav":
        return buffer.getvalue()
    done = subprocess.run(["ffmpeg", "-v", "error", "-f", "wav", "-i", "-", "-b:a", "128k", "-f", "mp3", "-"],
                          input=buffer.getvalue(), capture_output=True, check=True)
    return done.stdout


@pytest.fixture(scope="module")
def songs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, np.ndarray]:
    """Two 40-second songs (a rock groove at 120 BPM and a funk one), drums with bass and piano."""
    cache = tmp_path_factory.mktemp("grooves")
    known = grooves.groove(101, style="rock", tempo_bpm=KNOWN_TEMPO_BPM, seconds=40.0)
    unknown = grooves.groove(202, style="funk", tempo_bpm=100.0, seconds=40.0)
    return {"known": grooves.render_groove(known, grooves.FLUIDR3, cache, mix=True),
            "unknown": grooves.render_groove(unknown, grooves.FLUIDR3, cache, mix=True)}


def add_track(user: Library, tmp_path: Path, data: bytes, name: str, content_type: str) -> dict[str, Any]:
    path = tmp_path / name
    path.write_bytes(data)
    item = user.add(path, content_type)
    track = user.settled(item["trackId"], timeout=90)
    assert track["status"] == "READY", track
    return track


def test_a_library_upload_of_a_song_already_there_is_marked_as_its_duplicate(
        stack: LocalStack, songs: dict[str, np.ndarray], tmp_path: Path) -> None:
    user = mapper(stack, "collector")
    first = add_track(user, tmp_path, encode(songs["known"], "wav"), "groove.wav", "audio/wav")
    other = add_track(user, tmp_path, encode(songs["unknown"], "mp3"), "other.mp3", "audio/mpeg")
    again = add_track(user, tmp_path, encode(songs["known"], "mp3"), "groove (copy).mp3", "audio/mpeg")
    assert first["duplicateOf"] is None and other["duplicateOf"] is None
    duplicate = again["duplicateOf"]
    assert duplicate is not None and duplicate["trackId"] == first["trackId"], again
    assert duplicate["kind"] == "different-encoding" and 0.8 <= duplicate["similarity"] <= 1.0
    listed = user.session.get(user.url("/tracks"), params={"duplicates": "true"}, timeout=30).json()["items"]
    assert [t["trackId"] for t in listed] == [again["trackId"]]
    # the fingerprint is kept beside the audio
    keys = stack.client("s3").list_objects_v2(Bucket=stack.template.names["MediaBucket"],
                                              Prefix=f"library/{user.user}/{again['trackId']}/")["Contents"]
    assert any(k["Key"].endswith(".fp") for k in keys)
    # another user's library is another scope: the same song is no duplicate there
    stranger = mapper(stack, "stranger")
    theirs = add_track(stranger, tmp_path, encode(songs["known"], "mp3"), "groove.mp3", "audio/mpeg")
    assert theirs["duplicateOf"] is None


@pytest.fixture(scope="module")
def catalog_song(stack: LocalStack, songs: dict[str, np.ndarray]) -> str:
    """A public seed song given the known groove as its recording."""
    giver = mapper(stack, "giver")
    song_id = giver.session.get(giver.url("/songs"), params={"q": "harvest home"}, timeout=30).json()["items"][0]["songId"]
    song = giver.attach_audio(song_id, encode(songs["known"], "mp3"))
    assert song["audioStatus"] == "READY", song
    assert song["audioDurationSeconds"] == pytest.approx(songs["known"].size / SAMPLE_RATE_HZ, abs=0.2)
    return str(song_id)


def test_the_index_round_trips_through_the_local_dynamodb_endpoint(
        stack: LocalStack, songs: dict[str, np.ndarray]) -> None:
    """The index's writes and key reads over HTTP against the stack's FingerprintsTable (the unit tests use moto
    in process): a track added is found by a snippet and as a whole-file duplicate, in its owner's scope only,
    and removed is found by neither."""
    index = FingerprintIndex(stack.client("dynamodb"), stack.template.names["FingerprintsTable"])
    rate = fingerprints.SAMPLE_RATE_HZ
    known = resample_poly(songs["known"], rate, SAMPLE_RATE_HZ).astype(np.float32)
    items = fingerprints.fingerprint_samples(known, rate)
    audio = IndexedAudio("track", "round-trip", "round-trip-user", "groove", "", known.size / rate)
    index.add(audio, items)
    start = int(SNIPPET_START_SECONDS * rate)
    snippet = fingerprints.fingerprint_samples(known[start:start + 10 * rate], rate)
    (found,) = index.identify(snippet, ["round-trip-user"])
    assert (found.kind, found.id) == ("track", "round-trip")
    assert found.offset_seconds == pytest.approx(SNIPPET_START_SECONDS, abs=0.5)
    assert index.identify(snippet, ["someone-else"]) == []
    assert [d.id for d in index.find_duplicates(items, ["round-trip-user"])] == ["round-trip"]
    index.remove(audio, items)
    assert index.identify(snippet, ["round-trip-user"]) == []
    assert index.find_duplicates(items, ["round-trip-user"]) == []


def test_a_replayed_song_recording_event_changes_nothing(stack: LocalStack, catalog_song: str) -> None:
    """S3 events arrive at least once: the recording's event run again finds its upload used and leaves the
    READY song as it was (it used to mark it FAILED)."""
    giver = mapper(stack, "giver")
    recording = ("audioStatus", "audioError", "audioDurationSeconds", "audioAt")  # the view's URLs are signed anew
    before = {name: giver.song(catalog_song).get(name) for name in recording}
    assert before["audioStatus"] == "READY"
    sfn = stack.client("stepfunctions")
    inputs = [sfn.describe_execution(executionArn=e["executionArn"])["input"]
              for e in machine_executions(stack, "SongAudioStateMachine")]
    (event,) = [text for text in inputs if f"catalog/{catalog_song}/audio-upload." in text]
    replay = sfn.start_execution(stateMachineArn=stack.template.state_machines["SongAudioStateMachine"]["arn"],
                                 input=event)
    deadline = time.monotonic() + 60
    while (status := sfn.describe_execution(executionArn=replay["executionArn"])["status"]) == "RUNNING":
        assert time.monotonic() < deadline, "the replayed execution did not end"
        time.sleep(0.1)
    assert status == "SUCCEEDED"
    assert {name: giver.song(catalog_song).get(name) for name in recording} == before


def test_a_10_second_mp3_snippet_of_a_catalog_song_identifies_it_and_where_it_starts(
        stack: LocalStack, songs: dict[str, np.ndarray], catalog_song: str) -> None:
    user = mapper(stack, "listener")
    snippet = encode(songs["known"], "mp3", start_seconds=SNIPPET_START_SECONDS, seconds=10.0)
    response = user.identify(snippet)
    assert response.status_code == 200, response.text
    matches = response.json()["matches"]
    assert matches and matches[0]["songId"] == catalog_song, matches
    assert matches[0]["offsetSeconds"] == pytest.approx(SNIPPET_START_SECONDS, abs=0.5)
    assert 0.0 < matches[0]["score"] <= 1.0 and matches[0]["title"] and matches[0]["speed"] == 1.0


@pytest.mark.parametrize("file_name", ["a." + "x" * 253, "clip." + "é" * 200])
def test_a_snippet_with_a_long_or_non_ascii_file_name_is_still_identified(
        stack: LocalStack, songs: dict[str, np.ndarray], catalog_song: str, file_name: str) -> None:
    """The client's file name never becomes a path: 255 characters can be more than 255 bytes (it was a 500)."""
    snippet = encode(songs["known"], "mp3", start_seconds=SNIPPET_START_SECONDS, seconds=10.0)
    response = mapper(stack, "listener").identify(snippet, file_name)
    assert response.status_code == 200, response.text
    assert response.json()["matches"][0]["songId"] == catalog_song


def test_a_snippet_played_3_percent_fast_is_found_by_the_speed_search(
        stack: LocalStack, songs: dict[str, np.ndarray], catalog_song: str) -> None:
    """A copy of the song played 3 % fast (pitch and tempo up, as a resampled copy): plain matching misses it,
    the speed search finds it, with its speed and where the snippet starts in the song."""
    user = mapper(stack, "listener")
    begin = int(SNIPPET_START_SECONDS * SAMPLE_RATE_HZ)
    cut = songs["known"][begin:begin + int(10.0 * 1.03 * SAMPLE_RATE_HZ)]
    faster = resample_poly(cut, 100, 103).astype(np.float32)
    response = user.identify(encode(faster, "mp3"))
    assert response.status_code == 200, response.text
    matches = response.json()["matches"]
    assert matches and matches[0]["songId"] == catalog_song, matches
    assert matches[0]["speed"] == pytest.approx(1.03, abs=0.005)
    assert matches[0]["offsetSeconds"] == pytest.approx(SNIPPET_START_SECONDS, abs=0.5)


def test_a_snippet_of_a_song_not_in_the_catalog_matches_nothing(
        stack: LocalStack, songs: dict[str, np.ndarray], catalog_song: str) -> None:
    user = mapper(stack, "listener")
    response = user.identify(encode(songs["unknown"], "mp3", start_seconds=5.0, seconds=10.0))
    assert response.status_code == 200, response.text
    assert response.json()["matches"] == []


def test_a_long_recording_is_identified_through_an_upload_form(
        stack: LocalStack, songs: dict[str, np.ndarray], catalog_song: str) -> None:
    user = mapper(stack, "listener")
    created = user.session.post(user.url("/identify/uploads"), json={"contentType": "audio/wav"}, timeout=30)
    assert created.status_code == 201, created.text
    form = created.json()["upload"]
    posted = requests.post(form["url"], data=form["fields"],
                           files={"file": ("whole.wav", encode(songs["known"], "wav"), "audio/wav")}, timeout=60)
    assert posted.status_code == 204, posted.text
    response = user.session.post(user.url("/identify"), json={"uploadId": created.json()["uploadId"]}, timeout=60)
    assert response.status_code == 200, response.text
    assert response.json()["matches"][0]["songId"] == catalog_song
    again = user.session.post(user.url("/identify"), json={"uploadId": created.json()["uploadId"]}, timeout=60)
    assert again.status_code == 404  # an upload is used once
    # ...even when its form, still valid for 15 minutes, is posted again (a second later: S3 dates objects to the
    # second, and only a file posted after the upload was used is removed with the refusal)
    time.sleep(1.1)
    reposted = requests.post(form["url"], data=form["fields"],
                             files={"file": ("whole.wav", encode(songs["known"], "wav"), "audio/wav")}, timeout=60)
    assert reposted.status_code == 204, reposted.text
    third = user.session.post(user.url("/identify"), json={"uploadId": created.json()["uploadId"]}, timeout=60)
    assert third.status_code == 404 and "already identified" in third.text
    left = stack.client("s3").list_objects_v2(Bucket=stack.template.names["MediaBucket"],
                                              Prefix=form["fields"]["key"].rsplit(".", 1)[0] + ".")
    assert [o["Key"].rsplit(".", 1)[-1] for o in left.get("Contents", [])] == ["used"]  # the recording went


@pytest.mark.parametrize(("data", "file_name", "words"), [
    (b"just some words, not a recording at all" * 20, "notes.mp3", "not an audio file"),
    (None, "short.wav", "at least 5 s"),
    (None, "silence.wav", "silent"),
])
def test_identify_refuses_what_it_cannot_use_naming_the_file(
        stack: LocalStack, data: bytes | None, file_name: str, words: str) -> None:
    user = mapper(stack, "prober")
    if file_name == "short.wav":
        data = encode(0.3 * np.sin(np.arange(2 * SAMPLE_RATE_HZ) * 0.05).astype(np.float32), "wav")
    elif file_name == "silence.wav":
        data = encode(np.zeros(8 * SAMPLE_RATE_HZ, dtype=np.float32), "wav")
    response = user.identify(data or b"", file_name, "audio/wav" if file_name.endswith("wav") else "audio/mpeg")
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["errors"][0]["field"] == "file" and words in body["message"], body


@pytest.mark.parametrize(("body", "content_type", "status", "field"), [
    (b'{"uploadId": ', "application/json", 400, "body"),  # cut short: not JSON
    (b'{"uploadId": "not-an-id"}', "application/json", 400, "uploadId"),
    (b"uploadId=0123", "application/x-www-form-urlencoded", 415, "Content-Type"),  # curl -d without a header
])
def test_identify_refuses_a_body_it_cannot_read_naming_the_field(
        stack: LocalStack, body: bytes, content_type: str, status: int, field: str) -> None:
    user = mapper(stack, "prober")
    response = user.session.post(user.url("/identify"), data=body, headers={"Content-Type": content_type}, timeout=30)
    assert response.status_code == status, response.text
    assert response.json()["errors"][0]["field"] == field, response.text


def _map_document(state: dict[str, Any]) -> dict[str, Any]:
    got = requests.get(state["mapUrl"], timeout=30)
    assert got.status_code == 200
    return dict(got.json())


def test_a_library_track_becomes_a_drum_map_at_four_nested_levels(
        stack: LocalStack, songs: dict[str, np.ndarray], tmp_path: Path) -> None:
    user = mapper(stack, "drummer")
    track = add_track(user, tmp_path, encode(songs["known"], "mp3"), "groove.mp3", "audio/mpeg")
    created = user.new_map(trackId=track["trackId"], difficulty="medium")
    assert created.status_code == 202, created.text
    state = user.map_finished(created.json()["mapId"])
    assert state["status"] == "COMPLETE", state
    assert state["tempoBpm"] == pytest.approx(KNOWN_TEMPO_BPM, rel=0.03)
    assert state["counts"]["kick"] > 0 and state["counts"]["snare"] > 0
    doc = _map_document(state)
    document.validate_map(doc)
    assert doc["songId"] == f"track-{track['trackId']}"
    levels = [{(h["t"], h["lane"]) for h in doc["levels"][name]} for name in ("easy", "medium", "hard", "expert")]
    assert all(lower <= upper for lower, upper in itertools.pairwise(levels))
    assert len(levels[0]) < len(levels[3])
    # a replayed start runs nothing again
    machine = stack.template.state_machines["MapStateMachine"]["arn"]
    replay = stack.client("stepfunctions").start_execution(
        stateMachineArn=machine, input=json.dumps({"userId": user.user, "mapId": state["mapId"]}))
    deadline = time.monotonic() + 60
    while (status := stack.client("stepfunctions").describe_execution(
            executionArn=replay["executionArn"])["status"]) == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert status == "SUCCEEDED"
    assert user.get_map(state["mapId"]).json()["updatedAt"] == state["updatedAt"]
    # another user's map and track are not found
    intruder = mapper(stack, "intruder")
    assert intruder.get_map(state["mapId"]).status_code == 404
    assert intruder.new_map(trackId=track["trackId"]).status_code == 404


def test_a_catalog_song_with_a_recording_becomes_a_map_and_gets_its_tempo(
        stack: LocalStack, catalog_song: str) -> None:
    user = mapper(stack, "drummer")
    created = user.new_map(songId=catalog_song)
    assert created.status_code == 202, created.text
    state = user.map_finished(created.json()["mapId"])
    assert state["status"] == "COMPLETE", state
    assert _map_document(state)["songId"] == catalog_song
    assert user.song(catalog_song)["bpm"] == pytest.approx(state["tempoBpm"], abs=0.1)


def test_a_recording_without_drums_fails_the_map_with_a_message(stack: LocalStack, tmp_path: Path) -> None:
    user = mapper(stack, "drummer")
    seconds = np.arange(10 * SAMPLE_RATE_HZ) / SAMPLE_RATE_HZ
    pad = (0.2 * np.sin(2 * np.pi * 220.0 * seconds) * np.minimum(1.0, seconds)).astype(np.float32)
    track = add_track(user, tmp_path, encode(pad, "wav"), "pad.wav", "audio/wav")
    state = user.map_finished(user.new_map(trackId=track["trackId"]).json()["mapId"])
    assert state["status"] == "FAILED" and state["failedStage"] in ("drums", "grid"), state
    assert "no drums" in state["errorMessage"]
    (execution,) = [e for e in machine_executions(stack, "MapStateMachine")
                    if e["executionArn"].endswith(f":{state['mapId']}")]
    deadline = time.monotonic() + 30
    while stack.client("stepfunctions").describe_execution(
            executionArn=execution["executionArn"])["status"] == "RUNNING":
        assert time.monotonic() < deadline, "the failed map's execution did not end"
        time.sleep(0.1)


def test_a_song_recording_that_is_not_audio_fails_with_a_message(stack: LocalStack) -> None:
    user = mapper(stack, "giver")
    song_id = user.session.get(user.url("/songs"), params={"q": "drowsy maggie"}, timeout=30).json()["items"][0]["songId"]
    song = user.attach_audio(song_id, b"this is text, not audio " * 40)
    assert song["audioStatus"] == "FAILED" and "not an audio file" in song["audioError"], song
    assert user.new_map(songId=song_id).status_code == 400
