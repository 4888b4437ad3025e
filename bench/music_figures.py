"""The music report's figures: small pure functions over note lists (MIDI ticks) and stereo sample arrays.

Notes are `(start tick, end tick, pitch, velocity)` tuples, as the composer writes them; audio is a float
array of shape (frames, 2). Nothing here reads files or runs tools (bench/music.py does that); every
definition is spelled out in docs/music.md.
"""

from __future__ import annotations

import io
import math
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import mido
import numpy as np
from scipy.signal import lfilter

Note = tuple[int, int, int, int]  # (start tick, end tick, pitch, velocity)

DRUM_CHANNEL = 9
# General MIDI drum keys a fill is made of: side stick, snares, clap and the six toms.
FILL_KEYS = frozenset({37, 38, 39, 40, 41, 43, 45, 47, 48, 50})
DIATONIC = (0, 2, 4, 5, 7, 9, 11)
# Root motions into the final tonic that count as a cadence, by the semitones the chord before sits above the
# tonic: the dominant (V-I) in every genre; the plagal IV-I where the genre's harmony uses it as a close
# (rock, pop, ambient, cinematic); the modal bVII-I in rock and the minor-loop genres.
CADENCES = {7: "V-I", 5: "IV-I", 10: "bVII-I"}
GENRE_CADENCES: dict[str, tuple[int, ...]] = {
    "house": (7, 10), "techno": (7, 10), "hiphop": (7, 10), "lofi": (7, 10), "ambient": (7, 5),
    "rock": (7, 5, 10), "jazz": (7,), "classical": (7,), "pop": (7, 5), "cinematic": (7, 5),
}
FIXED_POSITION_SHARE = 0.05  # an off-grid position holding this share of the onsets is a fixed swing offset


# --- reading MIDI ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Track:
    name: str
    channel: int | None  # the channel of its first note (None for a track without notes)
    notes: tuple[Note, ...]


@dataclass(frozen=True)
class Song:
    ticks_per_beat: int
    bar_ticks: int  # from the first time signature (4/4 when there is none)
    tempo_us: int  # the first tempo (500000 when there is none)
    tracks: tuple[Track, ...]  # every track after the conductor, in file order

    def seconds(self, tick: float) -> float:
        return tick * self.tempo_us / 1e6 / self.ticks_per_beat


def read_song(data: bytes) -> Song:
    """Notes per track of a type-1 MIDI file (note-off or note-on at velocity 0 closes the oldest open note)."""
    midi = mido.MidiFile(file=io.BytesIO(data))
    tpb = midi.ticks_per_beat
    bar, tempo = 4 * tpb, 500_000
    tracks = []
    meta_seen = {"time_signature": False, "set_tempo": False}
    for track in midi.tracks:
        tick = 0
        open_notes: dict[tuple[int, int], list[tuple[int, int]]] = {}
        notes: list[Note] = []
        channel = None
        for msg in track:
            tick += msg.time
            if msg.type == "time_signature" and not meta_seen["time_signature"]:
                bar = msg.numerator * tpb * 4 // msg.denominator
                meta_seen["time_signature"] = True
            elif msg.type == "set_tempo" and not meta_seen["set_tempo"]:
                tempo = msg.tempo
                meta_seen["set_tempo"] = True
            elif msg.type == "note_on" and msg.velocity > 0:
                open_notes.setdefault((msg.channel, msg.note), []).append((tick, msg.velocity))
                channel = msg.channel if channel is None else channel
            elif msg.type in ("note_off", "note_on"):
                started = open_notes.get((msg.channel, msg.note))
                if started:
                    start, velocity = started.pop(0)
                    notes.append((start, tick, msg.note, velocity))
        tracks.append(Track(track.name, channel, tuple(sorted(notes))))
    return Song(tpb, bar, tempo, tuple(tracks[1:]) if midi.type == 1 else tuple(tracks))


def role(track: Track) -> str:
    """"drums", "bass", "chords", "lead" or "other", from the channel and the track's name."""
    if track.channel == DRUM_CHANNEL:
        return "drums"
    name = track.name.lower()
    for key, label in (("drum", "drums"), ("bass", "bass"), ("chord", "chords"), ("pad", "chords"), ("lead", "lead")):
        if key in name:
            return label
    return "other"


# --- summaries ---------------------------------------------------------------------------------


def summary(values: Sequence[float]) -> tuple[float, float, float] | None:
    """(median, min, max), or None for no values."""
    if not values:
        return None
    return statistics.median(values), min(values), max(values)


