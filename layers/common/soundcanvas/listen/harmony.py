"""Key and chords from transcribed notes (and, optionally, the audio they came from).

Key: a duration-weighted pitch-class profile correlated with corpus key profiles (Temperley
2007's Kostka-Payne profiles and Albrecht & Shanahan 2013, blended), plus cadence evidence (the
piece's last sonority and bass note against each tonic triad). Krumhansl-Schmuckler (Krumhansl
1990, the Krumhansl-Kessler 1982 probe-tone profiles) is the baseline this replaces: its flat
profiles let the dominant and the relative key win on pop-style material. Besides major and
minor, dorian and mixolydian tonics are scored (`modal_profile`): a D dorian vamp, whose notes
are C major's, is found on D and reported by its tonic as "D minor" (Key.scale keeps "D dorian").

Chords: per-beat pitch-class vectors from the notes (notes struck on the beat weighted up;
optionally blended with beat-synchronous audio chroma), scored against binary templates for
maj, min, 7, maj7 and min7 on all twelve roots with a bass-is-root bonus, a small malus on
sevenths and a bonus for chords diatonic to the key, then decoded with Viterbi in an HMM whose
chords change mostly at bar lines (the template-plus-HMM recipe of Sheh & Ellis 2003 and
Bello & Pickens 2005; the bar-aware transitions after Mauch & Dixon 2010). The bar length and
phase come from the downbeats when given, else the most likely of 2, 3, 4, 6 and 8 beats.
Labels use mir_eval's chord syntax: "C", "A:min", "G:7", "C:maj7", "D:min7", "N" (no chord).

The free parameters are module constants chosen on the corpus' 'tune' split by
`python -m bench.listen.tune_analysis`; every function takes them as keyword arguments so the
tuner can vary them without touching module state.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from soundcanvas.listen.notes import Note

# Spellings mir_eval.key and mir_eval.chord accept (they read C#/Db alike); we use the usual
# key-signature spelling: flats for Db, Eb, Ab, Bb major, sharps for C#, G# minor, F# either way.
MAJOR_TONIC_NAMES = ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
MINOR_TONIC_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "G#", "A", "Bb", "B")
CHORD_ROOT_NAMES = ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
MODES = ("major", "minor")
# The modes a piece is read in. A modal piece is labelled by its tonic with the nearer of major and
# minor, as a musician names it and as the corpus (bench/listen/corpus.py) scores it: D dorian ->
# "D minor", G mixolydian -> "G major". (steps from the mode's tonic to the label's, label mode)
SCALE_MODES = ("major", "minor", "dorian", "mixolydian")
SCALE_MODE_LABELS = {"major": (0, "major"), "minor": (0, "minor"), "dorian": (0, "minor"), "mixolydian": (0, "major")}
# Scale steps of each mode; minor holds both sevenths (natural minor and the raised leading tone of V).
SCALE_MODE_STEPS = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10, 11),
                    "dorian": (0, 2, 3, 5, 7, 9, 10), "mixolydian": (0, 2, 4, 5, 7, 9, 10)}
_MINOR_THIRD_MODES = ("minor", "dorian")

# Key profiles, tonic first (index 0 = tonic, 7 = dominant).
# Krumhansl & Kessler (1982) probe-tone ratings: the Krumhansl-Schmuckler baseline.
KRUMHANSL_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
KRUMHANSL_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
# Temperley (2007, "Music and Probability"): pitch-class proportions in the Kostka-Payne corpus.
TEMPERLEY_MAJOR = np.array([0.748, 0.060, 0.488, 0.082, 0.670, 0.460, 0.096, 0.715, 0.104, 0.366, 0.057, 0.400])
TEMPERLEY_MINOR = np.array([0.712, 0.084, 0.474, 0.618, 0.049, 0.460, 0.105, 0.747, 0.404, 0.067, 0.133, 0.330])
# Albrecht & Shanahan (2013): duration proportions in 490 common-practice pieces; the sharper
# minor profile (low major third, low raised sixth) is what separates a minor key from its relative.
ALBRECHT_MAJOR = np.array([0.238, 0.006, 0.111, 0.006, 0.137, 0.094, 0.016, 0.214, 0.009, 0.080, 0.008, 0.081])
ALBRECHT_MINOR = np.array([0.220, 0.006, 0.104, 0.123, 0.019, 0.103, 0.012, 0.214, 0.062, 0.022, 0.061, 0.052])


def modal_profile(profile: np.ndarray, mode: str) -> np.ndarray:
    """A major or minor profile (tonic first) turned into `mode`'s: the weights of the degrees the
    mode alters trade places. Dorian is minor with a natural sixth and no leading tone (the b6
    and 6 weights swap, the leading tone takes the weight of a chromatic degree, the b7 that of
    a diatonic one); mixolydian is major with b7 and 7 swapped. Neither paper gives modal
    profiles; this keeps each one's tonic/fifth/third hierarchy and moves only the scale."""
    result = np.array(profile, dtype=float)
    if mode == "dorian":
        result[[8, 9]] = result[[9, 8]]
        result[10], result[11] = max(result[10], result[11]), result[1]
    elif mode == "mixolydian":
        result[[10, 11]] = result[[11, 10]]
    return result

