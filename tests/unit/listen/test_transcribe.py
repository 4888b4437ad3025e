"""soundcanvas.listen.transcribe: the ONNX model against basic-pitch's own inference, the note
decoder against basic-pitch's, each clean-up step on notes and activations built by hand, a short
FluidSynth rendering transcribed end to end, and the MIDI writer.

The rendering needs the fluidsynth binary and FluidR3_GM (marked `fluidsynth`). Nothing here
calls a numba function: basic-pitch's run_inference loads a 22050 Hz file with librosa without
resampling, and our path uses no librosa code that is compiled.
"""

from __future__ import annotations

import io
import subprocess
from dataclasses import replace
from pathlib import Path

import mido
import mir_eval
import numpy as np
import pytest
import soundfile

from soundcanvas.core.errors import AudioRejected
from soundcanvas.listen import audio, transcribe
from soundcanvas.listen.notes import Note
from soundcanvas.listen.transcribe import (
    BARE_PARAMS,
    DEFAULT_PARAMS,
    drop_harmonics,
    drop_short_notes,
    merge_retriggers,
    notes_to_midi,
    onset_leading_edges,
)

SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
FPS = 86.0  # frames a second in the hand-made activations
N_FRAMES = 300
# (start, end, pitch, velocity): a C major phrase over a held bass note, a note struck twice, a chord.
WRITTEN = [
    (0.20, 2.60, 36, 80),
    (0.20, 0.55, 60, 100), (0.60, 0.95, 64, 100), (1.00, 1.35, 67, 100), (1.40, 1.75, 72, 100),
    (1.80, 2.15, 67, 100), (2.20, 2.55, 67, 100),
    (2.80, 3.60, 60, 90), (2.80, 3.60, 64, 90), (2.80, 3.60, 67, 90),
]


def onset_f1(reference: list[Note], estimate: list[Note]) -> float:
    def arrays(notes: list[Note]) -> tuple[np.ndarray, np.ndarray]:
        intervals = np.array([[n.start_seconds, max(n.end_seconds, n.start_seconds + 1e-3)] for n in notes])
        return intervals, 440.0 * 2.0 ** ((np.array([n.pitch for n in notes]) - 69) / 12)

    (ref_i, ref_p), (est_i, est_p) = arrays(reference), arrays(estimate)
    return float(mir_eval.transcription.precision_recall_f1_overlap(
        ref_i, ref_p, est_i, est_p, onset_tolerance=0.05, offset_ratio=None)[2])


def blank() -> tuple[np.ndarray, np.ndarray]:
    """An all-zero onset activation and its frame times (FPS a second)."""
    return np.zeros((N_FRAMES, 88), dtype=np.float32), np.arange(N_FRAMES) / FPS


def mark_onset(onset: np.ndarray, seconds: float, pitch: int, value: float) -> None:
    onset[round(seconds * FPS), pitch - transcribe.MIDI_OFFSET] = value


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """WRITTEN on a piano, rendered by the FluidSynth CLI at 44.1 kHz (audio.decode resamples it)."""
    folder = tmp_path_factory.mktemp("clip")
    midi = mido.MidiFile(ticks_per_beat=480)  # 120 BPM: 960 ticks a second
    track = mido.MidiTrack([mido.Message("program_change", program=0, time=0)])
    events = sorted([(round(s * 960), 1, p, v) for s, _, p, v in WRITTEN]
                    + [(round(e * 960), 0, p, 0) for _, e, p, _ in WRITTEN])
    now = 0
    for tick, on, pitch, vel in events:
        track.append(mido.Message("note_on" if on else "note_off", note=pitch, velocity=vel, time=tick - now))
        now = tick
    midi.tracks.append(track)
    midi.save(folder / "clip.mid")
    wav = folder / "clip.wav"
    subprocess.run(["fluidsynth", "-ni", "-q", "-g", "0.6", "-r", "44100", "-F", str(wav), str(SOUNDFONT),
                    str(folder / "clip.mid")], check=True, capture_output=True, timeout=60)
    return wav


