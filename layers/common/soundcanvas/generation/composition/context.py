"""What every part writer reads: the parameters resolved into harmony, form, profile and chords."""

from __future__ import annotations

import random
from dataclasses import dataclass

from soundcanvas.generation.genres import Genre

from . import harmony_model, progressions
from .form import BAR, Profile, Swing, Timeline
from .theory import Chord, Harmony

Note = tuple[int, int, int, int]  # (start tick, end tick, pitch, velocity)

# Velocity multiplier of a section: its intensity mapped onto this range; the outro fades by OUTRO_FADE to the end.
SECTION_DYNAMICS = (0.74, 1.0)
OUTRO_FADE = 0.2


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
        """The chord sounding at `tick` (the bar's second-half chord from its middle on)."""
        chord = self.chords[min(tick // BAR, len(self.chords) - 1)]
        return chord.second if chord.second is not None and tick % BAR >= BAR // 2 else chord

    def position(self, tick: int) -> float:
        """Where a tick sits in the piece, 0..1 (the profile's left-to-right axis)."""
        return min(1.0, tick / self.timeline.end_tick) if self.timeline.end_tick else 0.0

    def dynamics(self, tick: int) -> float:
        """Velocity multiplier for the section at `tick` (from its intensity); the outro and final chord fade."""
        bar = tick // BAR
        section = self.timeline.section_at(bar)
        low, high = SECTION_DYNAMICS
        level = low + (high - low) * section.intensity
        if bar >= self.timeline.bars or section.name == "outro":
            start = section.start_bar * BAR if section.name == "outro" else self.timeline.final_tick
            span = max(1, self.timeline.end_tick - start)
            return level - OUTRO_FADE * (tick - start) / span
        return level

    def velocity(self, base: float, tick: int, brightness_weight: float = 0.3) -> int:
        """A MIDI velocity from a base level, the section's dynamics and the picture's brightness here."""
        brightness = self.profile.brightness_at(self.position(tick))
        v = base * self.dynamics(tick) * (1 - brightness_weight / 2 + brightness_weight * brightness)
        return max(1, min(127, round(v)))


def chord_plan(
    genre: Genre, harmony: Harmony, timeline: Timeline, rng: random.Random, mode: str = "heuristic"
) -> tuple[Chord, ...]:
    """One chord per bar from the genre's vocabulary: a progression per material (A, then a different one
    for each contrasting material), half cadences where the genre phrases, and the genre's cadence into
    the final tonic. In model mode the progressions are walks of the trained degree-transition table."""
    spec = progressions.genre_harmony(genre.name)
    family = progressions.family(harmony.offsets)
    style = spec.styles.get(family) or next(iter(spec.styles.values()))
    chosen: dict[str, progressions.Progression] = {}
    for section in timeline.sections:
        material = section.material
        if material in chosen:
            continue
        if mode == "model":
            chosen[material] = progressions.coloured(harmony_model.walk(rng, family, len(chosen)), spec)
            continue
        pool = style.pools.get(material) or style.pools["B"]
        fresh = [p for p in pool if p not in chosen.values()] or list(pool)
        chosen[material] = rng.choice(fresh)
    if "A" not in chosen:
        chosen["A"] = style.pools["A"][0]
    motions = progressions.CADENCE_MOTIONS.get(genre.name, frozenset({7}))
    maker = progressions.ChordMaker(harmony, spec)
    return progressions.plan(spec, style, maker, timeline, chosen, motions, rng)
