"""soundcanvas.maps.grid: tempo of grooves at 80 and 160 BPM (and others) within 2 %, not half or double,
from the MIDI's own hits and from hits transcribed off rendered audio; quantising keeps original times."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from bench.maps import grooves
from soundcanvas.maps.drums import SAMPLE_RATE_HZ, Hit, NoDrumsFound, transcribe_drums
from soundcanvas.maps.grid import Grid, estimate_grid, quantize

needs_fluidsynth = pytest.mark.skipif(shutil.which("fluidsynth") is None or not grooves.FLUIDR3.exists(),
                                      reason="needs the fluidsynth CLI and FluidR3_GM")


def written_hits(g: grooves.Groove) -> list[Hit]:
    """The groove's own hits (exact times and MIDI velocities): what a perfect transcription would give."""
    return sorted((Hit(d.time_seconds, lane, d.velocity / 127) for d in g.drums
                   if (lane := grooves.GM_NOTE_TO_LANE.get(d.note))), key=lambda h: h.time_seconds)


def within(estimate_bpm: float, reference_bpm: float, tolerance: float = 0.02) -> bool:
    return abs(estimate_bpm - reference_bpm) <= tolerance * reference_bpm


@pytest.mark.parametrize(("style", "bpm"), [("rock", 80), ("rock", 160), ("funk", 80), ("funk", 160), ("hiphop", 72),
                                             ("house", 124), ("rock", 180), ("hiphop", 100)])
def test_tempo_from_written_hits(style: str, bpm: int) -> None:
    g = grooves.groove(7100 + bpm, style, tempo_bpm=bpm, seconds=15.0)
    grid = estimate_grid(written_hits(g), g.duration_seconds)
    assert within(grid.tempo_bpm, bpm), grid.tempo_bpm


@needs_fluidsynth
@pytest.mark.fluidsynth
@pytest.mark.parametrize(("style", "bpm", "mix"), [("rock", 80, False), ("rock", 160, True), ("funk", 80, True),
                                                    ("hiphop", 160, False)])
def test_tempo_and_beats_of_rendered_grooves(tmp_path_factory: pytest.TempPathFactory, style: str, bpm: int,
                                             mix: bool) -> None:
    g = grooves.groove(7200 + bpm, style, tempo_bpm=bpm, seconds=14.0)
    audio = grooves.render_groove(g, grooves.FLUIDR3, tmp_path_factory.mktemp("grid"), mix=mix)
    grid = estimate_grid(transcribe_drums(audio, SAMPLE_RATE_HZ), g.duration_seconds)
    assert within(grid.tempo_bpm, bpm), grid.tempo_bpm
    # the written beats fall on the grid's beats (within 30 ms), not between them
    beats = np.asarray(grid.beat_times_seconds)
    nearest = np.min(np.abs(g.beat_times()[:, None] - beats[None, :]), axis=1)
    assert np.median(nearest) < 0.03


def test_beat_times_are_evenly_spaced_from_the_offset() -> None:
    g = grooves.groove(7301, "rock", tempo_bpm=100, seconds=12.0)
    grid = estimate_grid(written_hits(g), g.duration_seconds)
    beats = np.asarray(grid.beat_times_seconds)
    assert beats[0] == pytest.approx(grid.offset_seconds, abs=1e-3)
    assert 0 <= grid.offset_seconds < grid.beat_seconds
    assert np.allclose(np.diff(beats), 60.0 / grid.tempo_bpm, atol=2e-4)
    assert beats[-1] <= g.duration_seconds < beats[-1] + grid.beat_seconds + 1e-3


def test_downbeat_is_the_bar_start_of_a_rock_groove() -> None:
    g = grooves.groove(7302, "rock", tempo_bpm=120, seconds=16.0)
    grid = estimate_grid(written_hits(g), g.duration_seconds)
    first_bar_beat = round((0.0 - grid.offset_seconds) / grid.beat_seconds)  # written bars start at 0 s
    assert (first_bar_beat - grid.first_downbeat_index) % 4 == 0


def test_too_few_hits_raise_no_drums_found() -> None:
    with pytest.raises(NoDrumsFound, match="no drums were found"):
        estimate_grid([], 30.0)
    with pytest.raises(NoDrumsFound):
        estimate_grid([Hit(1.0, "kick", 1.0), Hit(2.0, "snare", 1.0)], 30.0)
    assert issubclass(NoDrumsFound, ValueError)


def test_quantize_keeps_original_times_and_snaps_to_the_grid() -> None:
    grid = Grid(tempo_bpm=120.0, offset_seconds=0.1, beat_times_seconds=tuple(0.1 + 0.5 * k for k in range(10)))
    rng = np.random.default_rng(3)
    originals = np.sort(rng.uniform(0.0, 4.5, 40))
    hits = [Hit(float(t), ("kick", "snare", "hihat_closed")[i % 3], 0.7) for i, t in enumerate(originals)]
    placed = quantize(hits, grid, subdivision=4)
    by_original = {(h.time_seconds, h.lane) for h in hits}
    assert all((p.original_seconds, p.lane) in by_original for p in placed)
    for p in placed:
        assert p.beat * 4 == pytest.approx(round(p.beat * 4))
        if p.time_seconds > 0:
            assert p.time_seconds == pytest.approx(0.1 + p.beat * 0.5, abs=1e-4)
        assert abs(p.time_seconds - p.original_seconds) <= 0.5 / 8 + 1e-4
    # only same-lane duplicates on one grid point may merge
    assert len({(p.beat, p.lane) for p in placed}) == len(placed)
    assert len(placed) == len({(round((h.time_seconds - 0.1) / 0.125), h.lane) for h in hits})


def test_quantize_merges_a_flam_into_the_louder_hit() -> None:
    grid = Grid(tempo_bpm=120.0, offset_seconds=0.0, beat_times_seconds=(0.0, 0.5, 1.0))
    placed = quantize([Hit(0.49, "snare", 0.3), Hit(0.51, "snare", 0.9), Hit(0.5, "kick", 0.8)], grid)
    assert [(p.lane, p.velocity, p.original_seconds, p.beat) for p in placed] == [("kick", 0.8, 0.5, 1.0),
                                                                                   ("snare", 0.9, 0.51, 1.0)]
    with pytest.raises(ValueError):
        quantize([], grid, subdivision=0)
