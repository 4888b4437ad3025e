"""The sweeper against moto: stalled RUNNING work, and PENDING work whose workflow never started, becomes FAILED
with a message; nothing else moves."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from soundcanvas.blend.blends import BlendStore
from soundcanvas.core import records, storage
from soundcanvas.generation import jobs
from soundcanvas.library.tracks import TrackStore
from soundcanvas.listen.transcriptions import TranscriptionStore
from soundcanvas.maps import drum_maps
from soundcanvas.maps.drum_maps import MapStore
from tests.conftest import FakeContext, load_function

EVENT = json.loads((Path(__file__).parents[3] / "events/core/sweeper.json").read_text())


@pytest.fixture
def store(aws: dict[str, Any]) -> jobs.JobStore:
    return jobs.JobStore(aws["table"], "us-east-1")


def job(store: jobs.JobStore, job_id: str, *, run: bool = True, finish: bool = False) -> None:
    store.create("alice", job_id, options={}, image_key=f"images/alice/{job_id}/input.jpg", content_type="image/jpeg",
                 retention_days=30)
    if run:
        assert store.claim("alice", job_id) is not None
    if finish:
        assert store.advance("alice", job_id, finished="render", elapsed_ms=1, next_stage="done")


def test_stalled_jobs_fail_with_a_message_and_others_are_left_alone(aws: dict[str, Any], store: jobs.JobStore,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    for job_id in ("stuck1", "stuck2"):
        job(store, job_id)
    job(store, "done", finish=True)
    job(store, "waiting", run=False)
    sweeper = load_function("sweeper")
    assert sweeper.lambda_handler(EVENT, FakeContext())["failed"] == []  # nothing is 30 minutes old yet
    monkeypatch.setattr(sweeper, "clock", lambda: time.time() + 1801)
    result = sweeper.lambda_handler(EVENT, FakeContext())
    assert sorted(result["failed"]) == ["stuck1", "stuck2"]
    stuck = store.get("alice", "stuck1")
    assert stuck["status"] == "FAILED" and stuck["failedStage"] == "analyze"
    assert stuck["errorMessage"] == "the analyze stage stopped and was given up after 30 minutes; regenerate to try again"
    assert store.get("alice", "done")["status"] == "COMPLETE" and store.get("alice", "waiting")["status"] == "PENDING"
    assert sweeper.lambda_handler(EVENT, FakeContext())["failed"] == []  # a failed job leaves the index


def test_stalled_tracks_fail_and_lose_their_objects(aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    tracks = TrackStore(aws["tracks_table"], "us-east-1")
    key = storage.original_key("alice", "t1", "flac")
    aws["s3"].put_object(Bucket=aws["bucket"], Key=key, Body=b"fLaC")
    assert tracks.claim("alice", "t1", key=key, etag='"e1"', version="e1", size=4, file_name="a.flac", source="upload")
    ready_key = storage.original_key("alice", "t2", "mp3")
    assert tracks.claim("alice", "t2", key=ready_key, etag='"e2"', version="e2", size=4, file_name="b.mp3", source="upload")
    assert tracks.mark_ready("alice", "t2", "e2", mp3_key=ready_key, due_at=0)
    sweeper = load_function("sweeper")
    monkeypatch.setattr(sweeper, "clock", lambda: time.time() + 1801)
    assert sweeper.lambda_handler(EVENT, FakeContext())["failed"] == ["t1"]
    failed = tracks.get("alice", "t1")
    assert failed["status"] == "FAILED" and "upload the file again" in failed["errorMessage"]
    assert "Contents" not in aws["s3"].list_objects_v2(Bucket=aws["bucket"], Prefix="library/alice/t1/")
    assert tracks.get("alice", "t2")["status"] == "READY"


def test_work_in_progress_spreads_over_the_shards() -> None:
    assert {records.active_shard(f"{i:032x}") for i in range(200)} == {str(i) for i in range(records.ACTIVE_SHARDS)}


def test_work_whose_workflow_never_started_fails_and_work_awaiting_an_upload_waits(
        aws: dict[str, Any], store: jobs.JobStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """The API writes a PENDING record and then starts its workflow; if the API dies in between, nothing would
    ever claim the record. Those records are on ByActivity from creation; a record waiting for its upload is not."""
    maps = MapStore(aws["maps_table"], "us-east-1")
    maps.create("alice", "m1", source={"kind": "track", "id": "t1", "audioKey": "maps/work/alice/m1/source.mp3"},
                difficulty=None)
    aws["s3"].put_object(Bucket=aws["bucket"], Key=drum_maps.work_key("alice", "m1", "source.mp3"), Body=b"ID3")
    BlendStore(aws["blends_table"], "us-east-1").create("alice", "b1", songs=[], options={})
    listen = TranscriptionStore(aws["transcriptions_table"], "us-east-1")
    listen.create("alice", "x-track", source={"kind": "track", "trackId": "t1"}, options={}, retention_days=30,
                  source_key="listen/alice/x-track/source.mp3")
    listen.create("alice", "x-upload", source={"kind": "upload"}, options={}, retention_days=30,
                  upload_expires_at=int(time.time()) + 900)
    job(store, "regen", finish=True)
    store.restart("alice", "regen", options={})  # ...and the call starting its run never came
    job(store, "waiting", run=False)  # awaiting its picture
    sweeper = load_function("sweeper")
    assert sweeper.lambda_handler(EVENT, FakeContext())["failed"] == []  # a workflow may still claim them
    monkeypatch.setattr(sweeper, "clock", lambda: time.time() + 1801)
    assert sorted(sweeper.lambda_handler(EVENT, FakeContext())["failed"]) == ["b1", "m1", "regen", "x-track"]
    swept = maps.get("alice", "m1")
    assert swept is not None and swept["status"] == "FAILED" and swept["failedStage"] == "queued"
    assert swept["errorMessage"] == "its workflow did not start within 30 minutes; try again with POST /maps"
    assert "Contents" not in aws["s3"].list_objects_v2(Bucket=aws["bucket"], Prefix=drum_maps.work_prefix("alice", "m1"))
    assert store.get("alice", "regen")["errorMessage"].startswith("its workflow did not start")
    assert listen.get("alice", "x-upload")["status"] == store.get("alice", "waiting")["status"] == "PENDING"
