"""functions/maps/analysis/levels.py against moto: once the map is COMPLETE its document stays. A failure after
that (the song's tempo, the work files) does not fail the step, and the step run again (a Lambda retry or a
duplicate invocation) answers as done instead of deleting the document the COMPLETE map points to."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
from pynamodb.exceptions import UpdateError

from soundcanvas.maps import drum_maps, drums, grid
from soundcanvas.maps.drum_maps import MapStore
from tests.conftest import FakeContext, load_module_at

ROOT = Path(__file__).resolve().parents[3]
USER, MAP = "u1", "m1"


@pytest.fixture
def fn(aws: dict[str, Any]) -> Any:
    return load_module_at(ROOT / "functions" / "maps" / "analysis" / "levels.py")


@pytest.fixture
def store(aws: dict[str, Any]) -> MapStore:
    return MapStore(aws["maps_table"], "us-east-1")


@pytest.fixture
def levels_event(aws: dict[str, Any], store: MapStore) -> dict[str, Any]:
    """A map of a catalog song at its Levels stage, its grid in the work files."""
    store.create(USER, MAP, source={"kind": "song", "id": "s1", "title": "t", "artist": "a",
                                    "audioKey": "catalog/s1/audio.wav", "public": False}, difficulty=None)
    assert store.claim(USER, MAP, execution_id="ex1")
    for finished, stage in (("decode", "drums"), ("drums", "grid"), ("grid", "levels")):
        assert store.advance(USER, MAP, finished=finished, elapsed_ms=1, next_stage=stage)
    hits = [drums.Hit(time_seconds=0.5 * i, lane="kick" if i % 2 == 0 else "snare", velocity=0.8) for i in range(40)]
    beat_grid = grid.estimate_grid(hits, 20.0)
    key = drum_maps.work_key(USER, MAP, "grid.json")
    body = {"grid": asdict(beat_grid), "hits": [asdict(h) for h in grid.quantize(hits, beat_grid)]}
    aws["s3"].put_object(Bucket=aws["bucket"], Key=key, Body=json.dumps(body).encode())
    return {"userId": USER, "mapId": MAP, "grid": {"gridKey": key}}


def document_exists(aws: dict[str, Any], key: str) -> bool:
    return aws["s3"].list_objects_v2(Bucket=aws["bucket"], Prefix=key)["KeyCount"] == 1


def test_a_failure_after_complete_does_not_fail_the_step(
        fn: Any, aws: dict[str, Any], store: MapStore, levels_event: dict[str, Any],
        monkeypatch: pytest.MonkeyPatch) -> None:
    def throttled(song_id: str, bpm: float) -> None:
        raise UpdateError("throttled")

    monkeypatch.setattr(fn.runtime.songs, "set_bpm", throttled)
    answer = fn.lambda_handler(levels_event, FakeContext())
    record = store.get(USER, MAP)
    assert record is not None and record["status"] == drum_maps.COMPLETE
    assert record["outputs"]["mapKey"] == answer["mapKey"] and document_exists(aws, answer["mapKey"])


def test_the_step_run_again_keeps_the_complete_maps_document(
        fn: Any, aws: dict[str, Any], store: MapStore, levels_event: dict[str, Any]) -> None:
    """As when the first run stopped after the map became COMPLETE and before the work files went."""
    grid_key = levels_event["grid"]["gridKey"]
    grid_json = aws["s3"].get_object(Bucket=aws["bucket"], Key=grid_key)["Body"].read()
    first = fn.lambda_handler(levels_event, FakeContext())
    done = store.get(USER, MAP)
    aws["s3"].put_object(Bucket=aws["bucket"], Key=grid_key, Body=grid_json)
    again = fn.lambda_handler(levels_event, FakeContext())
    assert again == first
    assert store.get(USER, MAP) == done
    assert document_exists(aws, first["mapKey"])
