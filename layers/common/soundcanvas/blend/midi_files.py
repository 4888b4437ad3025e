"""Reading uploaded Standard MIDI Files into notes, and estimating their key.

    song = read_song(data)                      # SongRejected says what is wrong with an unusable file
    tonic_pc, mode = estimate_key(song)         # Krumhansl-Kessler on duration-weighted pitch classes
    key_name(tonic_pc, mode)                    # "G major"

Times are in beats, a beat being a quarter note (the MIDI file's own beat), whatever the metre;
`tempo_bpm` is the first tempo of the file in quarter notes per minute.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import mido
import numpy as np
from mido.midifiles.meta import KeySignatureError

from soundcanvas.core.errors import SongRejected

MAX_DURATION_SECONDS = 1800.0
DEFAULT_TEMPO = 500_000  # microseconds per quarter note (120 bpm), the MIDI default
DRUM_CHANNEL = 9  # General MIDI channel 10, counted from 0
PITCH_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
MODES = ("major", "minor")

# Krumhansl & Kessler (1982) probe-tone profiles, tonic first.
MAJOR_PROFILE = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
MINOR_PROFILE = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])

# What mido raises on a damaged file (it wraps most problems in OSError / ValueError / EOFError).
_CORRUPT = (OSError, EOFError, ValueError, KeyError, IndexError, TypeError, struct.error, KeySignatureError)


@dataclass(frozen=True, slots=True)
class Note:
    start_beats: float
    duration_beats: float
    pitch: int
    velocity: int
    program: int  # General MIDI program 0-127 in force on the note's channel
    is_drum: bool  # played on channel 10
    track: int  # index of the MIDI track it came from


@dataclass(frozen=True)
class Song:
    notes: tuple[Note, ...]  # sorted by (start, track, pitch)
    tempo_bpm: float  # first tempo, quarter notes per minute
    time_signature: tuple[int, int]  # first time signature (numerator, denominator), 4/4 when absent
    duration_seconds: float  # from the start to the end of the last note, through the tempo map
    ticks_per_beat: int

    @property
    def pitched(self) -> tuple[Note, ...]:
        return tuple(n for n in self.notes if not n.is_drum)


def read_song(data: bytes, *, max_duration_seconds: float = MAX_DURATION_SECONDS) -> Song:
    """Parse a type 0 or 1 Standard MIDI File; SongRejected (with a message for the uploader) when unusable."""
    if not data:
        raise SongRejected("The file is empty. Upload a Standard MIDI file (.mid).")
    data = _unwrap_rmid(bytes(data))
    if not data.startswith(b"MThd"):
        raise SongRejected(
            "This is not a MIDI file (it does not start with a MIDI header). Upload a Standard MIDI file (.mid); "
            "audio, text and notation files are not accepted."
        )
    try:
        midi = mido.MidiFile(file=io.BytesIO(data))
    except _CORRUPT as exc:
        detail = "it ends in the middle of a track, so it may be cut short" if isinstance(exc, EOFError) else str(exc)
        raise SongRejected(
            f"The MIDI file is damaged and could not be read ({detail or type(exc).__name__}). "
            "Export it again from your music program and upload the new file."
        ) from exc
    if midi.type == 2:
        raise SongRejected(
            "This is a type 2 MIDI file (independent patterns), which cannot be blended. "
            "Save it as a type 0 or type 1 MIDI file and upload that."
        )
    if midi.ticks_per_beat <= 0:
        raise SongRejected(
            "This MIDI file counts time in SMPTE frames, which cannot be blended. "
            "Save it with musical (beat-based) timing and upload that."
        )
    return _song_from_midi(midi, max_duration_seconds)


def _unwrap_rmid(data: bytes) -> bytes:
    """The SMF inside a RIFF RMID wrapper ("RIFF....RMIDdata...."), or the data unchanged."""
    if data[:4] == b"RIFF" and data[8:12] == b"RMID":
        start = data.find(b"MThd", 12)
        if start >= 0:
            return data[start:]
    return data


def _song_from_midi(midi: mido.MidiFile, max_duration_seconds: float) -> Song:
    tpb = midi.ticks_per_beat
    tempos: list[tuple[int, int]] = []
    signatures: list[tuple[int, int, int]] = []
    first_programs: dict[int, int] = {}
    for track in midi.tracks:  # meta events and the first program per channel, wherever they are
        tick = 0
        for msg in track:
            tick += msg.time
            if msg.type == "set_tempo":
                tempos.append((tick, msg.tempo))
            elif msg.type == "time_signature":
                signatures.append((tick, msg.numerator, msg.denominator))
            elif msg.type == "program_change":
                first_programs.setdefault(msg.channel, msg.program)
    raw = _raw_notes(midi, first_programs)
    if not any(not is_drum for *_, is_drum, _track in raw):
        detail = "only drums" if raw else "no notes"
        raise SongRejected(
            f"The MIDI file has {detail}: there is no melody or harmony to blend. "
            "Upload a file with pitched notes (melody, chords or bass)."
        )
    tempos.sort(key=lambda item: item[0])
    signatures.sort(key=lambda item: item[0])
    end_tick = max(start + length for start, length, *_ in raw)
    duration = _seconds_at(end_tick, tempos, tpb)
    if duration > max_duration_seconds:
        raise SongRejected(
            f"The song lasts {_spoken(duration)}; songs can be at most {_spoken(max_duration_seconds)} long. "
            "Upload a shorter excerpt."
        )
    raw.sort(key=lambda item: (item[0], item[6], item[2]))
    notes = tuple(
        Note(start / tpb, length / tpb, pitch, velocity, program, is_drum, track)
        for start, length, pitch, velocity, program, is_drum, track in raw
    )
    first_tempo = tempos[0][1] if tempos else DEFAULT_TEMPO
    signature = (signatures[0][1], signatures[0][2]) if signatures else (4, 4)
    return Song(notes, round(60_000_000 / first_tempo, 3), signature, round(duration, 3), tpb)


def _spoken(seconds: float) -> str:
    return f"{seconds / 60:.0f} minutes" if seconds >= 120 else f"{seconds:.0f} seconds"


RawNote = tuple[int, int, int, int, int, bool, int]  # (start tick, length ticks, pitch, velocity, program, drum, track)


def _raw_notes(midi: mido.MidiFile, first_programs: dict[int, int]) -> list[RawNote]:
    """Every note in ticks. A note-on without its note-off ends with its track; overlapping notes on one key
    end first in, first out."""
    out: list[RawNote] = []
    for index, track in enumerate(midi.tracks):
        programs = dict(first_programs)
        sounding: dict[tuple[int, int], list[tuple[int, int, int]]] = {}
        tick = 0
        for msg in track:
            tick += msg.time
            kind = msg.type
            if kind == "note_on" and msg.velocity > 0:
                program = programs.get(msg.channel, 0)
                sounding.setdefault((msg.channel, msg.note), []).append((tick, msg.velocity, program))
            elif kind in ("note_off", "note_on"):
                started = sounding.get((msg.channel, msg.note))
                if started:
                    start, velocity, program = started.pop(0)
                    if tick > start:
                        out.append((start, tick - start, msg.note, velocity, program, msg.channel == DRUM_CHANNEL, index))
            elif kind == "program_change":
                programs[msg.channel] = msg.program
        for (channel, pitch), starts in sounding.items():
            for start, velocity, program in starts:
                if tick > start:
                    out.append((start, tick - start, pitch, velocity, program, channel == DRUM_CHANNEL, index))
    return out


def _seconds_at(tick: int, tempos: Sequence[tuple[int, int]], ticks_per_beat: int) -> float:
    """Seconds from the start to `tick` through the tempo map (tempo changes sorted by tick)."""
    seconds, last_tick, tempo = 0.0, 0, DEFAULT_TEMPO
    for change_tick, change_tempo in tempos:
        if change_tick >= tick:
            break
        seconds += (change_tick - last_tick) * tempo / (ticks_per_beat * 1e6)
        last_tick, tempo = change_tick, change_tempo
    return seconds + (tick - last_tick) * tempo / (ticks_per_beat * 1e6)


def pitch_class_histogram(song: Song) -> np.ndarray:
    """Duration-weighted pitch-class histogram of the pitched notes (12 values summing to 1, C first)."""
    pitched = song.pitched
    pcs = np.fromiter((n.pitch % 12 for n in pitched), dtype=np.int64, count=len(pitched))
    weights = np.fromiter((n.duration_beats for n in pitched), dtype=np.float64, count=len(pitched))
    histogram = np.bincount(pcs, weights=weights, minlength=12)
    total = histogram.sum()
    return histogram / total if total > 0 else np.full(12, 1 / 12)


def key_profiles() -> np.ndarray:
    """The 24 key profiles (rows: C major .. B major, then C minor .. B minor), each z-scored."""
    rows = [np.roll(MAJOR_PROFILE, tonic) for tonic in range(12)] + [np.roll(MINOR_PROFILE, tonic) for tonic in range(12)]
    profiles = np.array(rows)
    return (profiles - profiles.mean(axis=1, keepdims=True)) / profiles.std(axis=1, keepdims=True)


def estimate_key_from_histogram(histogram: np.ndarray) -> tuple[int, str]:
    """(tonic pitch class, "major"|"minor") of the best-correlated key profile; ties go to the lower index."""
    spread = histogram.std()
    if spread == 0:
        return 0, "major"
    z = (histogram - histogram.mean()) / spread
    best = int(np.argmax(key_profiles() @ z))
    return best % 12, MODES[best // 12]


def estimate_key(song: Song) -> tuple[int, str]:
    """The song's key by Krumhansl-Kessler correlation with its duration-weighted pitch classes."""
    return estimate_key_from_histogram(pitch_class_histogram(song))


def key_name(tonic_pc: int, mode: str) -> str:
    return f"{PITCH_NAMES[tonic_pc % 12]} {mode}"


def song_summary(song: Song) -> dict[str, Any]:
    """What validation learned about a song, as its record stores it (key, tempoBpm, timeSignature, durationSeconds)."""
    numerator, denominator = song.time_signature
    return {
        "key": key_name(*estimate_key(song)),
        "tempoBpm": round(song.tempo_bpm, 1),
        "timeSignature": f"{numerator}/{denominator}",
        "durationSeconds": round(song.duration_seconds, 1),
    }
