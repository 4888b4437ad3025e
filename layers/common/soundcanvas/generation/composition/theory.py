"""Scales, chords and voicings: diatonic chords of the key + scale, named chromatic chords (a major dominant,
secondary dominants, borrowed chords) where a genre's harmony asks for them, close and power-chord voicings."""

from __future__ import annotations

from dataclasses import dataclass

from soundcanvas.generation.genres import KEYS, SCALES

PARENT_SCALES = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10)}


@dataclass(frozen=True)
class Chord:
    degree: int  # the scale degree of the root (for a chromatic root: the degree it stands in for)
    pcs: tuple[int, ...]  # pitch classes, root first
    second: Chord | None = None  # the chord of the bar's second half, when the harmony moves mid-bar

    @property
    def root(self) -> int:
        return self.pcs[0]

    @property
    def diminished(self) -> bool:
        return len(self.pcs) >= 3 and (self.pcs[2] - self.pcs[0]) % 12 == 6

    def halves(self) -> tuple[Chord, Chord]:
        """The chords of the bar's first and second halves."""
        first = Chord(self.degree, self.pcs)
        return first, self.second or first

    def with_second(self, second: Chord) -> Chord:
        """This chord for the bar's first half, `second` for its second half (one chord if they are the same)."""
        first = Chord(self.degree, self.pcs)
        return first if second.pcs == first.pcs else Chord(self.degree, self.pcs, Chord(second.degree, second.pcs))


class Harmony:
    """A key + scale: the allowed pitches, their scale indices, and diatonic chords."""

    def __init__(self, key: str, scale: str) -> None:
        self.tonic = KEYS.index(key)
        self.offsets = SCALES[scale]
        self.scale_name = scale
        self.size = len(self.offsets)
        self.pcs = frozenset((self.tonic + o) % 12 for o in self.offsets)
        # Every MIDI pitch of the scale, ascending; melodies move by indices into this list.
        self.pitches: tuple[int, ...] = tuple(p for p in range(128) if p % 12 in self.pcs)
        self._index_of = {p: i for i, p in enumerate(self.pitches)}

    def index_of(self, pitch: int) -> int:
        return self._index_of[pitch]

    def nearest_index(self, pitch: float) -> int:
        """Index of the scale pitch closest to `pitch` (ties go down)."""
        best = min(self.pitches, key=lambda p: (abs(p - pitch), p))
        return self._index_of[best]

    def degree_pc(self, degree: int) -> int:
        return (self.tonic + self.offsets[degree % self.size]) % 12

    def chord(self, degree: int, seventh: bool = False) -> Chord:
        """The diatonic chord on a scale degree: stacked thirds in 7-note scales, fitted in 5-note ones."""
        degree %= self.size
        if self.size == 7:
            steps = (0, 2, 4, 6) if seventh else (0, 2, 4)
            return Chord(degree, tuple(self.degree_pc(degree + s) for s in steps))
        root = self.degree_pc(degree)
        rel = {(pc - root) % 12 for pc in self.pcs}
        # Fit a third (or a sus tone), a fifth and optionally a seventh from the scale's own notes.
        third = next((i for i in (4, 3, 2, 5) if i in rel), None)
        fifth = next((i for i in (7, 8, 6, 9) if i in rel and i != third), None)
        tones = [0] + [i for i in (third, fifth) if i is not None]
        if seventh:
            sev = next((i for i in (10, 11, 9) if i in rel and i not in tones), None)
            if sev is not None:
                tones.append(sev)
        return Chord(degree, tuple((root + i) % 12 for i in tones))

    def parent_degree(self, degree: int) -> int:
        """This scale's degree for a degree of the parent seven-note scale (the nearest one in a pentatonic scale)."""
        if self.size == 7:
            return degree % 7
        parent = PARENT_SCALES["minor" if 3 in self.offsets else "major"]
        target = parent[degree % 7]
        return min(range(self.size), key=lambda i: (abs(self.offsets[i] - target), self.offsets[i]))

    def named_chord(self, root: int, intervals: tuple[int, ...], degree: int, ninth: bool = False) -> Chord:
        """A chord built on `root` semitones above the tonic (its notes may leave the scale)."""
        pc = (self.tonic + root) % 12
        tones = [(pc + i) % 12 for i in intervals]
        if ninth and (pc + 2) % 12 in self.pcs:
            tones.append((pc + 2) % 12)
        return Chord(self.parent_degree(degree), tuple(tones))

    def chromatic(self, chord: Chord) -> bool:
        return any(pc not in self.pcs for pc in chord.pcs)


def pitch_in_range(pc: int, low: int, high: int) -> int:
    """The lowest pitch with pitch class `pc` at or above `low` (wrapping down if it would pass `high`)."""
    pitch = low + (pc - low) % 12
    return pitch - 12 if pitch > high else pitch


def voice(chord: Chord, previous: tuple[int, ...] | None, low: int = 52, high: int = 76) -> tuple[int, ...]:
    """A close voicing of the chord within [low, high] (at least 22 semitones wide), near the previous one."""
    n = len(chord.pcs)
    candidates: list[tuple[int, ...]] = []
    for rotation in range(n):
        pcs = chord.pcs[rotation:] + chord.pcs[:rotation]
        for base in (low, low + 12):
            first = base + (pcs[0] - base) % 12
            notes = [first]
            for pc in pcs[1:]:
                notes.append(notes[-1] + 1 + (pc - notes[-1] - 1) % 12)
            if notes[-1] <= high:
                candidates.append(tuple(notes))
    centre = sum(previous) / len(previous) if previous else (low + high) / 2 - 2

    def cost(v: tuple[int, ...]) -> tuple[float, tuple[int, ...]]:
        spread = abs(sum(v) / len(v) - centre)
        if previous:
            spread += sum(min(abs(p - q) for q in previous) for p in v) / len(v)
        return spread, v

    return min(candidates, key=cost)


def power_voicing(chord: Chord, low: int = 40, high: int = 64) -> tuple[int, ...]:
    """Root, perfect fifth and octave (a power chord), the root in [low, low + 12)."""
    root = pitch_in_range(chord.root, low, high)
    return (root, root + 7, root + 12)
