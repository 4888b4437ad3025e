"""Listen end to end on the local stack over real HTTP: a presigned upload of a rendered recording,
the upload event, the Listen workflow with the real stages (ffmpeg, basic-pitch's ONNX model,
rhythm, harmony, the tab solver), and the files a musician downloads."""

from __future__ import annotations

import copy
import importlib.util
import io
import json
import time
from pathlib import Path
from typing import Any

import guitarpro
import mido
import numpy as np
import pytest
import requests

from local_stack.stack import LocalStack
from tests.e2e.conftest import ROOT, Client, machine_executions

pytestmark = pytest.mark.e2e
_spec = importlib.util.spec_from_file_location("listen_sample", ROOT / "events/listen/audio/make_sample.py")
assert _spec and _spec.loader
sample = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sample)  # the sample recording's maker: C major, 100 BPM, 4/4 guitar picking


class Listener(Client):
    """A caller of the Listen routes."""

    def transcribe(self, **body: Any) -> requests.Response:
        return self.session.post(self.url("/transcriptions"), json=body, timeout=30)

    def transcription(self, transcription_id: str, suffix: str = "") -> requests.Response:
        return self.session.get(self.url(f"/transcriptions/{transcription_id}{suffix}"), timeout=30)

    def upload_audio(self, created: dict[str, Any], data: bytes, content_type: str) -> requests.Response:
        form = created["upload"]
        return requests.post(form["url"], data=form["fields"], files={"file": ("take", data, content_type)},
                             timeout=60)

    def finished(self, transcription_id: str, timeout: float = 240.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        state: dict[str, Any] = {}
        while time.monotonic() < deadline:
            state = self.transcription(transcription_id).json()
            if state.get("status") in ("COMPLETE", "FAILED"):
                return state
            time.sleep(0.2)
        raise AssertionError(f"transcription {transcription_id} not finished in {timeout} s: {state}")


def listener(stack: LocalStack, name: str) -> Listener:
    return Listener(stack, f"{name}-{time.monotonic_ns()}")


def recording(tmp_path: Path, ext: str = "mp3") -> bytes:
    """The sample progression rendered with FluidSynth, then encoded by ffmpeg (mp3, flac or wav)."""
    return Path(sample.render(tmp_path / f"take.{ext}")).read_bytes()


def tone_wav(tmp_path: Path, seconds: float, amplitude: float) -> bytes:
    rate = 22050
    t = np.arange(int(seconds * rate)) / rate
    samples = (amplitude * np.sin(2 * np.pi * 220.0 * t) * 32767).astype("<i2")
    path = tmp_path / "tone.wav"
    import wave

    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(samples.tobytes())
    return path.read_bytes()


def _objects(stack: LocalStack, user: str, transcription_id: str) -> list[str]:
    listing = stack.client("s3").list_objects_v2(Bucket=stack.template.names["MediaBucket"],
                                                 Prefix=f"listen/{user}/{transcription_id}/")
    return sorted(o["Key"].split(f"{transcription_id}/", 1)[1] for o in listing.get("Contents", []))


def test_a_recording_becomes_notes_key_chords_and_a_guitar_tab(stack: LocalStack, tmp_path: Path) -> None:
    alice = listener(stack, "alice")
    created = alice.transcribe(instrument="guitar", contentType="audio/mpeg")
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["status"] == "PENDING"
    assert alice.upload_audio(body, recording(tmp_path), "audio/mpeg").status_code == 204

    state = alice.finished(body["transcriptionId"])
    assert state["status"] == "COMPLETE", state
    assert state["stage"] == "done" and state["progress"] == 100
    assert 19.0 < state["durationSeconds"] < 24.0  # 8 bars of 2.4 s, and the last notes' release
    assert (state["key"]["tonic"], state["key"]["mode"]) == ("C", "major") and state["key"]["alternatives"]
    assert state["timeSignature"] == "4/4"
    result = alice.transcription(body["transcriptionId"], "/result").json()
    assert result == requests.get(state["resultUrl"], timeout=30).json()
    assert len(result["notes"]) == state["noteCount"] > 20
    assert state["chordCount"] == sum(1 for c in result["chords"] if c["label"] != "N")
    starts = [n["start"] for n in result["notes"]]
    assert starts == sorted(starts)

    midi = mido.MidiFile(file=io.BytesIO(requests.get(state["midiUrl"], timeout=30).content))
    midi_notes = [m for m in mido.merge_tracks(midi.tracks) if m.type == "note_on" and m.velocity > 0]
    assert len(midi_notes) == state["noteCount"]

    tab_text = requests.get(state["tabUrl"], timeout=30).text
    assert "e|" in tab_text and "E|" in tab_text
    song = guitarpro.parse(io.BytesIO(requests.get(state["tabFileUrl"], timeout=30).content))
    assert [s.value for s in song.tracks[0].strings] == [64, 59, 55, 50, 45, 40]
    placed = [n for event in result["tab"]["events"] for n in event["notes"]]
    assert len(placed) + len(result["tab"]["unplaced"]) == state["noteCount"]
    assert _objects(stack, alice.user, body["transcriptionId"]) == [
        "notes.mid", "result.json", "source.mp3", "tab.gp5", "tab.txt"]  # the work files are gone


@pytest.mark.parametrize(("name", "make", "content_type", "message"), [
    ("text", lambda tmp: b"these are my lyrics, not a recording\n" * 50, "audio/mpeg", "not an audio file"),
    ("png", lambda tmp: (ROOT / "events/generation/images/sunset.jpg").read_bytes(), "audio/wav", "not an audio file"),
    ("truncated", lambda tmp: recording(tmp, "flac")[:3000], "audio/flac", "could not be decoded"),
    ("silence", lambda tmp: tone_wav(tmp, 6.0, 0.0), "audio/wav", "silent"),
    ("too long", lambda tmp: tone_wav(tmp, 95.0, 0.2), "audio/wav", "long; the limit is"),
])
def test_bad_uploads_fail_with_a_message_a_person_can_act_on(stack: LocalStack, tmp_path: Path, name: str,
                                                              make: Any, content_type: str, message: str) -> None:
    bob = listener(stack, "bob")
    body = bob.transcribe(contentType=content_type).json()
    assert bob.upload_audio(body, make(tmp_path), content_type).status_code == 204
    state = bob.finished(body["transcriptionId"])
    assert state["status"] == "FAILED", state
    assert message in state["errorMessage"], state["errorMessage"]
    assert state["failedStage"] in ("decode", "analyze", "harmony")
    assert state["midiUrl"] is None and state["resultUrl"] is None
    source = f"source.{body['upload']['fields']['key'].rsplit('.', 1)[1]}"
    # FAILED is written before TranscriptionFailed removes the work files, and the other Parallel branch's
    # Lambda may still be running when the execution ends (a failed branch stops the state, not a call in
    # flight): that stage finds the transcription FAILED and removes what it wrote. So: eventually.
    stack.wait_idle(60)
    deadline = time.monotonic() + 60
    while (left := _objects(stack, bob.user, body["transcriptionId"])) not in ([], [source]):
        assert time.monotonic() < deadline, f"work files left behind: {left}"
        time.sleep(0.2)


def test_a_library_track_can_be_transcribed(stack: LocalStack, tmp_path: Path) -> None:
    carol = listener(stack, "carol")
    data = recording(tmp_path, "flac")
    forms = carol.session.post(carol.url("/tracks/uploads"), json={"files": [
        {"fileName": "take.flac", "contentType": "audio/flac", "sizeBytes": len(data)}]}, timeout=30).json()["files"]
    form = forms[0]["upload"]
    assert requests.post(form["url"], data=form["fields"], files={"file": ("take.flac", data, "audio/flac")},
                         timeout=60).status_code == 204
    track_id = forms[0]["trackId"]
    deadline = time.monotonic() + 60
    while carol.session.get(carol.url(f"/tracks/{track_id}"), timeout=30).json()["status"] != "READY":
        assert time.monotonic() < deadline, "the track did not become READY"
        time.sleep(0.1)
    started = carol.transcribe(trackId=track_id, tuning="drop-d")
    assert started.status_code == 202, started.text
    state = carol.finished(started.json()["transcriptionId"])
    assert state["status"] == "COMPLETE", state
    assert state["source"]["trackId"] == track_id
    result = carol.transcription(state["transcriptionId"], "/result").json()
    assert result["tab"]["tuning"]["strings"][0] == "D2"


def test_a_replayed_upload_event_runs_the_transcription_once(stack: LocalStack, tmp_path: Path) -> None:
    dave = listener(stack, "dave")
    body = dave.transcribe(contentType="audio/wav").json()
    key = body["upload"]["fields"]["key"]
    bucket = stack.template.names["MediaBucket"]
    stack.deliver_events = False
    try:
        etag = stack.client("s3").put_object(Bucket=bucket, Key=key, Body=recording(tmp_path, "wav"))["ETag"]
    finally:
        stack.deliver_events = True
    event = json.loads((ROOT / "events/generation/start_job.json").read_text())
    event["detail"]["bucket"]["name"], event["detail"]["object"]["key"] = bucket, key
    event["detail"]["object"]["etag"] = etag.strip('"')
    arns = stack.publish(event) + stack.publish(copy.deepcopy(event))
    final = dave.finished(body["transcriptionId"])
    stack.wait_idle()
    arns += stack.publish(copy.deepcopy(event))
    stack.wait_idle()
    assert final["status"] == "COMPLETE", final
    outputs = [json.loads(stack.execution(arn)["output"]) for arn in arns]
    assert sum(1 for out in outputs if out["job"]["claimed"]) == 1
    assert dave.transcription(body["transcriptionId"]).json()["updatedAt"] == final["updatedAt"]
    assert len([e for e in machine_executions(stack, "ListenStateMachine") if e["executionArn"] in arns]) == 3


def test_another_users_transcription_is_a_404_everywhere(stack: LocalStack, tmp_path: Path) -> None:
    erin, mallory = listener(stack, "erin"), listener(stack, "mallory")
    body = erin.transcribe(contentType="audio/wav").json()
    tid = body["transcriptionId"]
    for response in (
        mallory.transcription(tid),
        mallory.transcription(tid, "/result"),
        mallory.session.post(mallory.url(f"/transcriptions/{tid}/tab"), json={"capo": 2}, timeout=30),
        mallory.session.delete(mallory.url(f"/transcriptions/{tid}"), timeout=30),
    ):
        assert response.status_code == 404, response.text
    assert erin.transcription(tid).status_code == 200
    assert tid not in [i["transcriptionId"] for i in mallory.session.get(
        mallory.url("/transcriptions"), timeout=30).json()["items"]]
