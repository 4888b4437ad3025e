"""Drum kits we synthesize, each drawn from a seed: more drum timbres for the onset detector to learn from than the
GM SoundFonts hold (tools/build_drum_templates.py). Ours, so free to learn from.

    kit = SynthKit(1000)          # deterministic from its seed
    kit.layers()                  # GM note -> (samplekits.Layer,): what samplekits.play plays

Each kit draws its drums' parameters from its seed:
- kick: a sine swept down (100-220 Hz to 38-65 Hz) with a click;
- snare: two tones (160-260 Hz, 300-420 Hz) under band-passed noise;
- hi-hats: six square waves at the 808's inharmonic ratios (scaled 0.7-1.6 times) mixed with noise, high-passed at
  4-9 kHz: closed (20-70 ms decay), pedal (15-40 ms, softer) and open (0.25-0.7 s);
- toms: swept sines (high 140-320 Hz, low 70-180 Hz);
- crash and ride: noise with 6 or 12 random partials between 400 Hz and 9 kHz, decaying over 0.6-2 s; the ride
  with a stick's metallic ping.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from bench.maps.samplekits import Layer
from soundcanvas.maps.drums import SAMPLE_RATE_HZ

METAL_HZ = (205.3, 304.4, 369.6, 522.7, 540.0, 800.0)  # the 808 hi-hat's six square-wave oscillators
GM_SOUNDS = {35: "kick", 36: "kick", 37: "snare", 38: "snare", 39: "snare", 40: "snare", 42: "closed", 44: "pedal",
             46: "open", 47: "tom_high", 48: "tom_high", 50: "tom_high", 41: "tom_low", 43: "tom_low", 45: "tom_low",
             49: "crash", 52: "crash", 55: "crash", 57: "crash", 51: "ride", 53: "ride", 59: "ride"}


@dataclass(frozen=True)
class SynthKit:
    """A synthesized drum kit, drawn from its seed."""

    seed: int

    @property
    def name(self) -> str:
        return f"synth-{self.seed}"

    @property
    def stem(self) -> str:
        return self.name

    def layers(self) -> dict[int, tuple[Layer, ...]]:
        return _layers(self.seed)


def _times(seconds: float) -> np.ndarray:
    return np.arange(round(seconds * SAMPLE_RATE_HZ)) / SAMPLE_RATE_HZ


def _band(x: np.ndarray, low_hz: float, high_hz: float) -> np.ndarray:
    """x through a smooth band-pass (fourth-order roll-offs), by FFT."""
    spectrum = np.fft.rfft(x)
    freqs_hz = np.maximum(np.fft.rfftfreq(x.size, 1.0 / SAMPLE_RATE_HZ), 1.0)
    gain = 1.0 / (1.0 + (low_hz / freqs_hz) ** 4) / (1.0 + (freqs_hz / high_hz) ** 4)
    return np.fft.irfft(spectrum * gain, n=x.size)


def _hat(rng: np.random.Generator, decay_seconds: float, seconds: float, metal: float, scale: float,
         low_hz: float) -> np.ndarray:
    t = _times(seconds)
    squares = sum(np.sign(np.sin(2 * np.pi * f * scale * t + rng.uniform(0, 2 * np.pi))) for f in METAL_HZ) / 6
    source = metal * squares + (1 - metal) * rng.standard_normal(t.size)
    return _band(source, low_hz, 11000.0) * np.exp(-t / decay_seconds)


def _cymbal(rng: np.random.Generator, decay_seconds: float, seconds: float, low_hz: float, partials: int,
            attack_seconds: float) -> np.ndarray:
    t = _times(seconds)
    source = 0.6 * rng.standard_normal(t.size)
    for _ in range(partials):
        f = np.exp(rng.uniform(np.log(400.0), np.log(9000.0)))
        source += rng.uniform(0.1, 0.5) * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi))
    envelope = np.exp(-t / decay_seconds) * (1 - np.exp(-t / attack_seconds))
    return _band(source, low_hz, 11000.0) * envelope


def _swept(rng: np.random.Generator, start_hz: float, end_hz: float, decay_seconds: float, seconds: float,
           click: float, noise: float) -> np.ndarray:
    t = _times(seconds)
    freq_hz = end_hz + (start_hz - end_hz) * np.exp(-t * rng.uniform(20.0, 60.0))
    x = np.sin(2 * np.pi * np.cumsum(freq_hz) / SAMPLE_RATE_HZ) * np.exp(-t / decay_seconds)
    attack = round(0.003 * SAMPLE_RATE_HZ)
    x[:attack] += click * rng.standard_normal(attack)
    return x + noise * _band(rng.standard_normal(t.size), 1000.0, 9000.0) * np.exp(-t / (0.6 * decay_seconds))


def _snare(rng: np.random.Generator) -> np.ndarray:
    t = _times(0.5)
    low_hz, high_hz = rng.uniform(160, 260), rng.uniform(300, 420)
    tone = (np.sin(2 * np.pi * low_hz * t) + 0.6 * np.sin(2 * np.pi * high_hz * t)) * np.exp(-t / rng.uniform(0.04, 0.1))
    rattle = _band(rng.standard_normal(t.size), rng.uniform(800, 2500), rng.uniform(7000, 11000))
    rattle *= np.exp(-t / rng.uniform(0.08, 0.22))
    share = rng.uniform(0.3, 0.8)
    return (1 - share) * tone + share * 1.5 * rattle


@lru_cache(maxsize=64)
def _layers(seed: int) -> dict[int, tuple[Layer, ...]]:
    rng = np.random.default_rng(seed)
    metal, scale, low_hz = rng.uniform(0.2, 0.9), rng.uniform(0.7, 1.6), rng.uniform(4000, 9000)
    sounds = {
        "kick": _swept(rng, rng.uniform(100, 220), rng.uniform(38, 65), rng.uniform(0.12, 0.4), 0.8,
                       rng.uniform(0.1, 0.6), rng.uniform(0, 0.1)),
        "snare": _snare(rng),
        "closed": _hat(rng, rng.uniform(0.02, 0.07), 0.3, metal, scale, low_hz),
        "pedal": 0.6 * _hat(rng, rng.uniform(0.015, 0.04), 0.2, metal, scale, low_hz),
        "open": _hat(rng, rng.uniform(0.25, 0.7), 1.5, metal, scale, low_hz),
        "tom_high": _swept(rng, rng.uniform(200, 320), rng.uniform(140, 220), rng.uniform(0.15, 0.4), 0.8, 0.2, 0.05),
        "tom_low": _swept(rng, rng.uniform(110, 180), rng.uniform(70, 120), rng.uniform(0.2, 0.5), 1.0, 0.2, 0.05),
        "crash": _cymbal(rng, rng.uniform(0.8, 2.0), 3.0, rng.uniform(1500, 4000), 6, 0.004),
        "ride": _cymbal(rng, rng.uniform(0.6, 1.6), 2.5, rng.uniform(600, 2500), 12, 0.001),
    }
    sounds["ride"] = sounds["ride"] + 0.5 * _hat(rng, 0.03, 2.5, 0.9, rng.uniform(1.5, 3.0), 3000.0)  # the stick
    out: dict[int, tuple[Layer, ...]] = {}
    for note, sound in GM_SOUNDS.items():
        x = sounds[sound].astype(np.float32)
        out[note] = (Layer(0.0, 1.0, float(rng.uniform(0.5, 1.0)), x / (float(np.max(np.abs(x))) + 1e-9)),)
    return out
