"""Prepare: two to four songs brought to one key, metre and tempo, with melody, harmony and rhythm extracted.

    prepared = prepare_blend([("song-a", song_a), ("song-b", song_b)], weights=[2, 1])
    prepared.to_json() / Prepared.from_json(data)     # plain dicts: Prepare hands this to Compose through S3

- Key: the heaviest-weighted song's tonic and mode. Every song keeps its own tonic: pitches become
  (diatonic step, alteration) relative to it, so a song in another key or mode maps onto the blend's
  scale degree by degree (an alteration survives only between songs of the same mode).
- Metre: the weighted-majority time signature. A song maps onto it beat for beat (a 6/8 jig's
  dotted quarter becomes a 4/4 quarter, its eighths triplets; a 3/4 waltz's quarter a 4/4 quarter),
  or at half its length when the blend's bar has at most 0.7 times its beats (a 4/4 reel or a 3/4
  waltz into 6/8, where a quarter becomes half a dotted quarter): `time_scale` is then 1/2, so four
  notes of a song still span about a bar of the blend. Times below are in metrical beats and
  twelfths of a beat (`GRID`), which holds both duplets and triplets.
- Tempo: the weighted mean of the songs' tempos in the blend's beats (a song's beats per minute
  times its time scale, so each keeps its pace in bars per minute).
- Melody: the skyline of the top voice (the highest sounding note at each onset) of the track that
  most often has the top note. A token is (step, alteration, duration in twelfths of a beat), the
  duration being the time to the next melody onset (rests belong to the note before them).
- Harmony: one chord symbol a bar (a half bar in 4-beat metres) by template matching of pitch
  classes, as a Roman numeral of the song's own mode ("I", "V7", "vi", "ii°").
- Rhythm: the melody's onset positions within the bar.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from soundcanvas.core.errors import SongRejected

from .midi_files import Song, estimate_key, key_name

FORMAT = "soundcanvas-blend-prepared/1"
GRID = 12  # positions per metrical beat
MIN_MELODY_NOTES = 8
SCALES: dict[str, tuple[int, ...]] = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10)}
ROMAN = ("i", "ii", "iii", "iv", "v", "vi", "vii")

Token = tuple[int, int, int]  # (diatonic step from the tonic, 0 = the tonic near middle C; alteration; twelfths)

# Chord templates per mode: (symbol, pitch classes above the tonic, prior bonus).
CHORD_TEMPLATES: dict[str, tuple[tuple[str, tuple[int, ...], float], ...]] = {
    "major": (
        ("I", (0, 4, 7), 0.03),
        ("ii", (2, 5, 9), 0.0),
        ("iii", (4, 7, 11), -0.02),
        ("IV", (5, 9, 0), 0.02),
        ("V", (7, 11, 2), 0.025),
        ("vi", (9, 0, 4), 0.01),
        ("vii°", (11, 2, 5), -0.03),
        ("V7", (7, 11, 2, 5), 0.0),
    ),
    "minor": (
        ("i", (0, 3, 7), 0.03),
        ("ii°", (2, 5, 8), -0.03),
        ("III", (3, 7, 10), 0.0),
        ("iv", (5, 8, 0), 0.02),
        ("v", (7, 10, 2), 0.0),
        ("V", (7, 11, 2), 0.025),
        ("VI", (8, 0, 3), 0.01),
        ("VII", (10, 2, 5), 0.0),
        ("V7", (7, 11, 2, 5), 0.0),
    ),
}


# --- metre and degrees ----------------------------------------------------------------------------


def is_compound(time_signature: tuple[int, int]) -> bool:
    numerator, denominator = time_signature
    return denominator >= 8 and numerator % 3 == 0 and numerator > 3


def beats_per_bar(time_signature: tuple[int, int]) -> int:
    """Metrical beats a bar: 6/8 has two (dotted quarters), 3/4 three, 4/4 four."""
    numerator = time_signature[0]
    return max(1, numerator // 3 if is_compound(time_signature) else numerator)


def beat_quarters(time_signature: tuple[int, int]) -> float:
    """Length of the metrical beat in quarter notes (1.5 in 6/8, 1 in 3/4, 2 in 2/2)."""
    unit = 4 / time_signature[1]
    return unit * 3 if is_compound(time_signature) else unit


def harmony_slot_beats(bar_beats: int) -> int:
    """Beats per chord: a half bar in 4-beat (and larger even) metres, else a bar."""
    return bar_beats // 2 if bar_beats >= 4 and bar_beats % 2 == 0 else bar_beats


def _degree_table(scale: Sequence[int]) -> tuple[tuple[int, int], ...]:
    """(degree, alteration) for each semitone above the tonic: a note outside the scale is its lower neighbour raised."""
    table = []
    for semitone in range(12):
        below = max(i for i, offset in enumerate(scale) if offset <= semitone)
        table.append((below, semitone - scale[below]))
    return tuple(table)


DEGREES = {mode: _degree_table(scale) for mode, scale in SCALES.items()}


def degree_map(mode: str, target_mode: str) -> np.ndarray:
    """Semitones above the tonic -> semitones above the blend's tonic, degree by degree (alterations kept within a mode)."""
    keep = mode == target_mode
    return np.array([(SCALES[target_mode][d] + (a if keep else 0)) % 12 for d, a in DEGREES[mode]], dtype=np.int64)


