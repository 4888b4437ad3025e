"""soundcanvas.maps.drums on grooves written by bench/maps/grooves.py and rendered with the fluidsynth CLI
(seeds outside the tuning split; one groove through the TimGM6mb SoundFont the templates never saw), on
silence, and on a band without drums. Scores are mir_eval onset F1 at 50 ms against the MIDI."""

from __future__ import annotations

import shutil
from pathlib import Path

import mir_eval
import numpy as np
import pytest
from scipy.signal import resample_poly

from bench.maps import grooves
from soundcanvas.maps.drums import (
    FRAME_RATE_HZ,
    GM_NOTE_TO_LANE,
    HI_HATS,
    LANES,
    PEAK_WINDOW_FRAMES,
    SAMPLE_RATE_HZ,
    Hit,
    load_model,
    transcribe_drums,
)

pytestmark = [
    pytest.mark.fluidsynth,
    pytest.mark.skipif(shutil.which("fluidsynth") is None or not grooves.FLUIDR3.exists() or not grooves.TIMGM.exists(),
                       reason="needs the fluidsynth CLI, FluidR3_GM and TimGM6mb"),
]

CASES = {  # name -> (seed, style, tempo, SoundFont, with bass and piano)
    "rock-alone": (9001, "rock", 112, grooves.FLUIDR3, False),
    "rock-mix": (9002, "rock", 150, grooves.FLUIDR3, True),
    "hiphop-timgm": (9003, "hiphop", 88, grooves.TIMGM, False),
}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[grooves.Groove, np.ndarray, list[Hit]]]:
    cache = tmp_path_factory.mktemp("drums")
    out = {}
    for name, (seed, style, bpm, soundfont, mix) in CASES.items():
        g = grooves.groove(seed, style, tempo_bpm=bpm, seconds=12.0)
        audio = grooves.render_groove(g, soundfont, cache, mix=mix)
        out[name] = (g, audio, transcribe_drums(audio, SAMPLE_RATE_HZ))
    return out


def f1(reference: np.ndarray, hits: list[Hit], lanes: tuple[str, ...]) -> float:
    estimated = np.asarray(sorted(h.time_seconds for h in hits if h.lane in lanes))
    return float(mir_eval.onset.f_measure(reference, estimated, window=0.05)[0])


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("lane", ["kick", "snare", "hihat"])
def test_finds_kick_snare_and_hihat(rendered: dict, name: str, lane: str) -> None:
    g, _, hits = rendered[name]
    truth = g.truth()
    lanes = HI_HATS if lane == "hihat" else (lane,)
    reference = np.sort(np.concatenate([truth[x] for x in lanes]))
    assert reference.size >= 8, "the groove should exercise the lane"
    # the product's targets less a margin for one short groove: 0.85 alone, 0.75 under bass and piano, 0.80 on
    # a SoundFont the templates never heard; a transcriber that guessed lanes would score far below
    floor = {"rock-alone": 0.85, "rock-mix": 0.75, "hiphop-timgm": 0.80}[name]
    assert f1(reference, hits, lanes) >= floor


def test_hits_are_well_formed(rendered: dict) -> None:
    for _, audio, hits in rendered.values():
        assert hits == sorted(hits, key=lambda h: (h.time_seconds, LANES.index(h.lane)))
        assert all(h.lane in LANES and 0.0 <= h.velocity <= 1.0 for h in hits)
        assert all(0.0 <= h.time_seconds <= audio.size / SAMPLE_RATE_HZ for h in hits)


def test_no_cymbal_hit_is_both_a_ride_and_a_hi_hat(rendered: dict) -> None:
    same_hit_seconds = PEAK_WINDOW_FRAMES / FRAME_RATE_HZ
    for _, _, hits in rendered.values():
        hats = np.asarray([h.time_seconds for h in hits if h.lane in HI_HATS])
        rides = np.asarray([h.time_seconds for h in hits if h.lane == "ride"])
        assert hats.size  # every case plays hi-hats
        assert not any(np.min(np.abs(hats - t)) <= same_hit_seconds for t in rides)


