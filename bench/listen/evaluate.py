"""Score Listen against the corpus's ground truth, each figure beside a bare baseline from the same run.

Scoring (mir_eval, pure functions over arrays):
- notes: onset F1, mir_eval.transcription.precision_recall_f1_overlap, onset tolerance 50 ms,
  offsets ignored; ours = soundcanvas.listen.transcribe, baseline = basic_pitch.inference.predict
  with its default thresholds (its note_events).
- key: mir_eval.key.weighted_score (MIREX: 1 same, 0.5 fifth, 0.3 relative, 0.2 parallel);
  baseline = librosa chroma_cqt averaged over the piece, Krumhansl-Schmuckler profiles.
- tempo: Acc1 (within 4 %) and Acc2 (within 4 % of 1, 2, 1/2, 3 or 1/3 times); baseline =
  librosa.beat.beat_track. Meter: share of pieces whose time signature is right (ours only).
- chords: mir_eval.chord.evaluate's 'majmin', averaged over pieces weighted by their length;
  baseline = per-frame chroma_cqt against 24 major/minor triad templates, argmax, no smoothing.
- tab: on the guitar pieces, the share of placeable notes (E2..B5) that solve_tab places and
  the number of string clashes (two events on one string sounding at once, ringing included).

"Ours" is the whole chain from the recording: decode -> transcribe -> estimate_rhythm ->
estimate_key / estimate_chords / solve_tab on our own notes and beats. Rows marked "(true
notes)" feed the ground-truth notes (and beats) to the later stages instead, so the authors of
harmony and tab can see their stage's own error apart from transcription's.

Estimation modules may not exist yet: a missing module or name (ImportError) makes that column
"not available"; an estimator raising an ordinary error on a piece makes it "failed: ...". The
baselines always run. 95 % intervals: percentile bootstrap over pieces (seeded).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import librosa
import mir_eval
import numpy as np
import soundfile

from bench.listen.corpus import (
    GUITAR_HIGHEST_PITCH,
    GUITAR_LOWEST_PITCH,
    PITCH_NAMES,
    SAMPLE_RATE_HZ,
    Piece,
    rendered,
)
from soundcanvas.listen.notes import Note

ONSET_TOLERANCE_SECONDS = 0.05
TEMPO_TOLERANCE = 0.04
ACC2_FACTORS = (1.0, 2.0, 0.5, 3.0, 1.0 / 3.0)
BOOTSTRAP_RESAMPLES = 2000
CONFIDENCE_LEVEL = 0.95
BOOTSTRAP_SEED = 0
# A note may start this much before the last one on its string ends: the product's own rule
# (soundcanvas.listen.tab.RELEASE_TOLERANCE_SECONDS, 150 ms: transcribed offsets overrun the next onset).
# The true-notes row has exact offsets, so it is the strict check.
CLASH_TOLERANCE_SECONDS = 0.15
TAB_MATCH_SECONDS = 0.05  # a tab event's time is its group's first onset: a note starts at most this much later
SPEED_RECORDING_SECONDS = 180.0
SPEED_RUNS = 3
CHROMA_HOP = 512

# Krumhansl & Kessler (1982) probe-tone profiles, C first.
KS_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
KS_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])

# Errors an estimator in progress may raise on a piece: the column says "failed", the run goes on.
ESTIMATOR_ERRORS = (ArithmeticError, AttributeError, LookupError, NotImplementedError, RuntimeError, TypeError,
                    ValueError, OSError)


# ---------------------------------------------------------------- scoring (pure)


def midi_to_hz(pitches: np.ndarray) -> np.ndarray:
    return 440.0 * 2.0 ** ((np.asarray(pitches, dtype=float) - 69.0) / 12.0)


def note_arrays(notes: Sequence[Note]) -> tuple[np.ndarray, np.ndarray]:
    """(intervals (n, 2) in seconds, pitches in Hz) of the notes with a positive duration."""
    kept = [n for n in notes if n.end_seconds > n.start_seconds]
    intervals = np.array([[n.start_seconds, n.end_seconds] for n in kept], dtype=float).reshape(-1, 2)
    return intervals, midi_to_hz(np.array([n.pitch for n in kept], dtype=float))


def onset_f1(reference: Sequence[Note], estimate: Sequence[Note],
             onset_tolerance_seconds: float = ONSET_TOLERANCE_SECONDS) -> float:
    """Note F1 on onsets and pitch only (mir_eval, offsets ignored)."""
    ref_intervals, ref_hz = note_arrays(reference)
    est_intervals, est_hz = note_arrays(estimate)
    if len(ref_hz) == 0 or len(est_hz) == 0:
        return 1.0 if len(ref_hz) == len(est_hz) else 0.0
    _, _, f1, _ = mir_eval.transcription.precision_recall_f1_overlap(
        ref_intervals, ref_hz, est_intervals, est_hz, onset_tolerance=onset_tolerance_seconds, offset_ratio=None)
    return float(f1)


def key_score(reference: str, estimate: str) -> float:
    """MIREX weighted key score."""
    return float(mir_eval.key.weighted_score(reference, estimate))


def tempo_hits(reference_bpm: float, estimate_bpm: float, tolerance: float = TEMPO_TOLERANCE) -> tuple[float, float]:
    """(Acc1, Acc2) for one piece as 0.0 / 1.0."""
    def near(factor: float) -> bool:
        return abs(estimate_bpm - factor * reference_bpm) <= tolerance * factor * reference_bpm

    return float(near(1.0)), float(any(near(factor) for factor in ACC2_FACTORS))


def chord_majmin(reference: Sequence[tuple[float, float, str]], estimate: Sequence[tuple[float, float, str]]) -> float:
    """mir_eval's duration-weighted major/minor chord score of one piece."""
    if not estimate:
        return 0.0
    ref_intervals = np.array([c[:2] for c in reference], dtype=float)
    est_intervals = np.array([c[:2] for c in estimate], dtype=float)
    scores = mir_eval.chord.evaluate(ref_intervals, [c[2] for c in reference], est_intervals, [c[2] for c in estimate])
    return float(scores["majmin"])


