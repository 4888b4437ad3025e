"""The genre catalogue: one table that the API, the mapping and the composer all read.

Pure Python, no heavy imports: the API functions load it to validate requests.
General MIDI program numbers are 0-based (program 0 = Acoustic Grand Piano).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Genre:
    name: str
    tempo_range: tuple[int, int]  # BPM, inclusive
    scales: tuple[str, ...]  # scales this genre favours, most typical first
    bass_programs: tuple[int, ...]
    chord_programs: tuple[int, ...]  # chords or pad
    lead_programs: tuple[int, ...]
    drum_style: str  # a key into the composer's drum patterns
    swing: float = 0.0  # 0 = straight, 0.33 = heavy swing on off-beat 8ths


GENRES: dict[str, Genre] = {
    g.name: g
    for g in (
        Genre("house", (118, 128), ("minor", "dorian", "major"), (38, 39), (89, 4), (80, 81), "four_on_floor"),
        Genre("techno", (125, 140), ("minor", "phrygian", "dorian"), (38, 39), (90, 95), (81, 84), "techno"),
        Genre("hiphop", (80, 98), ("minor", "dorian", "minor_pentatonic"), (33, 38), (4, 0), (11, 80), "boom_bap", 0.25),
        Genre("lofi", (70, 90), ("dorian", "major", "minor"), (32, 33), (4, 0), (11, 73), "lofi", 0.3),
        Genre("ambient", (60, 80), ("lydian", "major", "minor"), (32, 89), (88, 91), (92, 73), "ambient"),
        Genre("rock", (100, 150), ("minor_pentatonic", "major", "mixolydian"), (34, 33), (29, 30), (30, 29), "rock"),
        Genre("jazz", (90, 160), ("dorian", "mixolydian", "major"), (32, 32), (0, 4), (65, 56), "swing", 0.33),
        Genre("classical", (70, 120), ("major", "minor", "harmonic_minor"), (42, 43), (48, 0), (40, 73), "none"),
        Genre("pop", (96, 124), ("major", "minor", "major_pentatonic"), (33, 38), (0, 4), (80, 0), "pop"),
        Genre("cinematic", (60, 96), ("minor", "harmonic_minor", "lydian"), (43, 42), (48, 49), (60, 56), "cinematic"),
    )
}

GENRE_NAMES: tuple[str, ...] = tuple(GENRES)

# Scales as semitone offsets from the tonic.
SCALES: dict[str, tuple[int, ...]] = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "phrygian": (0, 1, 3, 5, 7, 8, 10),
    "lydian": (0, 2, 4, 6, 7, 9, 11),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "harmonic_minor": (0, 2, 3, 5, 7, 8, 11),
    "major_pentatonic": (0, 2, 4, 7, 9),
    "minor_pentatonic": (0, 3, 5, 7, 10),
}

KEYS: tuple[str, ...] = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")

# General MIDI program names for the programs the catalogue uses (shown to users as "instruments").
GM_PROGRAM_NAMES: dict[int, str] = {
    0: "Acoustic Grand Piano",
    4: "Electric Piano 1",
    11: "Vibraphone",
    29: "Overdriven Guitar",
    30: "Distortion Guitar",
    32: "Acoustic Bass",
    33: "Fingered Bass",
    34: "Picked Bass",
    38: "Synth Bass 1",
    39: "Synth Bass 2",
    40: "Violin",
    42: "Cello",
    43: "Contrabass",
    48: "String Ensemble 1",
    49: "String Ensemble 2",
    56: "Trumpet",
    60: "French Horn",
    65: "Alto Sax",
    73: "Flute",
    80: "Square Lead",
    81: "Saw Lead",
    84: "Charang Lead",
    88: "New Age Pad",
    89: "Warm Pad",
    90: "Polysynth Pad",
    91: "Choir Pad",
    92: "Bowed Pad",
    95: "Sweep Pad",
}

MIN_DURATION_SECONDS = 15
MAX_DURATION_SECONDS = 300
DEFAULT_DURATION_SECONDS = 60
MODES: tuple[str, ...] = ("heuristic", "model")
