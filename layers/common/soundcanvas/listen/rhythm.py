"""Tempo, beats, downbeats and meter from audio plus transcribed notes.

The bare baseline is librosa.beat.beat_track (Ellis 2007): one onset-strength envelope, a tempo
from its autocorrelation under a log-normal prior around 120 BPM, no meter. It gets the pulse but
often the wrong metrical level (half or double time, the eighth of a 6/8), and says nothing
about bars. Here the tempo octave and the meter are chosen together, by matching metrical grids
against several accent envelopes, in the spirit of Lerdahl & Jackendoff's (1983) metrical
preference rules as made computable by Temperley (2001) and of Klapuri, Eronen & Astola (2006)'s
joint tatum/beat/bar analysis:

1. Accent envelopes at about 86 frames a second: the audio's onset strength (librosa's
   spectral flux) over all bands and below 200 Hz (kick and bass), and from the notes: onsets
   (Povel & Essens 1985's event accent), dynamic accents (louder than the neighbours), bass-note
   onsets (bass lines mark beats and downbeats), onsets weighted by duration (Parncutt 1994's
   durational accent: long notes start on strong beats) and harmonic change (chords change on
   strong beats, mostly on the downbeat).
2. A hypothesis is a beat period (a 0.4 % grid over 40-220 BPM; 30-150 for 6/8), a meter and a
   downbeat phase (24 bins a beat). Each envelope is sampled at the hypothesised bar positions
   and averaged over the bars; the features are contrasts between metrical levels (Lerdahl &
   Jackendoff's grid): downbeat against the other beats, the half bar (4/4), beats against
   sub-beats, sub-beats against sixteenths, and the meter's own division of the beat (halves,
   or thirds in 6/8) against the other. Beside them, the notes' pitch classes one, two and four
   hypothesised bars apart (`harmonic_self_similarity`): harmony repeats in bars and 4-bar loops.
3. Score = weights x features + a log-normal tempo prior per meter: a log-linear model whose
   weights are fitted by maximum likelihood on the corpus' 'tune' split
   (bench/listen/tune_analysis.py). The best-scoring hypothesis wins.
4. Its beat grid is snapped to nearby onsets and refit by least squares (tempo to well under
   1 %); downbeats are every bar's first beat at the chosen phase.

Conventions. `tempo_bpm` counts beats: quarter notes in 4/4 and 3/4, DOTTED QUARTERS in 6/8 (so
a 6/8 piece at 120 eighth notes a minute is 40 BPM; its `beats_seconds` are the two dotted
quarters of each bar). The meter is one of '4/4', '3/4' and '6/8'; 2/4 and 2/2 material reads as
4/4, 12/8 as 6/8. The grid assumes a steady tempo (what the corpus and most pop and dance music
have); rubato comes out as the average tempo with beats snapped locally.

Degenerate input: with neither audio onsets nor notes (silence, an empty clip) the answer is
`Rhythm(0.0, [], [], '4/4', 0.0)` - tempo 0 means "no pulse found". With notes but silent audio,
or audio but no notes, the envelopes that exist are used.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from soundcanvas.listen.audio import SAMPLE_RATE_HZ
from soundcanvas.listen.notes import Note

METERS = ("4/4", "3/4", "6/8")
BEATS_PER_BAR = {"4/4": 4, "3/4": 3, "6/8": 2}
# Metrical levels of each meter, in beats (the beat of 6/8 is the dotted quarter).
METRICAL_LEVELS_BEATS = {
    "4/4": (0.25, 0.5, 1.0, 2.0, 4.0),
    "3/4": (0.25, 0.5, 1.0, 3.0),
    "6/8": (1 / 6, 1 / 3, 1.0, 2.0),
}
BINS_PER_BEAT = 24  # divisible by 2, 3, 4, 6 and 8: every level and the points between land on a bin
HOP_LENGTH = 256
LOW_BAND_HZ = 200.0  # the "audio_low" envelope: onsets below this (kick drum, bass)
FEATURES = ("audio", "audio_low", "onsets", "accents", "bass", "durations", "harmony")

# ---- Tuned constants: `python -m bench.listen.tune_analysis --stage rhythm --condition both --cross-validate`
# (log-linear model fitted on 144 tune recordings: corpus seeds 7, 8, 9, each clean and rendered
# like the report split; transcribed notes). Tune-split figures, Acc1 / Acc2 / meter:
#   seed 7 clean 0.92 / 0.96 / 0.96, seed 7 noisy 0.96 / 0.96 / 0.96, all 144 0.94 / 0.97 / 0.96;
#   each seed held out in turn 0.94 / 0.96 / 0.96, 0.94 / 0.98 / 0.96, 0.94 / 0.96 / 0.96;
#   librosa.beat.beat_track on the same: seed 7 clean 0.79 / 0.92, noisy 0.83 / 0.92, all 0.81 / 0.94.
# WEIGHTS[envelope][contrast]: the linear score's weights (see `contrast_features`).
WEIGHTS: dict[str, dict[str, float]] = {
    "audio": {"bar": 0.544, "half": -0.146, "beat": 1.525, "sub": 0.51, "fine": -1.347, "division": 0.683},
    "audio_low": {"bar": 0.448, "half": 0.407, "beat": 1.682, "sub": -0.054, "fine": -0.943, "division": -0.024},
    "onsets": {"bar": 0.727, "half": 0.027, "beat": 4.302, "sub": 2.279, "fine": -1.153, "division": 2.758},
    "accents": {"bar": 0.313, "half": 0.269, "beat": 2.255, "sub": 0.122, "fine": -0.306, "division": 0.226},
    "bass": {"bar": 2.177, "half": 0.258, "beat": 3.45, "sub": 0.365, "fine": -0.628, "division": 0.526},
    "durations": {"bar": 2.041, "half": -0.163, "beat": 3.54, "sub": 1.315, "fine": -0.843, "division": 1.615},
    "harmony": {"bar": 5.791, "half": -0.561, "beat": 0.82, "sub": 1.042, "fine": -0.592, "division": 1.293},
}
# TEMPO_PRIOR[meter] = (c0, c1, c2): the log prior c0 + c1 x + c2 x^2 with x = log2(bpm / 100), a
# log-normal tempo prior per meter (Ellis 2007 uses one around 120 BPM; 6/8's dotted-quarter beat
# sits lower) with the meter's prior folded into c0.
TEMPO_PRIOR: dict[str, tuple[float, float, float]] = {
    "4/4": (-0.416, 1.173, -0.853), "3/4": (-0.406, 1.55, -0.485), "6/8": (0.822, 0.092, -1.317),
}
TEMPO_PRIOR_REFERENCE_BPM = 100.0
LOOP_BARS = (1, 2, 4)
LOOP_WEIGHTS: dict[int, float] = {1: -0.894, 2: -0.725, 4: 3.139}  # per lag in bars, see `harmonic_self_similarity`
CONFIDENCE_SCALE = 0.5  # confidence = 1 - exp(-margin / scale), margin in score units (set by hand, not tuned)

TEMPO_RANGE_BPM = {"4/4": (40.0, 220.0), "3/4": (40.0, 220.0), "6/8": (30.0, 150.0)}
TEMPO_STEP = 0.004  # relative step of the beat-period search grid (0.4 %)
ACCENT_CONTEXT_SECONDS = 1.5
SIMILARITY_FPS = 20.0
MIN_OVERLAP_SECONDS = 4.0
SNAP_WINDOW_BEATS = 0.08
DRIFT_BEATS = 9  # a grid beat moves to the strongest onset within this many beats


@dataclass(frozen=True)
class Rhythm:
    """Tempo in beats a minute, beat and downbeat times in seconds, meter ('4/4', '3/4', '6/8') and a
    confidence in [0, 1]. See the module docstring for the 6/8 convention and for silence."""

    tempo_bpm: float
    beats_seconds: np.ndarray
    downbeats_seconds: np.ndarray
    time_signature: str
    confidence: float


@dataclass(frozen=True)
class Hypothesis:
    """One metrical reading: beat period, meter, phase of the first downbeat, and its score."""

    beat_seconds: float
    meter: str
    downbeat_phase_seconds: float
    score: float

    @property
    def tempo_bpm(self) -> float:
        return 60.0 / self.beat_seconds


def estimate_rhythm(
    audio: np.ndarray | None,
    notes: Sequence[Note],
    sample_rate_hz: int = SAMPLE_RATE_HZ,
    audio_envelopes: tuple[np.ndarray, np.ndarray] | None = None,
    **weights: Any,
) -> Rhythm:
    """Tempo, beats, downbeats, meter and confidence of a clip (see the module docstring).

    `audio` is mono float at `sample_rate_hz`; `notes` are its transcription. `audio_envelopes`, when
    given, is `audible_onset_strength(audio, sample_rate_hz)` measured already (the workflow measures
    it beside transcription), and `audio` is not read (it may be None). `weights` are
    `rank_hypotheses`' keyword arguments (the tuner's knobs); they default to the module constants.
    """
    fps = sample_rate_hz / HOP_LENGTH
    envelopes = accent_envelopes(audio, notes, sample_rate_hz, audio_envelopes=audio_envelopes)
    if not envelopes:
        return Rhythm(0.0, np.zeros(0), np.zeros(0), "4/4", 0.0)
    return rhythm_from_table(hypothesis_table(envelopes, fps, notes=notes), envelopes, fps, **weights)


def rhythm_from_table(table: HypothesisTable, envelopes: dict[str, np.ndarray], fps: float,
                      **weights: Any) -> Rhythm:
    """The Rhythm of the best-ranked hypothesis: its beats snapped and refit (`beat_grid`), its
    downbeats, and a confidence from its margin over the best hypothesis of another meter or
    a tempo more than 4 % away."""
    hypotheses = rank_hypotheses(table, **weights)
    best = hypotheses[0]
    rival = next((h for h in hypotheses if h.meter != best.meter or abs(np.log(h.beat_seconds / best.beat_seconds))
                  > 0.04), None)
    margin = best.score - rival.score if rival is not None else best.score
    confidence = float(1.0 - np.exp(-max(margin, 0.0) / CONFIDENCE_SCALE))
    onset_env = _pulse_envelope(envelopes)
    span = _active_span_seconds(envelopes, fps)
    beats, beat_seconds = beat_grid(onset_env, fps, best.beat_seconds, best.downbeat_phase_seconds, span)
    per_bar = BEATS_PER_BAR[best.meter]
    downbeats = beats[_downbeat_indices(beats, best.downbeat_phase_seconds, best.beat_seconds, per_bar)]
    return Rhythm(round(60.0 / beat_seconds, 3), beats, downbeats, best.meter, round(confidence, 4))


# ------------------------------------------------------------------------------------- envelopes


def accent_envelopes(audio: np.ndarray | None, notes: Sequence[Note], sample_rate_hz: int,
                     audio_envelopes: tuple[np.ndarray, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """The accent envelopes (see FEATURES) at HOP_LENGTH frames, each scaled to a 0-1 peak;
    envelopes that are all zero (silent audio, no notes) are left out. `audio_envelopes` is
    `audible_onset_strength`'s result when it was measured already (then `audio` is not read)."""
    fps = sample_rate_hz / HOP_LENGTH
    n_frames = 0
    audio_env = low_env = np.zeros(0)
    measured = audio_envelopes if audio_envelopes is not None else audible_onset_strength(audio, sample_rate_hz)
    if measured is not None:
        audio_env, low_env = measured
        n_frames = audio_env.size
    if notes:
        n_frames = max(n_frames, int(np.ceil(max(n.end_seconds for n in notes) * fps)) + 2)
    if n_frames == 0:
        return {}
    envelopes: dict[str, np.ndarray] = {}
    if audio_env.size:
        envelopes["audio"] = np.pad(audio_env, (0, n_frames - audio_env.size))
        envelopes["audio_low"] = np.pad(low_env, (0, n_frames - low_env.size))
    if notes:
        envelopes.update(note_envelopes(notes, fps, n_frames))
    scaled = {}
    for name, envelope in envelopes.items():
        peak = float(np.percentile(envelope[envelope > 0], 95)) if np.any(envelope > 0) else 0.0
        if peak > 0:
            scaled[name] = np.minimum(envelope / peak, 1.5)
    return scaled