# ---- Tuned constants (key): `python -m bench.listen.tune_analysis --stage key --condition both`,
# coordinate ascent on the MIREX weighted score over 144 tune recordings (corpus seeds 7, 8, 9,
# clean and rendered like the report split; transcribed notes). Tune-split figures:
#   ours: seed 7 clean 0.958, seed 7 noisy 1.000, all 144 0.972;
#   Krumhansl-Schmuckler on the notes 0.779 / 0.933 / 0.856, on the audio's chroma (the report's
#   baseline) 0.792 / 0.771 / 0.769.
KEY_ALBRECHT_SHARE = 0.5  # score = share * r(Albrecht-Shanahan) + (1 - share) * r(Temperley)
KEY_BASS_WEIGHT = 1.0  # a bass note counts (1 + this) times its duration
KEY_MAX_NOTE_SECONDS = 4.0  # cap on one note's duration weight: a held pedal is one vote, not ten
KEY_CADENCE_WEIGHT = 0.3  # weight of the final sonority and final bass note fitting the tonic triad
KEY_CADENCE_SECONDS = 2.0  # the "final sonority" is what sounds in the piece's last this-many seconds
KEY_AUDIO_WEIGHT = 0.2  # share of the audio's mean chroma in the profile, when audio is given
KEY_MODE_PRIOR = {"major": 0.0, "minor": 0.0, "dorian": 0.0, "mixolydian": 0.0}  # score offsets per mode
KEY_CONFIDENCE_SCALE = 0.1  # confidence = 1 - exp(-margin / scale); margin in correlation units (by hand)

# ---- Tuned constants (chords): `python -m bench.listen.tune_analysis --stage chords --condition both`,
# coordinate ascent on length-weighted mir_eval majmin over the same 144 tune recordings, with our
# own beats (rhythm's constants) and no downbeats, as bench.listen.evaluate calls it. Tune-split
# figures: ours seed 7 clean 0.888, seed 7 noisy 0.909, all 144 0.902; the same templates per
# beat without smoothing 0.782 / 0.773 / 0.784.
CHORD_BAR_CHANGE = 0.9  # HMM probability of a chord change at a bar line
CHORD_BEAT_CHANGE = 0.002  # ... and at any other beat
CHORD_BEATS_PER_BAR = (2, 3, 4, 6, 8)  # bar lengths tried (in beats) when the downbeats are not given
CHORD_BASS_WEIGHT = 0.15  # emission bonus when the beat's bass pitch class is the chord's root
# Sevenths: a malus, a triad being the simpler explanation. The tuner's best was 0.2, but majmin
# cannot see sevenths (G:7 scores as G) and 0.1 costs 0.002 of it (seed 7, both recordings, true
# beats: 0.912 against 0.914), while at 0.2 a G7 with all four notes sounding comes out "G".
CHORD_SEVENTH_PENALTY = 0.1
CHORD_KEY_WEIGHT = 0.2  # emission bonus for chords diatonic to the key
CHORD_AUDIO_WEIGHT = 0.0  # share of beat-synchronous audio chroma in the beat vector, when audio is given
CHORD_TEMPERATURE = 0.05  # emission log-likelihood = score / temperature
CHORD_ONSET_WEIGHT = 2.0  # a note struck on the beat counts (1 + this) times (see `beat_chroma`)
CHORD_SILENCE_RATIO = 0.05  # a beat with less note energy than this times the median beat is "N"

CHORD_QUALITIES = ("maj", "min", "7", "maj7", "min7")
_QUALITY_INTERVALS = {"maj": (0, 4, 7), "min": (0, 3, 7), "7": (0, 4, 7, 10), "maj7": (0, 4, 7, 11),
                      "min7": (0, 3, 7, 10)}
