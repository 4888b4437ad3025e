"""The track library end to end on the local stack, over real HTTP: presigned uploads to the S3
endpoint, the upload event, the track workflow with the real handlers (mutagen, ffmpeg, lame),
and Guess the Track over simulated days."""

from __future__ import annotations

import io
import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from mutagen.mp3 import MP3
from PIL import Image

from local_stack.stack import LocalStack
from tests.audiogen import lying_wav, picture, tagged_flac, with_pictures, write
from tests.e2e.conftest import SAMPLE, Client, ShiftableClock, machine_executions

pytestmark = pytest.mark.e2e
DAY = 86400


class Library(Client):
    """A caller of the library routes."""

    def upload_forms(self, *files: dict[str, Any]) -> list[dict[str, Any]]:
        response = self.session.post(self.url("/tracks/uploads"), json={"files": list(files)}, timeout=30)
        assert response.status_code == 201, response.text
        return list(response.json()["files"])

    def send(self, item: dict[str, Any], data: bytes, content_type: str) -> requests.Response:
        form = item["upload"]
        return requests.post(form["url"], data=form["fields"], files={"file": (item["fileName"], data, content_type)},
                             timeout=60)

    def add(self, path: Path, content_type: str, file_name: str | None = None) -> dict[str, Any]:
        """Upload a file with a presigned form; returns the form item (with trackId)."""
        data = path.read_bytes()
        (item,) = self.upload_forms({"fileName": file_name or path.name, "contentType": content_type,
                                     "sizeBytes": len(data)})
        response = self.send(item, data, content_type)
        assert response.status_code == 204, response.text
        return item

    def track(self, track_id: str) -> requests.Response:
        return self.session.get(self.url(f"/tracks/{track_id}"), timeout=30)

    def settled(self, track_id: str, timeout: float = 60.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.track(track_id).json()
            if state.get("status") in ("READY", "FAILED"):
                return dict(state)
            time.sleep(0.05)
        raise AssertionError(f"track {track_id} not settled in {timeout} s: {state}")

    def due(self, **query: Any) -> list[str]:
        response = self.session.get(self.url("/due"), params=query, timeout=30)
        assert response.status_code == 200, response.text
        return [item["trackId"] for item in response.json()["items"]]

    def grade(self, track_id: str, grade: Any) -> requests.Response:
        return self.session.post(self.url("/grade"), json={"trackId": track_id, "grade": grade}, timeout=30)


def library(stack: LocalStack, name: str) -> Library:
    return Library(stack, f"{name}-{time.monotonic_ns()}")


def objects(stack: LocalStack, user: str, track_id: str) -> list[str]:
    listing = stack.client("s3").list_objects_v2(Bucket=stack.template.names["MediaBucket"],
                                                 Prefix=f"library/{user}/{track_id}/")
    return sorted(o["Key"].rsplit("/", 1)[-1] for o in listing.get("Contents", []))


def test_a_tagged_flac_becomes_a_playable_320k_mp3(stack: LocalStack, tmp_path: Path) -> None:
    lib = library(stack, "dj")
    source = tagged_flac(tmp_path / "blue.flac", 6.0)
    item = lib.add(source, "audio/flac", "Nadia K - Blue Hour.flac")
    track = lib.settled(item["trackId"])
    assert track["status"] == "READY", track
    assert (track["name"], track["artist"], track["album"], track["format"]) == ("Blue Hour", "Nadia K", "Evenings", "flac")
    assert track["durationSeconds"] == pytest.approx(6.0, abs=0.01) and track["sampleRate"] == 44100
    mp3_bytes = requests.get(track["streamUrl"], timeout=30).content
    mp3 = MP3(io.BytesIO(mp3_bytes))
    assert mp3.info.length == pytest.approx(6.0, abs=0.07) and mp3.info.bitrate == pytest.approx(320000, rel=0.01)
    download = requests.get(track["downloadUrl"], timeout=30)
    assert 'filename="Nadia K - Blue Hour.mp3"' in download.headers["Content-Disposition"]
    assert requests.get(track["originalUrl"], timeout=30).content == source.read_bytes()
    cover = requests.get(track["coverUrl"], timeout=30)
    assert cover.headers["Content-Type"] == "image/jpeg"  # re-encoded by us: PNG_1PX is opaque
    assert Image.open(io.BytesIO(cover.content)).size == (1, 1)
    assert lib.due() == [item["trackId"]]  # a new track is due at once
    found = lib.session.get(lib.url("/tracks/lookup"), params={"fileName": "Nadia K - Blue Hour.flac"}, timeout=30)
    assert found.json()["trackIds"] == [item["trackId"]]


def test_an_mp3_is_kept_as_it_is(stack: LocalStack, tmp_path: Path) -> None:
    lib = library(stack, "mp3")
    wav = write(tmp_path / "a.wav", 3.0)
    mp3 = tmp_path / "a.mp3"
    subprocess.run(["lame", "--quiet", "-b", "192", str(wav), str(mp3)], check=True)
    item = lib.add(mp3, "audio/mpeg", "Loop 07.mp3")
    track = lib.settled(item["trackId"])
    assert track["status"] == "READY" and track["format"] == "mp3" and track["bitrateKbps"] == 192
    assert requests.get(track["streamUrl"], timeout=30).content == mp3.read_bytes()
    (kept,) = objects(stack, lib.user, item["trackId"])  # the upload key is free again; the claimed file is kept
    assert kept.startswith("source.") and kept.endswith(".mp3")


@pytest.mark.parametrize(("data", "message"), [
    (b"just some text, not audio\n" * 40, "not a supported audio file"),
    (b"", "empty"),
])
def test_bad_audio_fails_with_a_message_and_leaves_no_objects(stack: LocalStack, data: bytes, message: str) -> None:
    lib = library(stack, "bad")
    (item,) = lib.upload_forms({"fileName": "song.flac", "contentType": "audio/flac", "sizeBytes": max(1, len(data))})
    if not data:  # S3 itself refuses an empty file: the form's content-length-range starts at 1
        response = lib.send(item, data, "audio/flac")
        assert response.status_code == 400 and b"EntityTooSmall" in response.content
        return
    assert lib.send(item, data, "audio/flac").status_code == 204
    track = lib.settled(item["trackId"])
    assert track["status"] == "FAILED" and message in track["errorMessage"]
    stack.wait_idle(60)  # FAILED is written first, then TrackFailed removes the objects
    assert objects(stack, lib.user, item["trackId"]) == []
    assert lib.due() == []


def test_a_truncated_flac_fails(stack: LocalStack, tmp_path: Path) -> None:
    lib = library(stack, "cut")
    data = tagged_flac(tmp_path / "a.flac", 4.0).read_bytes()
    (item,) = lib.upload_forms({"fileName": "cut.flac", "contentType": "audio/flac", "sizeBytes": 100})
    assert lib.send(item, data[: len(data) // 3], "audio/flac").status_code == 204
    track = lib.settled(item["trackId"])
    assert track["status"] == "FAILED" and track["errorMessage"], track
    stack.wait_idle(60)
    assert objects(stack, lib.user, item["trackId"]) == []


def test_the_form_enforces_content_type_and_expiry(stack: LocalStack, clock: ShiftableClock, tmp_path: Path) -> None:
    lib = library(stack, "form")
    data = write(tmp_path / "a.wav", 1.0).read_bytes()
    (item,) = lib.upload_forms({"fileName": "a.wav", "contentType": "audio/wav", "sizeBytes": len(data)})
    fields = {**item["upload"]["fields"], "Content-Type": "audio/flac"}
    response = requests.post(item["upload"]["url"], data=fields, files={"file": ("a.wav", data, "audio/flac")}, timeout=30)
    assert response.status_code == 403 and b"Policy Condition failed" in response.content
    clock.offset = 901
    assert lib.send(item, data, "audio/wav").status_code == 403


def test_duplicate_events_and_re_uploads(stack: LocalStack, tmp_path: Path) -> None:
    lib = library(stack, "again")
    item = lib.add(write(tmp_path / "a.wav", 2.0), "audio/wav", "take.wav")
    first = lib.settled(item["trackId"])
    lib.session.patch(lib.url(f"/tracks/{item['trackId']}"), json={"name": "Take One"}, timeout=30)
    executions = len(machine_executions(stack, "TrackStateMachine"))
    # S3 delivers at least once: the same event again runs the workflow, which does nothing.
    key = f"library/{lib.user}/{item['trackId']}/original.wav"
    replay = {"version": "0", "id": "dup", "detail-type": "Object Created", "source": "aws.s3", "account": "000000000000",
              "time": "2026-11-21T12:00:00Z", "region": "us-east-1", "resources": [],
              "detail": {"version": "0", "bucket": {"name": stack.template.names["MediaBucket"]},
                         "object": {"key": key, "size": 1, "etag": "x", "sequencer": "1"},
                         "request-id": "r", "requester": "r", "source-ip-address": "127.0.0.1", "reason": "PostObject"}}
    (arn,) = stack.publish(replay)
    stack.wait_idle(60)
    assert len(machine_executions(stack, "TrackStateMachine")) == executions + 1
    result = stack.execution(arn)
    assert result["status"] == "SUCCEEDED" and json.loads(result["output"])["track"]["claimed"] is False
    unchanged = lib.track(item["trackId"]).json()
    assert unchanged["status"] == "READY" and unchanged["name"] == "Take One" and first["status"] == "READY"
    # The same file name again is the same track: new audio, same id, the owner's edits kept.
    (again,) = lib.upload_forms({"fileName": "take.wav", "contentType": "audio/flac", "sizeBytes": 1000})
    assert again["trackId"] == item["trackId"] and again["replaces"] is True
    assert lib.send(again, tagged_flac(tmp_path / "b.flac", 4.0).read_bytes(), "audio/flac").status_code == 204
    stack.wait_idle(60)
    track = lib.settled(item["trackId"])
    assert track["status"] == "READY" and track["durationSeconds"] == pytest.approx(4.0, abs=0.01)
    assert (track["name"], track["artist"]) == ("Take One", "Nadia K")
    kept = [n for n in objects(stack, lib.user, item["trackId"]) if n.startswith(("original", "source"))]
    assert len(kept) == 1 and kept[0].startswith("source.") and kept[0].endswith(".flac")


def test_an_upload_form_is_single_use(stack: LocalStack, tmp_path: Path) -> None:
    lib = library(stack, "reuse")
    item = lib.add(write(tmp_path / "a.wav", 1.0), "audio/wav", "take.wav")
    first = lib.settled(item["trackId"])
    assert first["status"] == "READY", first
    stack.wait_idle(60)
    kept = objects(stack, lib.user, item["trackId"])
    before = {e["executionArn"] for e in machine_executions(stack, "TrackStateMachine")}
    for seconds in (2.0, 3.0):  # the same form, posted again with other audio: S3 takes it, we do no work
        assert lib.send(item, write(tmp_path / f"{seconds}.wav", seconds).read_bytes(), "audio/wav").status_code == 204
        stack.wait_idle(60)
    sfn = stack.client("stepfunctions")
    runs = [sfn.describe_execution(executionArn=e["executionArn"])
            for e in machine_executions(stack, "TrackStateMachine") if e["executionArn"] not in before]
    assert len(runs) == 2 and all(run["status"] == "SUCCEEDED" for run in runs)
    assert all(json.loads(run["output"])["track"]["claimed"] is False for run in runs)
    track = lib.track(item["trackId"]).json()
    assert track["status"] == "READY" and track["durationSeconds"] == pytest.approx(1.0, abs=0.01)
    assert objects(stack, lib.user, item["trackId"]) == kept  # the re-posts were removed, the processed files kept


def test_cover_art_is_served_as_we_encoded_it_or_not_at_all(stack: LocalStack, tmp_path: Path) -> None:
    lib = library(stack, "covers")
    script = b"<html><script>alert(document.cookie)</script></html>"
    html = with_pictures(tagged_flac(tmp_path / "html.flac", cover=None), (script, "text/html"))
    track = lib.settled(lib.add(html, "audio/flac")["trackId"])
    assert track["status"] == "READY" and track["coverUrl"] is None
    disguised = with_pictures(tagged_flac(tmp_path / "png.flac", cover=None), (picture(1600, 900), "text/html"))
    track = lib.settled(lib.add(disguised, "audio/flac")["trackId"])
    cover = requests.get(track["coverUrl"], timeout=30)
    assert cover.headers["Content-Type"] == "image/jpeg"
    assert Image.open(io.BytesIO(cover.content)).size == (1200, 675)


def test_a_wav_shorter_than_its_header_fails_as_truncated(stack: LocalStack, tmp_path: Path) -> None:
    lib = library(stack, "liar")
    data = lying_wav(tmp_path / "a.wav", actual_seconds=1.0, header_minutes=29)
    (item,) = lib.upload_forms({"fileName": "long.wav", "contentType": "audio/wav", "sizeBytes": len(data)})
    assert lib.send(item, data, "audio/wav").status_code == 204
    track = lib.settled(item["trackId"])
    assert track["status"] == "FAILED" and "truncated" in track["errorMessage"], track
    assert "29.0 minutes" in track["errorMessage"] and track["durationSeconds"] is None


def test_direct_multipart_upload(stack: LocalStack, tmp_path: Path) -> None:
    lib = library(stack, "direct")
    data = tagged_flac(tmp_path / "d.flac", 2.0, title="Direct").read_bytes()
    response = lib.session.post(lib.url("/tracks/direct"), files={"file": ("d.flac", data, "audio/flac")}, timeout=30)
    assert response.status_code == 202, response.text
    track = lib.settled(response.json()["trackId"])
    assert track["status"] == "READY" and track["name"] == "Direct" and track["source"] == "direct"


def test_guess_the_track_over_simulated_days(stack: LocalStack, clock: ShiftableClock, tmp_path: Path) -> None:
    lib = library(stack, "ear")
    ids = []
    for name in ("a", "b", "c"):
        ids.append(lib.add(write(tmp_path / f"{name}.wav", 1.0 + len(ids)), "audio/wav")["trackId"])
        assert lib.settled(ids[-1])["status"] == "READY"
        clock.offset += 1  # distinct ready times: the first one is the most overdue
    a, b, c = ids
    assert lib.due() == [a, b, c]
    assert lib.grade(a, 7).status_code == 400
    for track_id, grade in ((a, 5), (b, 3), (c, 0)):
        assert lib.grade(track_id, grade).json()["intervalDays"] == 1
    assert lib.due() == []
    clock.offset += DAY
    assert sorted(lib.due()) == sorted(ids)
    schedules = {track_id: lib.grade(track_id, grade).json() for track_id, grade in ((a, 5), (b, 4), (c, 2))}
    assert [schedules[t]["intervalDays"] for t in (a, b, c)] == [6, 6, 1]
    assert schedules[c]["repetitions"] == 0 and schedules[a]["easiness"] > schedules[b]["easiness"]
    clock.offset += DAY
    assert lib.due() == [c]
    clock.offset += 5 * DAY + 60
    due = lib.due()
    assert set(due) == {a, b, c} and due[0] == c  # c has waited since day 2: the most overdue
    # Switching to FSRS keeps the history and reschedules from it.
    response = lib.session.put(lib.url("/training"), json={"scheduler": "fsrs"}, timeout=30)
    assert response.json()["rescheduled"] == 3
    state = lib.grade(a, 4).json()
    assert state["scheduler"] == "fsrs" and state["intervalDays"] > 1


def test_a_finished_generation_can_be_kept_in_the_library(stack: LocalStack) -> None:
    lib = library(stack, "keeper")
    job = lib.create(durationSeconds=15, genre="ambient")
    assert lib.upload(job, SAMPLE.read_bytes()).status_code == 204
    assert lib.wait(job["jobId"])["status"] == "COMPLETE"
    response = lib.session.post(lib.url("/tracks"), json={"generationId": job["jobId"]}, timeout=30)
    assert response.status_code == 201, response.text
    track = lib.settled(response.json()["trackId"])
    assert track["status"] == "READY" and track["artist"] == "SoundCanvas" and track["name"].startswith("Ambient in")
    assert track["durationSeconds"] == pytest.approx(15.0, abs=0.1)
    mp3 = MP3(io.BytesIO(requests.get(track["streamUrl"], timeout=30).content))
    assert mp3.info.bitrate == pytest.approx(320000, rel=0.01)
