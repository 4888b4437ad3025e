"""Notes from a recording: basic-pitch's model run with onnxruntime, its note decoder, and our clean-up.

    audio (mono float32 at 22050 Hz, from audio.decode)
      -> model_outputs: 2-second windows through the ICASSP 2022 model -> 'note', 'onset', 'contour'
      -> note_events: basic-pitch's note decoder, made fast (thresholds from TranscribeParams)
      -> drop_short_notes -> merge_retriggers -> drop_harmonics -> onset_leading_edges -> list[Note]

The model. basic-pitch's own `run_inference` loads the file with librosa and feeds the model one
window at a time; here the samples come from ffmpeg (audio.decode) and the windows go through
onnxruntime WINDOWS_PER_RUN at a time. The windowing is basic-pitch's, constant for constant:
OVERLAP_SAMPLES / 2 zeros in front, windows of WINDOW_SAMPLES every HOP_SAMPLES, the last one
zero-padded, half the overlapping frames cut from each end of every window, the rest laid end to
end and trimmed to the audio's length (tests/unit/listen/test_transcribe.py checks the outputs
against basic_pitch.inference.run_inference). The session is made once per process (a warm
Lambda keeps it) with one intra-op thread per core the process may use: on the 2-core
development machine a 3-minute piece took 4.6 s with one thread, 2.0-2.4 s with two, and 8
windows a run were as fast as 4 or 16 (one at a time, as basic-pitch runs them: 3.2 s). The
threads wait for work asleep, not spinning (onnxruntime's allow_spinning off): a spinning thread
holds its core between the model's many small operators, which cost the model itself time on 2
cores and, beside other work (Rhythm's librosa in the local stack's Parallel state, the decoder's
Python), took the core from it. Measured on that machine, 3 minutes, three clean runs each: alone
2.6-3.2 s spinning, 2.4-2.8 s not; with Rhythm's work running at once, 3.6-3.8 s against 2.7-3.1 s.

Our clean-up. On the 'tune' split of bench/listen/corpus.py (FluidR3, no noise) the bare model's
errors were mostly of four kinds, each handled by a small pure function over the note list and
the model's onset activation (thresholds in TranscribeParams, tuned in DEFAULT_PARAMS):
- re-triggers (`merge_retriggers`): a note that keeps ringing (a held guitar bass string, a
  piano chord, an organ) is cut in two wherever another note starts, because the new attack
  lights the onset output at every sounding pitch. Those borrowed onsets are weak at the
  ringing pitch (median 0.58 against 0.85 for a real repeated note there), so a note that
  starts where its pitch is still sounding joins it unless its own onset is strong.
- harmonics (`drop_harmonics`): a note an octave, an octave and a fifth or two octaves above a
  louder note sounding with it, with a weak onset of its own (oboe, clarinet and guitar above
  all). A real doubling (a melody an octave above the bass) has a strong onset and stays.
- short notes (`drop_short_notes`): the decoder drops every note under about 128 ms, and with
  it high piano notes whose activation falls below the frame threshold within 100 ms although
  their onset is clear; a short note with a strong onset is kept.
- late onsets (`onset_leading_edges`): the decoder starts a note at the peak of the onset
  activation, which for a bowed, blown or swelling attack comes 30-60 ms after the note
  began; the start moves back to the leading edge of that peak.

Imports: basic_pitch.note_creation pulls in librosa, mir_eval, scipy.stats, resampy and numba
(about 1.3 s), and onnxruntime about 0.2 s, so both are imported on the first transcription and
not with this module. Numba: librosa and resampy define numba functions, but they compile
lazily and nothing on this path calls one (a transcription with an empty NUMBA_CACHE_DIR writes
nothing to it), so librosa's first-time compiling (about 20 s in a fresh venv) is not paid here.
"""

from __future__ import annotations

import functools
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mido
import numpy as np

from soundcanvas.core.errors import AudioRejected, TranscriptionFailed
from soundcanvas.listen.notes import Note

