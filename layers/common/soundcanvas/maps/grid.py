"""The beat grid of a drum part: tempo, the first beat, beat times and the bar's downbeat, from the hits
alone; and hits quantised to it with their original times kept.

Why from the hits rather than the audio: the hits are already the clean rhythmic skeleton of the song
(weighted by lane and velocity) and the estimate costs milliseconds. Maps does not import Listen's tempo
code (products are independent), and drum parts let us use what drummers do:

1. Salience (`salience`): for every tempo on a 0.5 BPM grid over TEMPO_RANGE_BPM (then 0.1 BPM around
   the best), the weighted hits' Fourier coherence at the beat rate plus half that at the eighth and a
   quarter at the sixteenth rate (a continuous-time "Fourier tempogram": no frame rounding, so 0.1 BPM
   resolution on short clips).
2. Octave (`estimate_tempo`): the beat rate and its double or half are all periodic in the hits; the
   backbeat decides (`backbeat`): a snare repeating every two beats and not every
   four marks the beat level (snare on 2 and 4). With no backbeat a broad prior centred on
   PRIOR_CENTRE_BPM decides.
3. Phase: the beat-rate coefficient's angle puts the first beat; a least-squares line through the hits
   near the beats then refines tempo and phase. The downbeat is the beat (of four) with the most kick
   and crash and the least snare.

Tempo is taken as constant over the song (beat_times_seconds are evenly spaced); songs that drift are
quantised to the mean tempo, their original times always kept (GridHit.original_seconds).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from soundcanvas.maps.drums import Hit, NoDrumsFound

TEMPO_RANGE_BPM = (60.0, 200.0)
TEMPO_STEP_BPM = 0.1
PRIOR_CENTRE_BPM = 115.0
PRIOR_OCTAVES = 1.0  # standard deviation of the log2-tempo prior
BACKBEAT_FLOOR = 0.3
BACKBEAT_LANES = ("snare",)  # not the hi-hat: quarter-note hats look like a pedal backbeat at double tempo
SALIENCE_EXPONENT = 0.25
MIN_HITS = 6
MIN_BACKBEAT_HITS = 6
BEATS_PER_BAR = 4
LANE_WEIGHTS = {"kick": 1.0, "snare": 1.0, "hihat_closed": 0.5, "hihat_open": 0.6, "tom_high": 0.5, "tom_low": 0.5,
                "crash": 0.8, "ride": 0.5}


@dataclass(frozen=True)
class Grid:
    """A constant-tempo beat grid: beat k is at offset_seconds + k * 60 / tempo_bpm (k >= 0, offset_seconds
    in [0, one beat)); beat_times_seconds lists them up to the song's end; beat index
    first_downbeat_index (0..3) is the first bar's downbeat, in BEATS_PER_BAR."""

    tempo_bpm: float
    offset_seconds: float
    beat_times_seconds: tuple[float, ...]
    beats_per_bar: int = BEATS_PER_BAR
    first_downbeat_index: int = 0

    @property
    def beat_seconds(self) -> float:
        return 60.0 / self.tempo_bpm


@dataclass(frozen=True)
class GridHit:
    """A hit on the grid: time_seconds quantised, original_seconds as transcribed, beat the quantised
    position in beats from the grid's beat 0 (4.25 is a sixteenth after the fifth beat)."""

    time_seconds: float
    original_seconds: float
    lane: str
    velocity: float
    beat: float


