"""What every part writer reads: the parameters resolved into harmony, form, profile and chords."""

from __future__ import annotations

import random
from dataclasses import dataclass

from soundcanvas.generation.genres import Genre

from .form import BAR, SECTION_DYNAMICS, Profile, Swing, Timeline
from .theory import Chord, Harmony

Note = tuple[int, int, int, int]  # (start tick, end tick, pitch, velocity)

SEVENTH_GENRES = frozenset({"jazz", "lofi", "hiphop"})
SLOW_HARMONY_GENRES = frozenset({"ambient", "cinematic"})


@dataclass(frozen=True)
class Context:
    genre: Genre
    harmony: Harmony
    timeline: Timeline
    profile: Profile
    swing: Swing
    chords: tuple[Chord, ...]  # one per bar, then the final (tonic) chord at index timeline.bars
    energy: float  # 0..1
    density: float  # 0..1
    seed: int

    @staticmethod
    def stream(seed: int, part: str) -> random.Random:
        """An independent, reproducible random stream per part (string seeds hash the same in every process)."""
        return random.Random(f"{seed}:{part}")

    def rng(self, part: str) -> random.Random:
        return self.stream(self.seed, part)

    def chord_at_tick(self, tick: int) -> Chord:
        return self.chords[min(tick // BAR, len(self.chords) - 1)]

    def position(self, tick: int) -> float:
        """Where a tick sits in the piece, 0..1 (the profile's left-to-right axis)."""
        return min(1.0, tick / self.timeline.end_tick) if self.timeline.end_tick else 0.0

    def dynamics(self, tick: int) -> float:
        """Velocity multiplier for the section at `tick`; the outro and final chord fade out."""
        bar = tick // BAR
        section = self.timeline.section_at(bar)
        if bar >= self.timeline.bars or section.name == "outro":
            start = section.start_bar * BAR if section.name == "outro" else self.timeline.final_tick
            span = max(1, self.timeline.end_tick - start)
            return SECTION_DYNAMICS["outro"] - 0.25 * (tick - start) / span
        return SECTION_DYNAMICS[section.name]

    def velocity(self, base: float, tick: int, brightness_weight: float = 0.3) -> int:
        """A MIDI velocity from a base level, the section's dynamics and the picture's brightness here."""
        brightness = self.profile.brightness_at(self.position(tick))
        v = base * self.dynamics(tick) * (1 - brightness_weight / 2 + brightness_weight * brightness)
        return max(1, min(127, round(v)))


def chord_plan(genre: Genre, harmony: Harmony, timeline: Timeline, rng: random.Random) -> tuple[Chord, ...]:
    """One chord per bar: an A progression, a different B progression, ending on the tonic."""
    pool_a, pool_b = harmony.progressions()
    prog_a = rng.choice(pool_a)
    prog_b = rng.choice([p for p in pool_b if p != prog_a])
    seventh = genre.name in SEVENTH_GENRES
    per_chord = 2 if genre.name in SLOW_HARMONY_GENRES and timeline.bars >= 16 else 1
    cache: dict[int, Chord] = {}

    def chord(degree: int) -> Chord:
        if degree not in cache:
            cache[degree] = harmony.chord(degree, seventh)
        return cache[degree]

    chords = []
    for bar in range(timeline.bars):
        section = timeline.section_at(bar)
        prog = prog_b if section.name == "B" else prog_a
        rel = bar - section.start_bar
        chords.append(chord(prog[(rel // per_chord) % len(prog)]))
    chords.append(chord(0))
    return tuple(chords)
