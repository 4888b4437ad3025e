"""Listen's ground-truth corpus: short pieces written with mido, so notes, key, tempo, meter and
chords are exact, then rendered with the FluidSynth CLI (optionally with noise at a set SNR).

    pieces(count=48, seed=7)          # deterministic; even indices are the 'tune' split, odd 'report'
    render(piece, soundfont, out_wav, noise_snr_db=30.0)
    rendered("report", cache_dir)      # [(piece, wav path)], cached by content hash

Kinds: 'melody' (one solo instrument), 'piano' (bass, block chords and a melody on top), 'duet'
(a melody over a lower counter-voice of chord tones), 'guitar' (fingerpicked arpeggios on GM
nylon/steel guitar, every chord a movable E- or A-shape barre (frets 0-8) so that a standard-tuning
fingering with one note per string exists by construction; E2..Bb4) and 'band' (drums on MIDI
channel 10, bass, a chord instrument and a lead).

Conventions (what an estimator is scored against):
- Beats: 4/4 and 3/4 count quarter notes; 6/8 counts dotted quarters, two beats a bar, and
  `tempo_bpm` is in dotted quarters per minute (the MIDI file's set_tempo is per quarter, 1.5 x).
  Tempo is constant; beats and downbeats run from 0 to the end of the music (not the tail).
- Key: mir_eval form, named by the tonic, as a musician names it (and as most annotated data
  sets do): major and minor pieces carry their own key; a modal piece carries its tonic with the
  nearer of major and minor (D dorian -> "D minor", G mixolydian -> "G major"); `mode` names the
  mode, and `parent_key` gives the parent major scale (D dorian -> "C major") for the report's
  secondary row.
- Chords: one chord a bar from a loop of four (I-vi-IV-V, ii-V7-I, i-iv-V-i, i-VI-iv-V7,
  i-IV in dorian, I-bVII-IV in mixolydian, ...), ending on the tonic; mir_eval labels ("C",
  "A:min", "G:7"); repeated chords merged; they span 0 .. end of the music. In 'melody' pieces
  the harmony is implied by the melody only (chord tones on the beats).
- Notes: every pitched note (drums excluded) as written to the MIDI file, in seconds. No two
  notes of the same pitch overlap (a later one trims an earlier one; two starting within
  0.1 s keep the more prominent part), so the ground truth is what can be heard.
- The recording is `duration_seconds` long: the music plus TAIL_SECONDS of release.
"""

from __future__ import annotations

import hashlib
import io
import subprocess
import tempfile
import uuid
import zlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import mido
import numpy as np
import soundfile

from soundcanvas.listen.notes import Note

KINDS = ("melody", "piano", "duet", "guitar", "band")
METERS = ("4/4", "3/4", "6/8")
MODES = ("major", "minor", "dorian", "mixolydian")
SPLITS = ("tune", "report")
PITCH_NAMES = ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")

SAMPLE_RATE_HZ = 22050
TAIL_SECONDS = 1.0
MIN_MUSIC_SECONDS = 20.0
MAX_MUSIC_SECONDS = 34.0
RENDER_TIMEOUT_SECONDS = 180
RENDER_GAIN = 0.6
REPORT_SNR_DB = 30.0
SOUNDFONT_DIR = Path("/usr/share/sounds/sf2")
FLUIDR3 = SOUNDFONT_DIR / "FluidR3_GM.sf2"
TIMGM = SOUNDFONT_DIR / "TimGM6mb.sf2"
FADE_OUT_SECONDS = 0.02  # the cut at the end of the tail (FluidSynth renders reverb on for seconds)
RENDER_VERSION = "2"  # bump when render() changes, so cached files are rendered again

TICKS_PER_QUARTER = 480
TICKS_PER_EIGHTH = TICKS_PER_QUARTER // 2
DRUM_CHANNEL = 9  # "channel 10"
GUITAR_OPEN_STRINGS = (40, 45, 50, 55, 59, 64)  # standard tuning, low E (string 6) first
GUITAR_LOWEST_PITCH = 40  # E2
GUITAR_HIGHEST_PITCH = 83  # B5

# name -> (beats a bar, eighth notes a beat, beat-BPM range)
METER_SPECS: dict[str, tuple[int, int, tuple[int, int]]] = {
    "4/4": (4, 2, (60, 180)),
    "3/4": (3, 2, (72, 180)),
    "6/8": (2, 3, (60, 110)),  # dotted-quarter BPM
}

MODE_STEPS: dict[str, tuple[int, ...]] = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
}
# mode -> (semitones from the tonic to the labelled key's tonic, labelled mode, tonic-based mode)
MODE_LABELS: dict[str, tuple[int, str, str]] = {
    "major": (0, "major", "major"),
    "minor": (0, "minor", "minor"),
    "dorian": (10, "major", "minor"),  # D dorian: parent C major
    "mixolydian": (5, "major", "major"),  # G mixolydian: parent C major
}
QUALITY_INTERVALS: dict[str, tuple[int, ...]] = {"maj": (0, 4, 7), "min": (0, 3, 7), "7": (0, 4, 7, 10)}
QUALITY_SUFFIX = {"maj": "", "min": ":min", "7": ":7"}

