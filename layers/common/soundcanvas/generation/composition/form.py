"""Time and form: ticks, bars, sections, swing, and the picture's left-to-right profile over the piece."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any

TICKS_PER_BEAT = 480
STEP = TICKS_PER_BEAT // 4  # one 16th note
STEPS_PER_BAR = 16
BAR = STEP * STEPS_PER_BAR  # 4/4 throughout

# Dynamics per section (a velocity multiplier) and how the outro fades toward the end.
SECTION_DYNAMICS = {"intro": 0.72, "A": 0.88, "B": 1.0, "A2": 0.94, "outro": 0.8}


@dataclass(frozen=True)
class Section:
    name: str  # "intro" | "A" | "B" | "A2" | "outro"
    start_bar: int
    bars: int

    @property
    def end_bar(self) -> int:
        return self.start_bar + self.bars


@dataclass(frozen=True)
class Timeline:
    """The piece's length in ticks, its regular bars and the held final chord that closes it."""

    tempo_us: int  # microseconds per beat, as written in the set_tempo meta event
    end_tick: int  # where every track ends: durationSeconds exactly (± half a tick)
    bars: int  # whole bars of the form before the final chord
    sections: tuple[Section, ...]

    @property
    def final_tick(self) -> int:
        """Start of the closing segment: a held chord from here to end_tick (half a bar to 1.5 bars long)."""
        return self.bars * BAR

    @cached_property
    def _section_of_bar(self) -> tuple[Section, ...]:
        return tuple(s for s in self.sections for _ in range(s.bars))

    def section_at(self, bar: int) -> Section:
        """The section a bar belongs to (the outro for the final chord and beyond)."""
        table = self._section_of_bar
        return table[bar] if 0 <= bar < len(table) else self.sections[-1]


def plan(duration_seconds: float, tempo_bpm: int) -> Timeline:
    """Fit whole 4/4 bars to the duration; the remainder stretches or shortens the final held chord."""
    tempo_us = round(60_000_000 / tempo_bpm)
    end_tick = round(duration_seconds * 1_000_000 * TICKS_PER_BEAT / tempo_us)
    # Bars before the final segment; the final segment is then 0.5..1.5 bars long.
    total = end_tick / BAR
    bars = max(0, round(total) - 1)
    return Timeline(tempo_us=tempo_us, end_tick=end_tick, bars=bars, sections=tuple(_sections(bars)))


def _sections(bars: int) -> list[Section]:
    """Intro, alternating A/B/A2 body sections in 4-bar phrases where possible, outro."""
    if bars <= 0:
        return [Section("outro", 0, 0)]
    if bars < 3:
        return [Section("A", 0, bars - 1), Section("outro", bars - 1, 1)] if bars == 2 else [Section("outro", 0, 1)]
    intro = 1 if bars < 10 else 2 if bars < 28 else 4
    outro = 1 if bars < 10 else 2 if bars < 28 else 4
    body = bars - intro - outro
    # Body sections of roughly 8 bars (at least 4 per section), patterned A B A2 B A2 ...
    count = max(1, min(body // 4, round(body / 8)))
    if count == 2 and body >= 12:
        count = 3  # room for the return of A
    if count >= 4 and count % 2 == 0:
        count -= 1  # end the body on A2
    names = (["A", "B", "A2"] + ["B", "A2"] * max(0, (count - 3) // 2))[:count]
    sections = [Section("intro", 0, intro)]
    start = intro
    # Lengths in whole 4-bar phrases where the body allows, the remainder spread from the front.
    phrases, rest = divmod(body, 4)
    per, extra = divmod(phrases, count)
    lengths = [4 * (per + (1 if i < extra else 0)) for i in range(count)]
    for i in range(rest):
        lengths[i % count] += 1
    for name, length in zip(names, lengths, strict=True):
        if length:
            sections.append(Section(name, start, length))
            start += length
    sections.append(Section("outro", start, outro))
    return sections


def swing_map(swing: float) -> tuple[int, ...]:
    """Where each straight tick inside a beat lands when off-beat 8ths are delayed by `swing` of an 8th."""
    half = TICKS_PER_BEAT // 2
    delay = round(max(0.0, min(0.5, swing)) * half)
    early = [p * (half + delay) // half for p in range(half)]
    late = [half + delay + (p - half) * (half - delay) // half for p in range(half, TICKS_PER_BEAT)]
    return tuple(early + late)


class Swing:
    """Maps straight ticks to swung ticks; beat boundaries never move, so order and lengths stay valid."""

    def __init__(self, swing: float) -> None:
        self._map = swing_map(swing)
        self.active = swing > 0

    def __call__(self, tick: int) -> int:
        if not self.active:
            return tick
        beat, pos = divmod(tick, TICKS_PER_BEAT)
        return beat * TICKS_PER_BEAT + self._map[pos]


def _clean(values: list[Any], default: float) -> list[float]:
    """Numbers clamped to 0..1; NaN becomes the default, non-numbers are dropped; never empty."""
    out = []
    for v in values or ():
        try:
            f = float(v)
        except (TypeError, ValueError):
            continue
        out.append(default if math.isnan(f) else min(1.0, max(0.0, f)))
    return out or [default]


class Profile:
    """The picture's left-to-right strips, sampled at any point 0..1 of the piece (linear interpolation)."""

    def __init__(self, height: list[float], energy: list[float], brightness: list[float], overall_brightness: Any):
        self.height = _clean(height, 0.5)
        self.energy = _clean(energy, 0.3)
        self.brightness = _clean(brightness, _clean([overall_brightness], 0.5)[0])
        self.mean_energy = sum(self.energy) / len(self.energy)

    @staticmethod
    def _at(values: list[float], x: float) -> float:
        if len(values) == 1:
            return values[0]
        pos = min(1.0, max(0.0, x)) * (len(values) - 1)
        i = min(int(pos), len(values) - 2)
        frac = pos - i
        return values[i] * (1 - frac) + values[i + 1] * frac

    def height_at(self, x: float) -> float:
        return self._at(self.height, x)

    def energy_at(self, x: float) -> float:
        return self._at(self.energy, x)

    def brightness_at(self, x: float) -> float:
        return self._at(self.brightness, x)

    def density_at(self, x: float, density: float) -> float:
        """Local note density 0..1: the piece's density scaled by this strip's energy relative to the mean."""
        e = self.energy_at(x)
        relative = e / self.mean_energy if self.mean_energy > 0.02 else 1.0
        relative = min(2.0, relative)
        return min(1.0, max(0.0, density * (0.4 + 0.6 * relative) * 0.8 + 0.2 * e))