def _coherence(times_seconds: np.ndarray, weights: np.ndarray, rates_hz: np.ndarray) -> np.ndarray:
    """sum(w exp(-2 pi i f t)) / sum(w) for every rate f: how well the hits line up at that period."""
    total = float(weights.sum())
    if times_seconds.size == 0 or total <= 0:
        return np.zeros(rates_hz.size, dtype=complex)
    out = np.empty(rates_hz.size, dtype=complex)
    chunk = max(1, 2_000_000 // max(1, times_seconds.size))  # bounds the (rates x hits) matrix
    for start in range(0, rates_hz.size, chunk):
        phase = np.outer(rates_hz[start:start + chunk], times_seconds)
        out[start:start + chunk] = np.exp(-2j * np.pi * phase) @ weights / total
    return out


def _weights(hits: Sequence[Hit]) -> np.ndarray:
    return np.asarray([LANE_WEIGHTS.get(h.lane, 0.5) * max(h.velocity, 0.05) for h in hits])


def salience(hits: Sequence[Hit], tempi_bpm: np.ndarray) -> np.ndarray:
    """Coherence of the weighted hits at the beat rate, plus half that at the eighth-note rate and a
    quarter at the sixteenth-note rate, for every tempo."""
    rates = np.asarray(tempi_bpm, dtype=float) / 60.0
    times = np.asarray([h.time_seconds for h in hits])
    weights = _weights(hits)
    return (np.abs(_coherence(times, weights, rates)) + 0.5 * np.abs(_coherence(times, weights, 2 * rates))
            + 0.25 * np.abs(_coherence(times, weights, 4 * rates)))


def backbeat(hits: Sequence[Hit], tempi_bpm: np.ndarray) -> np.ndarray:
    """How strongly a lane repeats every two beats and not every four, at each tempo: 1 for a snare on 2
    and 4, about 0 at double that tempo (it then repeats every four beats) and at half (every beat).
    Loud hits count most, so ghost notes do not blur it."""
    rates = np.asarray(tempi_bpm, dtype=float) / 60.0
    best = np.zeros(rates.size)
    for lane in BACKBEAT_LANES:
        chosen = [h for h in hits if h.lane == lane]
        if len(chosen) < MIN_BACKBEAT_HITS:
            continue
        times = np.asarray([h.time_seconds for h in chosen])
        weights = np.asarray([h.velocity**2 for h in chosen])
        score = np.abs(_coherence(times, weights, rates / 2)) - np.abs(_coherence(times, weights, rates / 4))
        best = np.maximum(best, score)
    return best


def prior(tempi_bpm: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * (np.log2(np.asarray(tempi_bpm, dtype=float) / PRIOR_CENTRE_BPM) / PRIOR_OCTAVES) ** 2)


def estimate_tempo(hits: Sequence[Hit]) -> float:
    """The strongest periodicity (salience x prior over TEMPO_RANGE_BPM), then its octave: among it, its
    half and its double (those in range), the one with the best prior x (BACKBEAT_FLOOR + backbeat) x
    salience ** SALIENCE_EXPONENT (salience barely counts here: a faster octave always looks as periodic)."""
    coarse = np.arange(TEMPO_RANGE_BPM[0], TEMPO_RANGE_BPM[1] + 0.25, 0.5)
    peak = float(coarse[int(np.argmax(salience(hits, coarse) * prior(coarse)))])
    fine = np.arange(max(TEMPO_RANGE_BPM[0], peak - 0.5), min(TEMPO_RANGE_BPM[1], peak + 0.5) + 1e-9, TEMPO_STEP_BPM)
    peak = float(fine[int(np.argmax(salience(hits, fine) * prior(fine)))])
    candidates = np.asarray([t for t in (peak / 2, peak, peak * 2) if TEMPO_RANGE_BPM[0] <= t <= TEMPO_RANGE_BPM[1]])
    score = (prior(candidates) * (BACKBEAT_FLOOR + backbeat(hits, candidates))
             * salience(hits, candidates) ** SALIENCE_EXPONENT)
    return float(candidates[int(np.argmax(score))])


def _refine(times: np.ndarray, weights: np.ndarray, beat_seconds: float, offset_seconds: float) -> tuple[float, float]:
    """A weighted least-squares line through the hits within an eighth of a beat of a grid beat."""
    for _ in range(3):
        position = (times - offset_seconds) / beat_seconds
        index = np.round(position)
        near = np.abs(position - index) < 0.125
        if near.sum() < 4 or np.unique(index[near]).size < 2:
            break
        slope, intercept = np.polyfit(index[near], times[near], 1, w=np.sqrt(weights[near]))
        if not 0.8 * beat_seconds < slope < 1.25 * beat_seconds:
            break
        beat_seconds, offset_seconds = float(slope), float(intercept)
    return beat_seconds, offset_seconds


def estimate_grid(hits: Sequence[Hit], duration_seconds: float) -> Grid:
    """The beat grid of `hits` (a song `duration_seconds` long). Raises NoDrumsFound when there are fewer
    than MIN_HITS hits: too few to say anything about tempo."""
    if len(hits) < MIN_HITS:
        raise NoDrumsFound(f"no drums were found ({len(hits)} drum hits; a map needs at least {MIN_HITS})")
    beat_seconds = 60.0 / estimate_tempo(hits)
    times = np.asarray([h.time_seconds for h in hits])
    weights = _weights(hits)
    on_beat = np.asarray([h.lane in ("kick", "snare", "crash") for h in hits], dtype=float) + 0.2
    coefficient = _coherence(times, weights * on_beat, np.asarray([1.0 / beat_seconds]))[0]
    offset = (-np.angle(coefficient) / (2 * np.pi)) * beat_seconds % beat_seconds
    beat_seconds, offset = _refine(times, weights, beat_seconds, offset)
    offset %= beat_seconds
    count = max(1, int(np.floor((max(duration_seconds, 0.0) - offset) / beat_seconds)) + 1)
    beats = tuple(round(offset + k * beat_seconds, 4) for k in range(count))
    return Grid(tempo_bpm=round(60.0 / beat_seconds, 3), offset_seconds=round(offset, 4), beat_times_seconds=beats,
                first_downbeat_index=_downbeat(hits, beat_seconds, offset))


def _downbeat(hits: Sequence[Hit], beat_seconds: float, offset_seconds: float) -> int:
    """Which of the first BEATS_PER_BAR beats starts a bar: most kick and crash on it, least snare
    (snare marks beats 2 and 4)."""
    votes = np.zeros(BEATS_PER_BAR)
    for hit in hits:
        position = (hit.time_seconds - offset_seconds) / beat_seconds
        index = int(np.round(position))
        if abs(position - index) > 0.125:
            continue
        sign = {"kick": 1.0, "crash": 1.5, "snare": -1.0}.get(hit.lane, 0.0)
        votes[index % BEATS_PER_BAR] += sign * hit.velocity
    return int(np.argmax(votes))


def quantize(hits: Sequence[Hit], grid: Grid, *, subdivision: int = 4) -> list[GridHit]:
    """Each hit moved to the nearest 1/subdivision of a beat (4: sixteenths), its original time kept; two
    hits of one lane on one grid point become the louder one. Sorted by time, then lane order as given."""
    if subdivision < 1:
        raise ValueError(f"subdivision must be at least 1, not {subdivision}")
    step = grid.beat_seconds
    best: dict[tuple[float, str], GridHit] = {}
    for hit in hits:
        beat = round((hit.time_seconds - grid.offset_seconds) / step * subdivision) / subdivision
        time = max(0.0, grid.offset_seconds + beat * step)
        placed = GridHit(round(time, 4), hit.time_seconds, hit.lane, hit.velocity, beat)
        key = (beat, hit.lane)
        if key not in best or placed.velocity > best[key].velocity:
            best[key] = placed
    return sorted(best.values(), key=lambda g: (g.beat, g.original_seconds))
