"""BlendStore against moto: one claim per execution (a retried claim resumes), stages to COMPLETE, failing
only unfinished blends, the newest-first list with cursors bound to their user, expiry and stalled runs."""

from __future__ import annotations

from typing import Any

import pytest

from soundcanvas.blend import blends
from soundcanvas.blend.blends import BlendConflict, BlendStore
from soundcanvas.core import records
from soundcanvas.core.cursors import InvalidCursor
from tests.conftest import ManualClock

SONGS = [
    {"songId": "s-a", "title": "A Reel", "artist": "Traditional", "weight": 0.6},
    {"songId": "s-b", "title": "B Jig", "artist": None, "weight": 0.4},
]
OPTIONS = {"temperature": 0.8, "creativity": 0.7, "lengthSeconds": 30, "genre": None, "seed": 7}


def new(store: BlendStore, blend_id: str, user: str = "alice") -> dict[str, Any]:
    return store.create(user, blend_id, songs=SONGS, options=OPTIONS)


def test_create_writes_a_pending_record_once(blend_store: BlendStore, clock: ManualClock) -> None:
    record = new(blend_store, "b1")
    assert (record["status"], record["stage"], record["progress"]) == ("PENDING", "queued", 0)
    assert record["songs"] == SONGS and record["options"] == OPTIONS
    assert record["expiresAt"] == int(clock() + blends.RETENTION_SECONDS)
    assert record["activeShard"] == records.active_shard("b1")  # its workflow starts at once: the sweeper watches it
    assert blend_store.get("alice", "b1") == record
    with pytest.raises(BlendConflict):
        new(blend_store, "b1")
    assert blend_store.get("bob", "b1") is None  # the key includes the user: nobody else can address it
    new(blend_store, "b1", user="bob")  # the same id under another user is another blend


def test_one_execution_claims_a_blend_and_its_retry_resumes(blend_store: BlendStore) -> None:
    new(blend_store, "b1")
    claimed = blend_store.claim("alice", "b1", execution_id="exec-A")
    assert claimed is not None
    assert (claimed["status"], claimed["stage"], claimed["progress"], claimed["claimedBy"]) == (
        "RUNNING",
        "prepare",
        10,
        "exec-A",
    )
    assert claimed["activeShard"] is not None
    resumed = blend_store.claim("alice", "b1", execution_id="exec-A")
    assert resumed is not None and resumed["claimedBy"] == "exec-A" and resumed["status"] == "RUNNING"
    assert blend_store.claim("alice", "b1", execution_id="exec-B") is None
    assert blend_store.get("alice", "b1")["claimedBy"] == "exec-A"  # type: ignore[index]
    assert blend_store.claim("alice", "missing", execution_id="exec-A") is None
    assert blend_store.claim("bob", "b1", execution_id="exec-A") is None


def test_stages_advance_to_complete_and_leave_the_activity_index(blend_store: BlendStore) -> None:
    new(blend_store, "b1")
    assert not blend_store.advance("alice", "b1", finished="prepare", elapsed_ms=1, next_stage="compose")  # not RUNNING
    blend_store.claim("alice", "b1", execution_id="exec-A")
    assert blend_store.advance("alice", "b1", finished="prepare", elapsed_ms=120, next_stage="compose")
    assert blend_store.advance(
        "alice",
        "b1",
        finished="compose",
        elapsed_ms=900,
        next_stage="render",
        summary={"key": "D major", "attribution": {"s-a": 0.6, "s-b": 0.4}},
    )
    middle = blend_store.get("alice", "b1")
    assert middle is not None and (middle["status"], middle["stage"], middle["progress"]) == ("RUNNING", "render", 60)
    outputs = {"midiKey": "m", "audioKey": "w", "mp3Key": "p"}
    assert blend_store.advance(
        "alice", "b1", finished="render", elapsed_ms=3000, next_stage="done", outputs=outputs, summary={"peakDbfs": -1.0}
    )
    done = blend_store.get("alice", "b1")
    assert done is not None
    assert (done["status"], done["stage"], done["progress"], done["activeShard"]) == ("COMPLETE", "done", 100, None)
    assert done["outputs"] == outputs and done["timings"] == {"prepare": 120, "compose": 900, "render": 3000}
    assert done["summary"] == {"key": "D major", "attribution": {"s-a": 0.6, "s-b": 0.4}, "peakDbfs": -1.0}
    assert not blend_store.advance("alice", "b1", finished="render", elapsed_ms=1, next_stage="done")
    assert blend_store.claim("alice", "b1", execution_id="exec-A") is None  # a finished blend stays finished