def string_clashes(spans: Sequence[tuple[int, int, float, float]],
                   tolerance_seconds: float = CLASH_TOLERANCE_SECONDS) -> int:
    """Pairs of (string, pitch, start, end) notes that sound on one string at once, ringing included.
    Striking a string again ends its note, so the same pitch struck again is a re-attack, not a clash,
    and the earlier note sounds no further."""
    clashes = 0
    by_string: dict[int, list[tuple[float, float, int]]] = {}
    for string, pitch, start, end in spans:
        by_string.setdefault(string, []).append((start, end, pitch))
    for items in by_string.values():
        items.sort()
        for i, (_, end, pitch) in enumerate(items):
            for later_start, _, later_pitch in items[i + 1:]:
                if later_start >= end - tolerance_seconds:
                    break
                if later_pitch == pitch:
                    break  # re-attacked: the earlier note ends here
                clashes += 1
    return clashes


def placeable(notes: Sequence[Note], lowest_pitch: int = GUITAR_LOWEST_PITCH,
              highest_pitch: int = GUITAR_HIGHEST_PITCH) -> list[Note]:
    return [n for n in notes if lowest_pitch <= n.pitch <= highest_pitch]


def bootstrap(values: Sequence[float], weights: Sequence[float] | None = None, aggregate: str = "mean",
              resamples: int = BOOTSTRAP_RESAMPLES, level: float = CONFIDENCE_LEVEL,
              seed: int = BOOTSTRAP_SEED) -> tuple[float, float, float]:
    """(figure, low, high): the weighted mean (or the sum) and its percentile bootstrap interval over pieces."""
    array = np.asarray(values, dtype=float)
    weight = np.ones_like(array) if weights is None else np.asarray(weights, dtype=float)

    def figure(index: np.ndarray) -> np.ndarray:
        picked, picked_weight = array[index], weight[index]
        if aggregate == "sum":
            return picked.sum(axis=-1)
        return (picked * picked_weight).sum(axis=-1) / picked_weight.sum(axis=-1)

    if array.size == 0:
        return float("nan"), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    draws = figure(rng.integers(0, array.size, size=(resamples, array.size)))
    tail = (1.0 - level) / 2.0 * 100.0
    return float(figure(np.arange(array.size))), float(np.percentile(draws, tail)), float(np.percentile(draws, 100 - tail))


# ---------------------------------------------------------------- bare baselines


@functools.cache
def _basic_pitch_model() -> Any:
    from basic_pitch import ICASSP_2022_MODEL_PATH
    from basic_pitch.inference import Model

    return Model(ICASSP_2022_MODEL_PATH)


