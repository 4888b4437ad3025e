"""Time and form: ticks, bars fitted to whole 4-bar phrases (forms.py lays the genre's sections over them),
swing, and the picture's left-to-right profile over the piece."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from .forms import FRAME, PHRASE, layout

TICKS_PER_BEAT = 480
STEP = TICKS_PER_BEAT // 4  # one 16th note
STEPS_PER_BAR = 16
BAR = STEP * STEPS_PER_BAR  # 4/4 throughout

MAX_TEMPO_SHIFT = 0.04  # the most the tempo moves (either way) so the form fills whole phrases


@dataclass(frozen=True)
class Section:
    """A run of bars playing one material at one intensity (see forms.py for the templates per genre)."""

    name: str  # unique in the piece: "intro", "verse", "chorus2", "drop", "breakdown", "A2", "outro", ...
    start_bar: int
    bars: int
    material: str = ""  # "A" main, "B" contrasting, "C" a third (bridge, breakdown); "" derives it from the name
    intensity: float = 0.7  # 0..1: how many layers play and how loud (vertical layering)

    def __post_init__(self) -> None:
        if not self.material:
            object.__setattr__(self, "material", "B" if self.name == "B" else "A")

    @property
    def end_bar(self) -> int:
        return self.start_bar + self.bars

    @property
    def frame(self) -> bool:
        """Intro or outro: the instrumental frame around the body."""
        return self.name in FRAME


@dataclass(frozen=True)
class Timeline:
    """The piece's length in ticks, its regular bars and the held final chord that closes it."""

    tempo_us: int  # microseconds per beat, as written in the set_tempo meta event
    end_tick: int  # where every track ends: durationSeconds exactly (± half a tick)
    bars: int  # whole bars of the form before the final chord
    sections: tuple[Section, ...]

    @property
    def final_tick(self) -> int:
        """Start of the closing segment: a held chord from here to end_tick (half a bar or more, about one)."""
        return self.bars * BAR

    @cached_property
    def _section_of_bar(self) -> tuple[Section, ...]:
        return tuple(s for s in self.sections for _ in range(s.bars))

    def section_at(self, bar: int) -> Section:
        """The section a bar belongs to (the outro for the final chord and beyond)."""
        table = self._section_of_bar
        return table[bar] if 0 <= bar < len(table) else self.sections[-1]


def fit(duration_seconds: float, tempo_bpm: int) -> tuple[int, int]:
    """(tempo in microseconds per beat, bars of the form): the bars a whole number of 4-bar phrases followed by a
    held final chord of about a bar. The tempo moves by at most MAX_TEMPO_SHIFT to get there; what it cannot
    absorb lengthens the final chord (never below half a bar). Pieces too short for a phrase keep the tempo."""
    nominal = 60_000_000 / tempo_bpm
    total = duration_seconds * 1_000_000 * TICKS_PER_BEAT / nominal / BAR  # bars at the requested tempo
    if total < PHRASE + 0.5:
        return round(nominal), max(0, round(total) - 1)
    best: tuple[float, float, float, int] | None = None  # (distance of the final chord from a bar, shift, ...)
    for bars in range(PHRASE, int(total * (1 + MAX_TEMPO_SHIFT)) + 1, PHRASE):
        # The requested tempo if it already leaves a final chord of half a bar to a bar and a half.
        exact = 0.5 <= total - bars <= 1.5
        speed = 1.0 if exact else min(1 + MAX_TEMPO_SHIFT, max(1 - MAX_TEMPO_SHIFT, (bars + 1) / total))
        tail = total * speed - bars
        if tail < 0.5:
            continue
        score = (0.0 if speed == 1.0 else abs(tail - 1), abs(speed - 1), speed, bars)
        if best is None or score < best:
            best = score
    if best is None:  # not reached: one phrase always leaves half a bar when total >= PHRASE + 0.5
        return round(nominal), PHRASE
    return round(nominal / best[2]), best[3]


def plan(duration_seconds: float, tempo_bpm: int, genre: str = "") -> Timeline:
    """Whole 4/4 bars in 4-bar phrases laid out in the genre's form; the remainder is the held final chord."""
    tempo_us, bars = fit(duration_seconds, tempo_bpm)
    end_tick = round(duration_seconds * 1_000_000 * TICKS_PER_BEAT / tempo_us)
    return Timeline(tempo_us=tempo_us, end_tick=end_tick, bars=bars, sections=tuple(_sections(genre, bars)))


def _sections(genre: str, bars: int) -> list[Section]:
    """The genre's form template laid over the bars (see forms.py); a piece without bars is an empty outro."""
    sections: list[Section] = []
    start = 0
    for name, material, intensity, length in layout(genre, bars):
        sections.append(Section(name, start, length, material, intensity))
        start += length
    return sections or [Section("outro", 0, 0)]


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
