"""The mix: each part's volume (CC7), pan (CC10) and effect sends, set by its role in the genre.

Levels come from two tables:
- ROLE_LEVELS (the design): how loud each part sits against the lead, in dB, per genre;
- STEM_LEVELS (measured): how loud each part comes out of FluidSynth with the FluidR3 SoundFont at
  CC7 = 127, per genre and program. `tools/calibrate_mix.py` composes pieces for every genre and every
  program a part can get, renders each part alone with Render's FluidSynth settings, measures its
  K-weighted gated level (ITU-R BS.1770 weighting and gating, 400 ms blocks) and refers it to CC7 = 127
  with the General MIDI volume curve. Re-run it and paste its STEM_LEVELS here when a part writer, a
  genre's programs or the SoundFont changes.
A part's CC7 is the gain that moves its measured level to its role's level, scaled so the loudest
part of the piece sits at 127 (Render's leveler sets the overall loudness afterwards).

Mono safety: FluidSynth's chorus (2.x) returns its left and right outputs in opposite phase, and
FluidR3 sends most synth leads, pads and ensembles to it at full level, so those presets cancel
summed to mono (Saw Lead: correlation -0.9, 12 dB lost). Every channel therefore sets its chorus
send to zero with the SoundFont NRPN for generator 15 (chorusEffectsSend); CC93 cannot, because the
presets' own send is a generator, not the controller. Bass and drums stay centred; see pan().
"""

from __future__ import annotations

import math
from collections.abc import Mapping

PARTS = ("lead", "chords", "bass", "drums")
FULL_SCALE_CC = 127
DRUM_PROGRAM = 0  # the drum channel's standard kit: the key STEM_LEVELS uses for drums
CENTRE = 64

VOLUME, PAN, REVERB = 7, 10, 91
NRPN_MSB, NRPN_LSB, DATA_MSB, DATA_LSB = 99, 98, 6, 38
SF2_NRPN = 120  # NRPN MSB that selects a SoundFont generator (SF2.01 section 9.6)
CHORUS_SEND_GENERATOR = 15
CHORUS_SEND_OFF = 8192 - 1000  # a 14-bit offset of -1000 (per mille): no chorus whatever the preset says

PAN_BY_PART: dict[str, int] = {"lead": 72, "chords": 52, "bass": CENTRE, "drums": CENTRE}
# FluidR3's stereo sampled presets whose own image is wide or inverted even without the chorus (L/R
# correlation of a melody alone below +0.3: piano -0.4, cello -0.4, strings -0.3, French horn 0.0,
# violin, Square Lead and Polysynth +0.2). Panned further out, both halves of the stereo pair move to
# the same side and the image narrows: a classical mix gains about +0.08 of correlation.
WIDE_PROGRAMS = frozenset({0, 1, 3, 40, 42, 48, 49, 60, 80, 90})
WIDE_PAN_BY_PART: dict[str, int] = {"lead": 88, "chords": 40}
WET_GENRES = frozenset({"ambient", "cinematic", "classical"})

# Target level of each part against the lead (dB, K-weighted gated level of its stem). Kick and bass
# carry dance and hip-hop; the lead sits at least 2 dB over the chords; pads and strings sit under.
ROLE_LEVELS: dict[str, dict[str, float]] = {
    "house": {"lead": 0.0, "chords": -6.0, "bass": 0.0, "drums": 2.0},
    "techno": {"lead": 0.0, "chords": -6.0, "bass": 0.0, "drums": 3.0},
    "hiphop": {"lead": 0.0, "chords": -6.0, "bass": 0.0, "drums": 2.0},
    "lofi": {"lead": 0.0, "chords": -6.0, "bass": -2.0, "drums": -1.0},
    "ambient": {"lead": 0.0, "chords": -6.0, "bass": -5.0, "drums": -10.0},
    "rock": {"lead": 0.0, "chords": -6.0, "bass": -2.0, "drums": 1.0},
    "jazz": {"lead": 0.0, "chords": -6.0, "bass": -2.0, "drums": -3.0},
    "classical": {"lead": 0.0, "chords": -6.0, "bass": -4.0, "drums": -8.0},
    "pop": {"lead": 0.0, "chords": -6.0, "bass": -2.0, "drums": 0.0},
    "cinematic": {"lead": 0.0, "chords": -6.0, "bass": -4.0, "drums": -4.0},
}