# --- the model ---------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore::DeprecationWarning:audioread")  # librosa's fallback reader, imported unused
def test_model_outputs_equal_basic_pitch_run_inference(tmp_path: Path) -> None:
    """Same samples in, same activations out: the windowing, padding and unwrapping are basic-pitch's."""
    from basic_pitch.inference import run_inference

    rng = np.random.default_rng(5)
    t = np.arange(round(3.9 * audio.SAMPLE_RATE_HZ)) / audio.SAMPLE_RATE_HZ  # three windows, the last one padded
    samples = (0.2 * np.sin(2 * np.pi * 261.63 * t) * np.exp(-t % 1.0) + 0.15 * np.sin(2 * np.pi * 392.0 * t)
               + 0.01 * rng.standard_normal(t.size)).astype(np.float32)
    path = tmp_path / "chord.wav"
    soundfile.write(path, samples, audio.SAMPLE_RATE_HZ, subtype="FLOAT")  # librosa reads back these floats

    ours = transcribe.model_outputs(samples)
    theirs = run_inference(path, transcribe.model_path())
    assert transcribe.windows(samples).shape[0] == 3
    for key in ("note", "onset", "contour"):
        assert ours[key].shape == theirs[key].shape
        np.testing.assert_allclose(ours[key], theirs[key], atol=1e-5)
    assert ours["note"].shape == (int(samples.size * 86 / audio.SAMPLE_RATE_HZ), 88)


# --- the note decoder --------------------------------------------------------------------------


def activations(seed: int, n_frames: int = 700) -> tuple[np.ndarray, np.ndarray]:
    """Note and onset activations (n_frames, 88) like the model's: notes that swell and fade at
    random pitches and times, chords and repeats among them, over low noise, on a coarse grid of
    values (1/32) so that equal maxima and equal neighbours occur, as they do in the model's output."""
    rng = np.random.default_rng(seed)
    note = rng.random((n_frames, 88)) * 0.2
    onset = rng.random((n_frames, 88)) * 0.3
    for _ in range(90):
        start, pitch = int(rng.integers(0, n_frames - 5)), int(rng.integers(0, 88))
        length = int(rng.integers(3, 80))
        level = rng.uniform(0.3, 1.0)
        shape = level * np.exp(-np.arange(length) / rng.uniform(10, 60))
        end = min(start + length, n_frames)
        note[start:end, pitch] = np.maximum(note[start:end, pitch], shape[: end - start])
        if pitch + 12 < 88:  # a quieter octave, as a harmonic would be
            note[start:end, pitch + 12] = np.maximum(note[start:end, pitch + 12], 0.6 * shape[: end - start])
        onset[start, pitch] = max(onset[start, pitch], rng.uniform(0.3, 1.0))
    return (np.round(note * 32) / 32).astype(np.float32), (np.round(onset * 32) / 32).astype(np.float32)