MODEL_FILE = Path("saved_models") / "icassp_2022" / "nmp.onnx"
SAMPLE_RATE_HZ = 22050  # basic_pitch.constants.AUDIO_SAMPLE_RATE
FFT_HOP = 256  # basic_pitch.constants.FFT_HOP
FRAMES_PER_SECOND = SAMPLE_RATE_HZ // FFT_HOP  # 86, truncated as basic_pitch.constants.ANNOTATIONS_FPS is
WINDOW_SAMPLES = SAMPLE_RATE_HZ * 2 - FFT_HOP  # 43844: basic_pitch.constants.AUDIO_N_SAMPLES
OVERLAP_FRAMES = 30  # run_inference's n_overlapping_frames
OVERLAP_SAMPLES = OVERLAP_FRAMES * FFT_HOP
HOP_SAMPLES = WINDOW_SAMPLES - OVERLAP_SAMPLES
WINDOWS_PER_RUN = 8
DECODER_TOLERANCE_FRAMES = 11  # basic-pitch's decoder ends a note after this many frames under the threshold
MAX_PITCH_BIN = 87  # basic_pitch.constants.MAX_FREQ_IDX: the model's highest pitch bin (C8)
MIDI_OFFSET = 21  # pitch of the model's lowest bin (A0)
# Below this RMS (-70 dBFS) a recording is treated as silence without running the model.
SILENCE_RMS_FLOOR = 10 ** (-70 / 20)
# Onset evidence is read this many frames either side of a note's start (the decoder's onset
# frame is a local maximum, a melodia-trick note starts where its energy does).
ONSET_SEARCH_FRAMES = 2
# Intervals (semitones) at which the second, third and fourth harmonics of a note lie.
HARMONIC_INTERVALS = (12, 19, 24)
MIDI_TICKS_PER_BEAT = 480
MIDI_PROGRAM = 0  # General MIDI Acoustic Grand Piano
_INPUT = "serving_default_input_2:0"
_OUTPUTS = {"note": "StatefulPartitionedCall:1", "onset": "StatefulPartitionedCall:2",
            "contour": "StatefulPartitionedCall:0"}


@dataclass(frozen=True)
class TranscribeParams:
    """Thresholds of basic-pitch's decoder and of our clean-up (activations are 0..1).

    The field defaults are bare basic-pitch (its predict() defaults, every step of ours off:
    BARE_PARAMS); DEFAULT_PARAMS holds the tuned values, and a variation is best made from it
    with dataclasses.replace. onset_threshold, frame_threshold, minimum_note_length_ms,
    infer_onsets and melodia_trick are basic-pitch's own. The others belong to our steps:
    - short notes: the decoder keeps notes down to short_note_length_ms; one shorter than
      minimum_note_length_ms stays only with an onset of short_note_min_onset or more.
    - re-triggers: a note starting at most retrigger_max_gap_ms after a note of its pitch
      ended, with an onset below retrigger_min_onset, is joined to that note.
    - harmonics: a note at one of HARMONIC_INTERVALS above a note that sounds through
      harmonic_min_overlap of it, quieter than harmonic_max_ratio x its velocity and with an
      onset below harmonic_max_onset, is dropped.
    - onset times: a note starts where its onset activation first reaches onset_edge_fraction
      of its peak, at most onset_edge_max_ms before the decoder's start.
    """

    onset_threshold: float = 0.5
    frame_threshold: float = 0.3
    minimum_note_length_ms: float = 127.70
    infer_onsets: bool = True
    melodia_trick: bool = True
    short_note_length_ms: float = 127.70  # = minimum_note_length_ms: no shorter notes
    short_note_min_onset: float = 1.0
    retrigger_max_gap_ms: float = 0.0
    retrigger_min_onset: float = 0.0  # no onset is below 0: nothing joined
    harmonic_max_ratio: float = 0.0  # no velocity is below 0: nothing dropped
    harmonic_max_onset: float = 0.0
    harmonic_min_overlap: float = 1.0
    onset_edge_fraction: float = 1.0
    onset_edge_max_ms: float = 0.0  # starts stay where the decoder put them