def percentile_spread(values: Sequence[float], low: float = 10, high: float = 90) -> tuple[float, float]:
    """The `low`-th and `high`-th percentiles (linear interpolation)."""
    array = np.asarray(values, dtype=float)
    return float(np.percentile(array, low)), float(np.percentile(array, high))


# --- audio -------------------------------------------------------------------------------------


def power(stereo: np.ndarray) -> float:
    """Mean square over both channels."""
    return float(np.mean(np.square(stereo, dtype=np.float64))) if stereo.size else 0.0


def db(value: float, floor: float = 1e-20) -> float:
    """A power ratio in dB."""
    return 10 * math.log10(max(value, floor))


def stereo_correlation(stereo: np.ndarray) -> float:
    """Correlation of left and right over the whole signal: sum(L*R) / sqrt(sum(L^2) * sum(R^2)), -1..+1."""
    left, right = stereo[:, 0].astype(np.float64), stereo[:, 1].astype(np.float64)
    denominator = math.sqrt(float(np.dot(left, left)) * float(np.dot(right, right)))
    return float(np.dot(left, right)) / denominator if denominator > 0 else 0.0


def mono_loss_db(stereo: np.ndarray) -> float:
    """Level lost when summed to mono: RMS of (L+R)/2 against the RMS of both channels, in dB (positive = lost)."""
    mono = (stereo[:, 0].astype(np.float64) + stereo[:, 1]) / 2
    return db(power(stereo)) - db(float(np.mean(mono * mono)) if mono.size else 0.0)


LOUDNESS_BLOCK_S = 0.4  # BS.1770's gating block
ABSOLUTE_GATE_DB = -70.0
RELATIVE_GATE_DB = -10.0


def k_weight(stereo: np.ndarray, rate: int) -> np.ndarray:
    """BS.1770 K-weighting (a high shelf, then a high pass), designed for the sample rate."""
    f0, gain, q = 1681.974450955533, 3.999843853973347, 0.7071752369554196
    k = math.tan(math.pi * f0 / rate)
    vh, vb = 10 ** (gain / 20), 10 ** (gain / 20) ** 0.4996667741545416
    a0 = 1 + k / q + k * k
    b1 = [(vh + vb * k / q + k * k) / a0, 2 * (k * k - vh) / a0, (vh - vb * k / q + k * k) / a0]
    a1 = [1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0]
    f0, q = 38.13547087602444, 0.5003270373238773
    k = math.tan(math.pi * f0 / rate)
    a0 = 1 + k / q + k * k
    a2 = [1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0]
    return lfilter([1.0, -2.0, 1.0], a2, lfilter(b1, a1, stereo.astype(np.float64), axis=0), axis=0)


def gated_loudness_db(stereo: np.ndarray, rate: int) -> float:
    """A part's loudness as a listener hears it: K-weighted, gated (BS.1770's 400 ms blocks, the absolute gate
    at -70 dB and the relative gate 10 dB under the mean), so a part's rests do not lower it. LUFS-like, without
    the -0.691 offset; -inf for silence. The mix's role levels are calibrated with it (tools/calibrate_mix.py)."""
    weighted = k_weight(stereo, rate)
    n = int(LOUDNESS_BLOCK_S * rate)
    count = len(weighted) // n
    if not count:
        return -math.inf
    blocks = (weighted[: count * n].reshape(count, n, 2) ** 2).mean(axis=1).sum(axis=1)
    blocks = blocks[blocks > 10 ** (ABSOLUTE_GATE_DB / 10)]
    if not len(blocks):
        return -math.inf
    blocks = blocks[blocks > blocks.mean() * 10 ** (RELATIVE_GATE_DB / 10)]
    return 10 * math.log10(float(blocks.mean()))


def window_levels_db(stereo: np.ndarray, rate: int, window_s: float, hop_s: float) -> list[tuple[float, float]]:
    """(start second, RMS dB) of every whole window of `window_s` every `hop_s`."""
    size, hop = int(window_s * rate), max(1, int(hop_s * rate))
    return [(a / rate, db(power(stereo[a:a + size]))) for a in range(0, len(stereo) - size + 1, hop)]


def sounding(intervals: Sequence[tuple[float, float]], start: float, end: float) -> bool:
    """Whether any (on, off) interval overlaps [start, end)."""
    return any(on < end and off > start for on, off in intervals)