@pytest.mark.parametrize("params", [DEFAULT_PARAMS, BARE_PARAMS, replace(DEFAULT_PARAMS, melodia_trick=False)],
                         ids=["ours", "bare", "no melodia trick"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_note_events_are_basic_pitchs_decoder(params: transcribe.TranscribeParams, seed: int) -> None:
    """Event for event, in the same order: the same notes from the same activations."""
    from basic_pitch.note_creation import output_to_notes_polyphonic

    note, onset = activations(seed)
    min_frames = transcribe._frames(min(params.minimum_note_length_ms, params.short_note_length_ms))
    with np.errstate(invalid="ignore", divide="ignore"):
        theirs = output_to_notes_polyphonic(
            note.copy(), onset.copy(), onset_thresh=params.onset_threshold, frame_thresh=params.frame_threshold,
            min_note_len=min_frames, infer_onsets=params.infer_onsets, max_freq=None, min_freq=None,
            melodia_trick=params.melodia_trick)
        ours = transcribe.note_events(
            note, onset, onset_threshold=params.onset_threshold, frame_threshold=params.frame_threshold,
            min_frames=min_frames, infer_onsets=params.infer_onsets, melodia_trick=params.melodia_trick)
    assert len(theirs) > 30
    assert [(int(s), int(e), int(p), float(a)) for s, e, p, a in theirs] == ours


def test_note_events_leave_their_inputs_alone() -> None:
    note, onset = activations(4)
    before = (note.copy(), onset.copy())
    transcribe.note_events(note, onset, onset_threshold=0.5, frame_threshold=0.3, min_frames=5, infer_onsets=True,
                           melodia_trick=True)
    np.testing.assert_array_equal(note, before[0])
    np.testing.assert_array_equal(onset, before[1])


# --- the whole chain ---------------------------------------------------------------------------


@pytest.mark.fluidsynth
def test_transcribe_finds_the_written_notes(rendered: Path) -> None:
    notes = transcribe.transcribe(audio.decode(rendered))
    written = [Note(*item) for item in WRITTEN]
    assert onset_f1(written, notes) >= 0.8
    assert all(1 <= n.velocity <= 127 and n.end_seconds > n.start_seconds for n in notes)
    assert notes == sorted(notes)
    # the G struck twice stays two notes
    assert sum(1 for n in notes if n.pitch == 67 and 1.75 <= n.start_seconds <= 2.3) == 2


@pytest.mark.fluidsynth
def test_our_steps_switched_off_are_bare_basic_pitch(rendered: Path) -> None:
    from basic_pitch.note_creation import model_output_to_notes

    outputs = transcribe.model_outputs(audio.decode(rendered))
    _, events = model_output_to_notes(outputs, onset_thresh=0.5, frame_thresh=0.3, min_note_len=11,
                                      include_pitch_bends=False)
    bare = sorted((round(float(s), 6), round(float(e), 6), int(p)) for s, e, p, _, _ in events)
    ours = transcribe.notes_from_outputs(outputs, BARE_PARAMS)
    assert [(round(n.start_seconds, 6), round(n.end_seconds, 6), n.pitch) for n in ours] == bare
    assert transcribe.notes_from_outputs(outputs, DEFAULT_PARAMS) != ours  # and switched on, they act


def test_silence_is_rejected_before_the_model_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_model(_: np.ndarray) -> dict[str, np.ndarray]:
        raise AssertionError("the model ran on silence")

    monkeypatch.setattr(transcribe, "model_outputs", no_model)
    for quiet in (np.zeros(audio.SAMPLE_RATE_HZ, dtype=np.float32),
                  1e-5 * np.random.default_rng(0).standard_normal(audio.SAMPLE_RATE_HZ).astype(np.float32),
                  np.zeros(0, dtype=np.float32)):
        with pytest.raises(AudioRejected, match=r"^the audio is silent: no notes found$"):
            transcribe.transcribe(quiet)


def test_audio_without_notes_is_rejected_as_silent(monkeypatch: pytest.MonkeyPatch) -> None:
    frames = 200
    monkeypatch.setattr(transcribe, "model_outputs", lambda _: {
        "note": np.full((frames, 88), 0.05, np.float32), "onset": np.full((frames, 88), 0.02, np.float32),
        "contour": np.zeros((frames, 264), np.float32)})
    noise = 0.1 * np.random.default_rng(1).standard_normal(2 * audio.SAMPLE_RATE_HZ).astype(np.float32)
    with pytest.raises(AudioRejected, match="silent"):
        transcribe.transcribe(noise)


# --- the clean-up steps ------------------------------------------------------------------------


def test_merge_retriggers_joins_a_ringing_note_cut_by_a_borrowed_onset_and_keeps_a_struck_repeat() -> None:
    onset, times = blank()
    notes = [Note(0.0, 1.0, 60, 90), Note(1.0, 1.5, 60, 70),   # cut where another string was plucked
             Note(1.5, 2.0, 60, 85),                            # struck again
             Note(2.5, 3.0, 60, 60),                            # after a rest: a new note, weak onset or not
             Note(1.0, 1.4, 64, 80)]
    mark_onset(onset, 0.0, 60, 0.95)
    mark_onset(onset, 1.0, 60, 0.55)
    mark_onset(onset, 1.0, 64, 0.95)
    mark_onset(onset, 1.5, 60, 0.90)
    mark_onset(onset, 2.5, 60, 0.30)
    merged = merge_retriggers(notes, onset, times, max_gap_seconds=0.03, min_onset=0.7)
    assert merged == [Note(0.0, 1.5, 60, 90), Note(1.0, 1.4, 64, 80), Note(1.5, 2.0, 60, 85), Note(2.5, 3.0, 60, 60)]
    # the threshold decides: with it at 0 nothing is joined
    assert merge_retriggers(notes, onset, times, max_gap_seconds=0.03, min_onset=0.0) == sorted(notes)


def test_merge_retriggers_joins_a_chain_into_one_note() -> None:
    onset, times = blank()
    mark_onset(onset, 0.0, 55, 0.9)
    chain = [Note(0.25 * i, 0.25 * (i + 1), 55, 60 + i) for i in range(6)]
    assert merge_retriggers(chain, onset, times, max_gap_seconds=0.03, min_onset=0.7) == [Note(0.0, 1.5, 55, 65)]


def test_drop_harmonics_removes_a_quiet_octave_without_an_onset_and_keeps_a_played_one() -> None:
    onset, times = blank()
    low = Note(0.0, 1.0, 48, 100)
    mark_onset(onset, 0.0, 48, 0.9)
    octave_ghost = Note(0.0, 0.9, 60, 50)          # the second harmonic: quiet, weak onset
    mark_onset(onset, 0.0, 60, 0.5)
    twelfth_ghost = Note(0.1, 0.8, 67, 40)         # the third harmonic (octave + fifth)
    mark_onset(onset, 0.1, 67, 0.3)
    played_octave = Note(1.0, 2.0, 60, 95)         # a real octave over a second bass note
    low_again = Note(1.0, 2.0, 48, 100)
    mark_onset(onset, 1.0, 48, 0.9)
    mark_onset(onset, 1.0, 60, 0.9)
    loud_weak = Note(2.0, 3.0, 72, 95)             # weak onset, but as loud as the note below: kept
    low_third = Note(2.0, 3.0, 60, 100)
    mark_onset(onset, 2.0, 72, 0.4)
    notes = [low, octave_ghost, twelfth_ghost, played_octave, low_again, loud_weak, low_third]
    kept = drop_harmonics(notes, onset, times, max_ratio=0.8, max_onset=0.8, min_overlap=0.5)
    assert kept == sorted([low, played_octave, low_again, loud_weak, low_third])
    assert drop_harmonics(notes, onset, times, max_ratio=0.0, max_onset=0.8, min_overlap=0.5) == sorted(notes)


def test_drop_harmonics_needs_the_notes_to_sound_together() -> None:
    onset, times = blank()
    notes = [Note(0.0, 0.5, 48, 100), Note(0.6, 1.2, 60, 40)]  # a quiet C4 after the C3 ended
    assert drop_harmonics(notes, onset, times, max_ratio=0.8, max_onset=0.8, min_overlap=0.5) == notes


@pytest.mark.parametrize(("max_ratio", "min_overlap"), [(0.8, 0.5), (1.5, 0.0), (0.0, 1.0)])
def test_drop_harmonics_drops_what_its_rule_says_in_a_crowd(max_ratio: float, min_overlap: float) -> None:
    """Many notes at octaves, twelfths and double octaves, against the rule applied note by note."""
    rng = np.random.default_rng(8)
    onset, times = blank()
    notes = []
    for _ in range(160):
        start = float(rng.uniform(0.0, 3.0))
        note = Note(round(start, 3), round(start + float(rng.uniform(0.05, 0.6)), 3), int(rng.integers(40, 64)),
                    int(rng.integers(20, 120)))
        notes.append(note)
        mark_onset(onset, note.start_seconds, note.pitch, float(rng.choice([0.3, 0.9])))

    kept: list[Note] = []
    for current in sorted(notes, key=lambda n: (n.pitch, n.start_seconds)):
        length = max(current.end_seconds - current.start_seconds, 1e-9)
        harmonic = any(transcribe.overlap_seconds(low, current) >= min_overlap * length
                       and current.velocity < max_ratio * low.velocity
                       for low in kept if current.pitch - low.pitch in transcribe.HARMONIC_INTERVALS)
        if not (harmonic and transcribe.onset_strength(onset, times, current) < 0.8):
            kept.append(current)
    ours = drop_harmonics(notes, onset, times, max_ratio=max_ratio, max_onset=0.8, min_overlap=min_overlap)
    assert ours == sorted(kept)
    assert max_ratio == 0.0 or len(ours) < len(notes)  # the rule acts here


def test_drop_short_notes_keeps_a_short_note_with_a_strong_onset() -> None:
    onset, times = blank()
    long_note, short_clear, short_vague = Note(0.0, 0.5, 60, 80), Note(1.0, 1.08, 84, 40), Note(2.0, 2.08, 70, 40)
    mark_onset(onset, 1.0, 84, 0.85)
    mark_onset(onset, 2.0, 70, 0.55)
    kept = drop_short_notes([long_note, short_clear, short_vague], onset, times, min_frames=11, keep_onset=0.7)
    assert kept == [long_note, short_clear]


def test_onset_leading_edges_moves_a_swelling_note_back_and_leaves_a_struck_one() -> None:
    onset, times = blank()
    bowed, struck = Note(100 / FPS, 150 / FPS, 50, 80), Note(200 / FPS, 250 / FPS, 62, 80)
    onset[95:101, bowed.pitch - 21] = [0.1, 0.3, 0.5, 0.72, 0.8, 0.9]  # the peak where the decoder started it
    onset[199:201, struck.pitch - 21] = [0.1, 0.95]
    moved = onset_leading_edges([bowed, struck], onset, times, fraction=0.7, max_frames=4)
    assert moved == [Note(98 / FPS, bowed.end_seconds, 50, 80), struck]
    # never before the end of the previous note of the same pitch
    before = Note(90 / FPS, 99 / FPS, 50, 70)
    moved = onset_leading_edges([before, bowed], onset, times, fraction=0.7, max_frames=4)
    assert moved[1].start_seconds == pytest.approx(99 / FPS)
    assert onset_leading_edges([bowed], onset, times, fraction=0.7, max_frames=0) == [bowed]


def test_params_are_frozen_and_bare_turns_every_step_off() -> None:
    with pytest.raises(AttributeError):
        DEFAULT_PARAMS.onset_threshold = 0.1  # type: ignore[misc]
    assert BARE_PARAMS.retrigger_min_onset == 0 and BARE_PARAMS.harmonic_max_ratio == 0
    assert BARE_PARAMS.onset_edge_max_ms == 0 and BARE_PARAMS.short_note_length_ms == BARE_PARAMS.minimum_note_length_ms
    assert replace(DEFAULT_PARAMS) == DEFAULT_PARAMS


# --- MIDI --------------------------------------------------------------------------------------


def read_back(data: bytes) -> tuple[mido.MidiFile, list[tuple[float, float, int, int]]]:
    """The file and its notes in seconds, played through mido (which applies the tempo)."""
    midi = mido.MidiFile(file=io.BytesIO(data))
    now, sounding, notes = 0.0, {}, []
    for message in midi:
        now += message.time
        if message.type == "note_on" and message.velocity > 0:
            sounding[message.note] = (now, message.velocity)
        elif message.type in ("note_off", "note_on"):
            start, vel = sounding.pop(message.note)
            notes.append((start, now, message.note, vel))
    return midi, sorted(notes)


@pytest.mark.parametrize("tempo_bpm, signature", [(120.0, "4/4"), (90.0, "6/8"), (73.5, "3/4")])
def test_notes_to_midi_round_trips_through_mido(tempo_bpm: float, signature: str) -> None:
    notes = [Note(0.0, 0.5, 60, 100), Note(0.5, 1.25, 64, 80), Note(0.5, 2.0, 48, 1), Note(1.3, 1.9, 67, 127)]
    midi, back = read_back(notes_to_midi(notes, tempo_bpm, signature))
    assert midi.type == 1 and len(midi.tracks) == 1
    metas = {m.type: m for m in midi.tracks[0] if m.is_meta}
    assert metas["set_tempo"].tempo == round(60_000_000 / tempo_bpm)
    numerator, denominator = (int(x) for x in signature.split("/"))
    assert (metas["time_signature"].numerator, metas["time_signature"].denominator) == (numerator, denominator)
    assert [m.program for m in midi.tracks[0] if m.type == "program_change"] == [0]
    tick = 60 / tempo_bpm / midi.ticks_per_beat
    assert len(back) == len(notes)
    for (start, end, pitch, vel), note in zip(back, sorted(notes), strict=True):
        assert (pitch, vel) == (note.pitch, note.velocity)
        assert start == pytest.approx(note.start_seconds, abs=tick)
        assert end == pytest.approx(note.end_seconds, abs=tick)


def test_notes_to_midi_ends_a_note_where_its_pitch_starts_again() -> None:
    _, back = read_back(notes_to_midi([Note(0.0, 1.0, 60, 90), Note(0.5, 1.5, 60, 70), Note(2.0, 2.0, 62, 50)]))
    assert [(round(s, 3), round(e, 3), p) for s, e, p, _ in back] == [(0.0, 0.5, 60), (0.5, 1.5, 60), (2.0, 2.001, 62)]


@pytest.mark.parametrize("signature", ["4", "4/3", "0/4", "x/y"])
def test_notes_to_midi_rejects_a_bad_time_signature(signature: str) -> None:
    with pytest.raises(ValueError, match="time signature"):
        notes_to_midi([Note(0.0, 1.0, 60, 90)], 120.0, signature)