def chord_degree(symbol: str) -> int:
    """Scale degree (0-6) of a Roman-numeral chord symbol."""
    return ROMAN.index(symbol.lower().rstrip("7°"))


# --- the prepared songs ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SongFeatures:
    song_id: str
    weight: float  # normalised: the songs' weights sum to 1
    tonic_pc: int
    mode: str
    time_signature: tuple[int, int]
    time_scale: float  # the song's beats -> the blend's beats: 1, or 0.5 into a bar of far fewer beats
    beat_bpm: float  # the song's tempo in the blend's beats per minute
    melody: tuple[Token, ...]  # durations in twelfths of the blend's beat
    chords: tuple[str, ...]
    onset_histogram: tuple[float, ...]  # melody onsets per position in the blend's bar (GRID a beat), sums to 1
    pitch_class_histogram: tuple[float, ...]  # all pitched notes, in the blend's key (index: semitones above its tonic)
    melody_pitch_class_histogram: tuple[float, ...]  # the melody tokens, likewise
    voices: int  # median number of notes sounding at a melody onset
    has_drums: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "songId": self.song_id,
            "weight": self.weight,
            "tonicPc": self.tonic_pc,
            "mode": self.mode,
            "timeSignature": list(self.time_signature),
            "timeScale": self.time_scale,
            "beatBpm": self.beat_bpm,
            "melody": [list(token) for token in self.melody],
            "chords": list(self.chords),
            "onsetHistogram": list(self.onset_histogram),
            "pitchClassHistogram": list(self.pitch_class_histogram),
            "melodyPitchClassHistogram": list(self.melody_pitch_class_histogram),
            "voices": self.voices,
            "hasDrums": self.has_drums,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SongFeatures:
        numerator, denominator = data["timeSignature"]
        return cls(
            song_id=str(data["songId"]),
            weight=float(data["weight"]),
            tonic_pc=int(data["tonicPc"]),
            mode=str(data["mode"]),
            time_signature=(int(numerator), int(denominator)),
            time_scale=float(data["timeScale"]),
            beat_bpm=float(data["beatBpm"]),
            melody=tuple((int(s), int(a), int(d)) for s, a, d in data["melody"]),
            chords=tuple(str(c) for c in data["chords"]),
            onset_histogram=tuple(float(v) for v in data["onsetHistogram"]),
            pitch_class_histogram=tuple(float(v) for v in data["pitchClassHistogram"]),
            melody_pitch_class_histogram=tuple(float(v) for v in data["melodyPitchClassHistogram"]),
            voices=int(data["voices"]),
            has_drums=bool(data["hasDrums"]),
        )


@dataclass(frozen=True)
class Prepared:
    songs: tuple[SongFeatures, ...]
    tonic_pc: int
    mode: str
    time_signature: tuple[int, int]
    beat_bpm: float

    @property
    def weights(self) -> tuple[float, ...]:
        return tuple(song.weight for song in self.songs)

    @property
    def song_ids(self) -> tuple[str, ...]:
        return tuple(song.song_id for song in self.songs)

    @property
    def beats_per_bar(self) -> int:
        return beats_per_bar(self.time_signature)

    @property
    def beat_quarters(self) -> float:
        return beat_quarters(self.time_signature)

    @property
    def key_name(self) -> str:
        return key_name(self.tonic_pc, self.mode)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "tonicPc": self.tonic_pc,
            "mode": self.mode,
            "timeSignature": list(self.time_signature),
            "beatBpm": self.beat_bpm,
            "songs": [song.to_json() for song in self.songs],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Prepared:
        if data.get("format") != FORMAT:
            raise ValueError(f"not a prepared blend (format {data.get('format')!r}, expected {FORMAT!r})")
        numerator, denominator = data["timeSignature"]
        return cls(
            songs=tuple(SongFeatures.from_json(song) for song in data["songs"]),
            tonic_pc=int(data["tonicPc"]),
            mode=str(data["mode"]),
            time_signature=(int(numerator), int(denominator)),
            beat_bpm=float(data["beatBpm"]),
        )