_NO_CHORD = "N"
# Audio chroma a frame every 2048 samples (93 ms). The key reads only its mean over the piece (and
# the chords none: CHORD_AUDIO_WEIGHT is 0), and 2048 costs under half of librosa's default 512 (a
# 3-minute band: 0.55 s against 1.2 s, most of it now chroma_cqt's tuning estimate, which no hop
# changes); the mean moves by about 1e-4 of its sum, no key of the tune or report split changes
# and no confidence by more than 0.002.
CHROMA_HOP_LENGTH = 2048


@dataclass(frozen=True)
class Key:
    """An estimated key: tonic name, 'major' or 'minor', a confidence in [0, 1] and the next three
    candidates as (tonic, mode, score), best first, on the same score scale as the winner's.

    A piece heard in dorian or mixolydian is labelled by its tonic with the nearer of major and
    minor (D dorian -> D minor); `scale` keeps the heard tonic and mode ("D dorian", "A minor")."""

    tonic: str
    mode: str
    confidence: float
    alternatives: list[tuple[str, str, float]] = field(default_factory=list)
    scale: str = ""

    @property
    def label(self) -> str:
        """The key in mir_eval.key's form, e.g. "C major", "F# minor", "Bb major"."""
        return f"{self.tonic} {self.mode}"

    @property
    def tonic_pitch_class(self) -> int:
        return _pitch_class_of(self.tonic)


@dataclass(frozen=True)
class Chord:
    """One chord span: start and end in seconds and a mir_eval chord label ("N" = no chord)."""

    start_seconds: float
    end_seconds: float
    label: str


# --------------------------------------------------------------------------------------------- key


def estimate_key(
    notes: Sequence[Note],
    audio: np.ndarray | None = None,
    *,
    sample_rate_hz: int = 22050,
    albrecht_share: float = KEY_ALBRECHT_SHARE,
    bass_weight: float = KEY_BASS_WEIGHT,
    max_note_seconds: float = KEY_MAX_NOTE_SECONDS,
    cadence_weight: float = KEY_CADENCE_WEIGHT,
    cadence_seconds: float = KEY_CADENCE_SECONDS,
    audio_weight: float = KEY_AUDIO_WEIGHT,
    mode_prior: dict[str, float] | None = None,
    confidence_scale: float = KEY_CONFIDENCE_SCALE,
    audio_chroma: np.ndarray | None = None,
) -> Key:
    """The key of a piece from its notes.

    The profile weighs each note by its duration (capped at `max_note_seconds`), and bass notes
    (the lowest sounding pitch at their onset) `1 + bass_weight` times: bass lines spell roots, and
    roots are mostly tonic, subdominant and dominant. Each tonic in each of SCALE_MODES is scored
    by the Pearson correlation of that profile with a blend of the Albrecht-Shanahan (2013) and
    Temperley (2007) profiles (`modal_profile` for dorian and mixolydian) rotated to it, plus
    `cadence_weight` times how well the piece's last `cadence_seconds` and its final bass note
    fit the tonic triad: pieces end on the tonic, and this is what separates a key from its
    relative or its dominant (and a mode from its parent major) when the profiles are close.
    `mode_prior` adds a constant per mode (tuned: how much evidence a mode needs).

    With `audio`, its mean chroma (`chroma_frames`, librosa's chroma_cqt) is mixed in with
    `audio_weight`; `audio_chroma` passes those frames precomputed (the tuner does).

    Confidence is 1 - exp(-margin / confidence_scale), the margin being the winner's lead over the
    best-scoring different label. With no notes and no audio the answer is C major at confidence 0.
    """
    profile = pitch_class_profile(notes, bass_weight=bass_weight, max_note_seconds=max_note_seconds)
    if audio_weight > 0 and audio_chroma is None and audio is not None and audio.size:
        audio_chroma = chroma_frames(audio, sample_rate_hz)
    if audio_weight > 0 and audio_chroma is not None and audio_chroma.size:
        profile = (1 - audio_weight) * _unit_sum(profile) + audio_weight * _unit_sum(audio_chroma.mean(axis=1))
    if not np.any(profile > 0):
        return Key(MAJOR_TONIC_NAMES[0], "major", 0.0, [], "C major")
    scores = key_scores(profile, albrecht_share=albrecht_share)
    if cadence_weight:
        scores = scores + cadence_weight * cadence_scores(notes, cadence_seconds=cadence_seconds)
    priors = KEY_MODE_PRIOR if mode_prior is None else mode_prior
    scores = scores + np.array([priors.get(mode, 0.0) for mode in SCALE_MODES])[:, None]
    return _key_from_scores(scores, confidence_scale)