def bare_basic_pitch(path: Path) -> list[Note]:
    """basic_pitch.inference.predict with its default thresholds (model loaded once); its note events."""
    from basic_pitch.inference import predict

    with contextlib.redirect_stdout(io.StringIO()):  # predict() prints "Predicting MIDI for ..."
        _, _, events = predict(path, _basic_pitch_model())
    return sorted(Note(float(start), float(end), int(pitch), int(np.clip(round(127 * float(amplitude)), 1, 127)))
                  for start, end, pitch, amplitude, _bends in events)


def _rotations(template: np.ndarray) -> np.ndarray:
    return np.stack([np.roll(template, shift) for shift in range(12)])


def ks_key_from_chroma(chroma_mean: np.ndarray) -> str:
    """Krumhansl-Schmuckler: the key whose rotated profile correlates best with the mean chroma."""
    candidates = np.vstack([_rotations(KS_MAJOR), _rotations(KS_MINOR)])
    centred = chroma_mean - chroma_mean.mean()
    profiles = candidates - candidates.mean(axis=1, keepdims=True)
    denominator = np.linalg.norm(profiles, axis=1) * max(float(np.linalg.norm(centred)), 1e-12)
    best = int(np.argmax(profiles @ centred / denominator))
    return f"{PITCH_NAMES[best % 12]} {'major' if best < 12 else 'minor'}"


def chroma(audio: np.ndarray, sample_rate_hz: int = SAMPLE_RATE_HZ) -> np.ndarray:
    return np.asarray(librosa.feature.chroma_cqt(y=audio, sr=sample_rate_hz, hop_length=CHROMA_HOP))


def ks_chroma_key(audio: np.ndarray, sample_rate_hz: int = SAMPLE_RATE_HZ) -> str:
    """Baseline key: librosa chroma_cqt averaged over the recording, Krumhansl-Schmuckler profiles."""
    return ks_key_from_chroma(chroma(audio, sample_rate_hz).mean(axis=1))


def librosa_tempo_bpm(audio: np.ndarray, sample_rate_hz: int = SAMPLE_RATE_HZ) -> float:
    tempo, _ = librosa.beat.beat_track(y=audio, sr=sample_rate_hz)
    return float(np.atleast_1d(tempo)[0])


def triad_templates() -> tuple[list[str], np.ndarray]:
    """24 labels ("C", ..., "B", "C:min", ..., "B:min") and unit-norm binary triad templates (24, 12)."""
    labels, rows = [], []
    for suffix, third in (("", 4), (":min", 3)):
        for root in range(12):
            row = np.zeros(12)
            row[[root, (root + third) % 12, (root + 7) % 12]] = 1.0
            labels.append(PITCH_NAMES[root] + suffix)
            rows.append(row / np.linalg.norm(row))
    return labels, np.array(rows)


def template_chords_from_chroma(frames: np.ndarray, hop_seconds: float) -> list[tuple[float, float, str]]:
    """Each chroma frame's best triad template (argmax, no smoothing), equal neighbours merged."""
    labels, templates = triad_templates()
    norms = np.maximum(np.linalg.norm(frames, axis=0, keepdims=True), 1e-12)
    best = np.argmax(templates @ (frames / norms), axis=0)
    spans: list[tuple[float, float, str]] = []
    for frame, index in enumerate(best):
        start, end, label = frame * hop_seconds, (frame + 1) * hop_seconds, labels[int(index)]
        if spans and spans[-1][2] == label:
            spans[-1] = (spans[-1][0], end, label)
        else:
            spans.append((start, end, label))
    return spans


def template_chords(audio: np.ndarray, sample_rate_hz: int = SAMPLE_RATE_HZ) -> list[tuple[float, float, str]]:
    """Baseline chords: per-frame chroma_cqt against 24 major/minor templates."""
    return template_chords_from_chroma(chroma(audio, sample_rate_hz), CHROMA_HOP / sample_rate_hz)


# ---------------------------------------------------------------- ours, loaded when there


@dataclass
class Ours:
    """soundcanvas.listen's estimators, each None (with the reason in `missing`) until it exists."""

    decode: Callable[..., Any] | None = None
    transcribe: Callable[..., Any] | None = None
    estimate_rhythm: Callable[..., Any] | None = None
    estimate_key: Callable[..., Any] | None = None
    estimate_chords: Callable[..., Any] | None = None
    solve_tab: Callable[..., Any] | None = None
    parse_tuning: Callable[..., Any] | None = None
    missing: dict[str, str] = field(default_factory=dict)


