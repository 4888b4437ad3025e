"""Compose: the blend of the prepared songs, arranged, checked against the quality gates, retried.

    result = compose_blend(prepared, BlendOptions(temperature=0.8, creativity=0.7, length_seconds=120, seed=7))
    result.midi, result.summary()          # BlendRejected when no attempt passes the gates

An attempt draws the melody from the songs' mixed models (model.draw_melody), trims it to the length
(a whole number of bars, within half a bar of `length_seconds`), ends it on the tonic, harmonises it
(one chord a bar or half bar, ending V-I), arranges it for the genre (arrange.py) and evaluates the
gates (gates.py) on its tokens and notes. A failing attempt is retried with the next seed (seed + 1,
...), up to `attempt_bound(length_seconds)`: 8 for a minute of music or more; a shorter piece has fewer
notes to balance between the songs (the attribution gate fails it more often) and is as much cheaper to
draw, so it gets attempts in proportion (32 at 15 s), about the same work. The same prepared songs,
options and seed give the same bytes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from soundcanvas.core.errors import BlendRejected

from .arrange import GENRES, STYLES, Score, Style, arrange, chord_pitch_classes, dominant_pitch_classes, encode_midi
from .gates import GateReport, evaluate_gates
from .model import (
    MixtureSettings,
    SongModel,
    Vocabulary,
    chord_transitions,
    draw_melody,
    harmonise,
    matching_lengths,
    mixture_settings,
)
from .prepare import GRID, SCALES, Prepared, Token, chord_degree, harmony_slot_beats, is_compound, melody_histogram

MAX_ATTEMPTS = 8  # for a minute of music or more
CADENCE_DEGREES = (1, 4, 6)  # melody degrees leaning into the final tonic: 2nd, 5th, leading note


@dataclass(frozen=True)
class BlendOptions:
    temperature: float = 0.8  # 0.1-2.0: below 1 sharpens the next-note distribution, above 1 flattens it
    creativity: float = 0.7  # 0-1: lower model order, shorter verbatim copies, looser pull toward the songs
    length_seconds: float = 120.0  # 15-300
    genre: str | None = None  # one of arrange.GENRES; None derives it from the songs
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.1 <= self.temperature <= 2.0:
            raise ValueError(f"temperature must be between 0.1 and 2.0, not {self.temperature}")
        if not 0.0 <= self.creativity <= 1.0:
            raise ValueError(f"creativity must be between 0 and 1, not {self.creativity}")
        if not 15 <= self.length_seconds <= 300:
            raise ValueError(f"lengthSeconds must be between 15 and 300, not {self.length_seconds}")
        if self.genre is not None and self.genre not in STYLES:
            raise ValueError(f"genre must be one of {', '.join(GENRES)}, not {self.genre!r}")
        if not 0 <= self.seed < 2**63:
            raise ValueError(f"seed must be a non-negative integer, not {self.seed}")

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> BlendOptions:
        """From the API's camelCase options; a missing or null value takes its default."""
        data = data or {}

        def value(key: str, default: float) -> Any:
            return default if data.get(key) is None else data[key]

        genre = data.get("genre")
        return cls(
            temperature=float(value("temperature", cls.temperature)),
            creativity=float(value("creativity", cls.creativity)),
            length_seconds=float(value("lengthSeconds", cls.length_seconds)),
            genre=str(genre).lower() if genre else None,
            seed=int(value("seed", cls.seed)),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "temperature": self.temperature,
            "creativity": self.creativity,
            "lengthSeconds": self.length_seconds,
            "genre": self.genre,
            "seed": self.seed,
        }


@dataclass(frozen=True)
class BlendResult:
    midi: bytes
    key: str  # "G major"
    tempo_bpm: float  # quarter notes per minute, as the MIDI file's tempo
    time_signature: str  # "6/8"
    duration_seconds: float
    genre: str
    attribution: dict[str, float]  # song id -> share of the traced melody 4-grams
    novelty: dict[str, float]  # longestCopiedBars, newPhraseShare
    gates: dict[str, dict[str, Any]]  # each gate's value, threshold and passed
    seed_used: int
    attempts: int

    def summary(self) -> dict[str, Any]:
        """What the blend's record keeps (camelCase, JSON-ready)."""
        return {
            "key": self.key,
            "tempoBpm": self.tempo_bpm,
            "timeSignature": self.time_signature,
            "durationSeconds": self.duration_seconds,
            "genre": self.genre,
            "attribution": self.attribution,
            "novelty": self.novelty,
            "gates": self.gates,
            "seedUsed": self.seed_used,
            "attempts": self.attempts,
        }