def key_scores(profile: np.ndarray, *, albrecht_share: float = KEY_ALBRECHT_SHARE) -> np.ndarray:
    """Correlations of a 12-bin profile with every tonic of every mode: shape (len(SCALE_MODES), 12),
    [mode, tonic pitch class]; the blend of Albrecht-Shanahan and Temperley profiles."""
    major = albrecht_share * ALBRECHT_MAJOR / ALBRECHT_MAJOR.sum() \
        + (1 - albrecht_share) * TEMPERLEY_MAJOR / TEMPERLEY_MAJOR.sum()
    minor = albrecht_share * ALBRECHT_MINOR / ALBRECHT_MINOR.sum() \
        + (1 - albrecht_share) * TEMPERLEY_MINOR / TEMPERLEY_MINOR.sum()
    rows = []
    for mode in SCALE_MODES:
        base = minor if mode in _MINOR_THIRD_MODES else major
        rows.append(_rotated_correlations(profile, modal_profile(base, mode)))
    return np.stack(rows)


def krumhansl_schmuckler_key(notes: Sequence[Note]) -> Key:
    """The baseline: Krumhansl-Schmuckler (Krumhansl 1990) on a plain duration-weighted profile,
    major and minor only."""
    profile = pitch_class_profile(notes, bass_weight=0.0, max_note_seconds=np.inf)
    if not np.any(profile > 0):
        return Key(MAJOR_TONIC_NAMES[0], "major", 0.0, [], "C major")
    scores = np.full((len(SCALE_MODES), 12), -np.inf)
    scores[0] = _rotated_correlations(profile, KRUMHANSL_MAJOR)
    scores[1] = _rotated_correlations(profile, KRUMHANSL_MINOR)
    return _key_from_scores(scores, KEY_CONFIDENCE_SCALE)


def pitch_class_profile(
    notes: Sequence[Note],
    *,
    bass_weight: float = KEY_BASS_WEIGHT,
    max_note_seconds: float = KEY_MAX_NOTE_SECONDS,
) -> np.ndarray:
    """12-bin duration-weighted pitch-class histogram; bass notes count `1 + bass_weight` times."""
    if not notes:
        return np.zeros(12)
    starts, ends, pitches = _note_arrays(notes)
    weights = np.minimum(np.maximum(ends - starts, 0.0), max_note_seconds)
    if bass_weight:
        weights = weights * (1.0 + bass_weight * is_bass_note(starts, ends, pitches))
    return np.bincount(pitches % 12, weights=weights, minlength=12).astype(float)


def cadence_scores(notes: Sequence[Note], *, cadence_seconds: float = KEY_CADENCE_SECONDS) -> np.ndarray:
    """How well the ending fits each tonic triad, shape (len(SCALE_MODES), 12) like `key_scores`.

    The final sonority (duration-weighted pitch classes of what sounds in the last
    `cadence_seconds`) is compared by cosine with each mode's tonic triad (minor for minor and
    dorian, major for major and mixolydian), and the final bass note adds 0.5 to the keys it is
    the tonic of. Both are in [0, 1.5]; a piece with no notes scores zeros.
    """
    scores = np.zeros((len(SCALE_MODES), 12))
    if not notes:
        return scores
    starts, ends, pitches = _note_arrays(notes)
    end_seconds = float(ends.max())
    window_start = end_seconds - cadence_seconds
    overlap = np.clip(np.minimum(ends, end_seconds) - np.maximum(starts, window_start), 0.0, None)
    final = np.bincount(pitches % 12, weights=overlap, minlength=12)
    if final.sum() > 0:
        for row, mode in enumerate(SCALE_MODES):
            triad = np.zeros(12)
            triad[[0, 3 if mode in _MINOR_THIRD_MODES else 4, 7]] = 1.0
            scores[row] = _rotated_cosines(final, triad)
    last_onset = starts.max()
    final_notes = pitches[starts >= last_onset - 0.05]
    sounding = pitches[(starts <= last_onset) & (ends > last_onset)]
    bass_pitch = int(min(final_notes.min(), sounding.min() if sounding.size else 127))
    scores[:, bass_pitch % 12] += 0.5
    return scores


def is_bass_note(starts: np.ndarray, ends: np.ndarray, pitches: np.ndarray) -> np.ndarray:
    """Whether each note is the lowest sounding pitch at its onset (ties count for both).

    "Sounding" is onset within 50 ms before it (a chord's notes start together up to
    transcription jitter) or started earlier and still held 50 ms after it.
    """
    tolerance_seconds = 0.05
    onset = starts[:, None]
    sounding = ((starts[None, :] <= onset + tolerance_seconds) & (ends[None, :] > onset + tolerance_seconds)) | (
        np.abs(starts[None, :] - onset) <= tolerance_seconds)
    lowest = np.where(sounding, pitches[None, :], 10_000).min(axis=1)
    return np.asarray(pitches <= lowest, dtype=float)


