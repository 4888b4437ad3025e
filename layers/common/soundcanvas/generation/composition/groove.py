"""How a drummer plays a pattern: per-genre micro-timing, hat accents and velocity spread, and where phrases end.

Pure functions over a `Feel`; every random draw comes from the caller's seeded stream, so a piece's groove
is the same in every process.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from .form import STEP, Section

KICKS = frozenset({35, 36})
BACKBEAT_KEYS = frozenset({37, 38, 39, 40})  # side stick, snares, clap
TIME_KEYS = frozenset({42, 44, 46, 51, 53, 54, 70})  # hats, rides, tambourine, maracas
PHRASE_BARS = 4

# Hat and ride accents over one bar of 16ths (a multiplier on the written level).
OFFBEAT_ACCENTS = (0.8, 0.6, 1.0, 0.6, 0.8, 0.6, 1.0, 0.6, 0.8, 0.6, 1.0, 0.6, 0.8, 0.6, 1.0, 0.65)
DOWNBEAT_ACCENTS = (1.0, 0.6, 0.8, 0.6, 0.95, 0.6, 0.8, 0.6, 1.0, 0.6, 0.8, 0.6, 0.95, 0.6, 0.8, 0.65)
SPANG_A_LANG = (0.85, 0.6, 0.7, 0.6, 1.0, 0.6, 0.75, 0.6, 0.85, 0.6, 0.7, 0.6, 1.0, 0.6, 0.75, 0.6)  # 2 and 4 ride


@dataclass(frozen=True)
class Feel:
    """Where each role sits against the grid (ms, + = behind the beat) and how much it varies."""

    kick_ms: float
    backbeat_ms: float
    time_ms: float  # hats and rides
    other_ms: float  # toms and cymbals
    jitter_ms: float  # spread of the random offset (a triangular draw, so it stays bounded)
    velocity_spread: float  # ± velocity units
    shuffle: float  # delay of the off 16ths, as a share of a 16th (on top of the genre's 8th swing)
    accents: tuple[float, ...]


FEELS: dict[str, Feel] = {
    "four_on_floor": Feel(0, 2, 4, 0, 1.5, 5, 0.12, OFFBEAT_ACCENTS),
    "techno": Feel(0, 1, 2, 0, 1.0, 3, 0.0, OFFBEAT_ACCENTS),
    "boom_bap": Feel(0, 14, 5, 4, 4.0, 8, 0.0, DOWNBEAT_ACCENTS),
    "lofi": Feel(4, 20, 8, 6, 6.0, 10, 0.0, DOWNBEAT_ACCENTS),
    "ambient": Feel(0, 0, 0, 0, 8.0, 8, 0.0, DOWNBEAT_ACCENTS),
    "rock": Feel(0, 4, 0, 2, 3.0, 7, 0.0, DOWNBEAT_ACCENTS),
    "swing": Feel(2, 8, -4, 4, 5.0, 9, 0.0, SPANG_A_LANG),
    "pop": Feel(0, 3, 1, 2, 2.0, 5, 0.0, DOWNBEAT_ACCENTS),
    "cinematic": Feel(0, 0, 0, 3, 3.0, 6, 0.0, DOWNBEAT_ACCENTS),
}
STRAIGHT = Feel(0, 0, 0, 0, 0.0, 0, 0.0, (1.0,) * 16)


def feel_for(style: str) -> Feel:
    return FEELS.get(style, STRAIGHT)


def ticks_per_ms(tempo_us: int, ticks_per_beat: int) -> float:
    return ticks_per_beat * 1000 / tempo_us


def role_offset_ms(feel: Feel, key: int) -> float:
    if key in KICKS:
        return feel.kick_ms
    if key in BACKBEAT_KEYS:
        return feel.backbeat_ms
    if key in TIME_KEYS:
        return feel.time_ms
    return feel.other_ms


def shuffled(step: int, feel: Feel) -> int:
    """The straight tick of a 16th inside its bar, the off 16ths delayed by the feel's shuffle."""
    return step * STEP + (round(feel.shuffle * STEP) if step % 2 else 0)


def nudge(feel: Feel, key: int, rng: random.Random, tick_per_ms: float) -> int:
    """A hit's micro-timing in ticks: the role's place against the beat plus a bounded human spread."""
    spread = rng.triangular(-feel.jitter_ms, feel.jitter_ms) if feel.jitter_ms else 0.0
    return round((role_offset_ms(feel, key) + spread) * tick_per_ms)


def accent(feel: Feel, key: int, step: int) -> float:
    return feel.accents[step % 16] if key in TIME_KEYS else 1.0


def spread_velocity(velocity: int, feel: Feel, rng: random.Random) -> int:
    delta = round(rng.triangular(-feel.velocity_spread, feel.velocity_spread)) if feel.velocity_spread else 0
    return max(1, min(127, velocity + delta))


def thinned(hits: list[tuple[int, int]], energy: float, need: float) -> list[tuple[int, int]]:
    """A line the picture is too calm for: its hits on the beat only, softer the further below its need."""
    if energy >= need:
        return hits
    scale = 0.55 + 0.45 * max(0.0, energy) / need
    return [(step, round(level * scale)) for step, level in hits if step % 4 == 0]


def phrase_end(section: Section, bar: int) -> bool:
    """Every 4th bar of a section, and its last bar."""
    rel = bar - section.start_bar
    return rel % PHRASE_BARS == PHRASE_BARS - 1 or bar == section.end_bar - 1


def clamp_tick(tick: int, length: int, end_tick: int) -> int:
    """Keep a nudged hit inside the piece: never before 0, and its note-off by end_tick."""
    return max(0, min(tick, end_tick - length - 1))