def derive_genre(prepared: Prepared) -> str:
    """A genre from the songs: pop when most (by weight) have drums, classical when most are polyphonic
    (chorale-like, three or more voices), else folk."""
    drums = sum(song.weight for song in prepared.songs if song.has_drums)
    polyphonic = sum(song.weight for song in prepared.songs if song.voices >= 3)
    if drums > 0.5:
        return "pop"
    return "classical" if polyphonic >= 0.5 else "folk"


@dataclass(frozen=True)
class _Models:
    """What every attempt shares: the vocabulary, the songs' melody models, the chord transitions, the rhythm."""

    vocabulary: Vocabulary
    songs: tuple[SongModel, ...]
    chord_transitions: np.ndarray
    onset_histogram: np.ndarray
    pitch_class_mix: np.ndarray  # the songs' melody pitch-class histograms, mixed by weight

    @classmethod
    def of(cls, prepared: Prepared) -> _Models:
        melodies = [song.melody for song in prepared.songs]
        vocabulary = Vocabulary.of(melodies, SCALES[prepared.mode])
        models = tuple(SongModel.of([vocabulary.index[t] for t in melody]) for melody in melodies)
        degrees = [[chord_degree(symbol) for symbol in song.chords] for song in prepared.songs]
        mix = np.sum([song.weight * np.asarray(song.melody_pitch_class_histogram) for song in prepared.songs], axis=0)
        return cls(vocabulary, models, chord_transitions(degrees, prepared.weights), mixed_onsets(prepared), mix)


def mixed_onsets(prepared: Prepared) -> np.ndarray:
    """The songs' melody onset positions on the blend's bar, mixed by weight."""
    return np.sum([song.weight * np.asarray(song.onset_histogram) for song in prepared.songs], axis=0)


@dataclass(frozen=True)
class _Attempt:
    midi: bytes
    report: GateReport
    duration_seconds: float
    tempo_bpm: float
    seed: int


def compose_blend(
    prepared: Prepared, options: BlendOptions | None = None, *, max_attempts: int | None = None
) -> BlendResult:
    """Blend the prepared songs; retry failing attempts with the next seeds; BlendRejected names the gate."""
    options = options or BlendOptions()
    genre = options.genre or derive_genre(prepared)
    style = STYLES[genre]
    models = _Models.of(prepared)
    attempts: list[_Attempt] = []
    for number in range(max_attempts or attempt_bound(options.length_seconds)):
        attempt = compose_attempt(prepared, options, style, models, options.seed + number)
        attempts.append(attempt)
        if attempt.report.passed:
            return BlendResult(
                midi=attempt.midi,
                key=prepared.key_name,
                tempo_bpm=attempt.tempo_bpm,
                time_signature=f"{prepared.time_signature[0]}/{prepared.time_signature[1]}",
                duration_seconds=attempt.duration_seconds,
                genre=genre,
                attribution={
                    song: round(share, 4) for song, share in zip(prepared.song_ids, attempt.report.shares, strict=True)
                },
                novelty={
                    "longestCopiedBars": round(attempt.report.longest_copy_bars, 3),
                    "newPhraseShare": round(attempt.report.new_share, 4),
                },
                gates=attempt.report.to_json(),
                seed_used=attempt.seed,
                attempts=number + 1,
            )
    raise BlendRejected(rejection_message(attempts, options))


def attempt_bound(length_seconds: float) -> int:
    """Attempts allowed: MAX_ATTEMPTS from a minute of music up, proportionally more for shorter pieces."""
    return max(MAX_ATTEMPTS, math.ceil(MAX_ATTEMPTS * 60 / length_seconds))


