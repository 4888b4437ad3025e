"""bench/maps/overlap.py: which recordings two drum kits share, so a held-out split stays held out."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from bench.maps import fingerprints, grooves, overlap, samplekits

needs_kits = pytest.mark.skipif(
    shutil.which("fluidsynth") is None
    or grooves.missing_soundfonts((grooves.FLUIDR3, grooves.TIMGM, grooves.GMBANK, *samplekits.KITS,
                                   *samplekits.VALIDATION_KITS, samplekits.GM_ROCK)) != [],
    reason="needs the fluidsynth CLI, the SoundFonts and the recorded kits (make bench-deps)")


def test_similarity_finds_a_scaled_shifted_copy_and_not_another_sound() -> None:
    rng = np.random.default_rng(5)
    hit = rng.standard_normal(4000) * np.exp(-np.arange(4000) / 800)
    copy = np.concatenate([np.zeros(37), 0.3 * hit])[:4000]
    other = rng.standard_normal(4000) * np.exp(-np.arange(4000) / 800)
    assert overlap.similarity(hit, copy) > 0.99
    assert overlap.similarity(hit, other) < 0.2
    assert overlap.similarity(hit, np.zeros(4000)) == 0.0


def test_the_single_hits_groove_plays_every_gm_drum_note_once_apart() -> None:
    g = overlap.hits_groove(8)
    assert [d.note for d in g.drums] == list(overlap.NOTES) and g.kit == 8
    assert np.all(np.diff([d.time_seconds for d in g.drums]) >= overlap.COMPARED_SECONDS)
    assert g.duration_seconds >= g.drums[-1].time_seconds + overlap.COMPARED_SECONDS


@needs_kits
def test_timgm6mb_plays_sf_gmbanks_hats_but_not_fluidr3s(tmp_path: Path) -> None:
    with_gmbank = overlap.shared_notes(grooves.TIMGM, grooves.GMBANK, tmp_path)
    assert {42, 44, 51}.issubset(with_gmbank)  # closed and pedal hats, ride: one recording in both
    assert 46 not in with_gmbank  # their open hats differ
    assert overlap.shared_notes(grooves.TIMGM, grooves.FLUIDR3, tmp_path) == []
    assert overlap.shared_notes(samplekits.FORZEE, samplekits.FORZEE, tmp_path) == list(overlap.NOTES)


@needs_kits
def test_no_validation_kit_plays_a_recording_of_a_held_out_kit(tmp_path: Path) -> None:
    held_out = {"TimGM6mb": grooves.TIMGM, **{kit.name: kit for kit in samplekits.KITS}}
    validation = {kit.name: kit for kit in samplekits.VALIDATION_KITS}
    assert overlap.overlaps(held_out, validation, tmp_path) == {}
    # what the check is for: the validation kit it retired plays The Black Pearl's recordings
    assert overlap.overlaps({"BlackPearl": samplekits.BLACK_PEARL}, {"GMRockKit": samplekits.GM_ROCK}, tmp_path)


needs_soundfonts = pytest.mark.skipif(
    shutil.which("fluidsynth") is None or not all(path.exists() for path in fingerprints.SOUNDFONTS),
    reason="needs the fluidsynth CLI and the fingerprint bench's four SoundFonts (make bench-deps)")


@needs_soundfonts
def test_the_fingerprint_benchs_report_soundfonts_play_no_recording_of_its_tune_soundfonts(tmp_path: Path) -> None:
    tune, report = fingerprints.SOUNDFONTS[:2], fingerprints.SOUNDFONTS[2:]
    for heard in tune:
        for held_out in report:
            assert overlap.shared_programs(held_out, heard, tmp_path) == []
            assert overlap.shared_notes(held_out, heard, tmp_path, overlap.GM_KIT_PROGRAMS) == []
    # within each half the SoundFonts are one family: the check is not blind to what it looks for
    assert len(overlap.shared_programs(*tune, tmp_path)) > 30
    assert len(overlap.shared_programs(*report, tmp_path)) > 30