def test_only_an_unfinished_blend_can_fail(blend_store: BlendStore) -> None:
    new(blend_store, "pending")
    assert blend_store.fail("alice", "pending", stage="prepare", message="the claim failed")
    new(blend_store, "running")
    blend_store.claim("alice", "running", execution_id="exec-A")
    blend_store.advance("alice", "running", finished="prepare", elapsed_ms=1, next_stage="compose")
    assert blend_store.fail("alice", "running", stage="compose", message="no blend passed the gates")
    failed = blend_store.get("alice", "running")
    assert failed is not None
    assert (failed["status"], failed["failedStage"], failed["errorMessage"], failed["activeShard"]) == (
        "FAILED",
        "compose",
        "no blend passed the gates",
        None,
    )
    assert not blend_store.fail("alice", "running", stage="render", message="again")
    assert blend_store.get("alice", "running")["failedStage"] == "compose"  # type: ignore[index]
    new(blend_store, "complete")
    blend_store.claim("alice", "complete", execution_id="exec-A")
    blend_store.advance("alice", "complete", finished="render", elapsed_ms=1, next_stage="done")
    assert not blend_store.fail("alice", "complete", stage="render", message="late")
    assert blend_store.get("alice", "complete")["status"] == "COMPLETE"  # type: ignore[index]
    assert not blend_store.fail("alice", "missing", stage="prepare", message="gone")
    assert blend_store.get("alice", "missing") is None  # failing nothing creates nothing


def test_list_is_newest_first_with_a_cursor_bound_to_its_user(blend_store: BlendStore, clock: ManualClock) -> None:
    for n in range(5):
        new(blend_store, f"b{n}")
        clock.now += 1
    new(blend_store, "bobs", user="bob")
    seen: list[str] = []
    cursor = None
    while True:
        items, cursor = blend_store.list("alice", limit=2, cursor=cursor)
        seen += [item["blendId"] for item in items]
        if cursor is None:
            break
        with pytest.raises(InvalidCursor):
            blend_store.list("bob", limit=2, cursor=cursor)
    assert seen == ["b4", "b3", "b2", "b1", "b0"]
    items, _ = blend_store.list("bob", limit=10, cursor=None)
    assert [item["blendId"] for item in items] == ["bobs"]
    assert items[0]["songs"] == SONGS  # plain dicts, as the API renders them
    with pytest.raises(InvalidCursor):
        blend_store.list("alice", limit=2, cursor="not-a-cursor")


def test_expired_blends_are_filtered_everywhere(blend_store: BlendStore, clock: ManualClock) -> None:
    new(blend_store, "old")
    clock.now += 10
    new(blend_store, "young")
    clock.now += blends.RETENTION_SECONDS - 5  # "old" has expired, "young" has 5 s left
    assert blend_store.get("alice", "old") is None and blend_store.get("alice", "young") is not None
    items, _ = blend_store.list("alice", limit=10, cursor=None)
    assert [item["blendId"] for item in items] == ["young"]
    assert [r["blendId"] for r in blend_store.all_records("alice")] == ["young"]
    assert blend_store.claim("alice", "old", execution_id="late") is None  # an expired blend is not run
    assert blend_store.claim("alice", "young", execution_id="run") is not None


def test_stalled_finds_unfinished_blends_unchanged_since_the_cutoff(blend_store: BlendStore, clock: ManualClock) -> None:
    for blend_id in ("stuck", "busy", "queued", "done"):
        new(blend_store, blend_id)
    blend_store.claim("alice", "stuck", execution_id="e1")
    blend_store.claim("alice", "done", execution_id="e2")
    blend_store.advance("alice", "done", finished="render", elapsed_ms=1, next_stage="done")
    cutoff = clock.now + 30
    clock.now += 60
    blend_store.claim("alice", "busy", execution_id="e3")  # claimed after the cutoff
    # "queued" was never claimed: its workflow did not start, so it is stalled too
    assert sorted(r["blendId"] for r in blend_store.stalled(older_than=cutoff)) == ["queued", "stuck"]
    assert list(blend_store.stalled(older_than=cutoff - 60)) == []
    assert sorted(r["blendId"] for r in blend_store.stalled(older_than=clock.now + 1)) == ["busy", "queued", "stuck"]


def test_a_failed_start_removes_only_an_unclaimed_record(blend_store: BlendStore) -> None:
    """The API removes the record when its workflow start fails, unless the start happened unseen and the
    workflow has claimed it already."""
    new(blend_store, "b1")
    new(blend_store, "b2")
    blend_store.claim("alice", "b2", execution_id="e1")
    assert blend_store.delete_unclaimed("alice", "b1") and blend_store.get("alice", "b1") is None
    assert not blend_store.delete_unclaimed("alice", "b2") and blend_store.get("alice", "b2")["status"] == "RUNNING"
    assert not blend_store.delete_unclaimed("alice", "gone")


def test_delete_and_delete_all(blend_store: BlendStore) -> None:
    for blend_id in ("b1", "b2"):
        new(blend_store, blend_id)
    new(blend_store, "b3", user="bob")
    assert blend_store.delete("alice", "b1") and not blend_store.delete("alice", "b1")
    assert blend_store.get("alice", "b1") is None
    assert blend_store.delete_all("alice") == 1
    assert list(blend_store.all_records("alice")) == [] and blend_store.get("bob", "b3") is not None


def test_object_keys_live_under_one_prefix_per_blend() -> None:
    assert blends.prefix("alice", "b1") == "blends/alice/b1/"
    assert blends.work_key("alice", "b1", "prepared.json") == "blends/alice/b1/work/prepared.json"
    assert blends.output_key("alice", "b1", "blend.mid") == "blends/alice/b1/blend.mid"