OURS_NAMES = {
    "decode": "soundcanvas.listen.audio",
    "transcribe": "soundcanvas.listen.transcribe",
    "estimate_rhythm": "soundcanvas.listen.rhythm",
    "estimate_key": "soundcanvas.listen.harmony",
    "estimate_chords": "soundcanvas.listen.harmony",
    "solve_tab": "soundcanvas.listen.tab",
    "parse_tuning": "soundcanvas.listen.tab",
}


def load_ours() -> Ours:
    import importlib

    ours = Ours()
    for name, module_name in OURS_NAMES.items():
        try:
            setattr(ours, name, getattr(importlib.import_module(module_name), name))
        except ImportError as error:
            ours.missing[name] = f"not available ({error})"
        except AttributeError:
            ours.missing[name] = f"not available ({module_name}.{name} missing)"
    return ours


def _matching(notes_by_pitch: dict[int, list[Note]], pitch: int, time_seconds: float) -> list[Note]:
    return [n for n in notes_by_pitch.get(pitch, [])
            if time_seconds - 1e-6 <= n.start_seconds <= time_seconds + TAB_MATCH_SECONDS]


def tab_spans(tab: Any, notes: Sequence[Note]) -> list[tuple[int, int, float, float]]:
    """(string, pitch, start, end) of every placed note of a soundcanvas.listen.tab.Tab; the end is
    that of the input note it places (the longest, if an event merged duplicates)."""
    by_pitch: dict[int, list[Note]] = {}
    for note in notes:
        by_pitch.setdefault(note.pitch, []).append(note)
    spans = []
    for event in tab.events:
        for placed in event.notes:
            sources = _matching(by_pitch, placed.pitch, event.time_seconds)
            fallback = event.end_seconds if event.end_seconds is not None else event.time_seconds
            end = max((n.end_seconds for n in sources), default=fallback)
            spans.append((int(placed.string), int(placed.pitch), float(event.time_seconds), float(end)))
    return spans


def tab_figures(tab: Any, notes: Sequence[Note]) -> tuple[float, int]:
    """(share of placeable notes (E2..B5) the tab places, string clashes). A note counts as placed when
    a tab event holds its pitch at its onset (the event's time at most TAB_MATCH_SECONDS earlier)."""
    spans = tab_spans(tab, notes)
    wanted = placeable(notes)
    placed_at: dict[int, list[float]] = {}
    for _, pitch, start, _ in spans:
        placed_at.setdefault(pitch, []).append(start)
    placed = sum(1 for n in wanted if any(n.start_seconds - TAB_MATCH_SECONDS <= t <= n.start_seconds + 1e-6
                                          for t in placed_at.get(n.pitch, [])))
    return (placed / len(wanted) if wanted else 1.0), string_clashes(spans)


# ---------------------------------------------------------------- the run


@dataclass
class Column:
    """Per-piece figures of one system for one row (or why there are none)."""

    values: list[float] = field(default_factory=list)
    weights: list[float] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    missing: str | None = None

    def add(self, value: float, kind: str, weight: float = 1.0) -> None:
        self.values.append(float(value))
        self.weights.append(float(weight))
        self.kinds.append(kind)


@dataclass
class Row:
    key: str
    figure: str
    target: float | None  # None: no target (a diagnostic row)
    higher_is_better: bool = True
    aggregate: str = "mean"  # or "sum"
    baseline: Column | None = None  # None: no baseline for this figure
    ours: Column = field(default_factory=Column)

    def summary(self, column: Column | None) -> tuple[float, float, float] | None:
        if column is None or column.missing or not column.values:
            return None
        return bootstrap(column.values, column.weights, self.aggregate)

    def met(self) -> bool | None:
        summary = self.summary(self.ours)
        if summary is None or self.target is None:
            return None
        return summary[0] >= self.target if self.higher_is_better else summary[0] <= self.target


