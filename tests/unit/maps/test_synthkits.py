"""bench/maps/synthkits.py: the drum kits we synthesize for the onset detector to learn from are
drawn from their seed alone, play every GM drum, and sound like what they stand for (hats high and short, an open
hat ringing longer than a closed one, a kick low)."""

from __future__ import annotations

import numpy as np

from bench.maps import synthkits
from bench.maps.synthkits import SynthKit
from soundcanvas.maps.drums import GM_NOTE_TO_LANE, SAMPLE_RATE_HZ


def share_above(x: np.ndarray, hz: float) -> float:
    power = np.abs(np.fft.rfft(x)) ** 2
    freqs_hz = np.fft.rfftfreq(x.size, 1.0 / SAMPLE_RATE_HZ)
    return float(power[freqs_hz >= hz].sum() / power.sum())


def ring_seconds(x: np.ndarray) -> float:
    """How long the sound stays within 40 dB of its peak."""
    loud = np.flatnonzero(np.abs(x) > 0.01 * np.max(np.abs(x)))
    return float(loud[-1] / SAMPLE_RATE_HZ)


def test_a_kit_is_its_seed_and_plays_every_drum() -> None:
    first = SynthKit(1000).layers()
    synthkits._layers.cache_clear()  # drawn again, not read from the cache
    again, other = SynthKit(1000).layers(), SynthKit(1001).layers()
    assert again is not first
    assert set(first) == set(GM_NOTE_TO_LANE)
    assert all(np.array_equal(first[n][0].audio, again[n][0].audio) for n in first)
    assert not np.array_equal(first[42][0].audio, other[42][0].audio)


def test_the_drums_sound_like_what_they_stand_for() -> None:
    for seed in range(1000, 1012):
        layers = SynthKit(seed).layers()
        closed, opened, kick = layers[42][0].audio, layers[46][0].audio, layers[36][0].audio
        assert share_above(closed, 3000.0) > 0.8 and share_above(opened, 3000.0) > 0.8, seed
        assert ring_seconds(opened) > 2 * ring_seconds(closed), seed
        assert share_above(kick, 300.0) < 0.2, seed
