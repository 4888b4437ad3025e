"""Blend's arrangement: melody, chords, bass and drums for General MIDI, written as a type 1 SMF.

    arrangement = arrange(score, STYLES["folk"], rng)
    midi = encode_midi(arrangement)        # same arrangement -> same bytes

Score times are in twelfths of a metrical beat (see prepare.GRID); ticks are TICKS_PER_QUARTER a quarter
note. The accompaniment stays on the key's diatonic scale except the dominant of the final cadence in a
minor key (its raised leading tone); the melody carries what the composer gives it. The SMF writer is
ours (a few dozen lines, with running status): events are sorted by (tick, note-off before note-on,
status, pitch), so the bytes are reproducible.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

TICKS_PER_QUARTER = 960
DRUM_CHANNEL = 9
SCALES: dict[str, tuple[int, ...]] = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10)}

# General MIDI percussion keys.
KICK, SIDE_STICK, SNARE, CLAP, CLOSED_HAT, PEDAL_HAT, OPEN_HAT = 36, 37, 38, 39, 42, 44, 46
LOW_TOM, CRASH, RIDE, TAMBOURINE, SHAKER, FLOOR_TOM = 45, 49, 51, 54, 82, 41


@dataclass(frozen=True)
class Style:
    """A genre's instrumentation, accompaniment figures and tempo feel."""

    name: str
    melody_program: int
    chord_program: int
    bass_program: int
    comping: str  # strum | block | power | shell | pad
    bass: str  # root_fifth | eighths | walking | offbeat | sustain | pop
    drums: str  # folk | pop | rock | swing | four_on_floor | soft
    beat_bpm_range: tuple[float, float]
    swing: bool = False
    sevenths: bool = False
    legato: float = 0.92  # melody note length as a share of its time to the next note


STYLES: dict[str, Style] = {
    "folk": Style("folk", 110, 25, 32, "strum", "root_fifth", "folk", (80, 140)),
    "pop": Style("pop", 0, 4, 33, "block", "pop", "pop", (84, 128)),
    "rock": Style("rock", 29, 30, 34, "power", "eighths", "rock", (100, 150), legato=0.88),
    "jazz": Style("jazz", 65, 0, 32, "shell", "walking", "swing", (96, 200), swing=True, sevenths=True),
    "electronic": Style("electronic", 81, 89, 38, "pad", "offbeat", "four_on_floor", (118, 130), legato=0.8),
    "classical": Style("classical", 40, 48, 42, "pad", "sustain", "soft", (60, 112), legato=0.97),
}
GENRES = tuple(STYLES)


@dataclass(frozen=True)
class Score:
    """What the composer decided: melody and chords in the blend's key and metre."""

    melody: tuple[tuple[int, int, int], ...]  # (start, length) in twelfths, MIDI pitch
    chords: tuple[tuple[int, ...], ...]  # pitch classes (root first), one per harmony slot
    slot_twelfths: int
    bar_twelfths: int
    bars: int
    tonic_pc: int
    mode: str
    time_signature: tuple[int, int]
    beat_quarters: float
    beat_bpm: float
    compound: bool


@dataclass(frozen=True)
class Part:
    name: str
    channel: int
    program: int
    notes: tuple[tuple[int, int, int, int], ...]  # (start tick, end tick, pitch, velocity)


@dataclass(frozen=True)
class Arrangement:
    parts: tuple[Part, ...]
    tempo_us: int  # microseconds per quarter note
    time_signature: tuple[int, int]
    key_signature: tuple[int, int]  # (sharps (+) or flats (-), 1 for minor)
    end_tick: int

    @property
    def duration_seconds(self) -> float:
        return self.end_tick / TICKS_PER_QUARTER * self.tempo_us / 1e6

    def pitched(self) -> list[tuple[int, int]]:
        """(pitch, length in ticks) of every note off the drum channel."""
        return [(p, e - s) for part in self.parts if part.channel != DRUM_CHANNEL for s, e, p, _ in part.notes]


# --- harmony helpers ------------------------------------------------------------------------------


