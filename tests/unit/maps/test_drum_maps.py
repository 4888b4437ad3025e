"""Drum-map records: a failed map's record expires a week later, in the same write that fails it; a finished
map's is kept (community content)."""

from __future__ import annotations

from typing import Any

from soundcanvas.maps.drum_maps import FAILED_RETENTION_SECONDS, MAP_RETENTION_SECONDS, MapStore
from tests.conftest import ManualClock

SOURCE = {"kind": "track", "id": "t1", "title": "T", "artist": None, "audioKey": "maps/work/u/m/source.mp3"}


def test_a_failed_map_expires_a_week_later_and_a_second_failure_changes_nothing(aws: dict[str, Any],
                                                                                 clock: ManualClock) -> None:
    clock.now = 1_800_000_000.0
    store = MapStore(aws["maps_table"], "us-east-1", clock=clock)
    for map_id in ("failing", "finishing"):
        store.create("u", map_id, source=SOURCE, difficulty=None)
        assert store.claim("u", map_id, execution_id="e")
    clock.now += 60
    assert store.fail("u", "failing", stage="drums", message="no drums")
    failed = store.get("u", "failing")
    assert failed is not None and failed["status"] == "FAILED"
    assert failed["expiresAt"] == int(clock.now + FAILED_RETENTION_SECONDS)
    assert not store.fail("u", "failing", stage="grid", message="again")  # already finished: nothing moves
    assert store.get("u", "failing") == failed
    assert store.advance("u", "finishing", finished="levels", elapsed_ms=1, next_stage="done")
    finished = store.get("u", "finishing")
    assert finished is not None and finished["expiresAt"] == int(1_800_000_000.0 + MAP_RETENTION_SECONDS)
    clock.now += FAILED_RETENTION_SECONDS + 1
    assert store.get("u", "failing") is None and store.get("u", "finishing") is not None