ROWS: tuple[tuple[str, str, float | None, bool, str, bool], ...] = (
    # key, figure, target, higher is better, aggregate, has a baseline
    ("onset_f1", "Note onset F1 (50 ms)", 0.85, True, "mean", True),
    ("key", "Key, MIREX weighted score", 0.80, True, "mean", True),
    ("tempo_acc1", "Tempo Acc1 (4 %)", 0.80, True, "mean", True),
    ("tempo_acc2", "Tempo Acc2 (x2, x1/2, x3, x1/3)", 0.95, True, "mean", True),
    ("meter", "Meter (4/4, 3/4, 6/8) accuracy", 0.90, True, "mean", False),
    ("chords", "Chords majmin (duration-weighted)", 0.80, True, "mean", True),
    ("tab_placed", "Tab: placeable notes placed (our notes)", 1.0, True, "mean", False),
    ("tab_clashes", "Tab: string clashes, total (our notes)", 0.0, False, "sum", False),
    ("key_true_notes", "Key from the true notes", None, True, "mean", False),
    ("key_parent", "Key, modal pieces scored by their parent major (D dorian = C major)", None, True, "mean", True),
    ("chords_true_notes", "Chords majmin from the true notes and beats", None, True, "mean", False),
    ("tempo_acc1_true", "Tempo Acc1 from the true notes (and the audio)", None, True, "mean", False),
    ("meter_true", "Meter from the true notes (and the audio)", None, True, "mean", False),
    ("tab_placed_true", "Tab: placeable notes placed (true notes)", 1.0, True, "mean", False),
    ("tab_clashes_true", "Tab: string clashes, total (true notes)", 0.0, False, "sum", False),
)


@dataclass
class Evaluation:
    split: str
    piece_count: int
    rows: list[Row]
    ours_missing: dict[str, str]
    seconds: float = 0.0


def _new_rows() -> dict[str, Row]:
    return {key: Row(key, figure, target, higher, aggregate, Column() if has_baseline else None)
            for key, figure, target, higher, aggregate, has_baseline in ROWS}


def _fail(rows: dict[str, Row], keys: Sequence[str], reason: str) -> None:
    for key in keys:
        if rows[key].ours.missing is None:
            rows[key].ours.missing = reason


def _score_baselines(rows: dict[str, Row], piece: Piece, path: Path, audio: np.ndarray) -> None:
    kind = piece.kind
    baseline = {key: row.baseline for key, row in rows.items() if row.baseline is not None}
    baseline["onset_f1"].add(onset_f1(piece.notes, bare_basic_pitch(path)), kind)
    mean_chroma = chroma(audio).mean(axis=1)
    key = ks_key_from_chroma(mean_chroma)
    baseline["key"].add(key_score(piece.key, key), kind)
    baseline["key_parent"].add(key_score(piece.parent_key, key), kind)
    acc1, acc2 = tempo_hits(piece.tempo_bpm, librosa_tempo_bpm(audio))
    baseline["tempo_acc1"].add(acc1, kind)
    baseline["tempo_acc2"].add(acc2, kind)
    music_seconds = piece.music_end_seconds
    baseline["chords"].add(chord_majmin(piece.chords, template_chords(audio)), kind, music_seconds)


def _as_spans(chords: Sequence[Any]) -> list[tuple[float, float, str]]:
    return [(float(c.start_seconds), float(c.end_seconds), str(c.label)) for c in chords]


def _score_true_notes(rows: dict[str, Row], ours: Ours, piece: Piece, audio: np.ndarray) -> None:
    """The later stages fed the ground truth: their own error, apart from transcription's."""
    kind = piece.kind
    if ours.estimate_key is None:
        _fail(rows, ["key_true_notes"], ours.missing["estimate_key"])
    elif rows["key_true_notes"].ours.missing is None:
        try:
            estimate = ours.estimate_key(piece.notes, audio).label
            rows["key_true_notes"].ours.add(key_score(piece.key, estimate), kind)
        except ESTIMATOR_ERRORS as error:
            _fail(rows, ["key_true_notes"], f"failed on {piece.name}: {error!r}"[:200])
    if ours.estimate_chords is None:
        _fail(rows, ["chords_true_notes"], ours.missing["estimate_chords"])
    elif rows["chords_true_notes"].ours.missing is None:
        try:
            spans = _as_spans(ours.estimate_chords(piece.notes, piece.beats_seconds, audio))
            rows["chords_true_notes"].ours.add(chord_majmin(piece.chords, spans), kind, piece.music_end_seconds)
        except ESTIMATOR_ERRORS as error:
            _fail(rows, ["chords_true_notes"], f"failed on {piece.name}: {error!r}"[:200])
    if ours.estimate_rhythm is None:
        _fail(rows, ["tempo_acc1_true", "meter_true"], ours.missing["estimate_rhythm"])
    elif rows["tempo_acc1_true"].ours.missing is None:
        try:
            rhythm = ours.estimate_rhythm(audio, piece.notes)
            rows["tempo_acc1_true"].ours.add(tempo_hits(piece.tempo_bpm, float(rhythm.tempo_bpm))[0], kind)
            rows["meter_true"].ours.add(float(rhythm.time_signature == piece.time_signature), kind)
        except ESTIMATOR_ERRORS as error:
            _fail(rows, ["tempo_acc1_true", "meter_true"], f"failed on {piece.name}: {error!r}"[:200])
    if kind == "guitar":
        _score_tab(rows, ours, piece, piece.notes, ("tab_placed_true", "tab_clashes_true"))