# Measured by tools/calibrate_mix.py (FluidR3_GM.sf2, FluidSynth 2.3, chorus send off): the gated
# level in dB of each part's stem at CC7 = 127, keyed by (part, program), mean over the tool's pieces.
STEM_LEVELS: dict[str, dict[tuple[str, int], float]] = {
    "house": {
        ("bass", 38): -30.9,
        ("bass", 39): -26.9,
        ("chords", 4): -28.3,
        ("chords", 89): -31.4,
        ("drums", 0): -29.6,
        ("lead", 80): -23.5,
        ("lead", 81): -25.9,
    },
    "techno": {
        ("bass", 38): -31.0,
        ("bass", 39): -27.0,
        ("chords", 90): -29.7,
        ("chords", 95): -27.6,
        ("drums", 0): -28.5,
        ("lead", 81): -26.4,
        ("lead", 84): -26.5,
    },
    "hiphop": {
        ("bass", 33): -33.5,
        ("bass", 38): -33.5,
        ("chords", 0): -33.3,
        ("chords", 4): -28.5,
        ("drums", 0): -35.7,
        ("lead", 11): -37.7,
        ("lead", 80): -25.7,
    },
    "lofi": {
        ("bass", 32): -33.8,
        ("bass", 33): -32.3,
        ("chords", 0): -34.2,
        ("chords", 4): -29.1,
        ("drums", 0): -41.1,
        ("lead", 11): -37.7,
        ("lead", 73): -23.8,
    },
    "ambient": {
        ("bass", 32): -34.9,
        ("bass", 89): -34.2,
        ("chords", 88): -39.5,
        ("chords", 91): -31.6,
        ("drums", 0): -47.6,
        ("lead", 73): -23.0,
        ("lead", 92): -27.9,
    },
    "rock": {
        ("bass", 33): -29.8,
        ("bass", 34): -29.9,
        ("chords", 29): -22.7,
        ("chords", 30): -21.7,
        ("drums", 0): -30.0,
        ("lead", 29): -21.9,
        ("lead", 30): -19.5,
    },
    "jazz": {
        ("bass", 32): -30.1,
        ("chords", 0): -28.9,
        ("chords", 4): -23.9,
        ("drums", 0): -35.9,
        ("lead", 56): -24.9,
        ("lead", 65): -22.7,
    },
    "classical": {
        ("bass", 42): -28.6,
        ("bass", 43): -31.7,
        ("chords", 0): -34.5,
        ("chords", 48): -29.6,
        ("lead", 40): -25.9,
        ("lead", 73): -23.0,
    },
    "pop": {
        ("bass", 33): -30.0,
        ("bass", 38): -29.2,
        ("chords", 0): -29.8,
        ("chords", 4): -26.3,
        ("drums", 0): -31.6,
        ("lead", 0): -31.6,
        ("lead", 80): -23.7,
    },
    "cinematic": {
        ("bass", 42): -27.7,
        ("bass", 43): -31.0,
        ("chords", 48): -30.4,
        ("chords", 49): -27.6,
        ("drums", 0): -36.4,
        ("lead", 56): -28.2,
        ("lead", 60): -26.1,
    },
}

# A part or program the table does not know keeps this volume relative to the loudest part (dB).
UNMEASURED_GAIN_DB = -4.0


def cc7_gain_db(value: int) -> float:
    """General MIDI's volume curve: CC7 value -> gain in dB (0 dB at 127). FluidSynth follows it."""
    return 40 * math.log10(max(1, value) / FULL_SCALE_CC)


def cc7_for_gain(gain_db: float) -> int:
    """The CC7 value whose gain is closest to `gain_db` (<= 0 dB), at least 1."""
    return max(1, min(FULL_SCALE_CC, round(FULL_SCALE_CC * 10 ** (gain_db / 40))))


def volumes(genre: str, programs: Mapping[str, int | None]) -> dict[str, int]:
    """CC7 per part: each measured part moved to its role's level, the loudest needed at 127."""
    roles = ROLE_LEVELS.get(genre, {})
    measured = STEM_LEVELS.get(genre, {})
    gains: dict[str, float] = {}
    for part, program in programs.items():
        level = measured.get((part, DRUM_PROGRAM if program is None else program))
        if level is not None and part in roles:
            gains[part] = roles[part] - level
    top = max(gains.values(), default=0.0)
    return {part: cc7_for_gain(gains[part] - top if part in gains else UNMEASURED_GAIN_DB) for part in programs}


def pan(part: str, program: int | None) -> int:
    """CC10 for a part: bass and drums centred, lead right and chords left, stereo-sampled presets further out."""
    if program in WIDE_PROGRAMS and part in WIDE_PAN_BY_PART:
        return WIDE_PAN_BY_PART[part]
    return PAN_BY_PART.get(part, CENTRE)


def controllers(genre: str, part: str, program: int | None, volume: int) -> list[tuple[int, int]]:
    """(controller, value) pairs a part's channel starts with: volume, pan, reverb, chorus send off."""
    reverb = 70 if genre in WET_GENRES else 40
    return [
        (VOLUME, volume),
        (PAN, pan(part, program)),
        (REVERB, reverb),
        (NRPN_MSB, SF2_NRPN),
        (NRPN_LSB, CHORUS_SEND_GENERATOR),
        (DATA_LSB, CHORUS_SEND_OFF & 0x7F),  # FluidSynth applies the value on the MSB, with the LSB it holds
        (DATA_MSB, CHORUS_SEND_OFF >> 7),
    ]
