"""Job records: the status machine's conditional writes, TTL filtering, pagination."""

from __future__ import annotations

from typing import Any

import pytest

from soundcanvas.core import cursors
from soundcanvas.generation import jobs
from tests.conftest import ManualClock

OPTIONS = {"genre": "lofi", "mode": "heuristic", "durationSeconds": 30, "seed": 1}




@pytest.fixture
def store(aws: dict[str, Any], clock: ManualClock) -> jobs.JobStore:
    return jobs.JobStore(aws["table"], "us-east-1", clock=clock)


def _create(store: jobs.JobStore, user: str = "u1", job: str = "j1", days: int = 30) -> dict[str, Any]:
    return store.create(user, job, options=OPTIONS, image_key=f"images/{user}/{job}/input.jpg",
                        content_type="image/jpeg", retention_days=days)


def test_create_then_get(store: jobs.JobStore) -> None:
    _create(store)
    job = store.get("u1", "j1")
    assert job is not None
    assert job["status"] == jobs.PENDING and job["stage"] == "upload" and job["options"] == OPTIONS


def test_create_twice_conflicts(store: jobs.JobStore) -> None:
    _create(store)
    with pytest.raises(jobs.JobConflict):
        _create(store)


def test_another_users_job_is_invisible(store: jobs.JobStore) -> None:
    _create(store, user="owner")
    assert store.get("intruder", "j1") is None


def test_claim_happens_once(store: jobs.JobStore) -> None:
    _create(store)
    assert store.claim("u1", "j1") is not None
    assert store.claim("u1", "j1") is None  # a duplicated upload event
    assert store.get("u1", "j1")["status"] == jobs.RUNNING


def test_claim_of_a_missing_job_does_not_create_it(store: jobs.JobStore) -> None:
    assert store.claim("u1", "nope") is None
    assert store.get("u1", "nope") is None


def test_advance_requires_running_and_completes(store: jobs.JobStore) -> None:
    _create(store)
    assert not store.advance("u1", "j1", finished="analyze", elapsed_ms=5, next_stage="compose")
    store.claim("u1", "j1")
    assert store.advance("u1", "j1", finished="analyze", elapsed_ms=5, next_stage="compose", params={"genre": "lofi"})
    assert store.advance("u1", "j1", finished="render", elapsed_ms=7, next_stage="done")
    job = store.get("u1", "j1")
    assert job["status"] == jobs.COMPLETE and job["progress"] == 100
    assert job["timings"] == {"analyze": 5, "render": 7} and job["params"] == {"genre": "lofi"}


def test_fail_only_from_pending_or_running(store: jobs.JobStore) -> None:
    _create(store)
    store.claim("u1", "j1")
    assert store.fail("u1", "j1", stage="analyze", message="not a supported image: got PDF data")
    assert not store.fail("u1", "j1", stage="compose", message="again")
    job = store.get("u1", "j1")
    assert job["status"] == jobs.FAILED and job["failedStage"] == "analyze"
    assert job["errorMessage"] == "not a supported image: got PDF data"
    assert not store.fail("u1", "gone", stage="analyze", message="x")
    assert store.get("u1", "gone") is None


def test_restart_only_when_finished_and_bumps_run(store: jobs.JobStore) -> None:
    _create(store)
    with pytest.raises(jobs.JobConflict):
        store.restart("u1", "j1", options=OPTIONS)
    store.claim("u1", "j1")
    store.fail("u1", "j1", stage="render", message="x")
    restarted = store.restart("u1", "j1", options={**OPTIONS, "genre": "jazz"})
    assert restarted["run"] == 1 and restarted["status"] == jobs.PENDING
    assert "errorMessage" not in restarted or restarted["errorMessage"] is None
    assert store.claim("u1", "j1", run=0) is None  # a stale start for the previous run
    assert store.claim("u1", "j1", run=1) is not None


def test_expired_records_are_not_returned(store: jobs.JobStore, clock: ManualClock) -> None:
    _create(store, days=1)
    clock.now += 2 * 86400
    assert store.get("u1", "j1") is None
    assert store.list("u1", limit=10, cursor=None)[0] == []
    assert store.claim("u1", "j1") is None


def test_list_is_newest_first_and_paginates(store: jobs.JobStore, clock: ManualClock) -> None:
    for i in range(5):
        clock.now += 1
        _create(store, job=f"job{i}")
    _create(store, user="other", job="theirs")
    page, cursor = store.list("u1", limit=2, cursor=None)
    assert [j["jobId"] for j in page] == ["job4", "job3"]
    seen = [j["jobId"] for j in page]
    while cursor:
        page, cursor = store.list("u1", limit=2, cursor=cursor)
        seen += [j["jobId"] for j in page]
    assert seen == ["job4", "job3", "job2", "job1", "job0"]


def test_a_cursor_is_bound_to_its_user(store: jobs.JobStore) -> None:
    for i in range(3):
        _create(store, job=f"job{i}")
    _, cursor = store.list("u1", limit=1, cursor=None)
    assert cursor
    with pytest.raises(cursors.InvalidCursor):
        store.list("someone-else", limit=1, cursor=cursor)
    with pytest.raises(cursors.InvalidCursor):
        store.list("u1", limit=1, cursor="not-base64-json!")


def test_delete(store: jobs.JobStore) -> None:
    _create(store)
    assert store.delete("u1", "j1")
    assert not store.delete("u1", "j1")
    assert store.get("u1", "j1") is None
