"""soundcanvas.maps.document: a map built from a groove validates against drum-map.schema.json (itself a
valid Draft 2020-12 schema); broken maps fail with a message naming the field; lane counts add up."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from bench.maps import grooves
from soundcanvas.maps.document import SCHEMA_PATH, SCHEMA_VERSION, MapInvalid, build_map, lane_counts, validate_map
from soundcanvas.maps.drums import LANES, Hit
from soundcanvas.maps.grid import estimate_grid, quantize
from soundcanvas.maps.levels import DIFFICULTIES, make_levels


@pytest.fixture(scope="module")
def made() -> tuple[dict[str, Any], dict]:
    g = grooves.groove(8400, "rock", tempo_bpm=128, seconds=12.0)
    hits = sorted((Hit(d.time_seconds, lane, d.velocity / 127) for d in g.drums
                   if (lane := grooves.GM_NOTE_TO_LANE.get(d.note))), key=lambda h: h.time_seconds)
    grid = estimate_grid(hits, g.duration_seconds)
    levels = make_levels(quantize(hits, grid), grid)
    doc = build_map(song_id="song-1", grid=grid, levels=levels, source={"kind": "test"},
                    duration_seconds=g.duration_seconds)
    return doc, levels


def test_schema_is_valid_draft_2020_12() -> None:
    schema = json.loads(SCHEMA_PATH.read_text())
    Draft202012Validator.check_schema(schema)
    assert schema["properties"]["schemaVersion"]["const"] == SCHEMA_VERSION


def test_built_map_validates_and_round_trips_through_json(made: tuple) -> None:
    doc, levels = made
    validate_map(json.loads(json.dumps(doc)))
    assert doc["songId"] == "song-1" and doc["lanes"] == list(LANES)
    assert doc["tempoBpm"] == pytest.approx(128, rel=0.02)
    for name in DIFFICULTIES:
        assert [(h["t"], h["t0"], h["lane"]) for h in doc["levels"][name]] == \
            [(round(h.time_seconds, 4), round(h.original_seconds, 4), h.lane) for h in levels[name]]


def test_lane_counts_of_doc_and_levels_agree(made: tuple) -> None:
    doc, levels = made
    counts = lane_counts(doc)
    assert counts == lane_counts(levels)
    assert set(counts) == set(LANES)
    assert sum(counts.values()) == len(doc["levels"]["expert"])
    assert counts["kick"] > 0 and counts["snare"] > 0


def broken(doc: dict, change: Any) -> dict:
    copied = copy.deepcopy(doc)
    change(copied)
    return copied


@pytest.mark.parametrize(("change", "field"), [
    (lambda d: d.pop("tempoBpm"), "tempoBpm"),
    (lambda d: d.update(tempoBpm="fast"), "tempoBpm"),
    (lambda d: d.update(schemaVersion=99), "schemaVersion"),
    (lambda d: d["levels"]["expert"][2].update(velocity=1.5), "levels.expert[2].velocity"),
    (lambda d: d["levels"]["hard"][0].pop("t0"), "levels.hard[0].t0"),
    (lambda d: d["levels"].pop("easy"), "levels.easy"),
    (lambda d: d["levels"]["expert"][1].update(lane="cowbell"), "levels.expert[1].lane"),
    (lambda d: d["levels"]["easy"].append({"t": 0.0, "t0": 0.0, "lane": "ride", "velocity": 0.5, "beat": 0.0}),
     "levels.easy["),
    (lambda d: d.update(extra=1), "extra"),
])
def test_broken_maps_fail_naming_the_field(made: tuple, change: Any, field: str) -> None:
    doc, _ = made
    with pytest.raises(MapInvalid) as raised:
        validate_map(broken(doc, change))
    assert field in str(raised.value)
    assert isinstance(raised.value, ValueError)
