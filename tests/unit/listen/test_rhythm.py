"""soundcanvas.listen.rhythm on short clips written here with mido and rendered with the fluidsynth
CLI (tempo at 70, 120 and 160 BPM; 4/4, 3/4 and 6/8), on the notes alone, and on silence."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import mido
import numpy as np
import pytest
import soundfile

from soundcanvas.listen.notes import Note
from soundcanvas.listen.rhythm import Rhythm, estimate_rhythm, metrical_positions

SAMPLE_RATE_HZ = 22050
SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
CHORDS = ((0, 4, 7), (5, 9, 12), (7, 11, 14), (0, 4, 7))  # C F G C, from C4 = 60

needs_fluidsynth = pytest.mark.skipif(shutil.which("fluidsynth") is None or not SOUNDFONT.exists(),
                                      reason="needs the fluidsynth CLI and FluidR3_GM.sf2")


def written(meter: str, beat_bpm: float, bars: int = 6) -> list[Note]:
    """A clear accompaniment in `meter` at `beat_bpm` (dotted quarters in 6/8), chords a bar:
    4/4 bass on beats 1 and 3, chords on every beat, a melody of eighths and quarters; 3/4 a waltz
    (bass on 1, chords on 2 and 3) under a quarter-two-eighths-quarter melody; 6/8 bass on both
    dotted quarters under eighth-note arpeggios and a long-short (quarter-eighth) melody."""
    beat = 60.0 / beat_bpm
    eighth = beat / 3 if meter == "6/8" else beat / 2
    per_bar = {"4/4": 8, "3/4": 6, "6/8": 6}[meter]  # eighths a bar
    notes: list[Note] = []

    def add(start_eighths: float, length_eighths: float, pitch: int, velocity: int) -> None:
        start = start_eighths * eighth
        notes.append(Note(start, start + length_eighths * eighth * 0.92, pitch, velocity))

    for bar in range(bars):
        root, third, fifth = (60 + step for step in CHORDS[bar % len(CHORDS)])
        at = bar * per_bar
        if meter == "4/4":
            add(at, 4, root - 24, 100)
            add(at + 4, 4, root - 24 + 7, 85)
            for b in range(4):
                for pitch in (third, fifth):
                    add(at + 2 * b, 2, pitch, 80 if b == 0 else 65)
            for offset, length, pitch in ((0, 1, root + 12), (1, 1, third + 12), (2, 2, fifth + 12), (4, 2, third + 12),
                                          (6, 2, root + 12)):
                add(at + offset, length, pitch, 95 if offset == 0 else 80)
        elif meter == "3/4":
            add(at, 6, root - 24, 100)
            for b in (1, 2):
                for pitch in (third, fifth):
                    add(at + 2 * b, 2, pitch, 65)
            for offset, length, pitch in ((0, 2, root + 12), (2, 1, third + 12), (3, 1, fifth + 12), (4, 2, third + 12)):
                add(at + offset, length, pitch, 95 if offset == 0 else 78)
        else:
            add(at, 3, root - 24, 100)
            add(at + 3, 3, root - 24 + 7, 88)
            for e in range(6):
                add(at + e, 1, (root, third, fifth)[e % 3], 75 if e % 3 == 0 else 60)
            for offset, length, pitch in ((0, 2, root + 12), (2, 1, third + 12), (3, 2, fifth + 12), (5, 1, third + 12)):
                add(at + offset, length, pitch, 95 if offset == 0 else 80)
    return sorted(notes)


def render(notes: list[Note], path: Path) -> np.ndarray:
    """The notes on a piano (GM program 0) through the fluidsynth CLI, mono float32 at 22050 Hz."""
    midi = mido.MidiFile(ticks_per_beat=480)  # 120 quarter notes a minute: a tick is 1/960 s
    track = mido.MidiTrack()
    midi.tracks.append(track)
    track.append(mido.Message("program_change", program=0, time=0))
    events = sorted([(n.start_seconds, 1, n.pitch, n.velocity) for n in notes]
                    + [(n.end_seconds, 0, n.pitch, 0) for n in notes])
    now = 0
    for seconds, on, pitch, velocity in events:
        tick = round(seconds * 960)
        track.append(mido.Message("note_on" if on else "note_off", note=pitch, velocity=velocity, time=tick - now))
        now = tick
    midi_path, wav_path = path.with_suffix(".mid"), path.with_suffix(".wav")
    midi.save(str(midi_path))
    subprocess.run(["fluidsynth", "-ni", "-g", "0.6", "-F", str(wav_path), "-r", str(SAMPLE_RATE_HZ), str(SOUNDFONT),
                    str(midi_path)], check=True, capture_output=True, timeout=60)
    audio, rate = soundfile.read(str(wav_path), dtype="float32", always_2d=True)
    assert rate == SAMPLE_RATE_HZ
    return np.asarray(audio.mean(axis=1), dtype=np.float32)


CASES = {("4/4", 70): 6, ("4/4", 120): 8, ("4/4", 160): 8, ("3/4", 120): 8, ("6/8", 70): 8}  # -> bars


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, int], tuple[list[Note], Rhythm]]:
    """Each case written, rendered and estimated once (12-21 s clips: long enough for two turns of
    the four-bar chord loop, as the corpus' pieces are)."""
    folder = tmp_path_factory.mktemp("rhythm")
    out = {}
    for (meter, bpm), bars in CASES.items():
        notes = written(meter, bpm, bars)
        audio = render(notes, folder / f"{meter.replace('/', '-')}-{bpm}")
        out[(meter, bpm)] = (notes, estimate_rhythm(audio, notes))
    return out


def within(estimate_bpm: float, reference_bpm: float, tolerance: float = 0.04) -> bool:
    return abs(estimate_bpm - reference_bpm) <= tolerance * reference_bpm


@needs_fluidsynth
@pytest.mark.fluidsynth
@pytest.mark.parametrize("bpm", [70, 120, 160])
def test_tempo_of_rendered_clips(clips: dict, bpm: int) -> None:
    _, rhythm = clips[("4/4", bpm)]
    assert within(rhythm.tempo_bpm, bpm), rhythm.tempo_bpm
    assert rhythm.time_signature == "4/4"
    assert np.all(np.diff(rhythm.beats_seconds) > 0)
    assert np.median(np.diff(rhythm.beats_seconds)) == pytest.approx(60.0 / bpm, rel=0.04)


@needs_fluidsynth
@pytest.mark.fluidsynth
@pytest.mark.parametrize(("meter", "bpm"), [("4/4", 120), ("3/4", 120), ("6/8", 70)])
def test_meter_of_rendered_clips(clips: dict, meter: str, bpm: int) -> None:
    _, rhythm = clips[(meter, bpm)]
    assert rhythm.time_signature == meter
    assert within(rhythm.tempo_bpm, bpm), rhythm.tempo_bpm  # 6/8: dotted quarters a minute
    per_bar = {"4/4": 4, "3/4": 3, "6/8": 2}[meter]
    bar_seconds = per_bar * 60.0 / bpm
    # downbeats on the bar lines of the clip, every per_bar-th beat
    assert np.all(np.abs(rhythm.downbeats_seconds / bar_seconds - np.round(rhythm.downbeats_seconds / bar_seconds))
                  < 0.1)
    assert set(np.round(rhythm.downbeats_seconds, 6)) <= set(np.round(rhythm.beats_seconds, 6))


def test_notes_alone_give_the_tempo_when_the_audio_is_silent() -> None:
    notes = written("4/4", 100, bars=8)
    rhythm = estimate_rhythm(np.zeros(SAMPLE_RATE_HZ * 20, dtype=np.float32), notes)
    assert within(rhythm.tempo_bpm, 100), rhythm.tempo_bpm
    assert rhythm.time_signature == "4/4"


def test_silence_and_no_notes_is_no_pulse() -> None:
    rhythm = estimate_rhythm(np.zeros(SAMPLE_RATE_HZ * 5, dtype=np.float32), [])
    assert isinstance(rhythm, Rhythm)
    assert (rhythm.tempo_bpm, rhythm.time_signature, rhythm.confidence) == (0.0, "4/4", 0.0)
    assert rhythm.beats_seconds.size == 0 and rhythm.downbeats_seconds.size == 0


def test_an_empty_clip_is_no_pulse() -> None:
    rhythm = estimate_rhythm(np.zeros(0, dtype=np.float32), [])
    assert rhythm.tempo_bpm == 0.0 and rhythm.beats_seconds.size == 0


def test_metrical_positions_cover_each_bar_once() -> None:
    for meter, per_bar in (("4/4", 4), ("3/4", 3), ("6/8", 2)):
        positions = metrical_positions(meter)
        every = np.concatenate(list(positions.values()))
        assert sorted(every) == list(range(per_bar * 24))
        assert list(positions["bar"]) == [0]
