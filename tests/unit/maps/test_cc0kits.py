"""bench/maps/cc0kits.py: kits of recorded CC0 drums and synthesized ones are drawn from their seed alone, play
every GM drum, take each recorded drum from its own samples (varied by a few semitones, the hi-hats as one set),
and leave the other drums synthesized. The samples here are a small pool of tones written by the test: within a drum,
each file an octave from the next, farther than a variation moves a pitch."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile

from bench.maps import cc0kits, synthkits
from bench.maps.synthkits import SynthKit
from soundcanvas.maps.drums import GM_NOTE_TO_LANE, SAMPLE_RATE_HZ

SEEDS = range(2000, 2024)
POOL = {"kick": (("kick_soft", "kick_hard"), ("kick_one",)), "snare": (("snare_one",), ("snare_two",)),
        "hats": (("hat_closed", "hat_pedal", "hat_open"),), "tom_high": (("tom_high",),),
        "tom_low": (("tom_low_soft", "tom_low_hard"),), "crash": (("crash",),), "ride": (("ride_soft", "ride_hard"),)}


@pytest.fixture
def pitches_hz(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, float]]:
    """POOL's samples written as decaying tones, a drum's files an octave apart; sample name -> pitch."""
    out = {}
    for choices in POOL.values():
        for index, name in enumerate(name for choice in choices for name in choice):
            hz = 250.0 * 2**index
            t = np.arange(round(0.3 * SAMPLE_RATE_HZ)) / SAMPLE_RATE_HZ
            soundfile.write(str(tmp_path / f"{name}.flac"), 0.5 * np.sin(2 * np.pi * hz * t) * np.exp(-t / 0.1),
                            SAMPLE_RATE_HZ)
            out[name] = hz
    monkeypatch.setattr(cc0kits, "SAMPLES_DIR", tmp_path)
    monkeypatch.setattr(cc0kits, "POOL", POOL)
    cc0kits._sample.cache_clear()
    cc0kits._layers.cache_clear()
    yield out
    cc0kits._sample.cache_clear()
    cc0kits._layers.cache_clear()


def peak_hz(x: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    return float(np.fft.rfftfreq(x.size, 1.0 / SAMPLE_RATE_HZ)[np.argmax(spectrum)])


def source(audio: np.ndarray, drum: str, pitches_hz: dict[str, float]) -> str:
    """Of the drum's samples, the one whose pitch the audio's is nearest to; fails beyond 3.5 semitones."""
    names = [name for choice in POOL[drum] for name in choice]
    name = min(names, key=lambda n: abs(np.log2(peak_hz(audio) / pitches_hz[n])))
    assert abs(12 * np.log2(peak_hz(audio) / pitches_hz[name])) <= 3.5, (peak_hz(audio), name)
    return name


def test_a_kit_is_its_seed_and_plays_every_drum(pitches_hz: dict[str, float]) -> None:
    first = cc0kits.CC0Kit(2000).layers()
    for cached in (cc0kits._layers, cc0kits._sample, synthkits._layers):  # drawn again, not read from the caches
        cached.cache_clear()
    again, other = cc0kits.CC0Kit(2000).layers(), cc0kits.CC0Kit(2001).layers()
    assert again is not first
    assert set(first) == set(GM_NOTE_TO_LANE)
    assert all(len(first[n]) == len(again[n]) and all(np.array_equal(a.audio, b.audio) for a, b in
                                                       zip(first[n], again[n], strict=True)) for n in first)
    assert any(not np.array_equal(first[n][-1].audio, other[n][-1].audio) for n in first)


def test_recorded_drums_come_from_their_own_samples_and_the_rest_stay_synthesized(pitches_hz: dict[str, float]) -> None:
    recorded = dict.fromkeys(POOL, 0)
    for seed in SEEDS:
        layers, synth = cc0kits.CC0Kit(seed).layers(), SynthKit(seed).layers()
        hats = [layers[note][0].audio for note in (42, 44, 46)]
        if np.array_equal(hats[0], synth[42][0].audio):
            assert all(np.array_equal(layers[n][0].audio, synth[n][0].audio) for n in (44, 46)), seed
        else:  # the three hats from the one recorded set, each from its own file
            assert [source(x, "hats", pitches_hz) for x in hats] == list(POOL["hats"][0]), seed
            recorded["hats"] += 1
        for drum, notes in cc0kits.NOTES.items():
            if np.array_equal(layers[notes[0]][-1].audio, synth[notes[0]][-1].audio):
                continue
            names = [source(layer.audio, drum, pitches_hz) for layer in layers[notes[0]]]
            assert tuple(names) in POOL[drum], (seed, drum, names)
            if len(names) == 2:  # soft below SOFT_BELOW, hard above, the hard one louder
                soft, hard = layers[notes[0]]
                assert soft.high == hard.low == cc0kits.SOFT_BELOW and soft.gain < hard.gain
            assert all(layers[note] is layers[notes[0]] for note in notes), (seed, drum)
            recorded[drum] += 1
    # each drum recorded in about SHARE of the kits (0.6 of 24: a binomial's 99 % range is 8..20)
    assert all(8 <= count <= 20 for count in recorded.values()), recorded


def test_a_variation_moves_pitch_and_colour() -> None:
    t = np.arange(SAMPLE_RATE_HZ // 2) / SAMPLE_RATE_HZ
    tone = (np.sin(2 * np.pi * 500.0 * t) + 0.3 * np.sin(2 * np.pi * 4000.0 * t)).astype(np.float32)
    up = cc0kits.varied(tone, 3.0, 0.0)
    assert abs(12 * np.log2(peak_hz(up) / 500.0) - 3.0) < 0.3
    assert up.size == pytest.approx(tone.size * 2 ** (-3 / 12), rel=0.03)
    assert float(np.max(np.abs(up))) == pytest.approx(1.0, abs=1e-3)

    def treble(x: np.ndarray) -> float:
        power = np.abs(np.fft.rfft(x)) ** 2
        return float(power[np.fft.rfftfreq(x.size, 1.0 / SAMPLE_RATE_HZ) > 2000.0].sum() / power.sum())

    assert treble(cc0kits.varied(tone, 0.0, 3.0)) > treble(tone) > treble(cc0kits.varied(tone, 0.0, -3.0))


def test_missing_samples_are_named_with_their_package(pitches_hz: dict[str, float], tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    assert cc0kits.missing() is None  # every file of the pool is there
    (tmp_path / "hat_open.flac").unlink()
    assert cc0kits.missing() == f"{tmp_path} (apt-get install -y sonic-pi-samples)"
    monkeypatch.setattr(cc0kits, "SAMPLES_DIR", tmp_path / "absent")
    assert cc0kits.missing() == f"{tmp_path / 'absent'} (apt-get install -y sonic-pi-samples)"