BARE_PARAMS = TranscribeParams()  # basic_pitch.inference.predict() with its defaults
# Tuned with `python -m bench.listen.tune_transcription` on the corpus's 'tune' split (24 pieces,
# FluidR3, no noise; the 'report' split never read): mean note onset F1 (mir_eval, 50 ms, offsets
# ignored) 0.853 against 0.687 for bare basic-pitch predict() on the same files. Per kind, bare ->
# ours: melody 0.83 -> 0.93, piano 0.79 -> 0.84, duet 0.68 -> 0.95, guitar 0.56 -> 0.84, band
# 0.54 -> 0.66. The coordinate search from bare basic-pitch ended at 0.852 with the onset
# threshold at 0.7 and the re-trigger step off (a 0.7 threshold keeps most borrowed onsets out
# by itself); a threshold of 0.6 with the step on scores 0.853, keeps the notes with onsets
# between 0.6 and 0.7 that follow no note of their pitch, and no single group's move improves it.
# minimum_note_length_ms: 180 ms 0.850, 250 ms 0.853, 300 ms 0.851.
DEFAULT_PARAMS = TranscribeParams(
    onset_threshold=0.6, frame_threshold=0.4, minimum_note_length_ms=250.0, infer_onsets=False, melodia_trick=True,
    short_note_length_ms=35.0, short_note_min_onset=0.7,
    retrigger_max_gap_ms=60.0, retrigger_min_onset=0.7,
    harmonic_max_ratio=0.8, harmonic_max_onset=0.8, harmonic_min_overlap=0.5,
    onset_edge_fraction=0.7, onset_edge_max_ms=50.0,
)


# --- the model ---------------------------------------------------------------------------------


def model_path() -> Path:
    """The ONNX file of basic-pitch's ICASSP 2022 model as the basic-pitch package ships it.

    Built from the package's location rather than basic_pitch.ICASSP_2022_MODEL_PATH, which
    names the TensorFlow model instead whenever TensorFlow happens to be installed.
    """
    import basic_pitch  # imported on first use: see the module docstring

    return Path(basic_pitch.__file__).parent / MODEL_FILE