def test_other_sample_rates_give_the_same_hits(rendered: dict) -> None:
    _g, audio, hits = rendered["rock-alone"]
    at_44k = resample_poly(audio, 2, 1).astype(np.float32)
    again = transcribe_drums(at_44k, 44100)
    for lane in ("kick", "snare"):
        ours = np.asarray([h.time_seconds for h in hits if h.lane == lane])
        theirs = np.asarray([h.time_seconds for h in again if h.lane == lane])
        assert mir_eval.onset.f_measure(ours, theirs, window=0.02)[0] > 0.95


def test_silence_and_near_silence_give_no_hits() -> None:
    assert transcribe_drums(np.zeros(SAMPLE_RATE_HZ * 5, dtype=np.float32), SAMPLE_RATE_HZ) == []
    assert transcribe_drums(np.zeros(10, dtype=np.float32), SAMPLE_RATE_HZ) == []
    hiss = np.random.default_rng(1).standard_normal(SAMPLE_RATE_HZ * 3).astype(np.float32) * 1e-6
    assert transcribe_drums(hiss, SAMPLE_RATE_HZ) == []


def test_a_band_without_drums_gives_few_drum_hits(tmp_path: Path) -> None:
    """Bass and piano alone: no lane should look like a drum part (a few stray hits at most)."""
    g = grooves.groove(9004, "rock", tempo_bpm=120, seconds=10.0)
    band = grooves.render_part(g, "band", grooves.FLUIDR3, tmp_path)
    hits = transcribe_drums(band, SAMPLE_RATE_HZ)
    drums_alone = transcribe_drums(grooves.render_groove(g, grooves.FLUIDR3, tmp_path), SAMPLE_RATE_HZ)
    assert len(hits) < 0.25 * len(drums_alone)


def _strokes(heights: list[float], frames: int = 600) -> np.ndarray:
    """A detector output with one clean peak of each height, 20 frames apart."""
    trace = np.zeros(frames, dtype=np.float32)
    for index, height in enumerate(heights):
        trace[10 + 20 * index] = height
    return trace


def test_the_song_cut_follows_how_sure_the_detector_is_of_the_song() -> None:
    from soundcanvas.maps.drums import SONG_CUT_FRACTION, pick_peaks, song_cut

    sure = _strokes([0.95] * 12 + [0.4] * 3)  # a familiar kit: three doubtful peaks past the hi-hat's fixed cut
    assert song_cut(sure, 0.3) == pytest.approx(SONG_CUT_FRACTION * 0.95)
    assert pick_peaks(sure, 0.3, 0.0).size == 15
    assert pick_peaks(sure, song_cut(sure, 0.3), 0.0).size == 12  # the doubtful ones go
    unsure = _strokes([0.6] * 12 + [0.35] * 4)  # an unfamiliar kit: its soft strokes below the fixed cut
    assert pick_peaks(unsure, 0.5, 0.0).size == 12
    assert pick_peaks(unsure, song_cut(unsure, 0.5), 0.0).size == 16  # ... are kept
    faint = _strokes([0.3] * 5)
    assert song_cut(faint, 0.5) == 0.5  # nothing reaches the fixed cut: it stands, so no hit is made up
    assert song_cut(np.zeros(600, dtype=np.float32), 0.3) == 0.3


def test_every_lane_has_templates_and_the_gm_map_names_only_lanes() -> None:
    model = load_model()
    assert set(GM_NOTE_TO_LANE.values()) == set(LANES)
    assert sorted(set(model.template_lanes.tolist())) == list(range(len(LANES)))
    assert np.allclose(model.templates.sum(axis=0), 1.0, atol=1e-4)
    assert model.thresholds.shape == (len(LANES),) and np.all(model.thresholds > 0)


def test_classified_lanes_have_weights_and_features_fit_them() -> None:
    from soundcanvas.maps.drums import CANDIDATE_FEATURES, candidate_features

    model = load_model()
    assert model.classified is not None and model.classified.any()
    assert model.weights is not None and model.weights.shape == (len(LANES), CANDIDATE_FEATURES)
    relative = np.random.default_rng(0).random((len(LANES), 300)).astype(np.float32)
    x = candidate_features(relative, LANES.index("kick"), np.asarray([0, 150, 299]))
    assert x.shape == (3, CANDIDATE_FEATURES) and np.all(np.isfinite(x))