def chord_pitch_classes(degree: int, tonic_pc: int, mode: str, seventh: bool = False) -> tuple[int, ...]:
    """The diatonic triad (or seventh chord) on a scale degree, root first."""
    scale = SCALES[mode]
    steps = (0, 2, 4, 6) if seventh else (0, 2, 4)
    return tuple((tonic_pc + scale[(degree + s) % 7]) % 12 for s in steps)


def dominant_pitch_classes(tonic_pc: int) -> tuple[int, ...]:
    """The major dominant triad (harmonic minor's V): the cadence's leading tone."""
    return tuple((tonic_pc + i) % 12 for i in (7, 11, 2))


def voice(pcs: Sequence[int], previous: Sequence[int] | None, low: int = 50, high: int = 70) -> tuple[int, ...]:
    """A close voicing of the pitch classes within [low, high], moving least from the previous voicing."""
    candidates: list[tuple[int, ...]] = []
    for rotation in range(len(pcs)):
        order = list(pcs[rotation:]) + list(pcs[:rotation])
        for base in (low, low + 12):
            notes = [base + (order[0] - base) % 12]
            for pc in order[1:]:
                notes.append(notes[-1] + 1 + (pc - notes[-1] - 1) % 12)
            if notes[-1] <= high:
                candidates.append(tuple(notes))
    centre = sum(previous) / len(previous) if previous else (low + high) / 2 - 2

    def cost(notes: tuple[int, ...]) -> tuple[float, tuple[int, ...]]:
        spread = abs(sum(notes) / len(notes) - centre)
        if previous:
            spread += sum(min(abs(p - q) for q in previous) for p in notes) / len(notes)
        return spread, notes

    return min(candidates, key=cost)


def bass_pitch(pc: int, low: int = 36) -> int:
    return low + (pc - low) % 12


# --- the parts ------------------------------------------------------------------------------------


class _Clock:
    """Twelfths of a beat to ticks, with optional swing (the off-beat eighth of a simple beat played late)."""

    def __init__(self, score: Score, swing: bool) -> None:
        self.twelfth = TICKS_PER_QUARTER * score.beat_quarters / 12
        self.swing = swing and not score.compound

    def tick(self, twelfths: int) -> int:
        if self.swing and twelfths % 12 == 6:
            twelfths += 2
        return round(twelfths * self.twelfth)


def _jitter(
    notes: list[tuple[int, int, int, int]], rng: np.random.Generator, spread: int = 4
) -> tuple[tuple[int, int, int, int], ...]:
    """The notes with their velocities moved by up to +-spread at random (a player's unevenness)."""
    if not notes:
        return ()
    moves = rng.integers(-spread, spread + 1, size=len(notes)).tolist()
    return tuple((s, e, p, min(127, max(1, v + m))) for (s, e, p, v), m in zip(notes, moves, strict=True))


def melody_part(score: Score, style: Style, clock: _Clock, rng: np.random.Generator) -> Part:
    notes = []
    for start, length, pitch in score.melody:
        accent = 10 if start % score.bar_twelfths == 0 else 4 if start % 12 == 0 else 0
        end = (
            start + max(1, round(length * style.legato))
            if start + length < score.bars * score.bar_twelfths
            else start + length
        )
        notes.append((clock.tick(start), clock.tick(end), pitch, 86 + accent))
    return Part("Melody", 0, style.melody_program, _jitter(notes, rng))


def _slot_voicings(score: Score, style: Style) -> list[tuple[int, ...]]:
    voicings: list[tuple[int, ...]] = []
    previous: tuple[int, ...] | None = None
    for pcs in score.chords:
        if style.comping == "power":
            chosen = voice(pcs[:1] + pcs[2:3], previous, 45, 62)
            chosen = (*chosen, chosen[0] + 12)
        elif style.comping == "shell":
            chosen = voice(pcs[1:], previous, 50, 67)
        else:
            chosen = voice(pcs, previous)
        voicings.append(chosen)
        previous = chosen
    return voicings