def normalise_weights(weights: Sequence[float] | None, count: int) -> tuple[float, ...]:
    """Weights scaled to sum to 1 (equal when None); each must be positive."""
    if weights is None:
        return (1 / count,) * count
    if len(weights) != count:
        raise ValueError(f"{len(weights)} weights for {count} songs")
    if any(not np.isfinite(w) or w <= 0 for w in weights):
        raise ValueError("every weight must be a positive number")
    total = float(sum(weights))
    return tuple(float(w) / total for w in weights)


def weighted_majority(values: Sequence[tuple[int, int]], weights: Sequence[float]) -> tuple[int, int]:
    """The value with the largest total weight; a tie goes to the value of the heaviest song (then the first)."""
    totals: dict[tuple[int, int], float] = {}
    for value, weight in zip(values, weights, strict=True):
        totals[value] = totals.get(value, 0.0) + weight
    heaviest = values[int(np.argmax(weights))]
    return max(totals, key=lambda v: (round(totals[v], 9), v == heaviest))


def prepare_blend(songs: Sequence[tuple[str, Song]], weights: Sequence[float] | None = None) -> Prepared:
    """Bring 2-4 (song id, song) pairs to a common key, metre and tempo; extract melody, harmony and rhythm."""
    if not 2 <= len(songs) <= 4:
        raise ValueError(f"a blend takes 2 to 4 songs, not {len(songs)}")
    shares = normalise_weights(weights, len(songs))
    keys = [estimate_key(song) for _, song in songs]
    heaviest = int(np.argmax(shares))
    tonic_pc, mode = keys[heaviest]
    signatures = [song.time_signature for _, song in songs]
    signature = weighted_majority(signatures, shares)
    features = tuple(
        song_features(song_id, song, weight, key, mode, signature)
        for (song_id, song), weight, key in zip(songs, shares, keys, strict=True)
    )
    beat_bpm = round(float(np.dot(shares, [f.beat_bpm for f in features])), 3)
    return Prepared(features, tonic_pc, mode, signature, beat_bpm)


def time_scale(signature: tuple[int, int], target: tuple[int, int]) -> float:
    """1/2 when the target bar has at most 0.7 times the song's beats, else 1 (beat for beat)."""
    return 0.5 if beats_per_bar(target) / beats_per_bar(signature) <= 0.7 else 1.0


# --- one song -------------------------------------------------------------------------------------


def song_features(
    song_id: str, song: Song, weight: float, key: tuple[int, str], target_mode: str, target_signature: tuple[int, int]
) -> SongFeatures:
    tonic_pc, mode = key
    signature = song.time_signature
    scale = time_scale(signature, target_signature)
    target_bar = beats_per_bar(target_signature) * GRID
    per_beat = beat_quarters(signature)
    bar_beats = beats_per_bar(signature)
    pitched = song.pitched
    starts = np.array([n.start_beats for n in pitched]) / per_beat
    ends = starts + np.array([n.duration_beats for n in pitched]) / per_beat
    pitches = np.array([n.pitch for n in pitched], dtype=np.int64)
    tracks = np.array([n.track for n in pitched], dtype=np.int64)
    grid = quantize_grid(starts, is_compound(signature))
    onsets, tops, last_twelfths = melody_skyline(starts, ends, pitches, tracks, grid)
    if len(onsets) < MIN_MELODY_NOTES:
        raise SongRejected(
            f"Song {song_id} has only {len(onsets)} melody notes; a song needs at least {MIN_MELODY_NOTES} to be blended."
        )
    melody = melody_tokens(onsets, tops, last_twelfths, tonic_pc, mode, target_mode, bar_beats * GRID, scale)
    mapping = degree_map(mode, target_mode)
    relative = (pitches - tonic_pc) % 12
    histogram = np.bincount(mapping[relative], weights=ends - starts, minlength=12)
    return SongFeatures(
        song_id=song_id,
        weight=weight,
        tonic_pc=tonic_pc,
        mode=mode,
        time_signature=signature,
        time_scale=scale,
        beat_bpm=round(song.tempo_bpm / per_beat * scale, 3),
        melody=melody,
        chords=chord_symbols(starts, ends, pitches, tonic_pc, mode, harmony_slot_beats(bar_beats)),
        onset_histogram=_rounded(onset_histogram(onsets, bar_beats * GRID, scale, target_bar)),
        pitch_class_histogram=_rounded(histogram / histogram.sum()),
        melody_pitch_class_histogram=_rounded(melody_histogram(melody, target_mode)),
        voices=sounding_at(starts, ends, onsets / GRID),
        has_drums=len(pitched) < len(song.notes),
    )


