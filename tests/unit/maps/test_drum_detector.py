"""The drum onset detector of soundcanvas.maps.drums (the MLPs that find the snare, hi-hats, toms and crash): its inputs, how
its members' probabilities are combined, how probabilities become hits, and that the shipped model fits the code.
Its accuracy on rendered grooves is in test_drums.py and the drum bench."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from soundcanvas.maps import drums
from soundcanvas.maps.drums import (
    DETECTOR_OFFSETS,
    DETECTOR_TARGETS,
    FRAME_RATE_HZ,
    LANES,
    PEAK_WINDOW_FRAMES,
    SAMPLE_RATE_HZ,
    Hit,
    band_frequencies_hz,
    band_spectrogram,
    detected_hits,
    detector_inputs,
    detector_probabilities,
    load_model,
    rides_apart_from_hats,
)


def clicks(gain: float) -> np.ndarray:
    rng = np.random.default_rng(3)
    audio = 0.01 * rng.standard_normal(SAMPLE_RATE_HZ * 2)
    for start in (0.3, 0.9, 1.4):
        at = round(start * SAMPLE_RATE_HZ)
        audio[at:at + 2000] += rng.standard_normal(2000) * np.exp(-np.arange(2000) / 300)
    return (gain * audio).astype(np.float32)


def test_detector_inputs_stack_the_frames_around_each_frame_and_ignore_the_recordings_level() -> None:
    loud, quiet = detector_inputs(band_spectrogram(clicks(0.8))), detector_inputs(band_spectrogram(clicks(0.05)))
    bands = band_frequencies_hz().size
    assert loud.shape == (band_spectrogram(clicks(0.8)).shape[1], bands * len(DETECTOR_OFFSETS))
    assert np.allclose(loud, quiet, atol=1e-3)
    now = DETECTOR_OFFSETS.index(0)
    later = DETECTOR_OFFSETS.index(5)
    frame = 40
    assert np.array_equal(loud[frame, later * bands:(later + 1) * bands], loud[frame + 5, now * bands:(now + 1) * bands])
    earliest = DETECTOR_OFFSETS.index(min(DETECTOR_OFFSETS))  # before the first frame: the first frame repeated
    assert np.array_equal(loud[0, earliest * bands:(earliest + 1) * bands], loud[0, now * bands:(now + 1) * bands])


def test_the_members_probabilities_are_averaged() -> None:
    model = load_model()
    inputs = model.detector_mean.size  # type: ignore[union-attr]
    outputs = len(DETECTOR_TARGETS)
    sure = ((np.zeros((inputs, outputs), np.float32), np.full(outputs, 30.0, np.float32)),)
    never = ((np.zeros((inputs, outputs), np.float32), np.full(outputs, -30.0, np.float32)),)
    spec = band_spectrogram(clicks(0.5))
    assert np.allclose(detector_probabilities(spec, replace(model, detector_members=(sure,), detector_votes=None)), 1.0)
    both = replace(model, detector_members=(sure, never), detector_votes=None)
    assert np.allclose(detector_probabilities(spec, both), 0.5)
    # members answer only for the outputs they vote on: here the sure one for the hi-hat, the other for the rest
    votes = np.zeros((2, outputs), np.float32)
    hat = DETECTOR_TARGETS.index("hihat")
    votes[0, hat] = 1.0
    votes[1] = 1.0 - votes[0]
    split = detector_probabilities(spec, replace(both, detector_votes=votes))
    assert np.allclose(split[:, hat], 1.0) and np.allclose(np.delete(split, hat, axis=1), 0.0)


def test_hits_come_from_peaks_over_each_outputs_cut_and_open_hats_from_the_open_output(
        monkeypatch: pytest.MonkeyPatch) -> None:
    model = replace(load_model(), detected=("snare", "hihat_closed", "hihat_open"),
                    detector_cuts=np.full(len(DETECTOR_TARGETS), 0.5, np.float32))
    frames = 200
    probabilities = np.zeros((frames, len(DETECTOR_TARGETS)), np.float32)
    hat, opened, snare = (DETECTOR_TARGETS.index(name) for name in ("hihat", "hihat_open", "snare"))
    probabilities[[20, 60, 100], hat] = 0.9
    probabilities[180, hat] = 0.47  # under the fixed cut, over the song's (half of 0.9)
    probabilities[181, opened] = 0.3  # under the open output's cut: closed
    probabilities[61, opened] = 0.8  # within +-2 frames of the hat at 60: that one is open
    probabilities[140, opened] = 0.9  # an open output alone is no hit
    probabilities[[30, 80, 120], snare] = [0.7, 0.4, 0.3]  # the song's cut: half of 0.7 (song_cut); the last is under it
    lanes = np.ones((len(LANES), frames), np.float32)
    hits = detected_hits(probabilities, lanes, model)
    found = sorted((round(hit.time_seconds * FRAME_RATE_HZ), hit.lane) for hit in hits)
    assert found == [(20, "hihat_closed"), (30, "snare"), (60, "hihat_open"), (80, "snare"), (100, "hihat_closed"),
                     (180, "hihat_closed")]
    monkeypatch.setattr(drums, "SONG_CUT_TARGETS", ())  # fixed cuts only: the hat at 180 and the snare at 80 go
    assert len(detected_hits(probabilities, lanes, model)) == 4


def test_a_peak_only_the_songs_cut_lets_through_must_be_heard_by_the_templates() -> None:
    model = replace(load_model(), detected=("snare",), detector_cuts=np.full(len(DETECTOR_TARGETS), 0.5, np.float32),
                    detector_gates=None)  # no lane gate: only the song's cut's own
    frames = 200
    probabilities = np.zeros((frames, len(DETECTOR_TARGETS)), np.float32)
    probabilities[[20, 60, 100, 140], DETECTOR_TARGETS.index("snare")] = [0.9, 0.9, 0.47, 0.47]  # song's cut 0.45
    lanes = np.full((len(LANES), frames), 1e-4, np.float32)  # the templates hear nothing ...
    lanes[LANES.index("snare"), 98:104] = 1.0  # ... but the snare at 100 (and, with no need, at 20)
    lanes[LANES.index("snare"), 18:24] = 1.0
    found = [round(hit.time_seconds * FRAME_RATE_HZ) for hit in detected_hits(probabilities, lanes, model)]
    assert found == [20, 60, 100]  # 60 is over the fixed cut: it needs no templates; 140 is doubtful and unheard


def test_a_ride_hit_on_a_hi_hat_hit_is_dropped_and_the_others_kept() -> None:
    reach = PEAK_WINDOW_FRAMES / FRAME_RATE_HZ  # one hit heard by two lanes lies within this
    hits = [Hit(1.0, "hihat_closed", 0.5), Hit(1.0 + 0.75 * reach, "ride", 0.5), Hit(1.0 + 1.5 * reach, "ride", 0.5),
            Hit(2.0, "ride", 0.5), Hit(2.0, "snare", 0.5), Hit(3.0, "hihat_open", 0.5), Hit(3.0 - 0.5 * reach, "ride", 0.5),
            Hit(3.0, "crash", 0.5)]
    kept = rides_apart_from_hats(hits)
    assert kept == [hits[0], hits[2], hits[3], hits[4], hits[5], hits[7]]
    only_rides = [Hit(1.0, "ride", 0.5), Hit(1.5, "ride", 0.5)]
    assert rides_apart_from_hats(only_rides) == only_rides


def test_a_detected_hits_velocity_is_its_lanes_activation_at_the_peak_after_the_attack() -> None:
    model = replace(load_model(), detected=("snare",), detector_cuts=np.full(len(DETECTOR_TARGETS), 0.5, np.float32))
    frames = 200
    probabilities = np.zeros((frames, len(DETECTOR_TARGETS)), np.float32)
    probabilities[[30, 100], DETECTOR_TARGETS.index("snare")] = 0.9  # the detector marks the attacks
    lanes = np.full((len(LANES), frames), 1e-4, np.float32)
    snare = LANES.index("snare")
    lanes[snare, 31:33] = 1.0  # the activation peaks a frame or two after each attack
    lanes[snare, 101:103] = 0.25
    hits = detected_hits(probabilities, lanes, model)
    assert [hit.velocity for hit in hits] == [1.0, 0.5]  # sqrt of 0.25 against the loudest


def test_a_gated_lane_keeps_only_the_detected_hits_its_activation_hears() -> None:
    plain = replace(load_model(), detected=("tom_low",), detector_cuts=np.full(len(DETECTOR_TARGETS), 0.5, np.float32),
                    detector_gates=None)
    tom = LANES.index("tom_low")
    frames = 200
    probabilities = np.zeros((frames, len(DETECTOR_TARGETS)), np.float32)
    probabilities[[30, 100], DETECTOR_TARGETS.index("tom_low")] = 0.9
    lanes = np.full((len(LANES), frames), 1e-4, np.float32)
    threshold = float(plain.thresholds[tom])
    lanes[tom, 31] = 2.0 * threshold  # heard by the templates
    lanes[tom, 101] = 0.5 * threshold  # a bass note the detector took for a tom
    assert len(detected_hits(probabilities, lanes, plain)) == 2
    gates = np.zeros(len(LANES), np.float32)
    gates[tom] = 1.0
    gated = detected_hits(probabilities, lanes, replace(plain, detector_gates=gates))
    assert [round(hit.time_seconds * FRAME_RATE_HZ) for hit in gated] == [30]


def test_lanes_the_detector_finds_get_no_hits_from_their_activation() -> None:
    from soundcanvas.maps.drums import hits_from_activations

    lanes = np.zeros((len(LANES), 300), np.float32)
    lanes[LANES.index("snare"), 50::50] = 1.0  # strong, clear snare peaks in the NMF activation
    plain = replace(load_model(), detected=())
    assert any(hit.lane == "snare" for hit in hits_from_activations(lanes, 1.0, plain))
    detecting = replace(plain, detected=("snare",))
    assert not any(hit.lane == "snare" for hit in hits_from_activations(lanes, 1.0, detecting))


def test_the_hi_hats_are_detected_both_or_neither() -> None:
    with pytest.raises(ValueError, match="both hi-hat lanes"):
        replace(load_model(), detected=("hihat_open",))


def test_the_shipped_detector_fits_the_code() -> None:
    model = load_model()
    assert set(model.detected) == {"snare", "hihat_closed", "hihat_open", "tom_high", "tom_low", "crash"}
    assert model.classified is not None and not model.classified[[LANES.index(lane) for lane in model.detected]].any()
    assert model.detector_gates is not None and model.detector_gates.shape == (len(LANES),)
    assert model.detector_gates[LANES.index("tom_low")] == 1.0  # bass notes are no low toms (test_drums)
    assert model.detector_cuts is not None and model.detector_cuts.shape == (len(DETECTOR_TARGETS),)
    bands = band_frequencies_hz().size
    assert len(model.detector_members) >= 1
    if model.detector_votes is not None:  # every output has a member answering for it
        assert model.detector_votes.shape == (len(model.detector_members), len(DETECTOR_TARGETS))
        assert np.all(model.detector_votes.sum(axis=0) >= 1)
    for layers in model.detector_members:
        assert layers[0][0].shape[0] == bands * len(DETECTOR_OFFSETS)
        assert layers[-1][0].shape[1] == len(DETECTOR_TARGETS)
    probabilities = detector_probabilities(band_spectrogram(clicks(0.5)), model)
    assert np.all((probabilities >= 0) & (probabilities <= 1))


def test_probabilities_run_in_chunks_are_the_same_as_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    import soundcanvas.maps.drums as drums

    model = load_model()
    spec = band_spectrogram(clicks(0.5))
    whole = detector_probabilities(spec, model)
    monkeypatch.setattr(drums, "DETECTOR_CHUNK_FRAMES", 37)  # not a divisor of the frames: a short last chunk
    assert np.allclose(detector_probabilities(spec, model), whole, atol=1e-5)
    assert np.array_equal(detector_inputs(spec, 37, 74), detector_inputs(spec)[37:74])
