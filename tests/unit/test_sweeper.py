"""The sweeper against moto: stalled RUNNING jobs become FAILED with a message; nothing else moves."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from soundcanvas import jobs
from tests.conftest import FakeContext, load_function

EVENT = json.loads((Path(__file__).parents[2] / "events/sweeper.json").read_text())


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
    assert sweeper.lambda_handler(EVENT, FakeContext()) == {"failed": []}  # nothing is 30 minutes old yet
    monkeypatch.setattr(sweeper, "clock", lambda: time.time() + 1801)
    result = sweeper.lambda_handler(EVENT, FakeContext())
    assert sorted(result["failed"]) == ["stuck1", "stuck2"]
    stuck = store.get("alice", "stuck1")
    assert stuck["status"] == "FAILED" and stuck["failedStage"] == "analyze"
    assert stuck["errorMessage"] == ("the analyze stage stopped and the job was given up after 30 minutes; "
                                     "regenerate to try again")
    assert store.get("alice", "done")["status"] == "COMPLETE" and store.get("alice", "waiting")["status"] == "PENDING"
    assert sweeper.lambda_handler(EVENT, FakeContext()) == {"failed": []}  # a failed job leaves the index


def test_running_jobs_spread_over_the_shards() -> None:
    shards = {jobs.active_shard(f"{i:032x}") for i in range(200)}
    assert shards == {str(i) for i in range(jobs.ACTIVE_SHARDS)}