def chord_part(score: Score, style: Style, clock: _Clock, rng: np.random.Generator) -> Part:
    notes: list[tuple[int, int, int, int]] = []
    slot, bar_end = score.slot_twelfths, score.bars * score.bar_twelfths
    eighth = 4 if score.compound else 6
    for index, chord in enumerate(_slot_voicings(score, style)):
        start = index * slot
        if start >= bar_end - score.bar_twelfths:  # the final bar: one held chord
            notes += [(clock.tick(start), clock.tick(bar_end), p, 70) for p in chord]
            break
        if style.comping == "pad":
            hits = [(start, slot, 58)]
        elif style.comping == "shell":
            hits = [(start, 12, 66)] + ([(start + 18, 6, 58)] if slot >= 24 else [])
        elif style.comping == "power":
            hits = [(t, eighth, 84 if t % 12 == 0 else 70) for t in range(start, start + slot, eighth)]
        else:  # strum / block: every beat, the bar's first beat louder
            hits = [(t, 12, 74 if t % score.bar_twelfths == 0 else 60) for t in range(start, start + slot, 12)]
        for onset, length, level in hits:
            for k, pitch in enumerate(chord):
                stagger = 12 * k if style.comping == "strum" else 0  # a down-strum, in ticks
                on = clock.tick(onset) + stagger
                off = clock.tick(onset + length) - (TICKS_PER_QUARTER // 16 if style.comping != "pad" else 0)
                if off > on:
                    notes.append((on, off, pitch, level))
    return Part("Chords", 1, style.chord_program, _jitter(notes, rng))


def bass_part(score: Score, style: Style, clock: _Clock, rng: np.random.Generator) -> Part:
    notes: list[tuple[int, int, int, int]] = []
    slot, bar_end = score.slot_twelfths, score.bars * score.bar_twelfths
    eighth = 4 if score.compound else 6
    scale = [(score.tonic_pc + o) % 12 for o in SCALES[score.mode]]
    for index, pcs in enumerate(score.chords):
        start = index * slot
        root = bass_pitch(pcs[0])
        fifth = root + (pcs[2] - pcs[0]) % 12 if len(pcs) > 2 else root
        if start >= bar_end - score.bar_twelfths:
            notes.append((clock.tick(start), clock.tick(bar_end), root, 90))
            break
        hits: list[tuple[int, int, int]]
        if style.bass == "root_fifth":
            hits = [(start, min(slot, 12), root)] + ([(start + slot // 2, 12, fifth)] if slot >= 24 else [])
        elif style.bass == "eighths":
            hits = [(t, eighth, root) for t in range(start, start + slot, eighth)]
        elif style.bass == "offbeat":
            hits = [(t + eighth, eighth, root + 12 * ((t // 12) % 2)) for t in range(start, start + slot, 12)]
        elif style.bass == "walking":
            next_root = bass_pitch(score.chords[index + 1][0]) if index + 1 < len(score.chords) else root
            approach = _diatonic_neighbour(next_root, scale, above=next_root <= root)
            beats = slot // 12
            line = [*[root, bass_pitch(pcs[1]), fifth][: max(beats - 1, 1)], approach]
            hits = [(start + 12 * k, 12, pitch) for k, pitch in enumerate(line[:beats])]
        elif style.bass == "pop":
            hits = [(start, 18, root)] + (
                [(start + 18, 6, root), (start + 24, slot - 24, fifth)]
                if slot >= 36
                else [(start + 18, slot - 18, root)]
                if slot >= 24
                else []
            )
        else:  # sustain
            hits = [(start, slot, root)]
        for onset, length, pitch in hits:
            if length > 0:
                level = 92 if onset % score.bar_twelfths == 0 else 80
                notes.append((clock.tick(onset), clock.tick(onset + length) - TICKS_PER_QUARTER // 24, pitch, level))
    return Part("Bass", 2, style.bass_program, _jitter(notes, rng))


def _diatonic_neighbour(pitch: int, scale: Sequence[int], above: bool) -> int:
    """The nearest scale pitch above (or below) `pitch`."""
    step = 1 if above else -1
    candidate = pitch + step
    while candidate % 12 not in scale:
        candidate += step
    return candidate


def drum_bar(style: str, beats: int, compound: bool) -> list[tuple[int, int, int]]:
    """One bar of (position in twelfths, GM drum key, velocity) for a drum style and metre."""
    eighth = 4 if compound else 6
    backbeats = [b for b in range(beats) if b % 2 == 1] if beats != 3 else [1, 2]
    strong = [0] + ([2] if beats >= 4 else [])
    offbeats = [t for t in range(0, beats * 12, eighth) if t % 12]
    hits: list[tuple[int, int, int]] = []
    if style == "folk":
        hits += [(12 * b, KICK, 84 if b == 0 else 70) for b in strong]
        hits += [(12 * b, SIDE_STICK, 58) for b in backbeats]
        hits += [(t, TAMBOURINE, 46) for t in offbeats]
    elif style in ("pop", "rock"):
        loud = style == "rock"
        hits += [(12 * b, KICK, 100 if loud else 88) for b in strong]
        if beats >= 4:
            hits.append((12 + eighth, KICK, 70))
        hits += [(12 * b, SNARE, 110 if loud else 92) for b in backbeats]
        hits += [(t, CLOSED_HAT, (84 if loud else 70) if t % 12 == 0 else 58) for t in range(0, beats * 12, eighth)]
    elif style == "swing":
        hits += [(12 * b, RIDE, 78) for b in range(beats)]
        hits += [(12 * b + 8, RIDE, 60) for b in backbeats]
        hits += [(12 * b, PEDAL_HAT, 62) for b in backbeats]
        hits.append((0, KICK, 46))
    elif style == "four_on_floor":
        hits += [(12 * b, KICK, 108) for b in range(beats)]
        hits += [(12 * b, CLAP, 90) for b in backbeats]
        hits += [(t, OPEN_HAT, 72) for t in offbeats]
        hits += [(t, CLOSED_HAT, 44) for t in range(0, beats * 12, 3 if not compound else 2) if t % eighth]
    else:  # soft
        hits.append((0, FLOOR_TOM, 52))
        hits += [(12 * b, SHAKER, 34) for b in range(beats)]
    return hits


def drum_part(score: Score, style: Style, clock: _Clock, rng: np.random.Generator) -> Part:
    notes: list[tuple[int, int, int, int]] = []
    beats = score.bar_twelfths // 12
    pattern = drum_bar(style.drums, beats, score.compound)
    eighth = 4 if score.compound else 6
    hit = TICKS_PER_QUARTER // 8
    for bar in range(score.bars):
        origin = bar * score.bar_twelfths
        if bar == score.bars - 1:
            notes += [(clock.tick(origin), clock.tick(origin) + hit * 4, key, 100) for key in (KICK, CRASH)]
            break
        hits = list(pattern)
        if bar % 8 == 0 and style.drums in ("rock", "pop", "four_on_floor"):
            hits.append((0, CRASH, 96))
        if bar % 8 == 7:  # a fill over the bar's last beat
            fill_start = score.bar_twelfths - 12
            hits = [h for h in hits if h[0] < fill_start]
            tom = LOW_TOM if style.drums in ("folk", "soft") else SNARE
            hits += [(fill_start + t, tom, 64 + 8 * k) for k, t in enumerate(range(0, 12, eighth))]
        for position, key, level in sorted(hits):
            start = clock.tick(origin + position)
            notes.append((start, start + hit, key, level))
    return Part("Drums", DRUM_CHANNEL, 0, _jitter(notes, rng, 6))


def key_signature(tonic_pc: int, mode: str) -> tuple[int, int]:
    """(sharps > 0 or flats < 0, minor flag) for the key signature meta event."""
    major_tonic = (tonic_pc + 3) % 12 if mode == "minor" else tonic_pc
    sharps = (7 * major_tonic) % 12  # steps round the circle of fifths
    return (sharps if sharps <= 6 else sharps - 12), int(mode == "minor")


def arrange(score: Score, style: Style, rng: np.random.Generator) -> Arrangement:
    clock = _Clock(score, style.swing)
    parts = (
        melody_part(score, style, clock, rng),
        chord_part(score, style, clock, rng),
        bass_part(score, style, clock, rng),
        drum_part(score, style, clock, rng),
    )
    quarter_bpm = score.beat_bpm * score.beat_quarters
    return Arrangement(
        parts=parts,
        tempo_us=round(60_000_000 / quarter_bpm),
        time_signature=score.time_signature,
        key_signature=key_signature(score.tonic_pc, score.mode),
        end_tick=clock.tick(score.bars * score.bar_twelfths),
    )


# --- the Standard MIDI File -----------------------------------------------------------------------


def _vlq(value: int) -> bytes:
    """MIDI variable-length quantity."""
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def _meta(kind: int, data: bytes) -> bytes:
    return bytes((0xFF, kind)) + _vlq(len(data)) + data


def _track(setup: Sequence[bytes], events: list[tuple[int, int, int, int, int]], end_tick: int) -> bytes:
    """One MTrk chunk: setup events at tick 0, then (tick, order, status, data1, data2) sorted, running status."""
    body = bytearray()
    running = None
    for data in setup:
        body.append(0)
        if data[0] == 0xFF:
            body += data
            running = None
        else:
            body += data[1:] if data[0] == running else data
            running = data[0]
    last = 0
    for tick, _order, status, data1, data2 in sorted(events):
        delta = tick - last
        body += _vlq(delta) if delta > 0x7F else bytes((delta,))
        body += bytes((data1, data2)) if status == running else bytes((status, data1, data2))
        running = status
        last = tick
    body += _vlq(max(0, end_tick - last)) + _meta(0x2F, b"")
    return b"MTrk" + len(body).to_bytes(4, "big") + bytes(body)


def _note_events(part: Part, end_tick: int) -> list[tuple[int, int, int, int, int]]:
    """Note-on/off events; a repeated pitch is cut where it sounds again, and nothing outlasts end_tick."""
    by_pitch: dict[int, list[tuple[int, int, int]]] = {}
    for start, end, pitch, velocity in part.notes:
        by_pitch.setdefault(pitch, []).append((start, min(end, end_tick), velocity))
    on, off = 0x90 | part.channel, 0x80 | part.channel
    events = []
    for pitch, group in by_pitch.items():
        group.sort()
        for k, (start, end, velocity) in enumerate(group):
            stop = min(end, group[k + 1][0]) if k + 1 < len(group) else end
            if stop > start:
                events.append((start, 1, on, pitch, velocity))
                events.append((stop, 0, off, pitch, 0))
    return events


def encode_midi(arrangement: Arrangement, title: str = "SoundCanvas Blend") -> bytes:
    """The arrangement as a type 1 SMF: a conductor track (tempo, metre, key), then one track per part."""
    numerator, denominator = arrangement.time_signature
    sharps, minor = arrangement.key_signature
    conductor = [
        _meta(0x03, title.encode("latin-1")),
        _meta(0x58, bytes((numerator, denominator.bit_length() - 1, 24, 8))),
        _meta(0x59, bytes((sharps & 0xFF, minor))),
        _meta(0x51, arrangement.tempo_us.to_bytes(3, "big")),
    ]
    tracks = [_track(conductor, [], arrangement.end_tick)]
    for part in arrangement.parts:
        setup = [
            _meta(0x03, part.name.encode("latin-1")),
            bytes((0xC0 | part.channel, part.program)),
            bytes((0xB0 | part.channel, 7, 100)),
        ]
        tracks.append(_track(setup, _note_events(part, arrangement.end_tick), arrangement.end_tick))
    header = b"MThd" + (6).to_bytes(4, "big") + (1).to_bytes(2, "big") + len(tracks).to_bytes(2, "big")
    return header + TICKS_PER_QUARTER.to_bytes(2, "big") + b"".join(tracks)