ChordSpec = tuple[int, str]  # (semitones above the tonic, quality)
PROGRESSIONS: dict[str, tuple[tuple[ChordSpec, ...], ...]] = {
    "major": (
        ((0, "maj"), (9, "min"), (5, "maj"), (7, "maj")),  # I-vi-IV-V
        ((2, "min"), (7, "7"), (0, "maj"), (0, "maj")),  # ii-V7-I
        ((0, "maj"), (5, "maj"), (7, "7"), (0, "maj")),  # I-IV-V7-I
        ((0, "maj"), (7, "maj"), (9, "min"), (5, "maj")),  # I-V-vi-IV
    ),
    "minor": (
        ((0, "min"), (5, "min"), (7, "maj"), (0, "min")),  # i-iv-V-i
        ((0, "min"), (8, "maj"), (5, "min"), (7, "7")),  # i-VI-iv-V7
        ((0, "min"), (10, "maj"), (8, "maj"), (7, "maj")),  # i-VII-VI-V (Andalusian)
    ),
    "dorian": (
        ((0, "min"), (5, "maj"), (0, "min"), (5, "maj")),  # i-IV vamp
        ((0, "min"), (5, "maj"), (7, "min"), (0, "min")),  # i-IV-v-i
        ((0, "min"), (2, "min"), (5, "maj"), (0, "min")),  # i-ii-IV-i
    ),
    "mixolydian": (
        ((0, "maj"), (10, "maj"), (5, "maj"), (0, "maj")),  # I-bVII-IV-I
        ((0, "maj"), (10, "maj"), (0, "maj"), (10, "maj")),  # I-bVII vamp
        ((0, "maj"), (7, "min"), (10, "maj"), (0, "maj")),  # I-v-bVII-I
    ),
}

# Melody rhythms: eighth-note durations filling one bar.
MELODY_RHYTHMS: dict[str, tuple[tuple[int, ...], ...]] = {
    "4/4": ((2, 2, 2, 2), (2, 1, 1, 2, 2), (4, 2, 2), (3, 1, 2, 2), (2, 2, 4), (1, 1, 2, 2, 2), (2, 2, 1, 1, 2)),
    "3/4": ((2, 2, 2), (4, 2), (2, 1, 1, 2), (3, 1, 2), (2, 4)),
    "6/8": ((3, 3), (2, 1, 3), (1, 1, 1, 3), (3, 2, 1), (2, 1, 2, 1)),
}
# Guitar picking patterns, one entry an eighth: "B" bass string, "A" alternate bass, n = string index
GUITAR_PATTERNS: dict[str, tuple[tuple[str | int, ...], ...]] = {
    "4/4": (("B", 3, 4, 5, "A", 3, 4, 5), ("B", 3, 4, 5, 4, 3, 4, 5)),
    "3/4": (("B", 3, 4, 5, 4, 3), ("B", 4, 3, 5, 3, 4)),
    "6/8": (("B", 3, 4, "A", 4, 5), ("B", 4, 5, "A", 5, 4)),
}
# Movable barre shapes: frets above the barre from the low E string; None = string not played.
GUITAR_SHAPES: dict[tuple[str, str], tuple[int | None, ...]] = {
    ("E", "maj"): (0, 2, 2, 1, 0, 0),
    ("E", "min"): (0, 2, 2, 0, 0, 0),
    ("E", "7"): (0, 2, 0, 1, 0, 0),
    ("A", "maj"): (None, 0, 2, 2, 2, 0),
    ("A", "min"): (None, 0, 2, 2, 1, 0),
    ("A", "7"): (None, 0, 2, 0, 2, 0),
}

MELODY_PROGRAMS = (73, 40, 71, 68, 56, 65)  # flute, violin, clarinet, oboe, trumpet, alto sax
PIANO_PROGRAMS = (0, 1, 4)  # grand, bright, electric piano
DUET_PROGRAMS = ((40, 42), (73, 70), (71, 42), (56, 57), (68, 70))  # (melody, lower voice)
GUITAR_PROGRAMS = (24, 25)  # nylon, steel
BAND_LEAD_PROGRAMS = (65, 56, 73, 80, 71)
BAND_CHORD_PROGRAMS = (0, 4, 16, 48, 27)  # piano, e-piano, organ, strings, clean guitar
BAND_SUSTAINED_PROGRAMS = (16, 48)
BAND_BASS_PROGRAMS = (33, 34)
KICK, SNARE, CLOSED_HAT, CRASH = 36, 38, 42, 49


@dataclass(eq=False)
class Piece:
    """One ground-truth piece; see the module docstring for the conventions."""

    name: str
    split: str  # 'tune' | 'report'
    kind: str  # 'melody' | 'piano' | 'duet' | 'guitar' | 'band'
    midi: mido.MidiFile
    notes: list[Note]  # pitched parts only, sorted
    tempo_bpm: float  # beats per minute; dotted quarters for 6/8
    time_signature: str  # '4/4' | '3/4' | '6/8'
    beats_seconds: np.ndarray
    downbeats_seconds: np.ndarray
    key: str  # mir_eval label by tonic; D dorian -> "D minor"
    mode: str  # 'major' | 'minor' | 'dorian' | 'mixolydian'
    chords: list[tuple[float, float, str]]  # (start, end, mir_eval label)
    duration_seconds: float  # the recording: music + TAIL_SECONDS
    parent_key: str = ""  # the parent major scale: D dorian -> "C major"
    programs: tuple[int, ...] = field(default=())  # GM programs of the pitched parts

    @property
    def music_end_seconds(self) -> float:
        return self.chords[-1][1]