def rejection_message(attempts: list[_Attempt], options: BlendOptions) -> str:
    """Which gate failed most often, with the last failing attempt's values."""
    counts: dict[str, int] = {}
    for attempt in attempts:
        for gate in attempt.report.failed:
            counts[gate.name] = counts.get(gate.name, 0) + 1
    name = max(counts, key=lambda n: (counts[n], n))
    gate = next(g for a in reversed(attempts) for g in a.report.failed if g.name == name)
    seeds = f"seeds {attempts[0].seed}-{attempts[-1].seed}"
    prefix = f"No blend of these songs passed the quality gates in {len(attempts)} attempts ({seeds}); "
    if name == "attribution":
        song = gate.detail["worstSong"]
        return prefix + (
            f"the attribution gate failed {counts[name]} times: song {song} got {gate.detail['shares'][song]:.2f} "
            f"of the melody's traced 4-note figures against its weight {gate.detail['weights'][song]:.2f} "
            f"(allowed deviation {gate.threshold:.2f}, measured {gate.value:.2f}). Songs that share most of their "
            "figures cannot be told apart: try more even weights or other songs."
        )
    if name == "copy":
        return prefix + (
            f"the copy gate failed {counts[name]} times: a {gate.value:.2f}-bar passage was copied from song "
            f"{gate.detail['song']} (at most {gate.threshold:.2f} bars at creativity {options.creativity:.2f}). "
            "Try a lower creativity."
        )
    if name == "inKey":
        return prefix + (
            f"the in-key gate failed {counts[name]} times: {gate.value:.0%} of the notes are in the key "
            f"(at least {gate.threshold:.0%} needed)."
        )
    return prefix + (
        f"the blend gate failed {counts[name]} times: the piece's pitch classes were {gate.value:.3f} from the "
        f"weighted mix of the songs but {gate.threshold:.3f} from song {gate.detail['nearestSong']} alone. "
        "Try more even weights or a lower temperature."
    )