def _rounded(values: np.ndarray) -> tuple[float, ...]:
    return tuple(round(float(v), 6) for v in values)


def quantize_grid(starts_beats: np.ndarray, compound: bool) -> int:
    """The onset grid in twelfths of a beat: sixteenths (3) or triplet eighths (4) in simple metres, sixteenths
    (2) or eighths (4) in compound ones; the metre's natural grid unless the other fits clearly better."""
    natural, other = (4, 2) if compound else (3, 4)
    position = starts_beats * GRID

    def error(grid: int) -> float:
        return float(np.mean(np.abs(position - grid * np.round(position / grid)))) if len(position) else 0.0

    return other if error(other) < 0.7 * error(natural) else natural


def melody_skyline(
    starts: np.ndarray, ends: np.ndarray, pitches: np.ndarray, tracks: np.ndarray, grid: int
) -> tuple[np.ndarray, np.ndarray, int]:
    """(onsets in twelfths, pitches, last note's length in twelfths) of the top voice.

    The melody track is the one that most often has the highest note sounding at an onset; within it, an
    onset belongs to the melody when the highest note starting there is at least as high as any note still
    sounding from before (a held soprano hides the inner voices that move under it).
    """
    quantized = (np.round(starts * GRID / grid) * grid).astype(np.int64)
    order = np.lexsort((-pitches, quantized))
    melody_track = _top_track(quantized[order], ends[order], pitches[order], tracks[order])
    chosen = order[tracks[order] == melody_track]
    onsets: list[int] = []
    tops: list[int] = []
    last_end = 0.0
    held: list[tuple[float, int]] = []  # (end, pitch) of notes started at earlier onsets
    k = 0
    while k < len(chosen):
        onset = int(quantized[chosen[k]])
        group_end = k
        while group_end < len(chosen) and quantized[chosen[group_end]] == onset:
            group_end += 1
        top = chosen[k]  # the group is sorted highest pitch first
        time = onset / GRID
        held = [(end, pitch) for end, pitch in held if end > time + 1e-6]
        if not held or pitches[top] >= max(pitch for _, pitch in held):
            onsets.append(onset)
            tops.append(int(pitches[top]))
            last_end = float(ends[top])
        held += [(float(ends[i]), int(pitches[i])) for i in chosen[k:group_end]]
        k = group_end
    last_twelfths = max(grid, round((last_end * GRID - onsets[-1]) / grid) * grid) if onsets else grid
    return np.array(onsets, dtype=np.int64), np.array(tops, dtype=np.int64), last_twelfths


def _top_track(onsets: np.ndarray, ends: np.ndarray, pitches: np.ndarray, tracks: np.ndarray) -> int:
    """The track holding the highest sounding note at the most onsets (ties: the lower track index).

    A sweep over onsets (sorted) with a heap of sounding notes, highest first; finished notes leave lazily.
    """
    unique_tracks = np.unique(tracks)
    if len(unique_tracks) == 1:
        return int(unique_tracks[0])
    wins = {int(t): 0 for t in unique_tracks}
    heap: list[tuple[int, float, int]] = []  # (-pitch, end, track)
    k = 0
    while k < len(onsets):
        onset = onsets[k]
        while k < len(onsets) and onsets[k] == onset:
            heapq.heappush(heap, (-int(pitches[k]), float(ends[k]), int(tracks[k])))
            k += 1
        time = onset / GRID
        while heap and heap[0][1] <= time + 1e-6:
            heapq.heappop(heap)
        if heap:
            wins[heap[0][2]] += 1
    return max(wins, key=lambda t: (wins[t], -t))


