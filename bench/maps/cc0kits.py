"""Drum kits that take part of their drums from recorded CC0 samples, the rest from a kit we synthesize: recorded
hi-hats, cymbals, snares, kicks and toms for the onset detector to learn from (tools/build_drum_templates.py).

    kit = CC0Kit(2000)            # deterministic from its seed
    kit.layers()                  # GM note -> (samplekits.Layer,): what samplekits.play plays

The samples are Sonic Pi's (Debian's `sonic-pi-samples`, installed by `make bench-deps`): recordings from
freesound.org that their authors released under CC0, each named with its author and source in the package's
copyright file (/usr/share/doc/sonic-pi-samples/copyright). Among them is one acoustic kit (menegass, 2010:
closed, pedal and open hi-hat, a cymbal, a splash, snare, kick and three toms, soft and hard), with more kicks
and snares. CC0 lets a model learn from them; no audio of them is shipped.

Known flaw, kept so the tool rebuilds the shipped model: the tilt is applied by FFT to the unpadded sample, so its
spread wraps around onto the sample's end (the last 20 ms of a tilted snare or tom at about -30 dB instead of -60)
and its 20 Hz floor lifts DC by up to 17 dB. The next retrain should pad, fade and leave DC out.

A kit starts from synthkits.SynthKit(seed) and, drum by drum (the hi-hats as one), takes a recorded one instead with
probability SHARE: one of POOL's choices, resampled by a few semitones (pitch and length together) and tilted by
-3..+3 dB an octave, so one recorded kit is heard in many colours. Which drums, which samples and how they are varied
all come from the seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from functools import cache, lru_cache
from pathlib import Path

import numpy as np
from scipy.signal import resample_poly

from bench.maps import samplekits, synthkits
from bench.maps.samplekits import Layer
from soundcanvas.maps.drums import SAMPLE_RATE_HZ

SAMPLES_DIR = Path("/usr/share/sonic-pi/samples")
PACKAGE = "sonic-pi-samples"
SHARE = 0.6  # the chance each drum (the hi-hats as one) is recorded rather than synthesized
# drum -> its choices; a choice of two samples is a soft and a hard layer (velocities below and above SOFT_BELOW)
POOL: dict[str, tuple[tuple[str, ...], ...]] = {
    "kick": (("drum_bass_soft", "drum_bass_hard"), ("drum_heavy_kick",), ("bd_808",), ("bd_ada",), ("bd_boom",),
             ("bd_fat",), ("bd_gas",), ("bd_haus",), ("bd_klub",), ("bd_pure",), ("bd_tek",), ("bd_zome",),
             ("bd_zum",), ("elec_soft_kick",), ("elec_hollow_kick",)),
    "snare": (("drum_snare_soft", "drum_snare_hard"), ("sn_dolf",), ("sn_dub",), ("sn_zome",), ("elec_snare",),
              ("elec_hi_snare",), ("elec_mid_snare",), ("elec_lo_snare",), ("elec_filt_snare",)),
    "hats": (("drum_cymbal_closed", "drum_cymbal_pedal", "drum_cymbal_open"),),  # closed, pedal, open
    "tom_high": (("drum_tom_hi_soft", "drum_tom_hi_hard"), ("drum_tom_mid_soft", "drum_tom_mid_hard")),
    "tom_low": (("drum_tom_lo_soft", "drum_tom_lo_hard"), ("drum_tom_mid_soft", "drum_tom_mid_hard")),
    "crash": (("drum_splash_soft", "drum_splash_hard"), ("elec_cymbal",)),
    "ride": (("drum_cymbal_soft", "drum_cymbal_hard"),),
}
NOTES = {"kick": (35, 36), "snare": (37, 38, 39, 40), "tom_high": (47, 48, 50), "tom_low": (41, 43, 45),
         "crash": (49, 52, 55, 57), "ride": (51, 53, 59)}  # the hats: 42 closed, 44 pedal, 46 open
SOFT_BELOW = 0.6
SEMITONES = {"kick": 2.0, "tom_high": 2.0, "tom_low": 2.0}  # +- this much; the others +- DEFAULT_SEMITONES
DEFAULT_SEMITONES = 3.0
TILT_DB_PER_OCTAVE = 3.0


@dataclass(frozen=True)
class CC0Kit(synthkits.SynthKit):
    """The synthesized kit of its seed with some of its drums recorded ones, drawn from the same seed."""

    @property
    def name(self) -> str:
        return f"cc0-{self.seed}"

    def layers(self) -> dict[int, tuple[Layer, ...]]:
        return _layers(self.seed)


def missing() -> str | None:
    """'folder (apt-get install -y sonic-pi-samples)' when any sample of POOL is not installed."""
    names = {name for choices in POOL.values() for choice in choices for name in choice}
    if all((SAMPLES_DIR / f"{name}.flac").is_file() for name in names):
        return None
    return f"{SAMPLES_DIR} (apt-get install -y {PACKAGE})"


@cache
def _sample(name: str) -> np.ndarray:
    x = samplekits._read(SAMPLES_DIR / f"{name}.flac")
    return x / (float(np.max(np.abs(x))) + 1e-9)


def varied(x: np.ndarray, semitones: float, tilt_db_per_octave: float) -> np.ndarray:
    """x resampled so it plays `semitones` higher (and shorter), tilted around 1 kHz, peak-normalised."""
    ratio = Fraction(2 ** (-semitones / 12)).limit_denominator(40)
    y = resample_poly(x, ratio.numerator, ratio.denominator) if ratio != 1 else np.asarray(x, dtype=np.float64)
    freqs_hz = np.maximum(np.fft.rfftfreq(y.size, 1.0 / SAMPLE_RATE_HZ), 20.0)
    y = np.fft.irfft(np.fft.rfft(y) * 10 ** (tilt_db_per_octave * np.log2(freqs_hz / 1000.0) / 20), n=y.size)
    return (y / (float(np.max(np.abs(y))) + 1e-9)).astype(np.float32)


@lru_cache(maxsize=64)
def _layers(seed: int) -> dict[int, tuple[Layer, ...]]:
    out = dict(synthkits.SynthKit(seed).layers())
    rng = np.random.default_rng([77, seed])
    for drum, choices in POOL.items():
        if rng.uniform() > SHARE:
            continue
        names = choices[int(rng.integers(len(choices)))]
        reach = SEMITONES.get(drum, DEFAULT_SEMITONES)
        semitones, tilt = float(rng.uniform(-reach, reach)), float(rng.uniform(-TILT_DB_PER_OCTAVE, TILT_DB_PER_OCTAVE))
        sounds = [varied(_sample(name), semitones, tilt) for name in names]
        gain = float(rng.uniform(0.5, 1.0))
        if drum == "hats":
            closed, pedal, opened = sounds
            out[42], out[44], out[46] = (Layer(0.0, 1.0, gain, closed),), (Layer(0.0, 1.0, 0.7 * gain, pedal),), \
                (Layer(0.0, 1.0, gain, opened),)
            continue
        layers = ((Layer(0.0, 1.0, gain, sounds[0]),) if len(sounds) == 1 else
                  (Layer(0.0, SOFT_BELOW, 0.7 * gain, sounds[0]), Layer(SOFT_BELOW, 1.0, gain, sounds[1])))
        for note in NOTES[drum]:
            out[note] = layers
    return out