@dataclass
class _Part:
    name: str
    program: int
    channel: int
    priority: int  # lower wins when two parts start the same pitch together
    notes: list[tuple[int, int, int, int]] = field(default_factory=list)  # (start tick, end tick, pitch, velocity)


class RenderError(RuntimeError):
    """FluidSynth failed or produced no audio."""


# ---------------------------------------------------------------- pitch helpers


def key_label(tonic_pc: int, mode: str) -> str:
    """The mir_eval key label the corpus scores: modal pieces by their parent major."""
    offset, label_mode, _ = MODE_LABELS[mode]
    return f"{PITCH_NAMES[(tonic_pc + offset) % 12]} {label_mode}"


def tonic_key_label(tonic_pc: int, mode: str) -> str:
    """Tonic-based label: D dorian -> "D minor", G mixolydian -> "G major"."""
    return f"{PITCH_NAMES[tonic_pc % 12]} {MODE_LABELS[mode][2]}"


def chord_label(root_pc: int, quality: str) -> str:
    return PITCH_NAMES[root_pc % 12] + QUALITY_SUFFIX[quality]


def chord_pitch_classes(root_pc: int, quality: str) -> tuple[int, ...]:
    return tuple((root_pc + step) % 12 for step in QUALITY_INTERVALS[quality])


def chord_scale(scale_pcs: Sequence[int], chord_pcs: Sequence[int]) -> list[int]:
    """The mode's scale with chord tones outside it (the raised 7th over V in minor) replacing
    the scale notes a semitone away from them."""
    result = set(scale_pcs)
    for pc in chord_pcs:
        if pc not in result:
            result -= {(pc - 1) % 12, (pc + 1) % 12}
            result.add(pc)
    return sorted(result)


def pitches_in_range(pcs: Sequence[int], low: int, high: int) -> list[int]:
    wanted = {pc % 12 for pc in pcs}
    return [pitch for pitch in range(low, high + 1) if pitch % 12 in wanted]


def nearest_pitch(pcs: Sequence[int], target: int, low: int, high: int) -> int:
    candidates = pitches_in_range(pcs, low, high)
    return min(candidates, key=lambda pitch: (abs(pitch - target), pitch))


def closed_voicing(pcs: Sequence[int], center: float, low: int, high: int) -> list[int]:
    """The closed position (each pitch class once, consecutive chord tones) nearest `center`."""
    wanted = {pc % 12 for pc in pcs}
    candidates = pitches_in_range(pcs, low, high)
    windows = [candidates[i:i + len(wanted)] for i in range(len(candidates) - len(wanted) + 1)]
    valid = [window for window in windows if {pitch % 12 for pitch in window} == wanted]
    return min(valid, key=lambda window: abs(float(np.mean(window)) - center))


def guitar_shape(root_pc: int, quality: str) -> list[int | None]:
    """Pitch per string (low E first, None = silent) of the lower of the E- and A-shape barres."""
    e_fret = (root_pc - 4) % 12
    a_fret = (root_pc - 9) % 12
    shape, barre = ("E", e_fret) if e_fret <= a_fret else ("A", a_fret)
    frets = GUITAR_SHAPES[(shape, quality)]
    return [None if fret is None else GUITAR_OPEN_STRINGS[i] + barre + fret for i, fret in enumerate(frets)]


# ---------------------------------------------------------------- part writers (ticks)


def _velocity(rng: np.random.Generator, base: int, accent: int, spread: int = 6) -> int:
    return int(np.clip(base + accent + rng.integers(-spread, spread + 1), 1, 127))