@functools.cache
def _session() -> Any:
    """The onnxruntime session, made once per process; one intra-op thread per usable core, not
    spinning while it waits (see the module docstring)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = _usable_cores()
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return onnxruntime.InferenceSession(str(model_path()), options, providers=["CPUExecutionProvider"])
    except (OSError, RuntimeError) as exc:  # onnxruntime's load errors are RuntimeError subclasses
        raise TranscriptionFailed(f"the transcription model could not be loaded: {exc}") from exc


def _usable_cores() -> int:
    """The cores this process may run on (Lambda: its vCPUs; elsewhere the affinity mask or the count)."""
    affinity = getattr(os, "sched_getaffinity", None)
    return max(1, len(affinity(0)) if affinity is not None else (os.cpu_count() or 1))


def windows(audio: np.ndarray) -> np.ndarray:
    """The model's input, (n_windows, WINDOW_SAMPLES, 1) float32, windowed as basic-pitch windows."""
    padded = np.concatenate([np.zeros(OVERLAP_SAMPLES // 2, dtype=np.float32), audio.astype(np.float32, copy=False)])
    starts = range(0, padded.size, HOP_SAMPLES)
    out = np.zeros((len(starts), WINDOW_SAMPLES, 1), dtype=np.float32)
    for row, start in enumerate(starts):
        chunk = padded[start : start + WINDOW_SAMPLES]
        out[row, : chunk.size, 0] = chunk
    return out


def unwrap(output: np.ndarray, n_samples: int) -> np.ndarray:
    """(n_windows, frames, bins) outputs to one (n_frames, bins) matrix, as basic-pitch's unwrap_output."""
    half = OVERLAP_FRAMES // 2
    kept = output[:, half:-half, :]
    n_frames = int(np.floor(n_samples * (FRAMES_PER_SECOND / SAMPLE_RATE_HZ)))
    return kept.reshape(-1, kept.shape[2])[:n_frames]


def model_outputs(audio: np.ndarray) -> dict[str, np.ndarray]:
    """The model's 'note' and 'onset' (n_frames, 88) and 'contour' (n_frames, 264) activations.

    `audio` is mono at SAMPLE_RATE_HZ (audio.decode's output). Frame f of the outputs lies at
    model_frame_times_seconds(n_frames)[f].
    """
    batch = windows(audio)
    session = _session()
    names = list(_OUTPUTS.values())
    parts: dict[str, list[np.ndarray]] = {key: [] for key in _OUTPUTS}
    for first in range(0, batch.shape[0], WINDOWS_PER_RUN):
        results = session.run(names, {_INPUT: batch[first : first + WINDOWS_PER_RUN]})
        for key, result in zip(_OUTPUTS, results, strict=True):
            parts[key].append(result)
    return {key: unwrap(np.concatenate(parts[key]), audio.size) for key in _OUTPUTS}


def model_frame_times_seconds(n_frames: int) -> np.ndarray:
    """Time of each output frame, with basic-pitch's per-window correction (model_frames_to_time)."""
    from basic_pitch.note_creation import model_frames_to_time

    return np.asarray(model_frames_to_time(n_frames), dtype=np.float64)


# --- notes -------------------------------------------------------------------------------------


def transcribe(audio: np.ndarray, params: TranscribeParams | None = None) -> list[Note]:
    """The notes played in `audio` (mono float32 at SAMPLE_RATE_HZ), sorted by start.

    Raises AudioRejected("the audio is silent: no notes found") when the audio's RMS is below
    SILENCE_RMS_FLOOR or no note comes out.
    """
    params = params or DEFAULT_PARAMS
    if audio.size == 0 or rms(audio) < SILENCE_RMS_FLOOR:
        raise AudioRejected("the audio is silent: no notes found")
    outputs = model_outputs(audio)
    notes = notes_from_outputs(outputs, params)
    if not notes:
        raise AudioRejected("the audio is silent: no notes found")
    return notes


def notes_from_outputs(outputs: dict[str, np.ndarray], params: TranscribeParams) -> list[Note]:
    """basic-pitch's decoder and then our steps (after_decoder) on the model's outputs."""
    onset = outputs["onset"]
    times = model_frame_times_seconds(onset.shape[0])
    return after_decoder(decode_notes(outputs["note"], onset, times, params), onset, times, params)


def after_decoder(notes: list[Note], onset: np.ndarray, frame_times_seconds: np.ndarray,
                  params: TranscribeParams) -> list[Note]:
    """Our steps on the decoder's notes, in order: short notes, re-triggers, harmonics, onset times.

    Re-triggers are joined before harmonics are judged, so a harmonic cut into pieces by the
    attacks of other notes is judged once, whole; onset times move last, when every note that
    stays is known.
    """
    times = frame_times_seconds
    notes = drop_short_notes(notes, onset, times, min_frames=_frames(params.minimum_note_length_ms),
                             keep_onset=params.short_note_min_onset)
    notes = merge_retriggers(notes, onset, times, max_gap_seconds=params.retrigger_max_gap_ms / 1000,
                             min_onset=params.retrigger_min_onset)
    notes = drop_harmonics(notes, onset, times, max_ratio=params.harmonic_max_ratio,
                           max_onset=params.harmonic_max_onset, min_overlap=params.harmonic_min_overlap)
    return onset_leading_edges(notes, onset, times, fraction=params.onset_edge_fraction,
                               max_frames=int(params.onset_edge_max_ms / 1000 * FRAMES_PER_SECOND))


def decode_notes(note: np.ndarray, onset: np.ndarray, frame_times_seconds: np.ndarray,
                 params: TranscribeParams) -> list[Note]:
    """basic-pitch's note decoder (`note_events`) with `params`, as Notes (seconds, velocity).

    The decoder's minimum length is the shorter of minimum_note_length_ms and
    short_note_length_ms (drop_short_notes applies the longer one afterwards), converted to
    frames as basic-pitch's predict() converts it; the velocity is basic-pitch's (127 x the
    note's mean activation), kept within 1..127. The decoder does not write to its inputs.
    """
    min_ms = min(params.minimum_note_length_ms, params.short_note_length_ms)
    # get_infered_onsets divides by the largest rise of the note activation, 0 when it never
    # rises: the inferred onsets are then NaN, which no threshold passes (the model's own count).
    with np.errstate(invalid="ignore", divide="ignore"):
        events = note_events(note, onset, onset_threshold=params.onset_threshold,
                             frame_threshold=params.frame_threshold, min_frames=_frames(min_ms),
                             infer_onsets=params.infer_onsets, melodia_trick=params.melodia_trick)
    return sorted(
        Note(float(frame_times_seconds[start]), float(frame_times_seconds[end]), int(pitch), velocity(amplitude))
        for start, end, pitch, amplitude in events
    )


# (start frame, end frame (exclusive), MIDI pitch, amplitude: the mean note activation over the frames)
NoteEvent = tuple[int, int, int, float]


def note_events(note: np.ndarray, onset: np.ndarray, *, onset_threshold: float, frame_threshold: float,
                min_frames: int, infer_onsets: bool, melodia_trick: bool) -> list[NoteEvent]:
    """basic_pitch.note_creation.output_to_notes_polyphonic (no frequency limits), event for event
    and in its order (a unit test holds the two equal), with its slow part made fast.

    The decoder: every peak of the onset activation (over time, at one pitch) at or above
    `onset_threshold`, latest first, starts a note that lasts while the note activation at its
    pitch has not stayed below `frame_threshold` for DECODER_TOLERANCE_FRAMES (`_onset_note`);
    the frames it covers, at its pitch and the two beside it, are used up. Then, with
    `melodia_trick`, the loudest frame left above `frame_threshold` seeds a note grown both ways
    the same way, until no such frame is left (`_melodia_note`). Notes of `min_frames` or fewer
    are dropped. basic-pitch looks for that loudest frame with a max and an argmax over the whole
    activation matrix for every note (0.9 s of its 1.1 s for a 3-minute band); here each frame's
    loudest remaining value is kept (`loudest`) and redone only for the frames a note used up,
    which finds the same frame: the first, in time then pitch, holding the largest value.
    """
    from scipy.signal import argrelmax

    if infer_onsets:
        from basic_pitch.note_creation import get_infered_onsets

        onset = get_infered_onsets(onset, note)
    peak_values = np.zeros(onset.shape)
    peaks = argrelmax(onset, axis=0)
    peak_values[peaks] = onset[peaks]
    onset_frames, onset_bins = np.where(peak_values >= onset_threshold)
    remaining = np.array(note, dtype=np.float64)  # the activation not used up by a note yet
    events: list[NoteEvent] = []
    for start, pitch_bin in zip(onset_frames[::-1].tolist(), onset_bins[::-1].tolist(), strict=True):
        found = _onset_note(remaining, note, start, pitch_bin, frame_threshold, min_frames)
        if found is not None:
            events.append(found)
    if melodia_trick:
        events += _melodia_notes(remaining, note, frame_threshold, min_frames)
    return events


def _melodia_notes(remaining: np.ndarray, note: np.ndarray, frame_threshold: float, min_frames: int) -> list[NoteEvent]:
    """The melodia trick's notes, loudest seed first, until nothing in `remaining` is above the threshold."""
    events: list[NoteEvent] = []
    loudest = remaining.max(axis=1)  # each frame's largest remaining value, redone where a note used frames up
    while loudest.size and loudest.max() > frame_threshold:
        # the first frame holding the largest value, and its first pitch that does: np.argmax of the whole matrix
        frame = int(np.argmax(loudest))
        found, (first, last) = _melodia_note(remaining, note, frame, int(np.argmax(remaining[frame])),
                                             frame_threshold, min_frames)
        loudest[first:last] = remaining[first:last].max(axis=1)
        if found is not None:
            events.append(found)
    return events


def _onset_note(remaining: np.ndarray, note: np.ndarray, start: int, pitch_bin: int, frame_threshold: float,
                min_frames: int) -> NoteEvent | None:
    """The note an onset at (`start`, `pitch_bin`) starts, its frames used up in `remaining`; None
    when it starts on the last frame or lasts `min_frames` or fewer."""
    n_frames = remaining.shape[0]
    if start >= n_frames - 1:
        return None
    frame, below = start + 1, 0  # `below`: frames in a row under the threshold
    while frame < n_frames - 1 and below < DECODER_TOLERANCE_FRAMES:
        below = below + 1 if remaining[frame, pitch_bin] < frame_threshold else 0
        frame += 1
    end = frame - below
    if end - start <= min_frames:
        return None
    remaining[start:end, _neighbourhood(pitch_bin)] = 0
    return start, end, pitch_bin + MIDI_OFFSET, float(np.mean(note[start:end, pitch_bin]))


def _melodia_note(remaining: np.ndarray, note: np.ndarray, frame: int, pitch_bin: int, frame_threshold: float,
                  min_frames: int) -> tuple[NoteEvent | None, tuple[int, int]]:
    """The note grown both ways from (`frame`, `pitch_bin`), its frames used up in `remaining` (the
    ones it reached, kept or not), and the frames it used up as a range [first, last)."""
    remaining[frame, pitch_bin] = 0
    after, below_after = _use_up(remaining, frame, pitch_bin, +1, frame_threshold)
    before, below_before = _use_up(remaining, frame, pitch_bin, -1, frame_threshold)
    start, end = before + 1 + below_before, after - 1 - below_after
    used = (min(before + 1, frame), max(after, frame + 1))
    if end - start <= min_frames:
        return None, used
    return (start, end, pitch_bin + MIDI_OFFSET, float(np.mean(note[start:end, pitch_bin]))), used


def _use_up(remaining: np.ndarray, frame: int, pitch_bin: int, step: int, frame_threshold: float) -> tuple[int, int]:
    """Walk from `frame` by `step` (+1 or -1), using up each frame reached at the pitch and beside it,
    until DECODER_TOLERANCE_FRAMES in a row are under the threshold or the walk reaches the first or
    last frame: (the frame it stopped at, unread, and how many frames in a row before it were under)."""
    n_frames = remaining.shape[0]
    columns = _neighbourhood(pitch_bin)
    frame, below = frame + step, 0
    while (frame < n_frames - 1 if step > 0 else frame > 0) and below < DECODER_TOLERANCE_FRAMES:
        below = below + 1 if remaining[frame, pitch_bin] < frame_threshold else 0
        remaining[frame, columns] = 0
        frame += step
    return frame, below


def _neighbourhood(pitch_bin: int) -> slice:
    """The pitch bin and the bins beside it, within the model's range."""
    return slice(max(pitch_bin - 1, 0), min(pitch_bin + 1, MAX_PITCH_BIN) + 1)


def drop_short_notes(notes: list[Note], onset: np.ndarray, frame_times_seconds: np.ndarray, *,
                     min_frames: int, keep_onset: float) -> list[Note]:
    """The notes longer than `min_frames` frames, and the shorter ones with an onset of `keep_onset` or more.

    basic-pitch drops every note of `min_frames` frames or fewer (about 128 ms by default). A
    high piano note the model hears clearly (onset 0.8) can fall below the frame threshold
    within 100 ms, and goes with it; a short note with a strong onset is a note.
    """
    return [
        note for note in notes
        if _frame(frame_times_seconds, note.end_seconds) - _frame(frame_times_seconds, note.start_seconds) > min_frames
        or onset_strength(onset, frame_times_seconds, note) >= keep_onset
    ]


def merge_retriggers(notes: list[Note], onset: np.ndarray, frame_times_seconds: np.ndarray, *,
                     max_gap_seconds: float, min_onset: float) -> list[Note]:
    """Join each note to the earlier note of its pitch when it re-triggers it without an attack of its own.

    A note is a re-trigger when it starts at most `max_gap_seconds` after the previous note of
    the same pitch ends (overlapping counts) and its onset_strength is below `min_onset`. The
    joined note keeps the earlier start and the larger velocity and ends at the later end;
    chains of re-triggers become one note. A repeated note that is struck again has a strong
    onset of its own and stays a note. The cost: a repeat struck softly while the previous note
    still sounds is joined too (on a development clip of fast repeated piano notes, 3 of 57).
    Tried and not kept: calling an onset borrowed when another pitch has a much stronger one at
    the same moment; on the tune split it did worse than the plain threshold.
    """
    merged: list[Note] = []
    last_of_pitch: dict[int, int] = {}  # pitch -> index in `merged` of its latest note
    for current in sorted(notes):
        index = last_of_pitch.get(current.pitch)
        if index is not None:
            previous = merged[index]
            ringing = current.start_seconds - previous.end_seconds <= max_gap_seconds
            if ringing and onset_strength(onset, frame_times_seconds, current) < min_onset:
                merged[index] = Note(previous.start_seconds, max(previous.end_seconds, current.end_seconds),
                                     previous.pitch, max(previous.velocity, current.velocity))
                continue
        last_of_pitch[current.pitch] = len(merged)
        merged.append(current)
    return sorted(merged)


def drop_harmonics(notes: list[Note], onset: np.ndarray, frame_times_seconds: np.ndarray, *,
                   max_ratio: float, max_onset: float, min_overlap: float) -> list[Note]:
    """The notes without those that are only a harmonic of a louder note sounding with them.

    A note is dropped when a kept note HARMONIC_INTERVALS below it overlaps at least
    `min_overlap` of its length, its velocity is below `max_ratio` x that note's, and its own
    onset activation (onset_strength) is below `max_onset`. Notes are judged from the lowest
    pitch up, so a dropped harmonic is never the reason to drop another.
    """
    kept: list[Note] = []
    kept_by_pitch: dict[int, list[Note]] = {}
    judged: dict[int, np.ndarray] = {}  # a lower pitch's kept notes as (start, end, velocity) rows, all judged
    for current in sorted(notes, key=lambda n: (n.pitch, n.start_seconds)):
        for pitch in (current.pitch - interval for interval in HARMONIC_INTERVALS):
            if pitch not in judged:
                judged[pitch] = np.array([(n.start_seconds, n.end_seconds, n.velocity)
                                          for n in kept_by_pitch.get(pitch, ())], dtype=float).reshape(-1, 3)
        under = any(_louder_under(current, judged[current.pitch - interval], max_ratio=max_ratio,
                                  min_overlap=min_overlap) for interval in HARMONIC_INTERVALS)
        if under and onset_strength(onset, frame_times_seconds, current) < max_onset:
            continue
        kept.append(current)
        kept_by_pitch.setdefault(current.pitch, []).append(current)
    return sorted(kept)


def _louder_under(note: Note, lows: np.ndarray, *, max_ratio: float, min_overlap: float) -> bool:
    """Whether one of `lows` ((start, end, velocity) rows) sounds through `min_overlap` of the note's
    length and is louder than the note by more than 1 / `max_ratio` (`overlap_seconds`, at once)."""
    length = max(note.end_seconds - note.start_seconds, 1e-9)
    overlap = np.maximum(0.0, np.minimum(lows[:, 1], note.end_seconds) - np.maximum(lows[:, 0], note.start_seconds))
    return bool(np.any((overlap >= min_overlap * length) & (note.velocity < max_ratio * lows[:, 2])))


def onset_leading_edges(notes: list[Note], onset: np.ndarray, frame_times_seconds: np.ndarray, *,
                        fraction: float, max_frames: int) -> list[Note]:
    """The notes with each start moved back to where its onset activation first reaches `fraction` of its peak.

    The decoder starts a note at the peak of the onset activation. For a plucked or struck
    note the peak is the first frame of the rise; a bowed, blown or swelling note takes several
    frames to reach its peak, and the decoder's start falls 30-60 ms after the written one. The
    leading edge (the first frame of the run at or above `fraction` x the peak that ends at
    the peak) is the start, at most `max_frames` frames earlier, and never before the end of
    the previous note of the same pitch.
    """
    moved: list[Note] = []
    previous_end: dict[int, float] = {}
    for note in sorted(notes):
        column = note.pitch - MIDI_OFFSET
        start = note.start_seconds
        if max_frames > 0 and 0 <= column < onset.shape[1]:
            frame = _frame(frame_times_seconds, note.start_seconds)
            first, last = max(frame - ONSET_SEARCH_FRAMES, 0), min(frame + ONSET_SEARCH_FRAMES + 1, onset.shape[0])
            if first < last:
                peak_frame = first + int(np.argmax(onset[first:last, column]))
                threshold = fraction * onset[peak_frame, column]
                edge = peak_frame
                while edge > 0 and peak_frame - edge < max_frames and onset[edge - 1, column] >= threshold:
                    edge -= 1
                if edge < frame:
                    start = max(float(frame_times_seconds[edge]), previous_end.get(note.pitch, 0.0))
        start = min(start, note.start_seconds)
        moved.append(Note(start, note.end_seconds, note.pitch, note.velocity) if start != note.start_seconds else note)
        previous_end[note.pitch] = max(previous_end.get(note.pitch, 0.0), note.end_seconds)
    return sorted(moved)


def onset_strength(onset: np.ndarray, frame_times_seconds: np.ndarray, note: Note) -> float:
    """The largest onset activation at the note's pitch within ONSET_SEARCH_FRAMES of its start."""
    frame = _frame(frame_times_seconds, note.start_seconds)
    first, last = max(frame - ONSET_SEARCH_FRAMES, 0), min(frame + ONSET_SEARCH_FRAMES + 1, onset.shape[0])
    column = note.pitch - MIDI_OFFSET
    if first >= last or not 0 <= column < onset.shape[1]:
        return 0.0
    return float(onset[first:last, column].max())


def _frame(frame_times_seconds: np.ndarray, seconds: float) -> int:
    """The first frame at or after `seconds` (a note's start is one of the frame times)."""
    return int(np.searchsorted(frame_times_seconds, seconds - 1e-6))


def _frames(milliseconds: float) -> int:
    """A length in frames, rounded as basic-pitch's predict() rounds minimum_note_length."""
    return int(np.round(milliseconds / 1000 * (SAMPLE_RATE_HZ / FFT_HOP)))


def overlap_seconds(a: Note, b: Note) -> float:
    """How long two notes sound together (0 when they do not)."""
    return max(0.0, min(a.end_seconds, b.end_seconds) - max(a.start_seconds, b.start_seconds))


def velocity(amplitude: float) -> int:
    """MIDI velocity of a model activation 0..1, as basic-pitch computes it, within 1..127."""
    return int(np.clip(np.round(127 * amplitude), 1, 127))


def rms(audio: np.ndarray) -> float:
    """Root mean square of the samples (float64 accumulation)."""
    return float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) if audio.size else 0.0


# --- MIDI --------------------------------------------------------------------------------------


def notes_to_midi(notes: list[Note], tempo_bpm: float = 120.0, time_signature: str = "4/4") -> bytes:
    """A Standard MIDI File (type 1, one piano track on channel 1) holding `notes`.

    `tempo_bpm` is in quarter notes per minute, MIDI's own unit (a 6/8 piece at 60 dotted
    quarters a minute is 90); ticks are seconds x tempo, MIDI_TICKS_PER_BEAT a quarter note, so
    the file plays back at the recorded times. The track starts with the tempo, the time
    signature and a program change to Acoustic Grand Piano. A note is at least one tick long,
    and a note that would still sound when the same pitch starts again ends there (MIDI has
    one key per pitch and channel).
    """
    if not 0 < tempo_bpm < 1000:
        raise ValueError(f"tempo_bpm must be between 0 and 1000, not {tempo_bpm}")
    numerator, denominator = _time_signature(time_signature)
    ticks_per_second = tempo_bpm / 60 * MIDI_TICKS_PER_BEAT
    events: list[tuple[int, int, mido.Message]] = []
    by_pitch: dict[int, list[Note]] = {}
    for note in notes:
        if not 0 <= note.pitch <= 127:
            raise ValueError(f"MIDI pitch must be 0..127, not {note.pitch}")
        by_pitch.setdefault(note.pitch, []).append(note)
    for pitch, same in by_pitch.items():
        same.sort()
        for index, note in enumerate(same):
            start = max(0, round(note.start_seconds * ticks_per_second))
            end = round(note.end_seconds * ticks_per_second)
            if index + 1 < len(same):
                end = min(end, round(same[index + 1].start_seconds * ticks_per_second))
            end = max(end, start + 1)
            vel = int(np.clip(note.velocity, 1, 127))
            events.append((start, 1, mido.Message("note_on", channel=0, note=pitch, velocity=vel)))
            events.append((end, 0, mido.Message("note_off", channel=0, note=pitch, velocity=0)))
    events.sort(key=lambda event: (event[0], event[1], event[2].note))  # note-offs first at a tick
    compound = denominator == 8 and numerator % 3 == 0 and numerator > 3
    track = mido.MidiTrack([
        mido.MetaMessage("track_name", name="Listen", time=0),
        mido.MetaMessage("set_tempo", tempo=round(60_000_000 / tempo_bpm), time=0),
        mido.MetaMessage("time_signature", numerator=numerator, denominator=denominator,
                         clocks_per_click=24 * 4 // denominator * (3 if compound else 1), time=0),
        mido.Message("program_change", channel=0, program=MIDI_PROGRAM, time=0),
    ])
    now = 0
    for tick, _, message in events:
        track.append(message.copy(time=tick - now))
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=0))
    midi = mido.MidiFile(type=1, ticks_per_beat=MIDI_TICKS_PER_BEAT, tracks=[track])
    buffer = io.BytesIO()
    midi.save(file=buffer)
    return buffer.getvalue()


def _time_signature(text: str) -> tuple[int, int]:
    """(numerator, denominator) of "6/8"; ValueError unless both are positive and the denominator a power of 2."""
    try:
        numerator, denominator = (int(part) for part in text.split("/"))
    except ValueError:
        raise ValueError(f"time signature must look like '4/4', not {text!r}") from None
    if not (0 < numerator < 256 and 0 < denominator <= 128 and denominator & (denominator - 1) == 0):
        raise ValueError(f"time signature must look like '4/4', not {text!r}")
    return numerator, denominator