def _score_tab(rows: dict[str, Row], ours: Ours, piece: Piece, notes: Sequence[Note], keys: tuple[str, str]) -> None:
    if ours.solve_tab is None or ours.parse_tuning is None:
        _fail(rows, keys, ours.missing.get("solve_tab") or ours.missing.get("parse_tuning", "not available"))
        return
    if rows[keys[0]].ours.missing is not None:
        return
    try:
        tab = ours.solve_tab(list(notes), ours.parse_tuning("standard"), 0)
        placed, clashes = tab_figures(tab, notes)
    except ESTIMATOR_ERRORS as error:
        _fail(rows, keys, f"failed on {piece.name}: {error!r}"[:200])
        return
    rows[keys[0]].ours.add(placed, piece.kind)
    rows[keys[1]].ours.add(clashes, piece.kind)


def _score_ours(rows: dict[str, Row], ours: Ours, piece: Piece, path: Path, audio: np.ndarray) -> None:
    """The whole chain from the recording."""
    kind = piece.kind
    chain = ["onset_f1", "key", "key_parent", "tempo_acc1", "tempo_acc2", "meter", "chords", "tab_placed", "tab_clashes"]
    if ours.transcribe is None:
        _fail(rows, chain, "not available (needs transcribe)")
        return
    if rows["onset_f1"].ours.missing is not None:
        return
    try:
        ours_audio = ours.decode(path) if ours.decode is not None else audio
        notes = list(ours.transcribe(ours_audio))
    except ESTIMATOR_ERRORS as error:
        _fail(rows, chain, f"transcribe failed on {piece.name}: {error!r}"[:200])
        return
    rows["onset_f1"].ours.add(onset_f1(piece.notes, notes), kind)
    beats: np.ndarray | None = None
    if ours.estimate_rhythm is None:
        _fail(rows, ["tempo_acc1", "tempo_acc2", "meter", "chords"], "not available (needs estimate_rhythm)")
    elif rows["tempo_acc1"].ours.missing is None:
        try:
            rhythm = ours.estimate_rhythm(ours_audio, notes)
            acc1, acc2 = tempo_hits(piece.tempo_bpm, float(rhythm.tempo_bpm))
            rows["tempo_acc1"].ours.add(acc1, kind)
            rows["tempo_acc2"].ours.add(acc2, kind)
            rows["meter"].ours.add(float(rhythm.time_signature == piece.time_signature), kind)
            beats = np.asarray(rhythm.beats_seconds, dtype=float)
        except ESTIMATOR_ERRORS as error:
            _fail(rows, ["tempo_acc1", "tempo_acc2", "meter", "chords"], f"rhythm failed on {piece.name}: {error!r}"[:200])
    if ours.estimate_key is None:
        _fail(rows, ["key", "key_parent"], ours.missing["estimate_key"])
    elif rows["key"].ours.missing is None:
        try:
            label = ours.estimate_key(notes, ours_audio).label
            rows["key"].ours.add(key_score(piece.key, label), kind)
            rows["key_parent"].ours.add(key_score(piece.parent_key, label), kind)
        except ESTIMATOR_ERRORS as error:
            _fail(rows, ["key", "key_parent"], f"failed on {piece.name}: {error!r}"[:200])
    if ours.estimate_chords is None:
        _fail(rows, ["chords"], ours.missing["estimate_chords"])
    elif beats is not None and rows["chords"].ours.missing is None:
        try:
            spans = _as_spans(ours.estimate_chords(notes, beats, ours_audio))
            rows["chords"].ours.add(chord_majmin(piece.chords, spans), kind, piece.music_end_seconds)
        except ESTIMATOR_ERRORS as error:
            _fail(rows, ["chords"], f"failed on {piece.name}: {error!r}"[:200])
    if kind == "guitar":
        _score_tab(rows, ours, piece, notes, ("tab_placed", "tab_clashes"))