def audible_onset_strength(audio: np.ndarray | None, sample_rate_hz: int) -> tuple[np.ndarray, np.ndarray] | None:
    """`audio_onset_strength` of the audio, or None when there is none to read: no audio, under four
    frames of it, or silence (no sample louder than 1e-4)."""
    if audio is None or audio.size < HOP_LENGTH * 4 or float(np.max(np.abs(audio))) <= 1e-4:
        return None
    return audio_onset_strength(audio, sample_rate_hz)


def audio_onset_strength(audio: np.ndarray, sample_rate_hz: int) -> tuple[np.ndarray, np.ndarray]:
    """librosa's spectral-flux onset strength (log-mel, first difference, half-wave rectified,
    mean over bands) over all mel bands and over the bands below LOW_BAND_HZ (kick drum and bass)."""
    import librosa

    mel = librosa.feature.melspectrogram(y=np.asarray(audio, dtype=np.float32), sr=sample_rate_hz,
                                         hop_length=HOP_LENGTH)
    low_bands = int(np.searchsorted(librosa.mel_frequencies(n_mels=mel.shape[0], fmax=sample_rate_hz / 2),
                                    LOW_BAND_HZ))
    strength = librosa.onset.onset_strength_multi(S=librosa.power_to_db(mel), sr=sample_rate_hz,
                                                  hop_length=HOP_LENGTH, channels=[0, max(low_bands, 1), mel.shape[0]])
    return np.asarray(strength[1], dtype=float), np.asarray(strength[0], dtype=float)