def largest_rest_drop_db(levels: Sequence[tuple[float, float]], window_s: float,
                         lead: Sequence[tuple[float, float]],
                         excluded: Sequence[tuple[float, float]] = ()) -> float | None:
    """The largest loudness drop while the lead rests, in dB; None when the lead never rests inside its span.

    A window rests when no lead note sounds in it; only windows between the lead's first onset and its last
    note's end count, and none overlapping an `excluded` span (a planned breakdown). For each run of resting
    windows: the mean level of the playing windows just before and just after the run that do not overlap it,
    minus the quietest resting window of the run.
    """
    if not lead:
        return None
    first, last = min(on for on, _ in lead), max(off for _, off in lead)
    rests = [first <= t and t + window_s <= last and not sounding(lead, t, t + window_s)
             and not sounding(excluded, t, t + window_s) for t, _ in levels]
    playing = [sounding(lead, t, t + window_s) for t, _ in levels]
    worst: float | None = None
    i = 0
    while i < len(levels):
        if not rests[i]:
            i += 1
            continue
        j = i
        while j + 1 < len(levels) and rests[j + 1]:
            j += 1
        run_start, run_end = levels[i][0], levels[j][0] + window_s
        before = [level for (t, level), plays in zip(levels, playing, strict=True)
                  if plays and run_start - window_s < t + window_s <= run_start]
        after = [level for (t, level), plays in zip(levels, playing, strict=True)
                 if plays and run_end <= t < run_end + window_s]
        neighbours = before[-1:] + after[:1]
        if neighbours:
            drop = statistics.fmean(neighbours) - min(level for _, level in levels[i:j + 1])
            worst = drop if worst is None else max(worst, drop)
        i = j + 1
    return worst


# --- form --------------------------------------------------------------------------------------


def multiple_of_four_share(lengths: Sequence[int]) -> float:
    """Share of section lengths (bars) that are whole multiples of 4."""
    return sum(1 for n in lengths if n % 4 == 0) / len(lengths) if lengths else 0.0


def phrase_ends(sections: Sequence[tuple[str, int, int]]) -> list[int]:
    """Bars that close a phrase: every 4th bar of each section counted from its start, and its last bar."""
    ends: set[int] = set()
    for _name, start, bars in sections:
        ends.update(range(start + 3, start + bars, 4))
        if bars:
            ends.add(start + bars - 1)
    return sorted(ends)


# --- melody ------------------------------------------------------------------------------------


def bars_of(notes: Iterable[Note], bar_ticks: int, unit: int = 1) -> dict[int, frozenset[tuple[int, int, int]]]:
    """Each non-empty bar's (onset within the bar, pitch, duration) set, positions rounded to `unit` ticks."""
    bars: dict[int, set[tuple[int, int, int]]] = {}
    for start, end, pitch, _ in notes:
        bar, offset = divmod(start, bar_ticks)
        bars.setdefault(bar, set()).add((round(offset / unit), pitch, round((end - start) / unit)))
    return {bar: frozenset(content) for bar, content in bars.items()}


def repeated_bar_share(notes: Iterable[Note], bar_ticks: int, unit: int = 1) -> float | None:
    """Share of non-empty melody bars whose content occurs identically in another bar; None without notes."""
    bars = bars_of(notes, bar_ticks, unit)
    if not bars:
        return None
    counts = Counter(bars.values())
    return sum(1 for content in bars.values() if counts[content] > 1) / len(bars)


def pitch_range(notes: Sequence[Note]) -> int | None:
    """Highest minus lowest pitch, in semitones."""
    return max(n[2] for n in notes) - min(n[2] for n in notes) if notes else None


# --- drums -------------------------------------------------------------------------------------


def drum_bars(notes: Iterable[Note], bar_ticks: int, step: int) -> dict[int, frozenset[tuple[int, int]]]:
    """Each bar's drum pattern: the set of (16th step nearest the onset, key); velocity and micro-timing ignored."""
    bars: dict[int, set[tuple[int, int]]] = {}
    for start, _end, key, _ in notes:
        bar, offset = divmod(start, bar_ticks)
        position = round(offset / step)
        if position * step >= bar_ticks:  # rounds onto the next downbeat
            bar, position = bar + 1, 0
        bars.setdefault(bar, set()).add((position, key))
    return {bar: frozenset(content) for bar, content in bars.items()}


def fill_hits(pattern: Iterable[tuple[int, int]]) -> int:
    return sum(1 for _, key in pattern if key in FILL_KEYS)