def melody_tokens(
    onsets: np.ndarray,
    pitches: np.ndarray,
    last_twelfths: int,
    tonic_pc: int,
    mode: str,
    target_mode: str,
    bar_twelfths: int,
    scale: float = 1.0,
) -> tuple[Token, ...]:
    """(step, alteration, duration) tokens; steps are shifted by octaves so the median sits near the fifth.

    Durations (to the next onset, at most a bar) are in twelfths of the song's beat times `scale`."""
    durations = np.append(np.diff(onsets), last_twelfths)
    durations = np.maximum(1, np.round(np.clip(durations, 1, bar_twelfths) * scale)).astype(np.int64)
    relative = pitches - tonic_pc - 60
    octaves, semitones = relative // 12, relative % 12
    table = DEGREES[mode]
    degrees = np.array([table[s][0] for s in semitones], dtype=np.int64)
    alterations = (
        np.array([table[s][1] for s in semitones], dtype=np.int64)
        if mode == target_mode
        else np.zeros(len(semitones), dtype=np.int64)
    )
    steps = 7 * octaves + degrees
    steps += 7 * round((4 - float(np.median(steps))) / 7)
    return tuple((int(s), int(a), int(d)) for s, a, d in zip(steps, alterations, durations, strict=True))


def melody_histogram(melody: Sequence[Token], mode: str) -> np.ndarray:
    """Pitch classes of melody tokens, each note counted once, above the tonic of a key in `mode` (sums to 1).

    Counted, not weighted by duration: the attribution gate counts notes too, so a song of quarter notes
    and one of eighths weigh in the same way in both."""
    scale = SCALES[mode]
    histogram = np.zeros(12)
    for step, alteration, _ in melody:
        histogram[(scale[step % 7] + alteration) % 12] += 1
    total = histogram.sum()
    return histogram / total if total > 0 else np.full(12, 1 / 12)


def onset_histogram(
    onsets: np.ndarray, bar_twelfths: int, scale: float = 1.0, target_bar_twelfths: int | None = None
) -> np.ndarray:
    """Melody onsets per position of the blend's bar (sums to 1). At half length (scale 1/2) a position
    scales; mapped beat for beat onto a bar of another length, the song's within-beat profile repeats on
    every beat."""
    target = target_bar_twelfths or bar_twelfths
    if scale != 1.0:
        positions = np.round((onsets % bar_twelfths) * scale).astype(np.int64) % target
        counts = np.bincount(positions, minlength=target).astype(np.float64)
    else:
        counts = np.bincount(onsets % bar_twelfths, minlength=bar_twelfths).astype(np.float64)
        if bar_twelfths != target:
            counts = np.tile(counts.reshape(-1, GRID).sum(axis=0), target // GRID)
    return counts / counts.sum()


def sounding_at(starts: np.ndarray, ends: np.ndarray, times: np.ndarray) -> int:
    """Median number of notes sounding at the given times."""
    started = np.searchsorted(np.sort(starts), times + 1e-6, side="right")
    ended = np.searchsorted(np.sort(ends), times + 1e-6, side="right")
    return int(np.median(started - ended)) if len(times) else 0


def chord_symbols(
    starts: np.ndarray, ends: np.ndarray, pitches: np.ndarray, tonic_pc: int, mode: str, slot_beats: int
) -> tuple[str, ...]:
    """One Roman-numeral chord per slot with notes, by cosine match of duration-weighted pitch classes."""
    if not len(starts):
        return ()
    slots = int(np.ceil(ends.max() / slot_beats))
    vectors = np.zeros((slots, 12))
    relative = (pitches - tonic_pc) % 12
    for start, end, pc in zip(starts, ends, relative, strict=True):
        first, last = int(start // slot_beats), min(slots - 1, int((end - 1e-6) // slot_beats))
        for slot in range(first, last + 1):
            overlap = min(end, (slot + 1) * slot_beats) - max(start, slot * slot_beats)
            vectors[slot, pc] += max(overlap, 0.0) * (
                1.5 if start >= slot * slot_beats - 1e-6 and start < slot * slot_beats + 1e-6 else 1.0
            )
    templates = CHORD_TEMPLATES[mode]
    matrix = np.zeros((len(templates), 12))
    for row, (_, pcs, _) in enumerate(templates):
        matrix[row, list(pcs)] = 1 / np.sqrt(len(pcs))
    bonus = np.array([b for *_, b in templates])
    norms = np.linalg.norm(vectors, axis=1)
    filled = norms > 0
    scores = (vectors[filled] / norms[filled, None]) @ matrix.T + bonus
    return tuple(templates[int(i)][0] for i in np.argmax(scores, axis=1))