def note_envelopes(notes: Sequence[Note], fps: float, n_frames: int) -> dict[str, np.ndarray]:
    """Impulse envelopes from the notes: 'onsets' (velocity, square-root compressed per frame so a
    four-note chord is twice a single note, not four times), 'accents' (how much louder an onset's
    loudest note is than the median onset within ACCENT_CONTEXT_SECONDS: players lean on strong
    beats), 'bass' (onsets of notes that are
    the lowest sounding), 'durations' (onsets weighted by log(1 + duration / 0.1 s)) and 'harmony'
    (at each onset, the cosine distance between the pitch classes sounding in the 0.25 s before
    and after it)."""
    from soundcanvas.listen.harmony import is_bass_note

    starts = np.array([n.start_seconds for n in notes], dtype=float)
    ends = np.array([n.end_seconds for n in notes], dtype=float)
    pitches = np.array([n.pitch for n in notes], dtype=int)
    velocities = np.array([n.velocity for n in notes], dtype=float) / 127.0
    frames = np.clip(np.round(starts * fps).astype(int), 0, n_frames - 1)
    onsets = np.sqrt(np.bincount(frames, weights=velocities ** 2, minlength=n_frames))
    bass = np.bincount(frames, weights=is_bass_note(starts, ends, pitches), minlength=n_frames)
    durations = np.bincount(frames, weights=np.log1p(np.maximum(ends - starts, 0.0) / 0.1), minlength=n_frames)
    loudest = np.zeros(n_frames)
    np.maximum.at(loudest, frames, velocities)
    onset_frames = np.flatnonzero(loudest)
    accents = np.zeros(n_frames)
    span = round(ACCENT_CONTEXT_SECONDS * fps)
    for frame in onset_frames:
        near = onset_frames[np.abs(onset_frames - frame) <= span]
        accents[frame] = max(0.0, loudest[frame] - float(np.median(loudest[near])))
    harmony = np.zeros(n_frames)
    window_seconds = 0.25
    for frame in np.unique(frames):
        t = frame / fps
        before = _pitch_class_overlap(starts, ends, pitches, t - window_seconds, t)
        after = _pitch_class_overlap(starts, ends, pitches, t, t + window_seconds)
        norm = np.linalg.norm(before) * np.linalg.norm(after)
        harmony[frame] = 1.0 - float(before @ after) / norm if norm > 0 else (1.0 if after.any() else 0.0)
    return {"onsets": onsets, "accents": accents, "bass": bass, "durations": durations, "harmony": harmony}