def _key_from_scores(scores: np.ndarray, confidence_scale: float) -> Key:
    """The best (mode, tonic) as a Key; alternatives are the next three distinct labels (dorian
    and minor on one tonic share one, as do mixolydian and major)."""
    order = np.argsort(-scores, axis=None, kind="stable")
    ranked: list[tuple[str, str, float, str]] = []
    seen: set[tuple[str, str]] = set()
    for flat in order:
        row, tonic = int(flat // 12), int(flat % 12)
        if not np.isfinite(scores[row, tonic]):
            break
        mode = SCALE_MODES[row]
        steps, label_mode = SCALE_MODE_LABELS[mode]
        label = (_tonic_name((tonic + steps) % 12, label_mode), label_mode)
        if label in seen:
            continue
        seen.add(label)
        heard = f"{_tonic_name(tonic, 'minor' if mode in _MINOR_THIRD_MODES else 'major')} {mode}"
        ranked.append((*label, float(scores[row, tonic]), heard))
        if len(ranked) == 4:
            break
    tonic_name, label_mode, best, heard = ranked[0]
    margin = best - ranked[1][2] if len(ranked) > 1 else best
    confidence = float(1.0 - np.exp(-max(margin, 0.0) / confidence_scale))
    alternatives = [(t, m, round(score, 4)) for t, m, score, _ in ranked[1:4]]
    return Key(tonic_name, label_mode, round(confidence, 4), alternatives, heard)


def _tonic_name(pitch_class: int, mode: str) -> str:
    return (MAJOR_TONIC_NAMES if mode == "major" else MINOR_TONIC_NAMES)[pitch_class]


def _pitch_class_of(name: str) -> int:
    letters = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
    value = letters[name[0].upper()]
    for accidental in name[1:]:
        value += {"#": 1, "b": -1}[accidental]
    return value % 12


def _rotated_correlations(profile: np.ndarray, template: np.ndarray) -> np.ndarray:
    """Pearson r between `profile` and `template` rotated to each of the 12 tonics."""
    rotations = np.stack([np.roll(template, tonic) for tonic in range(12)])
    centred = rotations - rotations.mean(axis=1, keepdims=True)
    x = profile - profile.mean()
    denominator = np.linalg.norm(centred, axis=1) * np.linalg.norm(x)
    if denominator[0] == 0:
        return np.zeros(12)
    return np.asarray(centred @ x / denominator, dtype=float)


def _rotated_cosines(vector: np.ndarray, template: np.ndarray) -> np.ndarray:
    rotations = np.stack([np.roll(template, tonic) for tonic in range(12)])
    norm = np.linalg.norm(vector) * np.linalg.norm(template)
    return np.asarray(rotations @ vector / norm if norm else np.zeros(12), dtype=float)


def _unit_sum(vector: np.ndarray) -> np.ndarray:
    total = float(vector.sum())
    return vector / total if total > 0 else vector


def _note_arrays(notes: Sequence[Note]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    starts = np.array([n.start_seconds for n in notes], dtype=float)
    ends = np.array([n.end_seconds for n in notes], dtype=float)
    pitches = np.array([n.pitch for n in notes], dtype=int)
    return starts, ends, pitches


def chroma_frames(audio: np.ndarray, sample_rate_hz: int = 22050, hop_length: int = CHROMA_HOP_LENGTH) -> np.ndarray:
    """librosa.feature.chroma_cqt of the audio, (12, frames) at `hop_length` samples a frame."""
    import librosa

    return np.asarray(librosa.feature.chroma_cqt(y=np.asarray(audio, dtype=np.float32), sr=sample_rate_hz,
                                                 hop_length=hop_length), dtype=float)


# ------------------------------------------------------------------------------------------ chords


def chord_vocabulary() -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """The 60 chord labels (12 roots x maj, min, 7, maj7, min7) with their unit-norm binary
    templates (60, 12), root pitch classes (60,) and whether each is a seventh chord (60,)."""
    labels: list[str] = []
    templates = []
    roots = []
    sevenths = []
    for quality in CHORD_QUALITIES:
        for root in range(12):
            template = np.zeros(12)
            template[[(root + i) % 12 for i in _QUALITY_INTERVALS[quality]]] = 1.0
            templates.append(template / np.linalg.norm(template))
            labels.append(CHORD_ROOT_NAMES[root] if quality == "maj" else f"{CHORD_ROOT_NAMES[root]}:{quality}")
            roots.append(root)
            sevenths.append(len(_QUALITY_INTERVALS[quality]) == 4)
    return labels, np.array(templates), np.array(roots), np.array(sevenths)


def beat_segments(beats_seconds: np.ndarray, end_seconds: float) -> np.ndarray:
    """Segment boundaries from beat times: [0, b0, b1, ..., end]; a lead-in shorter than 50 ms is
    folded into the first beat, and past the last beat the grid goes on at the median beat
    interval up to `end_seconds`, its first step two beats long: the last beat's chord usually
    rings on, and a boundary exactly one beat on would sit on the music's end, where
    mir_eval.util.adjust_intervals leaves a zero-length span. With fewer than two beats the grid
    is a fixed 0.5 s."""
    beats = np.unique(np.asarray(beats_seconds, dtype=float))
    beats = beats[beats >= 0]
    if beats.size < 2:
        return np.arange(0.0, max(end_seconds, 0.5) + 0.5, 0.5)
    period = float(np.median(np.diff(beats)))
    tail = np.arange(beats[-1] + 2 * period, end_seconds + period, period)
    bounds = np.concatenate([[0.0] if beats[0] > 0.05 else [], beats, tail])
    if bounds[0] > 0:
        bounds[0] = 0.0
    return bounds


def beat_chroma(notes: Sequence[Note], bounds: np.ndarray, *,
                onset_weight: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Per-segment pitch-class energy (segments, 12) and bass pitch class (segments,).

    Energy is each note's overlap with the segment in seconds, times `1 + onset_weight` for a note
    that starts within the segment's first eighth (a note struck on the beat: melodies put chord
    tones there and passing tones between). The bass is the lowest pitch sounding for at least a
    quarter of the segment while a pitch at least a minor third higher sounds with it; -1 where
    there is none (a lone melody line has no bass: its lowest note is not a root).
    """
    n_segments = len(bounds) - 1
    chroma = np.zeros((n_segments, 12))
    bass = -np.ones(n_segments, dtype=int)
    if not notes or n_segments <= 0:
        return chroma, bass
    starts, ends, pitches = _note_arrays(notes)
    seg_start = bounds[:-1, None]
    seg_end = bounds[1:, None]
    lengths = seg_end - seg_start
    overlap = np.clip(np.minimum(ends[None, :], seg_end) - np.maximum(starts[None, :], seg_start), 0.0, None)
    struck = (starts[None, :] >= seg_start - 0.03) & (starts[None, :] < seg_start + lengths / 8)
    weighted = overlap * (1.0 + onset_weight * struck)
    for pc in range(12):
        chroma[:, pc] = weighted[:, pitches % 12 == pc].sum(axis=1)
    present = overlap >= 0.25 * np.maximum(lengths, 1e-9)
    low = np.where(present, pitches[None, :], 10_000).min(axis=1)
    high = np.where(present, pitches[None, :], -1).max(axis=1)
    bass = np.where((low < 10_000) & (high - low >= 3), low % 12, -1)
    return chroma, bass


def chord_emissions(
    chroma: np.ndarray,
    bass: np.ndarray,
    *,
    bass_weight: float = CHORD_BASS_WEIGHT,
    seventh_penalty: float = CHORD_SEVENTH_PENALTY,
    key: Key | None = None,
    key_weight: float = CHORD_KEY_WEIGHT,
    silence_ratio: float = CHORD_SILENCE_RATIO,
) -> tuple[list[str], np.ndarray]:
    """Per-segment scores (segments, 61) for the 60 chords and "N" (last column).

    A chord's score is the cosine of the segment's chroma with its template, plus `bass_weight`
    when the bass is its root, less `seventh_penalty` for sevenths, plus `key_weight` for chords
    diatonic to `key` (triads and sevenths built on the scale, harmonic minor's V and V7 included).
    "N" scores 1 on segments whose energy is under `silence_ratio` times the median sounding
    segment and -1 elsewhere, where chords are in [0, 1 + bonuses].
    """
    labels, templates, roots, sevenths = chord_vocabulary()
    energy = chroma.sum(axis=1)
    norms = np.linalg.norm(chroma, axis=1, keepdims=True)
    unit = np.divide(chroma, norms, out=np.zeros_like(chroma), where=norms > 0)
    scores = unit @ templates.T
    scores = scores + bass_weight * (bass[:, None] == roots[None, :])
    scores = scores - seventh_penalty * sevenths[None, :]
    if key is not None and key_weight:
        scores = scores + key_weight * diatonic_chords(key)[None, :]
    sounding = energy[energy > 0]
    threshold = silence_ratio * float(np.median(sounding)) if sounding.size else np.inf
    silent = energy <= threshold
    no_chord = np.where(silent, 1.0, -1.0)
    scores[silent] = 0.0
    return [*labels, _NO_CHORD], np.column_stack([scores, no_chord])


def diatonic_chords(key: Key) -> np.ndarray:
    """1.0 for each of the 60 chords whose notes all lie in the key's scale, else 0.0. The scale is
    the heard mode's (Key.scale: "D dorian" allows G major) when known, else the label's (minor
    with both sevenths, so V and V7 count)."""
    _, templates, _, _ = chord_vocabulary()
    tonic, mode = key.tonic_pitch_class, key.mode
    if key.scale:
        name, heard = key.scale.split()
        tonic, mode = _pitch_class_of(name), heard
    in_scale = np.zeros(12, dtype=bool)
    in_scale[[(tonic + step) % 12 for step in SCALE_MODE_STEPS[mode]]] = True
    outside = (templates > 0) & ~in_scale[None, :]
    return np.asarray(~outside.any(axis=1), dtype=float)


def viterbi(log_emissions: np.ndarray, change_probabilities: np.ndarray) -> tuple[np.ndarray, float]:
    """Most likely state path (T,) and its log-likelihood for log-emissions (T, K) under a uniform
    start, where entering frame t changes state with probability `change_probabilities[t]` (spread
    evenly over the other states) and otherwise stays."""
    n_frames, n_states = log_emissions.shape
    if n_frames == 0:
        return np.zeros(0, dtype=int), 0.0
    change = np.clip(np.asarray(change_probabilities, dtype=float), 1e-9, 1 - 1e-9)
    log_stay = np.log1p(-change)
    log_move = np.log(change / (n_states - 1))
    delta = log_emissions[0] - np.log(n_states)
    back = np.zeros((n_frames, n_states), dtype=int)
    states = np.arange(n_states)
    for t in range(1, n_frames):
        best_other = int(np.argmax(delta))
        move = delta[best_other] + log_move[t]
        stay = delta + log_stay[t]
        back[t] = np.where(stay >= move, states, best_other)
        delta = np.maximum(stay, move) + log_emissions[t]
    path = np.zeros(n_frames, dtype=int)
    path[-1] = int(np.argmax(delta))
    for t in range(n_frames - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return path, float(np.max(delta))


def metrical_viterbi(log_emissions: np.ndarray, bar_starts: np.ndarray | None, beats_per_bar_options: Sequence[int],
                     bar_change: float, beat_change: float) -> np.ndarray:
    """Chords that change mostly at bar lines (the harmonic-rhythm side of Mauch & Dixon 2010's
    metrical chord model): a frame flagged in `bar_starts` changes chord with probability
    `bar_change`, any other with `beat_change`. Without `bar_starts` every bar length in
    `beats_per_bar_options` and every phase is tried and the most likely path kept (one frame =
    one beat)."""
    n_frames = log_emissions.shape[0]
    if bar_starts is not None:
        return viterbi(log_emissions, np.where(bar_starts, bar_change, beat_change))[0]
    best_path, best_score = np.zeros(n_frames, dtype=int), -np.inf
    index = np.arange(n_frames)
    for per_bar in beats_per_bar_options:
        for phase in range(per_bar):
            path, score = viterbi(log_emissions, np.where((index - phase) % per_bar == 0, bar_change, beat_change))
            if score > best_score:
                best_path, best_score = path, score
    return best_path


def estimate_chords(
    notes: Sequence[Note],
    beats_seconds: np.ndarray,
    audio: np.ndarray | None = None,
    key: Key | None = None,
    *,
    downbeats_seconds: np.ndarray | None = None,
    sample_rate_hz: int = 22050,
    bar_change: float = CHORD_BAR_CHANGE,
    beat_change: float = CHORD_BEAT_CHANGE,
    beats_per_bar_options: Sequence[int] = CHORD_BEATS_PER_BAR,
    bass_weight: float = CHORD_BASS_WEIGHT,
    seventh_penalty: float = CHORD_SEVENTH_PENALTY,
    key_weight: float = CHORD_KEY_WEIGHT,
    audio_weight: float = CHORD_AUDIO_WEIGHT,
    temperature: float = CHORD_TEMPERATURE,
    silence_ratio: float = CHORD_SILENCE_RATIO,
    onset_weight: float = CHORD_ONSET_WEIGHT,
    smooth: bool = True,
    audio_chroma: np.ndarray | None = None,
) -> list[Chord]:
    """Chord spans, one label per beat merged where equal, covering 0 s to the last note's end.

    Beat vectors come from `beat_chroma`; with `audio` its beat-synchronous chroma (chroma_cqt,
    averaged per beat; `audio_chroma` passes `chroma_frames` precomputed) is mixed in with
    `audio_weight`. Scores from `chord_emissions` become
    log-likelihoods `score / temperature`, and the label path is decoded by `metrical_viterbi`:
    chords change at bar lines with probability `bar_change` and elsewhere with `beat_change`,
    bar lines from `downbeats_seconds` when given, else the best-fitting bar length and phase.
    Without `key`, the key-aware bonus uses `estimate_key(notes)`. With `smooth=False` each beat
    takes its own best label (the bare-template baseline). No notes gives an empty list.
    """
    end_seconds = max((n.end_seconds for n in notes), default=0.0)
    if end_seconds <= 0:
        return []
    bounds = beat_segments(beats_seconds, end_seconds)
    bounds = np.unique(bounds[bounds < end_seconds - 1e-3])
    bounds = np.append(bounds, end_seconds)
    chroma, bass = beat_chroma(notes, bounds, onset_weight=onset_weight)
    if audio_weight > 0 and audio_chroma is None and audio is not None and audio.size:
        audio_chroma = chroma_frames(audio, sample_rate_hz)
    if audio_weight > 0 and audio_chroma is not None and audio_chroma.size:
        chroma = _blend_audio_chroma(chroma, audio_chroma, sample_rate_hz, bounds, audio_weight)
    if key is None and key_weight:
        key = estimate_key(notes, audio, audio_chroma=audio_chroma, sample_rate_hz=sample_rate_hz)
    labels, scores = chord_emissions(chroma, bass, bass_weight=bass_weight, seventh_penalty=seventh_penalty,
                                     key=key, key_weight=key_weight, silence_ratio=silence_ratio)
    if not smooth:
        return merge_labels(bounds, [labels[i] for i in np.argmax(scores, axis=1)])
    bar_starts = None
    if downbeats_seconds is not None and np.size(downbeats_seconds):
        period = float(np.median(np.diff(bounds)))
        gaps = np.abs(bounds[:-1, None] - np.asarray(downbeats_seconds, dtype=float)[None, :]).min(axis=1)
        bar_starts = gaps < 0.25 * period
    path = metrical_viterbi(scores / temperature, bar_starts, beats_per_bar_options, bar_change, beat_change)
    return merge_labels(bounds, [labels[i] for i in path])


def merge_labels(bounds: np.ndarray, labels: Sequence[str]) -> list[Chord]:
    """Segments [bounds[i], bounds[i+1]) labelled `labels[i]`, adjacent equal labels merged."""
    chords: list[Chord] = []
    for i, label in enumerate(labels):
        start, end = float(bounds[i]), float(bounds[i + 1])
        if chords and chords[-1].label == label:
            chords[-1] = Chord(chords[-1].start_seconds, end, label)
        else:
            chords.append(Chord(start, end, label))
    return chords


def _blend_audio_chroma(chroma: np.ndarray, frames: np.ndarray, sample_rate_hz: int, bounds: np.ndarray,
                        audio_weight: float) -> np.ndarray:
    """Per-segment note chroma and audio chroma, each scaled to sum 1, mixed `audio_weight` of
    audio, then scaled back to the notes' energy (so the silence test still reads the notes)."""
    times = np.arange(frames.shape[1]) * CHROMA_HOP_LENGTH / sample_rate_hz
    index = np.searchsorted(bounds, times, side="right") - 1
    audio_beats = np.zeros_like(chroma)
    for segment in range(chroma.shape[0]):
        inside = index == segment
        if inside.any():
            audio_beats[segment] = frames[:, inside].mean(axis=1)
    note_sum = chroma.sum(axis=1, keepdims=True)
    audio_sum = audio_beats.sum(axis=1, keepdims=True)
    notes_unit = np.divide(chroma, note_sum, out=np.zeros_like(chroma), where=note_sum > 0)
    audio_unit = np.divide(audio_beats, audio_sum, out=np.zeros_like(chroma), where=audio_sum > 0)
    blended = (1 - audio_weight) * notes_unit + audio_weight * audio_unit
    # keep the notes' energy scale so the silence test still reads the notes
    return blended * np.where(note_sum > 0, note_sum, 0.0)
