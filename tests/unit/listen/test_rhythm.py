"""soundcanvas.listen.rhythm on short clips written here with mido and rendered with the fluidsynth
CLI (tempo at 70, 120 and 160 BPM; 4/4, 3/4 and 6/8), on the notes alone, and on silence; the tempo
search's bar profiles against their definition written out whole, and its memory on 3 minutes."""

from __future__ import annotations

import shutil
import subprocess
import tracemalloc
from pathlib import Path

import mido
import numpy as np
import pytest
import soundfile

from soundcanvas.listen.notes import Note
from soundcanvas.listen.rhythm import (
    BEATS_PER_BAR,
    BINS_PER_BEAT,
    FEATURES,
    METERS,
    TEMPO_RANGE_BPM,
    TEMPO_STEP,
    Rhythm,
    audible_onset_strength,
    estimate_rhythm,
    hypothesis_table,
    metrical_positions,
    sampled_profiles,
)

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


def clicks(beat_bpm: float, seconds: float) -> np.ndarray:
    """A decaying 1 kHz click on every beat, louder on every fourth, mono float32 at 22050 Hz."""
    t = np.arange(int(seconds * SAMPLE_RATE_HZ)) / SAMPLE_RATE_HZ
    beat = 60.0 / beat_bpm
    since = t % beat
    accent = np.where(np.floor(t / beat) % 4 == 0, 1.0, 0.5)
    return (0.4 * accent * np.exp(-since / 0.02) * np.sin(2 * np.pi * 1000.0 * t)).astype(np.float32)


def test_the_audios_envelopes_measured_apart_give_the_same_rhythm() -> None:
    """What the workflow does: Rhythm measures the audio's envelopes beside transcription, and
    Harmony reads them instead of the audio; the answer is the one from the audio itself."""
    audio = clicks(120, 16.0)
    notes = written("4/4", 120, bars=8)
    from_audio = estimate_rhythm(audio, notes)
    measured = audible_onset_strength(audio, SAMPLE_RATE_HZ)
    assert measured is not None
    apart = estimate_rhythm(None, notes, audio_envelopes=measured)
    assert (apart.tempo_bpm, apart.time_signature, apart.confidence) == (
        from_audio.tempo_bpm, from_audio.time_signature, from_audio.confidence)
    np.testing.assert_array_equal(apart.beats_seconds, from_audio.beats_seconds)
    np.testing.assert_array_equal(apart.downbeats_seconds, from_audio.downbeats_seconds)


def test_silence_has_no_audio_envelopes_and_the_notes_alone_count() -> None:
    silence = np.zeros(SAMPLE_RATE_HZ * 16, dtype=np.float32)
    assert audible_onset_strength(silence, SAMPLE_RATE_HZ) is None
    assert audible_onset_strength(silence[:512], SAMPLE_RATE_HZ) is None
    assert audible_onset_strength(None, SAMPLE_RATE_HZ) is None
    notes = written("4/4", 100, bars=8)
    alone = estimate_rhythm(None, notes)
    with_silence = estimate_rhythm(silence, notes)
    assert (alone.tempo_bpm, alone.time_signature) == (with_silence.tempo_bpm, with_silence.time_signature)
    np.testing.assert_array_equal(alone.beats_seconds, with_silence.beats_seconds)


def test_metrical_positions_cover_each_bar_once() -> None:
    for meter, per_bar in (("4/4", 4), ("3/4", 3), ("6/8", 2)):
        positions = metrical_positions(meter)
        every = np.concatenate(list(positions.values()))
        assert sorted(every) == list(range(per_bar * 24))
        assert list(positions["bar"]) == [0]


# ------------------------------------------------------------------------------ the tempo search


def profiles_by_definition(envelopes: np.ndarray, fps: float, beat_seconds: np.ndarray, beats_per_bar: int,
                           span_seconds: tuple[float, float]) -> np.ndarray:
    """sampled_profiles as first written: every (period, bar, bin) of the search at once, the bars
    from the one holding the span's start to past its end, each position reading the frame nearest
    its time when it lies within half a beat of the span (about 1 GB for 3 minutes)."""
    from scipy.ndimage import maximum_filter1d

    peaks = maximum_filter1d(envelopes, size=5, axis=-1, mode="constant")
    n_frames = envelopes.shape[-1]
    length = beats_per_bar * BINS_PER_BEAT
    start, stop = span_seconds
    bar_seconds = beat_seconds * beats_per_bar
    first_bar = np.floor(start / bar_seconds)
    n_bars = int(np.max(np.ceil(stop / bar_seconds) - first_bar)) + 1
    bars = first_bar[:, None] + np.arange(n_bars)[None, :]
    times = (bars[:, :, None] * length + np.arange(length)[None, None, :]) * (beat_seconds / BINS_PER_BEAT)[:, None, None]
    frames = np.round(times * fps).astype(int)
    half_beat = 0.5 * beat_seconds[:, None, None]
    valid = (times >= start - half_beat) & (times <= stop + half_beat) & (frames >= 0) & (frames < n_frames)
    values = np.where(valid[None], peaks[:, np.clip(frames, 0, n_frames - 1)], 0.0)
    counts = valid.sum(axis=1)
    return np.divide(values.sum(axis=2), counts[None], out=np.zeros((envelopes.shape[0], beat_seconds.size, length)),
                     where=counts[None] > 0)


def search_periods(meter: str) -> np.ndarray:
    low_bpm, high_bpm = TEMPO_RANGE_BPM[meter]
    count = int(np.ceil(np.log(high_bpm / low_bpm) / np.log1p(TEMPO_STEP))) + 1
    return 60.0 / (low_bpm * (1 + TEMPO_STEP) ** np.arange(count))


@pytest.mark.parametrize("meter", METERS)
@pytest.mark.parametrize(("seconds", "span_seconds"), [(20.0, (0.0, 20.0)), (31.0, (2.3, 27.9)), (12.0, (0.4, 14.0))],
                         ids=["whole clip", "inside", "span past the end"])
def test_sampled_profiles_equal_their_definition(meter: str, seconds: float, span_seconds: tuple[float, float]) -> None:
    """The same numbers, bit for bit, as every position of every period sampled at once."""
    fps = SAMPLE_RATE_HZ / 256
    rng = np.random.default_rng(11)
    n_frames = int(seconds * fps)
    envelopes = rng.random((3, n_frames)) * (rng.random((3, n_frames)) < 0.15)
    periods = search_periods(meter)
    ours = sampled_profiles(envelopes, fps, periods, BEATS_PER_BAR[meter], span_seconds)
    defined = profiles_by_definition(envelopes, fps, periods, BEATS_PER_BAR[meter], span_seconds)
    assert ours.shape == (3, periods.size, BEATS_PER_BAR[meter] * BINS_PER_BEAT)
    np.testing.assert_array_equal(ours, defined)


def test_the_tempo_search_of_three_minutes_stays_small() -> None:
    """Every envelope, period, meter and phase of a 3-minute piece in well under the 1 GB that
    sampling every period at once took (it made Harmony's peak)."""
    fps = SAMPLE_RATE_HZ / 256
    rng = np.random.default_rng(12)
    n_frames = int(180 * fps)
    envelopes = {name: rng.random(n_frames) * (rng.random(n_frames) < 0.1) for name in FEATURES}
    tracemalloc.start()
    try:
        table = hypothesis_table(envelopes, fps, span_seconds=(0.5, 179.5))
        peak_bytes = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert table.features["4/4"].shape == (search_periods("4/4").size, 96, len(FEATURES), 6)
    assert peak_bytes < 150 * 2**20, f"{peak_bytes / 2**20:.0f} MB"