def _pitch_class_overlap(starts: np.ndarray, ends: np.ndarray, pitches: np.ndarray, lo: float,
                         hi: float) -> np.ndarray:
    overlap = np.clip(np.minimum(ends, hi) - np.maximum(starts, lo), 0.0, None)
    return np.bincount(pitches % 12, weights=overlap, minlength=12)


def _pulse_envelope(envelopes: dict[str, np.ndarray]) -> np.ndarray:
    """Audio onset strength plus note onsets: what beats are snapped to."""
    parts = [envelopes[name] for name in ("audio", "onsets", "bass") if name in envelopes]
    return np.asarray(np.sum(parts, axis=0), dtype=float)


def _active_span_seconds(envelopes: dict[str, np.ndarray], fps: float) -> tuple[float, float]:
    total = _pulse_envelope(envelopes)
    active = np.flatnonzero(total > 0.1 * float(total.max()))
    return float(active[0] / fps), float(active[-1] / fps)


# ----------------------------------------------------------------------------------- hypotheses

# Metrical positions of each meter on a bar of BINS_PER_BEAT bins a beat, by role. 'beat' holds
# the beats that are neither the downbeat nor (4/4) the half bar; 'sub' the eighths between beats
# (6/8: the two eighths inside each dotted quarter); 'fine' the sixteenths between those.
ROLES = ("bar", "half", "beat", "sub", "fine", "off")