def fill_share(patterns: dict[int, frozenset[tuple[int, int]]], ends: Iterable[int]) -> float | None:
    """Share of phrase ends (bars with a bar before, drums in either) that hold a fill.

    A fill: the bar's pattern differs from the bar before and has more snare, clap, side-stick and tom hits.
    """
    counted = filled = 0
    for bar in ends:
        if bar < 1 or (bar not in patterns and bar - 1 not in patterns):
            continue
        counted += 1
        here, before = patterns.get(bar, frozenset()), patterns.get(bar - 1, frozenset())
        if here != before and fill_hits(here) > fill_hits(before):
            filled += 1
    return filled / counted if counted else None


# --- timing ------------------------------------------------------------------------------------


def grid_shares(onsets: Sequence[int], ticks_per_beat: int) -> tuple[float, float] | None:
    """(share on the exact 16th grid, mechanical share) of note onsets.

    Mechanical: on the 16th grid, or on an off-grid position within the beat that holds at least
    FIXED_POSITION_SHARE of all onsets (a fixed swing offset). Deterministic micro-timing lowers both.
    """
    if not onsets:
        return None
    step = ticks_per_beat // 4
    positions = Counter(t % ticks_per_beat for t in onsets)
    on_grid = sum(n for p, n in positions.items() if p % step == 0)
    fixed = sum(n for p, n in positions.items() if p % step and n >= FIXED_POSITION_SHARE * len(onsets))
    return on_grid / len(onsets), (on_grid + fixed) / len(onsets)


# --- harmony -----------------------------------------------------------------------------------


def chord_root(weights: Sequence[float], bass: int | None) -> int | None:
    """The root (pitch class) of one chord from 12 pitch-class weights and the lowest pitch class sounding.

    Score of a root r: its weight, plus 0.8 x (its fifth + its stronger third), plus the largest weight again
    if the bass is r. Ties go to the lower pitch class. None when nothing sounds.
    """
    if not any(weights):
        return None

    def score(r: int) -> float:
        third = max(weights[(r + 3) % 12], weights[(r + 4) % 12])
        bonus = max(weights) if bass == r else 0.0
        return weights[r] + 0.8 * (weights[(r + 7) % 12] + third) + bonus

    return max(range(12), key=lambda r: (score(r), -r))


def chord_roots(notes: Sequence[Note], unit: int, end_tick: int, start_tick: int = 0) -> list[int]:
    """Roots of the chords from `start_tick` to `end_tick`, one per `unit` ticks (weights: the time each pitch
    class sounds in it), with silent units skipped and a repeated root merged."""
    roots: list[int] = []
    notes = [n for n in notes if n[1] > start_tick]
    for a in range(start_tick, max(end_tick, start_tick + 1), unit):
        b = a + unit
        weights = [0.0] * 12
        lowest = None
        for start, end, pitch, _ in notes:
            overlap = min(end, b) - max(start, a)
            if overlap > 0:
                weights[pitch % 12] += overlap
                lowest = pitch if lowest is None or pitch < lowest else lowest
        root = chord_root(weights, None if lowest is None else lowest % 12)
        if root is not None and (not roots or roots[-1] != root):
            roots.append(root)
    return roots


def cadence(roots: Sequence[int], tonic: int, allowed: Iterable[int]) -> str | None:
    """The cadence the last two chords make ("V-I", ...), or None: the last root is the tonic and the one
    before sits an allowed interval above it."""
    if len(roots) < 2 or roots[-1] != tonic:
        return None
    interval = (roots[-2] - tonic) % 12
    return CADENCES.get(interval) if interval in set(allowed) else None


def allowed_cadences(genre: str | None) -> tuple[int, ...]:
    """The root motions that close a piece of the genre (V-I alone for a genre not in the table)."""
    return GENRE_CADENCES.get(genre or "", (7,))


def scale_share(pitches: Sequence[int], tonic: int, scale: Sequence[int]) -> float | None:
    """Share of notes whose pitch class is in the scale built on `tonic`."""
    if not pitches:
        return None
    members = {(tonic + s) % 12 for s in scale}
    return sum(1 for p in pitches if p % 12 in members) / len(pitches)


def best_diatonic_share(pitches: Sequence[int]) -> float | None:
    """Scale consistency as MusPy defines it: the best share of notes in any of the 12 major (or their
    relative minor) scales."""
    if not pitches:
        return None
    return max(scale_share(pitches, tonic, DIATONIC) or 0.0 for tonic in range(12))