def _melody(rng: np.random.Generator, chords: list[ChordSpec], tonic_pc: int, mode: str, meter: str,
            low: int, high: int, base_velocity: int) -> list[tuple[int, int, int, int]]:
    """A melody with chord tones on the beats and scale steps between them, ending on the tonic."""
    _, eighths_per_beat, _ = METER_SPECS[meter]
    bar_eighths = METER_SPECS[meter][0] * eighths_per_beat
    scale = [(tonic_pc + step) % 12 for step in MODE_STEPS[mode]]
    rhythms = MELODY_RHYTHMS[meter]
    previous = (low + high) // 2
    notes: list[tuple[int, int, int, int]] = []
    for bar, (offset, quality) in enumerate(chords):
        root = (tonic_pc + offset) % 12
        tones = chord_pitch_classes(root, quality)
        local_scale = pitches_in_range(chord_scale(scale, tones), low, high)
        last_bar = bar == len(chords) - 1
        rhythm = (bar_eighths,) if last_bar else rhythms[int(rng.integers(len(rhythms)))]
        position = 0
        for eighths in rhythm:
            if last_bar:
                pitch = nearest_pitch([tonic_pc], previous, low, high)
            elif position % eighths_per_beat == 0:
                candidates = sorted(pitches_in_range(tones, low, high), key=lambda p: abs(p - previous))[:3]
                weights = np.array([0.5, 0.3, 0.2][:len(candidates)])
                pitch = candidates[int(rng.choice(len(candidates), p=weights / weights.sum()))]
            else:
                index = min(range(len(local_scale)), key=lambda i: abs(local_scale[i] - previous))
                toward_center = 1 if previous < (low + high) / 2 else -1
                step = toward_center * int(rng.choice([1, 1, 2])) * (1 if rng.random() < 0.7 else -1)
                pitch = local_scale[int(np.clip(index + step, 0, len(local_scale) - 1))]
            start = (bar * bar_eighths + position) * TICKS_PER_EIGHTH
            end = start + eighths * TICKS_PER_EIGHTH - TICKS_PER_EIGHTH // 8
            accent = 10 if position == 0 else (4 if position % eighths_per_beat == 0 else 0)
            notes.append((start, end, pitch, _velocity(rng, base_velocity, accent)))
            previous = pitch
            position += eighths
    return notes


def _block_chords(rng: np.random.Generator, chords: list[ChordSpec], tonic_pc: int, meter: str, center: float,
                  low: int, high: int, base_velocity: int, sustained: bool) -> list[tuple[int, int, int, int]]:
    """Closed-position chords on the beats (on beats 2 and 3 in 3/4: a waltz), or held for the bar."""
    beats, eighths_per_beat, _ = METER_SPECS[meter]
    bar_eighths = beats * eighths_per_beat
    notes: list[tuple[int, int, int, int]] = []
    voicing_center = center
    for bar, (offset, quality) in enumerate(chords):
        voicing = closed_voicing(chord_pitch_classes(tonic_pc + offset, quality), voicing_center, low, high)
        voicing_center = (float(np.mean(voicing)) + center) / 2
        if sustained or bar == len(chords) - 1:
            onsets, length = [0], bar_eighths
        elif meter == "3/4":
            onsets, length = [2, 4], 2
        else:
            onsets, length = list(range(0, bar_eighths, eighths_per_beat)), eighths_per_beat
        for onset in onsets:
            start = (bar * bar_eighths + onset) * TICKS_PER_EIGHTH
            end = start + length * TICKS_PER_EIGHTH - TICKS_PER_EIGHTH // 4
            accent = 6 if onset == 0 else 0
            notes.extend((start, end, pitch, _velocity(rng, base_velocity, accent, 4)) for pitch in voicing)
    return notes


