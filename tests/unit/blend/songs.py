"""Crafted songs for Blend's tests and bench, written with mido: folk tunes in different keys and
metres (a 6/8 jig in D, a 4/4 reel in G, a 3/4 waltz in A minor), a 4-voice chorale in C, and a
band arrangement in E minor with drums. Each is an AABB tune (or two chorale phrases), like the
seed catalog's public-domain folk tunes and chorales.

Melodies are written as `NAME[:units]` tokens ("F#5:2", "r" for a rest), `|` marking bars.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import mido

TPB = 480
NAMES = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}

Event = tuple[float, float, int]  # (start beats, duration beats, pitch); pitch -1 is a rest


def pitch(name: str) -> int:
    """MIDI pitch of a name like "F#5" or "Bb3" (C4 = 60)."""
    letter, rest = name[0], name[1:]
    shift = 0
    while rest and rest[0] in "#b":
        shift += 1 if rest[0] == "#" else -1
        rest = rest[1:]
    return 12 * (int(rest) + 1) + NAMES[letter] + shift


def parse(text: str, unit_beats: float) -> list[Event]:
    """Notes of a melody string, one unit = `unit_beats` quarter notes."""
    events: list[Event] = []
    time = 0.0
    for token in text.replace("|", " ").split():
        name, _, units = token.partition(":")
        length = float(units or 1) * unit_beats
        events.append((time, length, -1 if name == "r" else pitch(name)))
        time += length
    return events


def aabb(a: str, b: str) -> str:
    return f"{a} | {a} | {b} | {b}"


def track_messages(
    events: Sequence[Event], channel: int, program: int, velocity: int = 90, name: str | None = None
) -> mido.MidiTrack:
    track = mido.MidiTrack()
    if name:
        track.append(mido.MetaMessage("track_name", name=name, time=0))
    track.append(mido.Message("program_change", channel=channel, program=program, time=0))
    timed: list[tuple[int, int, mido.Message]] = []
    for start, length, note in events:
        if note < 0:
            continue
        on, off = round(start * TPB), round((start + length) * TPB) - 10
        timed.append((on, 1, mido.Message("note_on", channel=channel, note=note, velocity=velocity)))
        timed.append((off, 0, mido.Message("note_off", channel=channel, note=note, velocity=0)))
    timed.sort(key=lambda item: (item[0], item[1], item[2].note))
    last = 0
    for tick, _order, msg in timed:
        track.append(msg.copy(time=tick - last))
        last = tick
    track.append(mido.MetaMessage("end_of_track", time=0))
    return track


def meta_track(tempo_qbpm: float, signature: tuple[int, int], key: str | None = None) -> mido.MidiTrack:
    track = mido.MidiTrack()
    track.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(tempo_qbpm), time=0))
    track.append(mido.MetaMessage("time_signature", numerator=signature[0], denominator=signature[1], time=0))
    if key:
        track.append(mido.MetaMessage("key_signature", key=key, time=0))
    track.append(mido.MetaMessage("end_of_track", time=0))
    return track


def to_bytes(midi: mido.MidiFile) -> bytes:
    buffer = io.BytesIO()
    midi.save(file=buffer)
    return buffer.getvalue()


def file_of(
    parts: Sequence[tuple[Sequence[Event], int, int]],
    tempo_qbpm: float,
    signature: tuple[int, int],
    *,
    file_type: int = 1,
    key: str | None = None,
) -> bytes:
    """A type 1 file (a meta track, then one track per (events, channel, program)), or type 0 (all merged)."""
    meta = meta_track(tempo_qbpm, signature, key)
    tracks = [track_messages(events, channel, program) for events, channel, program in parts]
    if file_type == 0:
        merged = mido.merge_tracks([meta, *tracks])
        return to_bytes(mido.MidiFile(type=0, ticks_per_beat=TPB, tracks=[merged]))
    return to_bytes(mido.MidiFile(type=1, ticks_per_beat=TPB, tracks=[meta, *tracks]))


JIG_A = (
    "A4 D5 D5 F#5 D5 F#5 | A5 F#5 D5 E5 F#5 G5 | A4 C#5 C#5 E5 C#5 E5 | A5 G5 E5 C#5 B4 A4 | "
    "A4 D5 D5 F#5 D5 F#5 | A5 F#5 D5 B5:2 A5 | G5 E5 C#5 A4 B4 C#5 | D5:3 D5:3"
)
JIG_B = (
    "F#5 A5 A5 B5 A5 A5 | F#5 A5 D6 A5 F#5 D5 | G5 B5 B5 A5 G5 F#5 | E5 F#5 G5 A5:2 G5 | "
    "F#5 A5 A5 B5 A5 A5 | D6 C#6 B5 A5 F#5 D5 | G5 E5 C#5 A4 B4 C#5 | D5:3 D5:3"
)
REEL_A = (
    "G4 B4 D5 B4 G5 D5 B4 D5 | C5 E5 A5 E5 C5 E5 A4 C5 | B4 D5 G5 D5 B4 G4 A4 B4 | "
    "C5 A4 F#4 A4 D4 F#4 A4 C5 | B4 G4 D5 G4 E5 G4 D5 B4 | C5 B4 A4 G4 F#4 G4 A4 B4 | "
    "C5 E5 D5 B4 A4 G4 F#4 A4 | G4:2 B4 G4 G4:4"
)
REEL_B = (
    "G5 F#5 G5 D5 B4 D5 G5 B5 | A5 G5 F#5 A5 D6 A5 F#5 D5 | G5 F#5 G5 D5 B4 D5 G5 B5 | "
    "A5 F#5 D5 E5 F#5 G5 A5 F#5 | G5 B5 A5 G5 F#5 A5 G5 F#5 | E5 G5 F#5 E5 D5 E5 F#5 D5 | "
    "C5 E5 D5 B4 A4 G4 F#4 A4 | G4:2 B4 D5 G5:4"
)
WALTZ_A = "A4:2 C5:2 E5:2 | A5:4 G5:2 | F5:2 E5:2 D5:2 | E5:6 | D5:2 F5:2 A5:2 | G5:4 E5:2 | D5:2 B4:2 G#4:2 | A4:6"
WALTZ_B = (
    "C5:2 E5:2 G5:2 | F5:3 E5:1 D5:2 | E5:2 A5:2 C6:2 | B5:4 A5:2 | G#5:2 E5:2 B4:2 | "
    "C5:2 D5:2 E5:2 | F5:2 D5:1 B4:1 G#4:2 | A4:6"
)


def jig_in_d() -> bytes:
    """A 6/8 jig in D major, dotted quarter = 116 (type 1: a meta track and a fiddle track)."""
    return file_of([(parse(aabb(JIG_A, JIG_B), 0.5), 0, 110)], 116 * 1.5, (6, 8), key="D")


def reel_in_g() -> bytes:
    """A 4/4 reel in G major, quarter = 112, as a type 0 file."""
    return file_of([(parse(aabb(REEL_A, REEL_B), 0.5), 0, 73)], 112, (4, 4), file_type=0)


def waltz_in_a_minor() -> bytes:
    """A 3/4 waltz in A minor (with the raised leading tone), quarter = 132."""
    return file_of([(parse(aabb(WALTZ_A, WALTZ_B), 0.5), 0, 21)], 132, (3, 4), key="Am")


# The chorale: soprano line and one chord (pitch classes, root first) per soprano note.
CHORALE_SOPRANO = "G4 C5 D5 E5 | D5 C5 D5:2 | E5 E5 F5 G5 | F5 E5 D5:2 | E5 G5 F5 E5 | D5 E5 C5 D5 | E5 D5 C5 B4 | C5:4"
TONIC, SUPERTONIC, SUBDOMINANT = (0, 4, 7), (2, 5, 9), (5, 9, 0)
DOMINANT, DOMINANT_7, SUBMEDIANT = (7, 11, 2), (7, 11, 2, 5), (9, 0, 4)
CHORALE_PROGRESSION = "I I V I | V IV V | I vi IV I | ii I V | I V V7 I | ii vi IV V | I V vi V | I"
CHORALE_CHORDS = tuple(
    {"I": TONIC, "ii": SUPERTONIC, "IV": SUBDOMINANT, "V": DOMINANT, "V7": DOMINANT_7, "vi": SUBMEDIANT}[symbol]
    for symbol in CHORALE_PROGRESSION.replace("|", " ").split()
)


def _below(chord: Sequence[int], ceiling: int, avoid: set[int]) -> int:
    """The highest chord tone at least two semitones below `ceiling`, preferring pitch classes not in `avoid`."""
    candidates = [p for p in range(ceiling - 2, ceiling - 14, -1) if p % 12 in chord]
    fresh = [p for p in candidates if p % 12 not in avoid]
    return (fresh or candidates)[0]


def chorale_voices(transpose: int = 0) -> list[list[Event]]:
    """Soprano, alto, tenor and bass of the chorale (chords voiced below the soprano, bass on the root)."""
    soprano = parse(f"{CHORALE_SOPRANO} | {CHORALE_SOPRANO}", 1.0)
    voices: list[list[Event]] = [[], [], [], []]
    for index, (start, length, top) in enumerate(soprano):
        chord = CHORALE_CHORDS[index % len(CHORALE_CHORDS)]
        alto = _below(chord, top, {top % 12})
        tenor = _below(chord, alto, {top % 12, alto % 12})
        bass = 40 + (chord[0] - 40) % 12
        for voice, note in zip(voices, (top, alto, tenor, bass), strict=True):
            voice.append((start, length, note + transpose))
    return voices


def chorale_in_c(transpose: int = 0) -> bytes:
    """A 4-voice chorale-like piece in C major (4/4, quarter = 80), one track per voice."""
    parts = [(voice, channel, 52 if channel < 2 else 48) for channel, voice in enumerate(chorale_voices(transpose))]
    return file_of(parts, 80, (4, 4))


def band_in_e_minor() -> bytes:
    """A pop-band arrangement in E minor, 4/4: a lead, block chords just below it, bass, and drums on channel 10."""
    lead = parse(
        aabb(
            "E5:2 G5 A5 B5:2 A5 G5 | F#5:2 D5 E5 F#5:4 | E5:2 G5 A5 B5:2 D6 B5 | A5 G5 F#5 D5 E5:4",
            "G5:2 B5 G5 A5:2 F#5 D5 | E5:2 G5 E5 D5:4 | C5:2 E5 G5 B5:2 A5 G5 | F#5 D5 E5 F#5 E5:4",
        ),
        0.5,
    )
    chords = []
    bass = []
    progression = ((4, 7, 11), (2, 6, 9), (0, 4, 7), (11, 2, 6))  # Em D C Bm, a chord a bar
    for bar in range(16):
        chord = progression[bar % 4]
        for beat in range(4):
            for pc in chord:
                chords.append((bar * 4.0 + beat, 1.0, 55 + (pc - 55) % 12))
        bass.append((bar * 4.0, 2.0, 40 + (chord[0] - 40) % 12))
        bass.append((bar * 4.0 + 2, 2.0, 40 + (chord[0] - 40) % 12))
    drums = []
    for beat in range(64):
        drums.append((beat * 1.0, 0.25, 36 if beat % 2 == 0 else 38))
        drums.append((beat * 1.0 + 0.5, 0.25, 42))
    return file_of([(lead, 0, 81), (chords, 1, 4), (bass, 2, 33), (drums, 9, 0)], 118, (4, 4))


def scale_song(tonic: int, mode: str, *, octaves: int = 2, tempo_qbpm: float = 120) -> bytes:
    """A scale with a tonic-heavy cadence, as a key estimator's crafted input."""
    steps = (0, 2, 4, 5, 7, 9, 11) if mode == "major" else (0, 2, 3, 5, 7, 8, 10)
    line = [tonic + 12 * o + s for o in range(octaves) for s in steps] + [tonic + 12 * octaves]
    line += [*reversed(line[:-1]), tonic + 7, tonic + 4 if mode == "major" else tonic + 3, tonic]
    events = [(float(i), 1.0, 60 + p if 60 + p < 96 else 48 + p) for i, p in enumerate(line)]
    events.append((float(len(line)), 4.0, 60 + tonic))
    return file_of([(events, 0, 0)], tempo_qbpm, (4, 4))


def seed_like_songs() -> list[tuple[str, bytes]]:
    """The three seed-like songs the bench and the tests blend: a jig, a reel and a chorale."""
    return [("jig-d", jig_in_d()), ("reel-g", reel_in_g()), ("chorale-c", chorale_in_c())]