def compose_attempt(prepared: Prepared, options: BlendOptions, style: Style, models: _Models, seed: int) -> _Attempt:
    """One blend with one seed: melody, harmony, arrangement, MIDI bytes and the gates."""
    rng = np.random.default_rng(seed)
    bar_beats = prepared.beats_per_bar
    bar = bar_beats * GRID
    low, high = style.beat_bpm_range
    beat_bpm = float(min(max(prepared.beat_bpm, low), high))
    bars = max(4, round(options.length_seconds / (bar_beats * 60 / beat_bpm)))
    body = (bars - 1) * bar  # the melody's draw; the final bar holds the tonic
    settings: MixtureSettings = mixture_settings(prepared.weights, options.temperature, options.creativity, bar)
    draw = draw_melody(
        models.songs,
        models.vocabulary,
        settings,
        total_twelfths=body,
        onset_histogram=models.onset_histogram,
        cadence_from_twelfths=body - bar,
        cadence_degrees=CADENCE_DEGREES,
        pitch_class_target=models.pitch_class_mix,
        rng=rng,
    )
    melody = end_on_tonic(
        [models.vocabulary.tokens[i] for i in draw.tokens], body, bar, models, settings.copy_limit_twelfths
    )
    slot = harmony_slot_beats(bar_beats) * GRID
    degrees = harmonise(
        slot_pitch_classes(melody, prepared.mode, slot, body, bar),
        _templates(prepared.mode),
        models.chord_transitions,
        fit_weight=4.0 - 2.0 * options.creativity,
    )
    chords = [chord_pitch_classes(d, prepared.tonic_pc, prepared.mode, style.sevenths) for d in degrees[:-1]]
    if prepared.mode == "minor":
        chords[-1] = dominant_pitch_classes(prepared.tonic_pc)
    chords += [chord_pitch_classes(0, prepared.tonic_pc, prepared.mode)] * (bar // slot)
    score = Score(
        melody=melody_notes(melody, prepared.tonic_pc, prepared.mode),
        chords=tuple(chords),
        slot_twelfths=slot,
        bar_twelfths=bar,
        bars=bars,
        tonic_pc=prepared.tonic_pc,
        mode=prepared.mode,
        time_signature=prepared.time_signature,
        beat_quarters=prepared.beat_quarters,
        beat_bpm=beat_bpm,
        compound=is_compound(prepared.time_signature),
    )
    arrangement = arrange(score, style, rng)
    report = evaluate_gates(
        output_melody=melody,
        output_durations_beats=[t[2] / GRID for t in melody],
        output_melody_histogram=melody_histogram(melody, prepared.mode),
        output_pitches=[pitch for pitch, _ in arrangement.pitched()],
        sources=[song.melody for song in prepared.songs],
        source_histograms=[np.asarray(song.melody_pitch_class_histogram) for song in prepared.songs],
        weights=prepared.weights,
        song_ids=prepared.song_ids,
        tonic_pc=prepared.tonic_pc,
        mode=prepared.mode,
        beats_per_bar=bar_beats,
        creativity=options.creativity,
    )
    return _Attempt(
        encode_midi(arrangement),
        report,
        round(arrangement.duration_seconds, 3),
        round(60_000_000 / arrangement.tempo_us, 3),
        seed,
    )


def end_on_tonic(
    tokens: list[Token], body_twelfths: int, bar_twelfths: int, models: _Models, copy_limit_twelfths: int
) -> list[Token]:
    """Trim the last drawn token to end with the body, then hold the tonic for a bar: the one nearest the
    last note, or the next octave when that would stretch a verbatim copy past the limit (songs end on
    a long tonic too)."""
    start = sum(t[2] for t in tokens[:-1])
    step, alteration, _ = tokens[-1]
    trimmed = [*tokens[:-1], (step, alteration, body_twelfths - start)]
    nearest = 7 * round(step / 7)
    other = nearest + 7 if step >= nearest else nearest - 7
    candidates = [[*trimmed, (tonic, 0, bar_twelfths)] for tonic in (nearest, other)]
    return next((c for c in candidates if _ending_fits(c, models, copy_limit_twelfths)), candidates[0])


def _ending_fits(tokens: list[Token], models: _Models, limit_twelfths: int) -> bool:
    """Whether the copies ending at the last two tokens stay within the limit (the draw checked the rest)."""
    ids = [models.vocabulary.index.get(t, -1) for t in tokens]
    starts = np.concatenate(([0], np.cumsum([t[2] for t in tokens])))
    for song in models.songs:
        lengths = matching_lengths(song.automaton, ids)
        for i in (len(ids) - 2, len(ids) - 1):
            run = lengths[i]
            if run and starts[i + 1] - starts[i + 1 - run] > limit_twelfths:
                return False
    return True


def melody_notes(tokens: list[Token], tonic_pc: int, mode: str) -> tuple[tuple[int, int, int], ...]:
    """(start, length in twelfths, MIDI pitch); step 0 is the tonic from D4 up to C#5, so the melody's
    middle (prepare puts it near step 4, the fifth) lies between A4 and G#5."""
    scale = SCALES[mode]
    base = 62 + (tonic_pc - 2) % 12
    notes = []
    start = 0
    for step, alteration, length in tokens:
        pitch = base + 12 * (step // 7) + scale[step % 7] + alteration
        notes.append((start, length, int(min(max(pitch, 36), 100))))
        start += length
    return tuple(notes)


def slot_pitch_classes(tokens: list[Token], mode: str, slot: int, body: int, bar: int) -> np.ndarray:
    """Duration-weighted melody pitch classes (above the tonic) per harmony slot of the body, then the final bar."""
    scale = SCALES[mode]
    slots = body // slot
    vectors = np.zeros((slots + 1, 12))
    start = 0
    for step, alteration, length in tokens:
        pc = (scale[step % 7] + alteration) % 12
        end = start + length
        first = start // slot
        for index in range(first, min(slots, (end - 1) // slot) + 1):
            overlap = min(end, (index + 1) * slot) - max(start, index * slot)
            vectors[index, pc] += overlap * (1.5 if index == first and start % slot == 0 else 1.0)
        if end > body:
            vectors[slots, pc] += min(end, body + bar) - max(start, body)
        start = end
    return vectors


def _templates(mode: str) -> np.ndarray:
    """(7, 12) unit-norm diatonic triads above the tonic, one row per degree."""
    matrix = np.zeros((7, 12))
    for degree in range(7):
        matrix[degree, list(chord_pitch_classes(degree, 0, mode))] = 1 / np.sqrt(3)
    return matrix
