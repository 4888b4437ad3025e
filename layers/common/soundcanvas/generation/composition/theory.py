"""Scales, diatonic chords, progressions and voicings: everything pitched stays inside key + scale."""

from __future__ import annotations

from dataclasses import dataclass

from soundcanvas.generation.genres import KEYS, SCALES

# Chord progressions as 0-based scale degrees, one chord per harmonic slot. Each scale has pools for
# the A sections and for the contrasting B section; diminished/augmented roots are avoided.
PROGRESSIONS: dict[str, tuple[tuple[tuple[int, ...], ...], tuple[tuple[int, ...], ...]]] = {
    "major": (
        ((0, 4, 5, 3), (0, 5, 3, 4), (0, 3, 0, 4), (0, 2, 3, 4)),
        ((3, 4, 2, 5), (5, 3, 0, 4), (1, 4, 0, 5), (3, 0, 3, 4)),
    ),
    "minor": (
        ((0, 5, 2, 6), (0, 3, 4, 0), (0, 5, 3, 4), (0, 6, 5, 6)),
        ((5, 6, 0, 0), (3, 5, 6, 4), (2, 6, 3, 4), (5, 2, 6, 3)),
    ),
    "harmonic_minor": (
        ((0, 3, 4, 0), (0, 5, 3, 4), (0, 5, 1, 4), (0, 3, 0, 4)),
        ((5, 3, 4, 4), (3, 4, 0, 5), (5, 1, 4, 0), (3, 0, 5, 4)),
    ),
    "dorian": (
        ((0, 3, 0, 3), (0, 6, 3, 0), (0, 1, 6, 0), (0, 2, 3, 0)),
        ((3, 4, 0, 6), (2, 3, 6, 0), (6, 2, 3, 4), (1, 4, 2, 3)),
    ),
    "phrygian": (
        ((0, 1, 0, 6), (0, 1, 2, 1), (0, 6, 5, 1)),
        ((5, 6, 0, 1), (3, 2, 1, 0), (2, 1, 6, 0)),
    ),
    "lydian": (
        ((0, 1, 0, 1), (0, 1, 4, 0), (0, 4, 1, 0)),
        ((5, 1, 4, 0), (2, 5, 1, 1), (6, 5, 1, 4)),
    ),
    "mixolydian": (
        ((0, 6, 3, 0), (0, 3, 6, 0), (0, 4, 3, 0)),
        ((3, 5, 6, 0), (1, 3, 6, 0), (4, 5, 3, 6)),
    ),
    # Five-note scales (degrees 0..4): chords are fitted from the scale's own notes (see chord_pcs).
    "pentatonic": (
        ((0, 3, 4, 0), (0, 4, 3, 0), (0, 1, 4, 3)),
        ((4, 3, 0, 1), (1, 3, 4, 0), (3, 4, 1, 1)),
    ),
}


@dataclass(frozen=True)
class Chord:
    degree: int
    pcs: tuple[int, ...]  # pitch classes, root first

    @property
    def root(self) -> int:
        return self.pcs[0]


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

    def progressions(self) -> tuple[tuple[tuple[int, ...], ...], tuple[tuple[int, ...], ...]]:
        """(A pool, B pool) of degree progressions for this scale."""
        if self.size == 5:
            return PROGRESSIONS["pentatonic"]
        return PROGRESSIONS.get(self.scale_name, PROGRESSIONS["major"])


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