def read_audio(path: Path) -> np.ndarray:
    audio, rate = soundfile.read(str(path), dtype="float32")
    if rate != SAMPLE_RATE_HZ:
        raise ValueError(f"{path} is {rate} Hz, not {SAMPLE_RATE_HZ} Hz")
    return np.asarray(audio if audio.ndim == 1 else audio.mean(axis=1), dtype=np.float32)


def evaluate(split: str, cache_dir: Path, log: Callable[[str], None] | None = None,
             ours: Ours | None = None, count: int = 48, seed: int = 7) -> Evaluation:
    """Score the baselines and ours on every piece of `split` (rendered into `cache_dir` if needed)."""
    began = time.perf_counter()
    ours = load_ours() if ours is None else ours
    rows = _new_rows()
    items = rendered(split, cache_dir, count, seed)
    for number, (piece, path) in enumerate(items, 1):
        if log is not None:
            log(f"[{number}/{len(items)}] {piece.name}")
        audio = read_audio(path)
        _score_baselines(rows, piece, path, audio)
        _score_ours(rows, ours, piece, path, audio)
        _score_true_notes(rows, ours, piece, audio)
    for row in rows.values():
        if row.key.startswith("tab") and not row.ours.values and row.ours.missing is None:
            row.ours.missing = "no guitar pieces"
    return Evaluation(split, len(items), list(rows.values()), ours.missing, time.perf_counter() - began)


# ---------------------------------------------------------------- speed


def speed_recording(split: str, cache_dir: Path, seconds: float = SPEED_RECORDING_SECONDS) -> Path:
    """A `seconds`-long recording: the split's renders one after another (cached; the name carries
    a hash of the renders' names, which carry their content hashes)."""
    renders = [wav for _, wav in rendered(split, cache_dir)]
    digest = hashlib.sha256("|".join(wav.name for wav in renders).encode()).hexdigest()[:12]
    path = cache_dir / f"speed-{split}-{round(seconds)}s-{digest}.wav"
    if path.exists():
        return path
    parts, total = [], 0
    needed = round(seconds * SAMPLE_RATE_HZ)
    for wav in renders:
        audio = read_audio(wav)
        parts.append(audio)
        total += audio.size
        if total >= needed:
            break
    joined = np.concatenate(parts)[:needed]
    if joined.size < needed:
        joined = np.tile(joined, needed // joined.size + 1)[:needed]
    partial = path.with_name(f".{path.stem}-{uuid.uuid4().hex}.partial.wav")
    soundfile.write(str(partial), joined, SAMPLE_RATE_HZ, subtype="PCM_16")
    partial.replace(path)
    return path


def best_of(runs: int, work: Callable[[], Any]) -> float:
    timings = []
    for _ in range(runs):
        began = time.perf_counter()
        work()
        timings.append(time.perf_counter() - began)
    return min(timings)


@dataclass
class Speed:
    recording_seconds: float
    bare_seconds: float
    ours_seconds: float | None
    ours_missing: str | None = None


def speed(split: str, cache_dir: Path, ours: Ours | None = None, runs: int = SPEED_RUNS) -> Speed:
    """Best of `runs`: bare predict on the file (model loaded once, outside the timing) against our
    decode + transcribe on the same file."""
    ours = load_ours() if ours is None else ours
    path = speed_recording(split, cache_dir)
    _basic_pitch_model()
    bare = best_of(runs, lambda: bare_basic_pitch(path))
    if ours.transcribe is None or ours.decode is None:
        return Speed(SPEED_RECORDING_SECONDS, bare, None,
                     ours.missing.get("transcribe") or ours.missing.get("decode"))
    decode, transcribe = ours.decode, ours.transcribe
    try:
        mine = best_of(runs, lambda: transcribe(decode(path)))
    except ESTIMATOR_ERRORS as error:
        return Speed(SPEED_RECORDING_SECONDS, bare, None, f"failed: {error!r}"[:200])
    return Speed(SPEED_RECORDING_SECONDS, bare, mine)