def _bass(rng: np.random.Generator, chords: list[ChordSpec], tonic_pc: int, meter: str, low: int, high: int,
          base_velocity: int, walking: bool) -> list[tuple[int, int, int, int]]:
    """Root on the downbeat (and the fifth on the later beats when `walking`), else held for the bar."""
    beats, eighths_per_beat, _ = METER_SPECS[meter]
    bar_eighths = beats * eighths_per_beat
    notes: list[tuple[int, int, int, int]] = []
    for bar, (offset, _quality) in enumerate(chords):
        root = nearest_pitch([tonic_pc + offset], (low + high) // 2, low, high)
        fifth = root + 7 if root + 7 <= high else root - 5
        if walking and bar < len(chords) - 1:
            pitches = [root] + [fifth if beat % 2 else root for beat in range(1, beats)]
            events = [(beat * eighths_per_beat, eighths_per_beat, pitch) for beat, pitch in enumerate(pitches)]
        else:
            events = [(0, bar_eighths, root)]
        for onset, length, pitch in events:
            start = (bar * bar_eighths + onset) * TICKS_PER_EIGHTH
            end = start + length * TICKS_PER_EIGHTH - TICKS_PER_EIGHTH // 4
            notes.append((start, end, pitch, _velocity(rng, base_velocity, 8 if onset == 0 else 0)))
    return notes


def _counter_voice(rng: np.random.Generator, chords: list[ChordSpec], tonic_pc: int, meter: str, low: int, high: int,
                   base_velocity: int) -> list[tuple[int, int, int, int]]:
    """A lower voice of chord tones a beat each: the root on the downbeat, then nearby chord tones."""
    beats, eighths_per_beat, _ = METER_SPECS[meter]
    bar_eighths = beats * eighths_per_beat
    notes: list[tuple[int, int, int, int]] = []
    previous = (low + high) // 2
    for bar, (offset, quality) in enumerate(chords):
        root = (tonic_pc + offset) % 12
        tones = chord_pitch_classes(root, quality)
        count = 1 if bar == len(chords) - 1 else beats
        for beat in range(count):
            if beat == 0:
                pitch = nearest_pitch([root], previous, low, high)
            else:
                options = sorted((p for p in pitches_in_range(tones, low, high) if p != previous),
                                 key=lambda p: abs(p - previous))[:2]
                pitch = options[int(rng.integers(len(options)))]
            length = bar_eighths if count == 1 else eighths_per_beat
            start = (bar * bar_eighths + beat * eighths_per_beat) * TICKS_PER_EIGHTH
            end = start + length * TICKS_PER_EIGHTH - TICKS_PER_EIGHTH // 4
            notes.append((start, end, pitch, _velocity(rng, base_velocity, 6 if beat == 0 else 0)))
            previous = pitch
    return notes


def _guitar_arpeggio(rng: np.random.Generator, chords: list[ChordSpec], tonic_pc: int, meter: str,
                     strum_ticks: int, base_velocity: int) -> list[tuple[int, int, int, int]]:
    """Fingerpicked barre shapes, each string ringing until it is picked again or the chord changes;
    the last bar is one strum."""
    beats, eighths_per_beat, _ = METER_SPECS[meter]
    bar_eighths = beats * eighths_per_beat
    patterns = GUITAR_PATTERNS[meter]
    pattern = patterns[int(rng.integers(len(patterns)))]
    notes: list[tuple[int, int, int, int]] = []
    for bar, (offset, quality) in enumerate(chords):
        shape = guitar_shape(tonic_pc + offset, quality)
        bass_string = next(i for i, pitch in enumerate(shape) if pitch is not None)
        bar_start = bar * bar_eighths * TICKS_PER_EIGHTH
        bar_end = bar_start + bar_eighths * TICKS_PER_EIGHTH
        if bar == len(chords) - 1:
            plucks = [(bar_start + n * strum_ticks, string) for n, string in
                      enumerate(i for i, pitch in enumerate(shape) if pitch is not None)]
        else:
            plucks = []
            for eighth, pick in enumerate(pattern):
                string = bass_string if pick == "B" else bass_string + 1 if pick == "A" else int(pick)
                plucks.append((bar_start + eighth * TICKS_PER_EIGHTH, string))
        for n, (start, string) in enumerate(plucks):
            later = [other for other, other_string in plucks[n + 1:] if other_string == string]
            end = later[0] if later else bar_end - TICKS_PER_EIGHTH // 8
            pitch = shape[string]
            assert pitch is not None
            accent = 10 if n == 0 else 0
            notes.append((start, end, pitch, _velocity(rng, base_velocity, accent)))
    return notes


def _drums(rng: np.random.Generator, bars: int, meter: str) -> list[tuple[int, int, int, int]]:
    beats, eighths_per_beat, _ = METER_SPECS[meter]
    bar_eighths = beats * eighths_per_beat
    kicks = {"4/4": (0, 4), "3/4": (0,), "6/8": (0,)}[meter]
    snares = {"4/4": (2, 6), "3/4": (2, 4), "6/8": (3,)}[meter]
    notes: list[tuple[int, int, int, int]] = []
    for bar in range(bars):
        last_bar = bar == bars - 1
        for eighth in range(1 if last_bar else bar_eighths):
            start = (bar * bar_eighths + eighth) * TICKS_PER_EIGHTH
            end = start + TICKS_PER_EIGHTH // 2
            hits = [(CLOSED_HAT, 55 + (15 if eighth % eighths_per_beat == 0 else 0))]
            if eighth in kicks:
                hits.append((KICK, 100))
            if eighth in snares:
                hits.append((SNARE, 90))
            if eighth == 0 and (bar == 0 or last_bar):
                hits = [(CRASH, 95), (KICK, 105)]
            notes.extend((start, end, pitch, _velocity(rng, velocity, 0, 8)) for pitch, velocity in hits)
    return notes


def _without_same_pitch_overlaps(parts: list[_Part], min_separation_ticks: int) -> None:
    """No two notes of one pitch overlap (in any parts): a later note trims an earlier one; two
    starting within `min_separation_ticks` keep the part with the lower priority number."""
    tagged = sorted((note[2], note[0], part.priority, index, note)
                    for index, part in enumerate(parts) for note in part.notes)
    kept: list[tuple[int, tuple[int, int, int, int]]] = []
    for pitch, start, priority, index, note in tagged:
        if kept and kept[-1][1][2] == pitch and start < kept[-1][1][1]:
            previous_index, previous = kept[-1]
            if start - previous[0] < min_separation_ticks:
                if priority < parts[previous_index].priority:
                    kept[-1] = (index, note)
                continue
            kept[-1] = (previous_index, (previous[0], start - TICKS_PER_EIGHTH // 16, previous[2], previous[3]))
        kept.append((index, note))
    for part in parts:
        part.notes = []
    for index, note in kept:
        parts[index].notes.append(note)
    for part in parts:
        part.notes.sort()


# ---------------------------------------------------------------- MIDI and the piece


def _midi_file(parts: list[_Part], tempo_us: int, meter: str, end_tick: int) -> mido.MidiFile:
    numerator, denominator = (int(x) for x in meter.split("/"))
    midi = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_QUARTER)
    conductor = mido.MidiTrack([
        mido.MetaMessage("track_name", name="conductor", time=0),
        mido.MetaMessage("set_tempo", tempo=tempo_us, time=0),
        mido.MetaMessage("time_signature", numerator=numerator, denominator=denominator, time=0),
        mido.MetaMessage("end_of_track", time=end_tick),
    ])
    midi.tracks.append(conductor)
    for part in parts:
        events: list[tuple[int, int, mido.Message]] = []
        for start, end, pitch, velocity in part.notes:
            events.append((start, 1, mido.Message("note_on", channel=part.channel, note=pitch, velocity=velocity)))
            events.append((end, 0, mido.Message("note_off", channel=part.channel, note=pitch, velocity=0)))
        events.sort(key=lambda event: (event[0], event[1]))
        track = mido.MidiTrack([mido.MetaMessage("track_name", name=part.name, time=0)])
        if part.channel != DRUM_CHANNEL:
            track.append(mido.Message("program_change", channel=part.channel, program=part.program, time=0))
        now = 0
        for tick, _, message in events:
            track.append(message.copy(time=tick - now))
            now = tick
        track.append(mido.MetaMessage("end_of_track", time=max(0, end_tick - now)))
        midi.tracks.append(track)
    return midi


def midi_bytes(midi: mido.MidiFile) -> bytes:
    buffer = io.BytesIO()
    midi.save(file=buffer)
    return buffer.getvalue()


def _bar_count(rng: np.random.Generator, bar_seconds: float) -> int:
    """Bars for MIN..MAX_MUSIC_SECONDS of music, preferring 4k + 1 (the loop, then the final tonic)."""
    options = [n for n in range(1, 200) if MIN_MUSIC_SECONDS <= n * bar_seconds <= MAX_MUSIC_SECONDS]
    for remainder in (1, 0):
        preferred = [n for n in options if n % 4 == remainder]
        if preferred:
            return int(preferred[int(rng.integers(len(preferred)))])
    return int(options[int(rng.integers(len(options)))])


def _bar_chords(progression: tuple[ChordSpec, ...], bars: int, mode: str) -> list[ChordSpec]:
    """The loop a bar a chord, the last bar the tonic triad."""
    chords = [progression[bar % len(progression)] for bar in range(bars)]
    chords[-1] = (0, "maj" if MODE_LABELS[mode][2] == "major" else "min")
    return chords


def _merged_chords(chords: list[ChordSpec], tonic_pc: int, bar_seconds: float) -> list[tuple[float, float, str]]:
    spans: list[tuple[float, float, str]] = []
    for bar, (offset, quality) in enumerate(chords):
        label = chord_label(tonic_pc + offset, quality)
        start, end = bar * bar_seconds, (bar + 1) * bar_seconds
        if spans and spans[-1][2] == label:
            spans[-1] = (spans[-1][0], end, label)
        else:
            spans.append((start, end, label))
    return spans


def _parts_for(kind: str, rng: np.random.Generator, chords: list[ChordSpec], tonic_pc: int, mode: str, meter: str,
               strum_ticks: int) -> list[_Part]:
    def pick(options: Sequence[int]) -> int:
        return int(options[int(rng.integers(len(options)))])

    if kind == "melody":
        part = _Part("melody", pick(MELODY_PROGRAMS), 0, 0)
        part.notes = _melody(rng, chords, tonic_pc, mode, meter, 62, 84, 90)
        return [part]
    if kind == "piano":
        program = pick(PIANO_PROGRAMS)
        melody = _Part("right hand melody", program, 0, 0, _melody(rng, chords, tonic_pc, mode, meter, 72, 88, 92))
        block = _Part("right hand chords", program, 1, 1,
                      _block_chords(rng, chords, tonic_pc, meter, 63.0, 55, 71, 60, sustained=False))
        bass = _Part("left hand", program, 2, 2, _bass(rng, chords, tonic_pc, meter, 36, 50, 72, walking=meter == "4/4"))
        return [melody, block, bass]
    if kind == "duet":
        upper, lower = DUET_PROGRAMS[int(rng.integers(len(DUET_PROGRAMS)))]
        return [
            _Part("melody", upper, 0, 0, _melody(rng, chords, tonic_pc, mode, meter, 67, 86, 92)),
            _Part("lower voice", lower, 1, 1, _counter_voice(rng, chords, tonic_pc, meter, 45, 62, 78)),
        ]
    if kind == "guitar":
        arpeggio = _guitar_arpeggio(rng, chords, tonic_pc, meter, strum_ticks, 80)
        return [_Part("guitar", pick(GUITAR_PROGRAMS), 0, 0, arpeggio)]
    if kind == "band":
        chord_program = pick(BAND_CHORD_PROGRAMS)
        return [
            _Part("lead", pick(BAND_LEAD_PROGRAMS), 0, 0, _melody(rng, chords, tonic_pc, mode, meter, 67, 86, 95)),
            _Part("chords", chord_program, 1, 2, _block_chords(rng, chords, tonic_pc, meter, 62.0, 53, 72, 58,
                                                              sustained=chord_program in BAND_SUSTAINED_PROGRAMS)),
            _Part("bass", pick(BAND_BASS_PROGRAMS), 2, 1, _bass(rng, chords, tonic_pc, meter, 33, 48, 85, walking=True)),
            _Part("drums", 0, DRUM_CHANNEL, 9, _drums(rng, len(chords), meter)),
        ]
    raise ValueError(f"unknown kind {kind!r}")


def make_piece(index: int, seed: int = 7) -> Piece:
    """Piece `index` of the corpus: kind, meter and mode follow index // 2 (so consecutive pieces,
    one 'tune' and one 'report', share them), the rest comes from a generator seeded by (seed, index)."""
    rng = np.random.default_rng([seed, index])
    design = index // 2
    kind, meter, mode = KINDS[design % len(KINDS)], METERS[design % len(METERS)], MODES[design % len(MODES)]
    split = SPLITS[index % 2]
    beats_per_bar, eighths_per_beat, (low_bpm, high_bpm) = METER_SPECS[meter]
    tonic_pc = int(rng.integers(12))
    beat_bpm = int(rng.integers(low_bpm, high_bpm + 1))
    quarter_bpm = beat_bpm * eighths_per_beat / 2
    tempo_us = round(60_000_000 / quarter_bpm)
    seconds_per_tick = tempo_us / 1e6 / TICKS_PER_QUARTER
    tempo_bpm = 60.0 / (seconds_per_tick * TICKS_PER_EIGHTH * eighths_per_beat)
    beat_ticks = TICKS_PER_EIGHTH * eighths_per_beat
    bar_ticks = beat_ticks * beats_per_bar
    bars = _bar_count(rng, bar_ticks * seconds_per_tick)
    progressions = PROGRESSIONS[mode]
    chords = _bar_chords(progressions[int(rng.integers(len(progressions)))], bars, mode)

    strum_ticks = max(1, round(0.015 / seconds_per_tick))
    parts = _parts_for(kind, rng, chords, tonic_pc, mode, meter, strum_ticks)
    for number, part in enumerate(p for p in parts if p.channel != DRUM_CHANNEL):
        part.channel = number if number < DRUM_CHANNEL else number + 1
    pitched = [part for part in parts if part.channel != DRUM_CHANNEL]
    _without_same_pitch_overlaps(pitched, round(0.1 / seconds_per_tick))

    music_end_tick = bars * bar_ticks
    end_tick = music_end_tick + round(TAIL_SECONDS / seconds_per_tick)
    midi = _midi_file(parts, tempo_us, meter, end_tick)
    notes = sorted(Note(start * seconds_per_tick, end * seconds_per_tick, pitch, velocity)
                   for part in pitched for start, end, pitch, velocity in part.notes)
    tonic_name = PITCH_NAMES[tonic_pc].replace("#", "s")
    return Piece(
        name=f"{index:02d}-{kind}-{mode}-{tonic_name}-{meter.replace('/', '')}-{beat_bpm}bpm",
        split=split,
        kind=kind,
        midi=midi,
        notes=notes,
        tempo_bpm=tempo_bpm,
        time_signature=meter,
        beats_seconds=np.arange(0, music_end_tick, beat_ticks) * seconds_per_tick,
        downbeats_seconds=np.arange(0, music_end_tick, bar_ticks) * seconds_per_tick,
        key=tonic_key_label(tonic_pc, mode),
        mode=mode,
        chords=_merged_chords(chords, tonic_pc, bar_ticks * seconds_per_tick),
        duration_seconds=end_tick * seconds_per_tick,
        parent_key=key_label(tonic_pc, mode),
        programs=tuple(part.program for part in pitched),
    )


def pieces(count: int = 48, seed: int = 7) -> list[Piece]:
    """The corpus: `count` deterministic pieces, alternating 'tune' (even index) and 'report' (odd)."""
    return [make_piece(index, seed) for index in range(count)]


# ---------------------------------------------------------------- audio


def pink_noise(sample_count: int, rng: np.random.Generator) -> np.ndarray:
    """Noise with power falling 3 dB an octave (1/f), zero mean."""
    spectrum = np.fft.rfft(rng.standard_normal(sample_count))
    frequencies = np.fft.rfftfreq(sample_count)
    scale = np.zeros_like(frequencies)
    scale[1:] = 1.0 / np.sqrt(frequencies[1:])
    return np.fft.irfft(spectrum * scale, n=sample_count)


def add_noise(audio: np.ndarray, snr_db: float, seed: int, color: str = "pink") -> np.ndarray:
    """`audio` plus white or pink noise whose power is the audio's mean power less `snr_db`."""
    rng = np.random.default_rng(seed)
    if color == "white":
        noise = rng.standard_normal(audio.size)
    elif color == "pink":
        noise = pink_noise(audio.size, rng)
    else:
        raise ValueError(f"noise color must be 'white' or 'pink', not {color!r}")
    signal_power = float(np.mean(np.square(audio, dtype=np.float64)))
    noise_power = float(np.mean(np.square(noise)))
    gain = np.sqrt(signal_power / (noise_power * 10 ** (snr_db / 10))) if noise_power > 0 else 0.0
    return (audio + gain * noise).astype(np.float32)


def snr_db(clean: np.ndarray, noisy: np.ndarray) -> float:
    """SNR of `noisy` against `clean`, allowing for an overall gain (a peak normalisation)."""
    clean64, noisy64 = clean.astype(np.float64), noisy.astype(np.float64)
    gain = float(np.dot(noisy64, clean64) / np.dot(clean64, clean64))
    noise = noisy64 - gain * clean64
    return float(10 * np.log10(np.mean(np.square(gain * clean64)) / np.mean(np.square(noise))))


def fit_length(audio: np.ndarray, sample_count: int) -> np.ndarray:
    if audio.size >= sample_count:
        return audio[:sample_count]
    return np.concatenate([audio, np.zeros(sample_count - audio.size, dtype=audio.dtype)])


def fade_out(audio: np.ndarray, sample_count: int) -> np.ndarray:
    """`audio` with a linear fade over its last `sample_count` samples."""
    count = min(sample_count, audio.size)
    if count <= 0:
        return audio
    faded = audio.copy()
    faded[-count:] *= np.linspace(1.0, 0.0, count, dtype=audio.dtype)
    return faded


def stable_seed(text: str) -> int:
    return zlib.crc32(text.encode())


def render(piece: Piece, soundfont: Path, out_wav: Path, noise_snr_db: float | None = None,
           sample_rate_hz: int = SAMPLE_RATE_HZ, noise_color: str = "pink") -> Path:
    """Render `piece` with the FluidSynth CLI to a mono 16-bit WAV exactly `duration_seconds` long,
    with noise at `noise_snr_db` (seeded by the piece's name) when given. Raises RenderError."""
    out_wav.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_wav.parent) as workdir:
        midi_path = Path(workdir) / "piece.mid"
        raw_path = Path(workdir) / "raw.wav"
        piece.midi.save(str(midi_path))
        command = ["fluidsynth", "-ni", "-g", str(RENDER_GAIN), "-F", str(raw_path), "-r", str(sample_rate_hz),
                   str(soundfont), str(midi_path)]
        try:
            result = subprocess.run(command, capture_output=True, timeout=RENDER_TIMEOUT_SECONDS, check=False)
        except subprocess.TimeoutExpired as error:
            raise RenderError(f"fluidsynth took over {RENDER_TIMEOUT_SECONDS} s on {piece.name}") from error
        if result.returncode != 0 or not raw_path.exists():
            detail = result.stderr.decode(errors="replace")[-500:]
            raise RenderError(f"fluidsynth exited {result.returncode} on {piece.name}: {detail}")
        audio, rate = soundfile.read(str(raw_path), dtype="float32", always_2d=True)
    if rate != sample_rate_hz:
        raise RenderError(f"fluidsynth wrote {rate} Hz, not {sample_rate_hz} Hz")
    mono = fade_out(fit_length(audio.mean(axis=1), round(piece.duration_seconds * sample_rate_hz)),
                    round(FADE_OUT_SECONDS * sample_rate_hz))
    if noise_snr_db is not None:
        mono = add_noise(mono, noise_snr_db, stable_seed(piece.name), noise_color)
    peak = float(np.max(np.abs(mono))) if mono.size else 0.0
    if peak > 0.99:
        mono = mono * (0.99 / peak)
    soundfile.write(str(out_wav), mono, sample_rate_hz, subtype="PCM_16")
    return out_wav


def split_settings(split: str) -> tuple[Path, float | None]:
    """(SoundFont, noise SNR) of a split: 'tune' FluidR3 clean, 'report' TimGM6mb at 30 dB SNR."""
    if split == "tune":
        return FLUIDR3, None
    if split == "report":
        return TIMGM, REPORT_SNR_DB
    raise ValueError(f"split must be one of {SPLITS}, not {split!r}")


def render_digest(piece: Piece, soundfont: Path, noise_snr_db: float | None, sample_rate_hz: int) -> str:
    digest = hashlib.sha256(midi_bytes(piece.midi))
    digest.update(f"|{piece.name}|{soundfont.name}|{soundfont.stat().st_size}|{noise_snr_db}|{sample_rate_hz}|"
                  f"{RENDER_GAIN}|{RENDER_VERSION}".encode())
    return digest.hexdigest()[:16]


def rendered(split: str, cache_dir: Path, count: int = 48, seed: int = 7,
             sample_rate_hz: int = SAMPLE_RATE_HZ) -> list[tuple[Piece, Path]]:
    """The split's pieces with their recordings, rendered into `cache_dir` unless already there
    (file names carry a hash of the MIDI bytes and the render settings). Two renders at a time."""
    soundfont, noise = split_settings(split)
    chosen = [piece for piece in pieces(count, seed) if piece.split == split]
    paths = [cache_dir / split / f"{piece.name}-{render_digest(piece, soundfont, noise, sample_rate_hz)}.wav"
             for piece in chosen]

    def ensure(item: tuple[Piece, Path]) -> Path:
        piece, path = item
        if not path.exists():
            partial = path.with_name(f".{path.stem}-{uuid.uuid4().hex}.partial.wav")  # concurrent runs never share it
            render(piece, soundfont, partial, noise, sample_rate_hz)
            partial.replace(path)
        return path

    with ThreadPoolExecutor(max_workers=2) as pool:
        done = list(pool.map(ensure, zip(chosen, paths, strict=True)))
    return list(zip(chosen, done, strict=True))
