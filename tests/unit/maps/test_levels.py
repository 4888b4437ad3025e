"""soundcanvas.maps.levels on the written hits of grooves (every style, fills included): expert is all,
each level a subset of the one above, easier levels sparser, and the playability rules hold."""

from __future__ import annotations

import itertools
from collections import Counter

import pytest

from bench.maps import grooves
from soundcanvas.maps.drums import Hit
from soundcanvas.maps.grid import Grid, GridHit, estimate_grid, quantize
from soundcanvas.maps.levels import DIFFICULTIES, EASY_PER_BAR, GHOST_VELOCITY, make_levels, metrical_strength


def charted(style: str, seed: int) -> tuple[list[GridHit], Grid, dict[str, list[GridHit]]]:
    g = grooves.groove(seed, style, seconds=20.0)
    hits = sorted((Hit(d.time_seconds, lane, d.velocity / 127) for d in g.drums
                   if (lane := grooves.GM_NOTE_TO_LANE.get(d.note))), key=lambda h: h.time_seconds)
    grid = estimate_grid(hits, g.duration_seconds)
    placed = quantize(hits, grid)
    return placed, grid, make_levels(placed, grid)


@pytest.mark.parametrize("style", grooves.STYLES)
def test_levels_are_nested_and_thinner_going_down(style: str) -> None:
    placed, _, levels = charted(style, 8100)
    assert tuple(levels) == DIFFICULTIES
    assert levels["expert"] == placed
    for easier, harder in itertools.pairwise(DIFFICULTIES):
        above = Counter(map(id, levels[harder]))
        assert all(above[id(h)] for h in levels[easier]), f"{easier} is not a subset of {harder}"
        assert len(levels[easier]) <= len(levels[harder])
    assert 0 < len(levels["easy"]) < 0.5 * len(levels["expert"])
    assert len(levels["medium"]) < len(levels["expert"])


@pytest.mark.parametrize("style", ["rock", "funk", "jazz"])
def test_easy_is_playable(style: str) -> None:
    _, grid, levels = charted(style, 8200)
    easy = levels["easy"]
    moments = Counter(h.beat for h in easy)
    assert max(moments.values()) == 1, "easy never asks for two lanes at once"
    assert all(metrical_strength(h.beat, grid) >= 3 for h in easy), "easy is on the beats"
    bars = Counter(int((h.beat - grid.first_downbeat_index) // 4) for h in easy)
    assert max(bars.values()) <= EASY_PER_BAR
    assert {h.lane for h in easy} <= {"kick", "snare", "tom_high", "tom_low", "crash"}


def test_ghost_notes_are_expert_only() -> None:
    _, _, levels = charted("funk", 8300)
    ghosts = [h for h in levels["expert"] if h.velocity < GHOST_VELOCITY]
    assert ghosts, "funk grooves have ghost notes"
    hard = set(map(id, levels["hard"]))
    assert not any(id(h) in hard for h in ghosts)


def test_no_hits_give_empty_levels() -> None:
    grid = Grid(tempo_bpm=120.0, offset_seconds=0.0, beat_times_seconds=(0.0, 0.5))
    assert make_levels([], grid) == {name: [] for name in DIFFICULTIES}
