"""bench/maps/overlap.py: which recordings two drum kits or SoundFonts share, so a held-out split stays held out."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from bench.maps import fingerprints, grooves, overlap, samplekits
from soundcanvas.maps.drums import SAMPLE_RATE_HZ

has_fluidsynth = shutil.which("fluidsynth") is not None
needs_kits = pytest.mark.skipif(
    not has_fluidsynth
    or grooves.missing_soundfonts((grooves.FLUIDR3, grooves.TIMGM, grooves.GMBANK, *samplekits.KITS,
                                   *samplekits.VALIDATION_KITS, samplekits.GM_ROCK)) != [],
    reason="needs the fluidsynth CLI, the SoundFonts and the recorded kits (make bench-deps)")
needs_soundfonts = pytest.mark.skipif(
    not has_fluidsynth or not all(path.exists() for path in fingerprints.SOUNDFONTS),
    reason="needs the fluidsynth CLI and the fingerprint bench's four SoundFonts (make bench-deps)")


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("overlap")  # one render of each SoundFont for the whole module


def test_similarity_finds_a_scaled_shifted_copy_and_not_another_sound() -> None:
    rng = np.random.default_rng(5)
    hit = rng.standard_normal(4000) * np.exp(-np.arange(4000) / 800)
    other = rng.standard_normal(4000) * np.exp(-np.arange(4000) / 800)
    for shift in (37, 3900):  # a shift near the window's length: a circular correlation would wrap it round
        copy = np.concatenate([np.zeros(shift), 0.3 * hit])[:4000]
        expected = np.linalg.norm(hit[:4000 - shift]) / np.linalg.norm(hit)
        assert overlap.similarity(hit, copy) == pytest.approx(expected, rel=1e-6)
    assert overlap.similarity(hit, np.concatenate([np.zeros(37), 0.3 * hit])[:4000]) > 0.99
    assert overlap.similarity(hit, other) < 0.2
    assert overlap.similarity(hit, np.zeros(4000)) == 0.0


@pytest.mark.fluidsynth
@pytest.mark.skipif(not has_fluidsynth or not grooves.FLUIDR3.exists(), reason="needs fluidsynth and FluidR3_GM")
def test_each_compared_sound_starts_its_window_and_the_one_before_has_died_away(cache: Path) -> None:
    step = round(overlap.SPACING_SECONDS * SAMPLE_RATE_HZ)
    renders = ((overlap.drum_sounds(grooves.FLUIDR3, cache), overlap.single_hits(grooves.FLUIDR3, cache)),
               (overlap.program_sounds(grooves.FLUIDR3, cache), overlap.program_hits(grooves.FLUIDR3, cache)))
    for audio, hits in renders:
        for i, window in enumerate(hits.values()):
            if not np.any(window):
                continue  # a program or drum the SoundFont does not play
            assert np.array_equal(window, audio[i * step:i * step + window.size])
            onset = int(np.argmax(np.abs(window) >= 0.01 * np.max(np.abs(window))))
            assert onset < 0.1 * SAMPLE_RATE_HZ  # the sound starts at the window's start (a pad swells, but starts)
            before = audio[max(0, i * step - SAMPLE_RATE_HZ // 100):i * step]  # the 10 ms before it
            assert np.max(np.abs(before), initial=0.0) < 0.01 * np.max(np.abs(window))


@pytest.mark.fluidsynth
@needs_kits
def test_timgm6mb_plays_sf_gmbanks_hats_but_not_fluidr3s(cache: Path) -> None:
    with_gmbank = overlap.shared_notes(grooves.TIMGM, grooves.GMBANK, cache)
    assert {42, 44, 51}.issubset(with_gmbank)  # closed and pedal hats, ride: one recording in both
    assert 46 not in with_gmbank  # their open hats differ
    assert overlap.shared_notes(grooves.TIMGM, grooves.FLUIDR3, cache, overlap.GM_KIT_PROGRAMS) == []
    assert overlap.shared_notes(samplekits.FORZEE, samplekits.FORZEE, cache) == list(overlap.NOTES)


@pytest.mark.fluidsynth
@needs_kits
def test_no_validation_kit_plays_a_recording_of_a_held_out_kit(cache: Path) -> None:
    held_out = {"TimGM6mb": grooves.TIMGM, **{kit.name: kit for kit in samplekits.KITS}}
    validation = {kit.name: kit for kit in samplekits.VALIDATION_KITS}
    assert overlap.overlaps(held_out, validation, cache) == {}
    # what the check is for: the validation kit it retired plays The Black Pearl's recordings
    assert overlap.overlaps({"BlackPearl": samplekits.BLACK_PEARL}, {"GMRockKit": samplekits.GM_ROCK}, cache)


@pytest.mark.fluidsynth
@needs_soundfonts
def test_the_fingerprint_benchs_report_soundfonts_play_no_recording_of_its_tune_soundfonts(cache: Path) -> None:
    tune, report = fingerprints.SOUNDFONTS[:2], fingerprints.SOUNDFONTS[2:]
    for heard in tune:
        for held_out in report:
            assert overlap.shared_programs(held_out, heard, cache) == []
            assert overlap.shared_notes(held_out, heard, cache, overlap.GM_KIT_PROGRAMS, overlap.GM_KIT_PROGRAMS) == []
    # within each half the SoundFonts are one family: the check is not blind to what it looks for
    assert len(overlap.shared_programs(*tune, cache)) > 30
    assert len(overlap.shared_programs(*report, cache)) > 30