def metrical_positions(meter: str) -> dict[str, np.ndarray]:
    """Bins of each role in one bar of `meter` (see ROLES); 'off' is every bin on no level."""
    per_bar = BEATS_PER_BAR[meter]
    length = per_bar * BINS_PER_BEAT
    sub_step = BINS_PER_BEAT // (3 if meter == "6/8" else 2)
    fine_step = sub_step // 2
    bins = np.arange(length)
    beat = bins % BINS_PER_BEAT == 0
    half = (bins == length // 2) & (per_bar == 4)
    roles = {
        "bar": bins == 0,
        "half": half,
        "beat": beat & (bins != 0) & ~half,
        "sub": (bins % sub_step == 0) & ~beat,
        "fine": (bins % fine_step == 0) & (bins % sub_step != 0),
    }
    roles["off"] = ~np.any(np.stack(list(roles.values())), axis=0)
    return {role: np.flatnonzero(mask) for role, mask in roles.items()}


# The score's terms, per envelope: differences of mean envelope between adjacent metrical levels.
CONTRASTS = ("bar", "half", "beat", "sub", "fine", "division")


def sampled_profiles(envelopes: np.ndarray, fps: float, beat_seconds: np.ndarray, beats_per_bar: int,
                     span_seconds: tuple[float, float]) -> np.ndarray:
    """Mean envelope at each bar position, shape (envelopes, P, bars x BINS_PER_BEAT), for each
    envelope (rows of `envelopes`) and beat period, bar phase 0 at time 0, over the bars inside
    `span_seconds`. The envelopes are max-filtered over +-2 frames first, so a position reads an
    onset within about 25 ms whatever the tempo (binning would dilute peaks at slow tempi).

    Position k of a period (k = bar x bars-length + bin, from the bar holding the span's start) lies
    at k x beat / BINS_PER_BEAT seconds and reads the frame nearest it; positions within half a beat
    of the span and on the envelope count. One period at a time (`bar_positions`): the positions
    read are one contiguous run, laid out bar by bar and summed per bin, so memory stays at one
    period's run (under 1 MB for 3 minutes) however many periods are searched."""
    from scipy.ndimage import maximum_filter1d

    peaks = maximum_filter1d(envelopes, size=5, axis=-1, mode="constant")
    length = beats_per_bar * BINS_PER_BEAT
    start, _ = span_seconds
    first_bars = np.floor(start / (beat_seconds * beats_per_bar))
    profiles = np.zeros((envelopes.shape[0], beat_seconds.size, length))
    for index, (beat, first_bar) in enumerate(zip(beat_seconds, first_bars, strict=True)):
        positions, frames = bar_positions(float(beat), int(first_bar) * length, span_seconds, fps, peaks.shape[-1])
        if positions.size == 0:
            continue
        offset = int(positions[0]) % length  # positions run on from a bar line `offset` bins earlier
        laid_out = np.zeros((envelopes.shape[0], (offset + positions.size - 1) // length + 1, length))
        laid_out.reshape(envelopes.shape[0], -1)[:, offset : offset + positions.size] = np.take(peaks, frames, axis=1)
        counts = np.bincount(positions % length, minlength=length)
        np.divide(laid_out.sum(axis=1), counts, out=profiles[:, index], where=counts > 0)
    return profiles


def bar_positions(beat_seconds: float, first_position: int, span_seconds: tuple[float, float], fps: float,
                  n_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """The bar positions (from `first_position` on, BINS_PER_BEAT a beat) within half a beat of
    `span_seconds` whose nearest frame is one of the `n_frames`, and those frames: two int arrays,
    in order, the positions consecutive (time and frame grow with the position). Only the run the
    span can reach is computed (one position of slack each side)."""
    start, stop = span_seconds
    step_seconds = beat_seconds / BINS_PER_BEAT
    half_beat = 0.5 * beat_seconds
    lowest = max(first_position, int(np.floor((start - half_beat) / step_seconds)) - 1)
    highest = int(np.ceil((stop + half_beat) / step_seconds)) + 1
    positions = np.arange(lowest, max(lowest, highest + 1))
    times = positions.astype(float) * step_seconds
    frames = np.round(times * fps).astype(int)
    valid = (times >= start - half_beat) & (times <= stop + half_beat) & (frames >= 0) & (frames < n_frames)
    return positions[valid], frames[valid]


def contrast_features(profiles: np.ndarray, meter: str) -> np.ndarray:
    """For every profile row and downbeat bin (..., bins, CONTRASTS): mean at the downbeat less mean
    at the other beats (half bar included), half bar less the other beats (4/4; else 0), beats
    less sub-beats, sub-beats less fine positions, fine positions less the rest, and the meter's
    own division of the beat (halves; thirds in 6/8) less the other one (Gouyon & Herrera 2003's
    duple/triple cue: it is what tells 3/4 from 6/8 and 4/4 from 6/8 at one beat rate)."""
    positions = metrical_positions(meter)
    length = profiles.shape[-1]

    def mean_at(bins: np.ndarray) -> np.ndarray:
        # result[p, k] = mean over b in bins of profiles[p, (k + b) % length]: downbeat at bin k
        if bins.size == 0:
            return np.zeros(profiles.shape)
        circulant = np.zeros((length, length))
        columns = np.arange(length)
        for offset in bins:
            circulant[(columns + int(offset)) % length, columns] += 1.0 / bins.size
        return profiles @ circulant

    means = {role: mean_at(bins) for role, bins in positions.items()}
    other_beats = mean_at(np.concatenate([positions["beat"], positions["half"]]))
    half = means["half"] - means["beat"] if positions["half"].size else np.zeros_like(means["bar"])
    beat_starts = np.arange(0, length, BINS_PER_BEAT)
    halves = mean_at(beat_starts + BINS_PER_BEAT // 2)
    thirds = mean_at(np.concatenate([beat_starts + BINS_PER_BEAT // 3, beat_starts + 2 * BINS_PER_BEAT // 3]))
    division = thirds - halves if meter == "6/8" else halves - thirds
    return np.stack([means["bar"] - other_beats, half, other_beats - means["sub"], means["sub"] - means["fine"],
                     means["fine"] - means["off"], division], axis=-1)


@dataclass(frozen=True)
class HypothesisTable:
    """Per meter: the beat periods searched (P,), the contrast features (P, bins, envelopes,
    contrasts) with the envelope names in order, and the harmonic-repetition features (P,
    LOOP_BARS). Kept apart from the weighting so a tuner can reweigh without resampling."""

    beat_seconds: dict[str, np.ndarray]
    features: dict[str, np.ndarray]
    envelope_names: tuple[str, ...]
    loops: dict[str, np.ndarray]


def hypothesis_table(envelopes: dict[str, np.ndarray], fps: float,
                     span_seconds: tuple[float, float] | None = None,
                     notes: Sequence[Note] = ()) -> HypothesisTable:
    """Contrast features of every (beat period, meter, downbeat bin) on the search grid, and the
    repetition features of every (beat period, meter) from the notes' pitch classes."""
    names = tuple(name for name in FEATURES if name in envelopes)
    similarity = harmonic_self_similarity(notes)
    loops: dict[str, np.ndarray] = {}
    span = span_seconds if span_seconds is not None else _active_span_seconds(envelopes, fps)
    periods: dict[str, np.ndarray] = {}
    features: dict[str, np.ndarray] = {}
    for meter in METERS:
        low_bpm, high_bpm = TEMPO_RANGE_BPM[meter]
        count = int(np.ceil(np.log(high_bpm / low_bpm) / np.log1p(TEMPO_STEP))) + 1
        beat_seconds = 60.0 / (low_bpm * (1 + TEMPO_STEP) ** np.arange(count))
        per_bar = BEATS_PER_BAR[meter]
        periods[meter] = beat_seconds
        stacked = np.stack([envelopes[name] for name in names])
        contrasts = contrast_features(sampled_profiles(stacked, fps, beat_seconds, per_bar, span), meter)
        features[meter] = np.moveaxis(contrasts, 0, 2).astype(np.float32)
        lags = np.outer(beat_seconds * per_bar, LOOP_BARS) * SIMILARITY_FPS
        loops[meter] = np.interp(lags, np.arange(similarity.size), similarity, right=0.0)
    return HypothesisTable(periods, features, names, loops)


def harmonic_self_similarity(notes: Sequence[Note]) -> np.ndarray:
    """Cosine similarity of the sounding pitch classes with themselves `lag` frames later, for every
    lag at SIMILARITY_FPS (index = lag), less its mean over the lags from one second up that
    leave MIN_OVERLAP_SECONDS of overlap; other lags read 0, "no evidence", so a clip too short
    to show a four-bar loop neither helps nor hurts a four-bar reading.

    Harmony repeats in bars, usually in 2- and 4-bar phrases (a chord loop), so similarity at
    1, 2 and 4 hypothesised bars tells a right bar length from one a beat short or long,
    which the accent contrasts alone often cannot (Foote 2000's self-similarity, read at the
    bar lags as in Peeters & Papadopoulos 2011's downbeat and meter work).
    """
    if not notes:
        return np.zeros(1)
    n_frames = int(np.ceil(max(n.end_seconds for n in notes) * SIMILARITY_FPS)) + 1
    activity = np.zeros((12, n_frames))
    for note in notes:
        first = int(note.start_seconds * SIMILARITY_FPS)
        last = max(first + 1, int(note.end_seconds * SIMILARITY_FPS))
        activity[note.pitch % 12, first:last] += 1.0
    size = 2 * n_frames
    spectrum = np.fft.rfft(activity, n=size, axis=1)
    products = np.fft.irfft(spectrum * np.conj(spectrum), n=size, axis=1)[:, :n_frames].sum(axis=0)
    energy = np.cumsum(np.sum(activity ** 2, axis=0))
    lags = np.arange(n_frames)
    early = energy[n_frames - 1 - lags]  # frames 0 .. n-1-lag
    late = energy[-1] - np.concatenate([[0.0], energy[:-1]])[lags]  # frames lag .. n-1
    denominator = np.sqrt(early * late)
    similarity = np.divide(products, denominator, out=np.zeros(n_frames), where=denominator > 0)
    valid = n_frames - lags >= MIN_OVERLAP_SECONDS * SIMILARITY_FPS
    valid[: int(SIMILARITY_FPS)] = False  # under a second: the notes' own length, not repetition
    if not valid.any():
        return np.zeros(n_frames)
    return np.where(valid, similarity - float(np.mean(similarity[valid])), 0.0)


def weight_matrix(envelope_names: Sequence[str],
                  weights: dict[str, dict[str, float]] | None = None) -> np.ndarray:
    """(envelopes, CONTRASTS) weights for the table's envelopes, in order."""
    chosen = WEIGHTS if weights is None else weights
    return np.array([[chosen.get(name, {}).get(contrast, 0.0) for contrast in CONTRASTS] for name in envelope_names])


def tempo_log_prior(bpm: np.ndarray, meter: str,
                    tempo_prior: dict[str, tuple[float, float, float]] | None = None) -> np.ndarray:
    """c0 + c1 x + c2 x^2 with x = log2(bpm / TEMPO_PRIOR_REFERENCE_BPM), from TEMPO_PRIOR[meter]."""
    c0, c1, c2 = (TEMPO_PRIOR if tempo_prior is None else tempo_prior)[meter]
    x = np.log2(np.asarray(bpm, dtype=float) / TEMPO_PRIOR_REFERENCE_BPM)
    return np.asarray(c0 + c1 * x + c2 * x * x, dtype=float)


def score_hypotheses(envelopes: dict[str, np.ndarray], fps: float, **weights: Any) -> list[Hypothesis]:
    """Every (beat period, meter) on the search grid with its best phase, best score first."""
    return rank_hypotheses(hypothesis_table(envelopes, fps), **weights)


def rank_hypotheses(
    table: HypothesisTable,
    *,
    weights: dict[str, dict[str, float]] | None = None,
    tempo_prior: dict[str, tuple[float, float, float]] | None = None,
    loop_weights: dict[int, float] | None = None,
    keep: int = 50,
) -> list[Hypothesis]:
    """The `keep` best beat periods of each meter, each at its best downbeat bin, best first.

    score = sum over envelopes and contrasts of weight x contrast feature + `tempo_log_prior` +
    sum over LOOP_BARS of loop weight x harmonic self-similarity one, two and four bars on: a
    log-linear model of the metrical reading, whose weights are fitted on the tune split (softmax
    over every hypothesis of a piece, the true tempo, meter and downbeat as the target)."""
    matrix = weight_matrix(table.envelope_names, weights)
    repetition = np.array([(LOOP_WEIGHTS if loop_weights is None else loop_weights).get(bars, 0.0)
                           for bars in LOOP_BARS])
    ranked: list[Hypothesis] = []
    for meter in METERS:
        beat_seconds = table.beat_seconds[meter]
        total = np.tensordot(table.features[meter], matrix, axes=([2, 3], [0, 1]))
        prior = tempo_log_prior(60.0 / beat_seconds, meter, tempo_prior) + table.loops[meter] @ repetition
        phase = np.argmax(total, axis=1)
        best = total[np.arange(beat_seconds.size), phase] + prior
        for i in np.argsort(-best)[:keep]:
            phase_seconds = phase[i] / BINS_PER_BEAT * beat_seconds[i]
            ranked.append(Hypothesis(float(beat_seconds[i]), meter, float(phase_seconds), float(best[i])))
    ranked.sort(key=lambda h: -h.score)
    return ranked


# ------------------------------------------------------------------------------------------ beats


def beat_grid(envelope: np.ndarray, fps: float, beat_seconds: float, phase_seconds: float,
              span_seconds: tuple[float, float]) -> tuple[np.ndarray, float]:
    """Beats over the active span: the hypothesis' grid, each beat moved to the strongest
    `envelope` frame within SNAP_WINDOW_BEATS (when that frame is a real onset), the period and
    phase refit by least squares over the snapped beats, and the beats set on that line plus the
    running median (over DRIFT_BEATS beats) of the snapped beats' deviations from it: slow drift
    is followed, one-frame jitter between an audio peak and a note onset is not. Returns (beats,
    beat period in seconds)."""
    from scipy.ndimage import median_filter

    start, stop = span_seconds
    first = phase_seconds + np.ceil((start - phase_seconds) / beat_seconds - 0.25) * beat_seconds
    grid = np.arange(first, stop + 0.25 * beat_seconds, beat_seconds)
    grid = grid[grid >= 0]
    if grid.size < 2:
        return grid, beat_seconds
    window = max(1, round(SNAP_WINDOW_BEATS * beat_seconds * fps))
    floor = 0.2 * float(np.max(envelope)) if envelope.size else 0.0
    snapped = grid.copy()
    is_snapped = np.zeros(grid.size, dtype=bool)
    for i, t in enumerate(grid):
        centre = round(float(t) * fps)
        lo, hi = max(0, centre - window), min(envelope.size, centre + window + 1)
        if hi <= lo:
            continue
        peak = lo + int(np.argmax(envelope[lo:hi]))
        if envelope[peak] > floor:
            snapped[i] = peak / fps
            is_snapped[i] = True
    index = np.arange(grid.size)
    if is_snapped.sum() >= 2:
        slope, intercept = np.polyfit(index[is_snapped], snapped[is_snapped], 1)
        fitted = intercept + slope * index
        residuals = np.where(is_snapped, snapped - fitted, 0.0)
        drift = median_filter(residuals, size=DRIFT_BEATS, mode="nearest")
        return np.maximum(fitted + drift, 0.0), float(slope)
    return grid, beat_seconds


def _downbeat_indices(beats: np.ndarray, phase_seconds: float, beat_seconds: float, per_bar: int) -> np.ndarray:
    if beats.size == 0:
        return np.zeros(0, dtype=int)
    first = int(np.round((beats[0] - phase_seconds) / beat_seconds))
    return np.flatnonzero(np.mod(first + np.arange(beats.size), per_bar) == 0)
