"""Blend's quality gates: pure functions over the output's melody tokens and notes, and the songs'.

Evaluation only: nothing here is shared with the model that estimates (model.py tracks copies with
suffix automata; these count n-grams and runs with plain dictionaries, so each checks the other).

1. attribution: the share of output melody 4-grams traced to each song (a 4-gram found in several
   songs is split equally; one found in none is new and left out of the shares) within +-0.10 of
   the song's normalised weight.
2. copy: the longest run of output melody tokens found contiguously in one song, in bars, at most
   4 bars at creativity 0 and 1 bar at creativity 1 (linear between).
3. in key: at least 90 % of the pitched notes (every non-drum track) on the blend's diatonic scale.
4. blend: the output's pitch-class histogram is closer to the weighted mix of the songs' histograms
   than to any single song's; the distance is Jensen-Shannon (base 2, 0..1). The histograms are the
   melody's (what is blended; the accompaniment is written for the genre), normalised, in the blend's
   key (each song's degree-mapped onto it), and count each note once rather than by duration: the
   attribution counts notes too, so a song of quarter notes and one of eighths weigh alike in both
   (prepare.melody_histogram makes them; `pitch_class_histogram` here is the duration-weighted kind).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

NGRAM = 4
ATTRIBUTION_TOLERANCE = 0.10
IN_KEY_MINIMUM = 0.90
SCALES: dict[str, tuple[int, ...]] = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10)}


@dataclass(frozen=True)
class Gate:
    name: str
    value: float
    threshold: float
    passed: bool
    detail: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"value": round(self.value, 4), "threshold": round(self.threshold, 4), "passed": self.passed, **self.detail}


# --- 1. attribution -------------------------------------------------------------------------------


def ngrams(tokens: Sequence[Hashable], n: int = NGRAM) -> list[tuple[Hashable, ...]]:
    return [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


def attribution(
    output: Sequence[Hashable], sources: Sequence[Sequence[Hashable]], n: int = NGRAM
) -> tuple[tuple[float, ...], float]:
    """(each source's share of the traced output n-grams, share of output n-grams found in no source)."""
    source_sets = [set(ngrams(source, n)) for source in sources]
    credits = np.zeros(len(sources))
    new = 0
    grams = ngrams(output, n)
    for gram in grams:
        found = [i for i, grams_of in enumerate(source_sets) if gram in grams_of]
        if found:
            credits[found] += 1 / len(found)
        else:
            new += 1
    traced = credits.sum()
    shares = tuple(float(c / traced) if traced else 0.0 for c in credits)
    return shares, (new / len(grams) if grams else 0.0)


def attribution_gate(
    shares: Sequence[float], weights: Sequence[float], song_ids: Sequence[str], tolerance: float = ATTRIBUTION_TOLERANCE
) -> Gate:
    """Passes when every song's share is within `tolerance` of its weight; value = the largest deviation."""
    deviations = [abs(s - w) for s, w in zip(shares, weights, strict=True)]
    worst = int(np.argmax(deviations))
    return Gate(
        "attribution",
        deviations[worst],
        tolerance,
        deviations[worst] <= tolerance + 1e-12,
        {
            "shares": {song: round(s, 4) for song, s in zip(song_ids, shares, strict=True)},
            "weights": {song: round(w, 4) for song, w in zip(song_ids, weights, strict=True)},
            "worstSong": song_ids[worst],
        },
    )


# --- 2. verbatim copies ---------------------------------------------------------------------------


def longest_copy(
    output: Sequence[Hashable], durations_beats: Sequence[float], sources: Sequence[Sequence[Hashable]]
) -> tuple[float, int, int]:
    """(beats, source index, tokens) of the longest run of output tokens found contiguously in one source.

    Runs are measured by the output notes' durations; for each source, run lengths ending at each output
    position come from the positions where the token occurs there (sparse dynamic programming).
    """
    starts = np.concatenate(([0.0], np.cumsum(durations_beats)))
    best = (0.0, -1, 0)
    for index, source in enumerate(sources):
        positions: dict[Hashable, list[int]] = {}
        for j, token in enumerate(source):
            positions.setdefault(token, []).append(j)
        previous: dict[int, int] = {}
        for i, token in enumerate(output):
            current = {j: previous.get(j - 1, 0) + 1 for j in positions.get(token, ())}
            if current:
                run = max(current.values())
                beats = float(starts[i + 1] - starts[i + 1 - run])
                if beats > best[0] + 1e-9:
                    best = (beats, index, run)
            previous = current
    return best


def copy_limit_bars(creativity: float) -> float:
    """4 bars at creativity 0 down to 1 bar at creativity 1."""
    return 4.0 - 3.0 * creativity


def copy_gate(longest_bars: float, creativity: float, song_id: str | None) -> Gate:
    limit = copy_limit_bars(creativity)
    return Gate("copy", longest_bars, limit, longest_bars <= limit + 1e-9, {"song": song_id})


# --- 3. in key ------------------------------------------------------------------------------------


def in_key_share(pitches: Sequence[int], tonic_pc: int, mode: str) -> float:
    """Share of the pitches whose pitch class is on the key's diatonic scale."""
    if not len(pitches):
        return 1.0
    diatonic = np.zeros(12, dtype=bool)
    diatonic[[(tonic_pc + offset) % 12 for offset in SCALES[mode]]] = True
    return float(np.mean(diatonic[np.asarray(pitches, dtype=np.int64) % 12]))


def in_key_gate(share: float, minimum: float = IN_KEY_MINIMUM) -> Gate:
    return Gate("inKey", share, minimum, share >= minimum)


# --- 4. closer to the mix than to any one song ----------------------------------------------------


def pitch_class_histogram(pitch_classes: Sequence[int], durations: Sequence[float]) -> np.ndarray:
    """Duration-weighted histogram of pitch classes (already relative to the tonic), normalised to sum 1."""
    histogram = np.bincount(
        np.asarray(pitch_classes, dtype=np.int64) % 12, weights=np.asarray(durations, dtype=float), minlength=12
    )
    total = histogram.sum()
    return histogram / total if total > 0 else np.full(12, 1 / 12)


def jensen_shannon(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon divergence, base 2 (0 for equal distributions, 1 for disjoint ones)."""
    p, q = p / p.sum(), q / q.sum()
    m = (p + q) / 2

    def kl(a: np.ndarray) -> float:
        nonzero = a > 0
        return float(np.sum(a[nonzero] * np.log2(a[nonzero] / m[nonzero])))

    return max(0.0, (kl(p) + kl(q)) / 2)


def blend_gate(output: np.ndarray, songs: Sequence[np.ndarray], weights: Sequence[float], song_ids: Sequence[str]) -> Gate:
    """Passes when the output is closer to the weighted mix than to every single song (value: distance to the mix)."""
    mix = np.sum([w * h for w, h in zip(weights, songs, strict=True)], axis=0)
    to_mix = jensen_shannon(output, mix)
    to_songs = [jensen_shannon(output, h) for h in songs]
    nearest = int(np.argmin(to_songs))
    return Gate(
        "blend",
        to_mix,
        to_songs[nearest],
        to_mix < to_songs[nearest],
        {
            "nearestSong": song_ids[nearest],
            "distanceToSongs": {song: round(d, 4) for song, d in zip(song_ids, to_songs, strict=True)},
        },
    )


# --- all four -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GateReport:
    gates: tuple[Gate, ...]
    shares: tuple[float, ...]
    new_share: float
    longest_copy_bars: float

    @property
    def passed(self) -> bool:
        return all(gate.passed for gate in self.gates)

    @property
    def failed(self) -> tuple[Gate, ...]:
        return tuple(gate for gate in self.gates if not gate.passed)

    def to_json(self) -> dict[str, Any]:
        return {gate.name: gate.to_json() for gate in self.gates}


def evaluate_gates(
    *,
    output_melody: Sequence[Hashable],
    output_durations_beats: Sequence[float],
    output_melody_histogram: np.ndarray,
    output_pitches: Sequence[int],
    sources: Sequence[Sequence[Hashable]],
    source_histograms: Sequence[np.ndarray],
    weights: Sequence[float],
    song_ids: Sequence[str],
    tonic_pc: int,
    mode: str,
    beats_per_bar: int,
    creativity: float,
) -> GateReport:
    shares, new_share = attribution(output_melody, sources)
    beats, source, _ = longest_copy(output_melody, output_durations_beats, sources)
    bars = beats / beats_per_bar
    gates = (
        attribution_gate(shares, weights, song_ids),
        copy_gate(bars, creativity, song_ids[source] if source >= 0 else None),
        in_key_gate(in_key_share(output_pitches, tonic_pc, mode)),
        blend_gate(output_melody_histogram, source_histograms, weights, song_ids),
    )
    return GateReport(gates, shares, new_share, bars)
