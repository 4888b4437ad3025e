"""Drum patterns per `Genre.drum_style` on General MIDI channel 10: a main groove, bar-to-bar variations, fills
at phrase ends, a crash into each section, and the genre's feel (groove.py) on every hit.

A calm picture thins the kit (hits on the beat only, softer) instead of switching parts off.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from .context import Context, Note
from .form import BAR, STEP, TICKS_PER_BEAT, Section
from .groove import (
    accent,
    clamp_tick,
    feel_for,
    nudge,
    phrase_end,
    shuffled,
    spread_velocity,
    thinned,
    ticks_per_ms,
)

# General MIDI percussion keys.
KICK, SIDE_STICK, SNARE, CLAP = 36, 37, 38, 39
CLOSED_HAT, PEDAL_HAT, OPEN_HAT = 42, 44, 46
LOW_FLOOR_TOM, LOW_TOM, MID_TOM, HIGH_TOM = 41, 45, 47, 50
CRASH, RIDE, RIDE_BELL, TAMBOURINE, MARACAS = 49, 51, 53, 54, 70

HATS = frozenset({CLOSED_HAT, PEDAL_HAT, OPEN_HAT, RIDE, RIDE_BELL, TAMBOURINE, MARACAS})
BACKBEAT = frozenset({SNARE, CLAP, SIDE_STICK})
HIT_LENGTH = STEP // 3  # drum notes are short; 40 ticks stays shorter than any swung 16th

# One bar of 16 steps per line: X accent, x strong, o normal, g ghost, . rest; in a variation "-" removes the hit.
LEVELS = {"X": 118, "x": 100, "o": 78, "g": 48}

Line = tuple[int, str, float]  # (drum key, 16-step pattern, energy below which the line is thinned)
Overlay = tuple[tuple[int, str], ...]  # a variation or a fill: (drum key, pattern) lines laid over a bar


@dataclass(frozen=True)
class Style:
    main: tuple[Line, ...]
    alt: tuple[Line, ...]  # the B sections
    variations: tuple[Overlay, ...]  # laid over the 2nd (and sometimes 3rd) bar of a phrase
    short_fills: tuple[Overlay, ...]  # about a beat, every 4th bar (aligned to the bar's end)
    long_fills: tuple[Overlay, ...]  # two beats, every 8th bar and into the next section
    ghosts: tuple[tuple[int, tuple[int, ...]], ...] = ()  # (key, steps) where a ghost note may fall
    keep_in_fill: frozenset[int] = frozenset()  # keys that keep playing under a fill
    crash: bool = True  # a crash on the downbeat that opens each section


STYLES: dict[str, Style] = {
    "four_on_floor": Style(
        main=(
            (KICK, "x...x...x...x...", 0),
            (CLAP, "....x.......x...", 0.2),
            (CLOSED_HAT, "..o...o...o...o.", 0),
            (CLOSED_HAT, "g.g.g.g.g.g.g.g.", 0.6),
        ),
        alt=(
            (KICK, "x...x...x...x...", 0),
            (CLAP, "....x.......x...", 0),
            (OPEN_HAT, "..o...o...o...o.", 0),
            (CLOSED_HAT, "gggggggggggggggg", 0.45),
            (TAMBOURINE, "....o.......o...", 0.3),
        ),
        variations=(
            ((OPEN_HAT, "..............o."), (CLOSED_HAT, "..............-.")),
            ((CLAP, "...............g"),),
            ((CLOSED_HAT, "...g...g...g...g"),),
            ((CLAP, "..........g....."), (MARACAS, "g.g.g.g.g.g.g.g.")),
            ((RIDE, "..o...o...o...o."),),
        ),
        short_fills=(((SNARE, "gooo"),), ((CLAP, "ogoo"),), ((SNARE, ".ooo"), (CLAP, "..x."))),
        long_fills=(((SNARE, "ggoooxxx"),), ((SNARE, "o.o.oooo"),), ((CLAP, "o..o..o."), (SNARE, "....ooxx"))),
        keep_in_fill=frozenset({KICK}),
    ),
    "techno": Style(
        main=(
            (KICK, "X...X...X...X...", 0),
            (CLOSED_HAT, "..x...x...x...x.", 0),
            (CLOSED_HAT, "gg.ggg.ggg.ggg.g", 0.5),
            (CLAP, "....o.......o...", 0.4),
        ),
        alt=(
            (KICK, "X...X...X...X..g", 0),
            (OPEN_HAT, "..x...x...x...x.", 0),
            (RIDE, "o.o.o.o.o.o.o.o.", 0.3),
            (CLAP, "....x.......x...", 0),
        ),
        variations=(
            ((KICK, "..............g."),),
            ((CLOSED_HAT, "g.g.g.g.g.g.g.g."),),
            ((CLAP, "...............g"),),
            ((OPEN_HAT, "..............x."), (CLOSED_HAT, "..............-.")),
            ((RIDE_BELL, "..g.......g....."),),
        ),
        short_fills=(((CLAP, "oxox"),), ((SNARE, "gooo"),), ((CLAP, ".gox"),)),
        long_fills=(((CLAP, "o.o.oxox"),), ((SNARE, "ggoooxxx"),), ((SNARE, "g.g.g.gg"), (CLAP, "......ox"))),
        keep_in_fill=frozenset({KICK}),
    ),
    "boom_bap": Style(
        main=(
            (KICK, "x.........x.....", 0),
            (SNARE, "....x.......x...", 0),
            (CLOSED_HAT, "o.o.o.o.o.o.o.o.", 0),
            (KICK, ".......g.....g..", 0.55),
        ),
        alt=(
            (KICK, "x......x..x.....", 0),
            (SNARE, "....x.......x..g", 0),
            (CLOSED_HAT, "o.oo.oo.o.oo.oo.", 0),
            (OPEN_HAT, "..............o.", 0.4),
        ),
        variations=(
            ((KICK, "..........-..x.."),),
            ((KICK, "...x............"),),
            ((OPEN_HAT, "......o........."), (CLOSED_HAT, "......-.........")),
            ((CLOSED_HAT, ".......g.......g"),),
            ((KICK, "..x.......x....."),),
        ),
        short_fills=(((SNARE, "xgoo"),), ((SNARE, ".gox"), (KICK, "x...")), ((SNARE, "xgxo"),)),
        long_fills=(
            ((SNARE, "....xgoo"), (KICK, "x.x.....")),
            ((SNARE, "o..o..xo"),),
            ((SNARE, "..g.x.gx"), (KICK, "x.....x.")),
        ),
        ghosts=((SNARE, (3, 7, 9, 11, 15)), (KICK, (3, 13, 15))),
    ),
    "lofi": Style(
        main=((KICK, "o......o..o.....", 0), (SIDE_STICK, "....o.......o...", 0), (CLOSED_HAT, "g.g.g.g.g.g.g.g.", 0)),
        alt=(
            (KICK, "o.....o...o..o..", 0),
            (SNARE, "....o.......o...", 0),
            (CLOSED_HAT, "g.ggg.ggg.ggg.gg", 0),
            (MARACAS, "..g...g...g...g.", 0.3),
        ),
        variations=(
            ((KICK, ".......-.o......"),),
            ((KICK, "...g............"),),
            ((CLOSED_HAT, ".g...g...g...g.."),),
            ((OPEN_HAT, "..............g."), (CLOSED_HAT, "..............-.")),
            ((SIDE_STICK, "...............g"),),
        ),
        short_fills=(((SIDE_STICK, "oggo"),), ((SNARE, "ggoo"),), ((SIDE_STICK, "oggg"), (KICK, "...o"))),
        long_fills=(((SIDE_STICK, "o...o.gg"), (KICK, "..o.....")), ((SNARE, "g.g.o.go"),)),
        ghosts=((SNARE, (7, 9, 15)), (KICK, (5, 13))),
        crash=False,
    ),
    "ambient": Style(
        main=((MARACAS, "g.......g.......", 0.35),),
        alt=((KICK, "g...............", 0.15), (MARACAS, "g...g...g...g...", 0.2), (RIDE_BELL, "........g.......", 0.5)),
        variations=(
            ((MARACAS, "....g.......g..."),),
            ((RIDE_BELL, "........g......."),),
            ((KICK, "g..............."),),
            ((MARACAS, "..g...g...g...g."),),
            ((MARACAS, "......g.......g."), (RIDE_BELL, "....g...........")),
            ((MARACAS, "..g.......g....."),),
            ((RIDE_BELL, "............g..."), (MARACAS, "...............g")),
        ),
        short_fills=(((LOW_FLOOR_TOM, "gggg"),), ((LOW_TOM, "gg.."), (LOW_FLOOR_TOM, "..gg"))),
        long_fills=(
            ((MARACAS, "gggggggg"), (LOW_FLOOR_TOM, "g.g.g.gg")),
            ((LOW_TOM, "g.g....."), (LOW_FLOOR_TOM, "....gggg")),
        ),
        crash=False,
    ),
    "rock": Style(
        main=((KICK, "x.....x.x.......", 0), (SNARE, "....x.......x...", 0), (CLOSED_HAT, "o.o.o.o.o.o.o.o.", 0)),
        alt=(
            (KICK, "x.x...x.x.x.....", 0),
            (SNARE, "....X.......X...", 0),
            (RIDE, "x.o.x.o.x.o.x.o.", 0),
        ),
        variations=(
            ((KICK, ".......x........"),),
            ((KICK, "..x..........x.."),),
            ((OPEN_HAT, "..............o."), (CLOSED_HAT, "..............-.")),
            ((SNARE, "...............g"),),
            ((KICK, "...........x...."),),
        ),
        short_fills=(
            ((SNARE, "xo.."), (HIGH_TOM, "..o."), (LOW_FLOOR_TOM, "...x")),
            ((SNARE, "oooo"),),
            ((HIGH_TOM, "oo.."), (LOW_TOM, "..oo")),
        ),
        long_fills=(
            ((SNARE, "oooo...."), (HIGH_TOM, "....oo.."), (LOW_TOM, "......o."), (LOW_FLOOR_TOM, ".......x")),
            ((SNARE, "x..x..x."), (LOW_FLOOR_TOM, "..x..x.x"), (KICK, "x..x....")),
            ((SNARE, "xoxoxoxo"),),
        ),
        ghosts=((SNARE, (7, 9, 15)),),
    ),
    "swing": Style(
        main=(
            (RIDE, "x...o.o.x...o.o.", 0),
            (PEDAL_HAT, "....o.......o...", 0),
            (KICK, "g...g...g...g...", 0.5),
            (SNARE, "..........g.....", 0.3),
        ),
        alt=(
            (RIDE, "x...o.o.x...o.o.", 0),
            (PEDAL_HAT, "....o.......o...", 0),
            (SNARE, "......g.......g.", 0.3),
            (KICK, "g.........g.....", 0),
        ),
        variations=(
            ((SNARE, "...g............"),),
            ((SNARE, "..........g....g"),),
            ((SNARE, ".......g...g...."),),
            ((KICK, "......g........."),),
            ((RIDE, "......-........."), (SNARE, "......o.........")),
        ),
        short_fills=(
            ((SNARE, "o.ogoo"),),
            ((SNARE, "g.ggoo"), (KICK, ".....o")),
            ((SNARE, "..og.o"), (LOW_FLOOR_TOM, "o...o.")),
        ),
        long_fills=(((SNARE, "o.go..o."), (LOW_FLOOR_TOM, "...x...o")), ((SNARE, "g.o.g.oo"), (KICK, "......o."))),
        ghosts=((SNARE, (2, 6, 10, 11, 14)), (KICK, (6, 14))),
        keep_in_fill=frozenset({RIDE, PEDAL_HAT}),
    ),
    "pop": Style(
        main=((KICK, "x.......x.x.....", 0), (SNARE, "....x.......x...", 0), (CLOSED_HAT, "o.o.o.o.o.o.o.o.", 0)),
        alt=(
            (KICK, "x.....x.x.x.....", 0),
            (SNARE, "....x.......x...", 0),
            (CLAP, "....o.......o...", 0),
            (CLOSED_HAT, "ogogogogogogogog", 0.3),
            (TAMBOURINE, "..o...o...o...o.", 0.5),
        ),
        variations=(
            ((KICK, "...........x...."),),
            ((SNARE, "...............g"),),
            ((CLOSED_HAT, ".......g.......g"),),
            ((OPEN_HAT, "..............o."), (CLOSED_HAT, "..............-.")),
            ((KICK, "......x........."),),
        ),
        short_fills=(((SNARE, "oooo"),), ((SNARE, "ogoo"),), ((SNARE, "oo.."), (HIGH_TOM, "..oo"))),
        long_fills=(
            ((SNARE, "....oooo"), (KICK, "x.x.....")),
            ((SNARE, "oo......"), (HIGH_TOM, "..oo...."), (LOW_TOM, "....oo.."), (LOW_FLOOR_TOM, "......xx")),
        ),
        ghosts=((SNARE, (7, 15)),),
    ),
    "cinematic": Style(
        main=((KICK, "x.......x.......", 0), (LOW_TOM, "..........o..o..", 0.4)),
        alt=(
            (KICK, "x..x..x.x.......", 0),
            (LOW_FLOOR_TOM, "o.o.o.o.o.o.o.o.", 0.3),
            (SNARE, "....x.......x...", 0.5),
            (MID_TOM, "..............oo", 0.2),
        ),
        variations=(
            ((LOW_TOM, "......o.......o."),),
            ((KICK, "......x........."),),
            ((MID_TOM, "............oo.."),),
            ((LOW_FLOOR_TOM, "..............oo"),),
        ),
        short_fills=(
            ((LOW_TOM, "g.g.oooo"), (LOW_FLOOR_TOM, ".g.g....")),
            ((MID_TOM, "..oo...."), (LOW_TOM, "oo..oo.."), (LOW_FLOOR_TOM, "......oo")),
        ),
        long_fills=(
            ((LOW_TOM, "oooooooo"), (LOW_FLOOR_TOM, "x...x...")),
            ((MID_TOM, "oooo...."), (LOW_TOM, "....oooo"), (LOW_FLOOR_TOM, "......xx")),
        ),
    ),
}

# Energy lift per unit of section intensity above or below SECTION_CENTRE (the form's vertical layering):
# a chorus or drop plays the kit fuller, a verse or breakdown thinner.
SECTION_LIFT = 0.5
SECTION_CENTRE = 0.65
FULL = 0.75  # from this intensity a section plays the style's second, fuller groove
SPARSE = 0.35  # below this a body section (a breakdown) keeps only its time-keepers and the kick on the one
PULSE_STYLES = frozenset({"four_on_floor", "techno"})  # the kick runs through the whole intro
LONG_FILL_ENERGY = 0.3  # below this a section still ends with a fill, a one-beat one
GHOST_RATE = 0.5  # chance per bar of a ghost note at full energy
LEAD_IN_STEP = 8  # from here a section's last bar (its fill) plays at the next section's dynamics


Bar = dict[int, dict[int, int]]  # key -> step -> level


def _hits(pattern: str, offset: int = 0) -> list[tuple[int, int]]:
    return [(offset + i, LEVELS[c]) for i, c in enumerate(pattern) if c in LEVELS]


def base_bar(lines: tuple[Line, ...], energy: float) -> Bar:
    """The section's groove at this energy: lines the picture is too calm for are thinned, not dropped."""
    bar: Bar = {}
    for key, pattern, need in lines:
        for step, level in thinned(_hits(pattern), energy, need):
            row = bar.setdefault(key, {})
            row[step] = max(level, row.get(step, 0))
    return bar


def overlay(bar: Bar, lines: Overlay) -> Bar:
    """A variation laid over a bar: its hits are added, its "-" steps removed."""
    out = {key: dict(row) for key, row in bar.items()}
    for key, pattern in lines:
        offset = 16 - len(pattern)
        row = out.setdefault(key, {})
        for i, c in enumerate(pattern):
            if c == "-":
                row.pop(offset + i, None)
            elif c in LEVELS:
                row[offset + i] = max(LEVELS[c], row.get(offset + i, 0))
    return out


def with_fill(bar: Bar, fill: Overlay, keep: frozenset[int]) -> Bar:
    """The bar up to the fill, then the fill (and only the keys that keep time under it)."""
    start = 16 - max(len(p) for _, p in fill)
    cut = {key: {s: v for s, v in row.items() if s < start or key in keep} for key, row in bar.items()}
    return overlay(cut, fill)


def section_energy(ctx: Context, section: Section) -> float:
    return min(1.0, max(0.0, ctx.energy + SECTION_LIFT * (section.intensity - SECTION_CENTRE)))


def edge_thinning(bar: Bar, section: Section, rel: int, pulse: bool) -> Bar:
    """Intro: time-keepers and the kick (on the one, unless the kick is the pulse), then all but the backbeat.
    Outro: no backbeat, then the downbeats only. A sparse body section (a breakdown): time-keepers and the
    kick on the one."""
    first_half = rel < section.bars / 2
    if section.intensity < SPARSE and not section.frame:
        out = {k: r for k, r in bar.items() if k in HATS}
        out[KICK] = {s: v for s, v in bar.get(KICK, {}).items() if s == 0} or {0: LEVELS["g"]}
        return out
    if section.name == "intro":
        if not first_half:
            return {k: r for k, r in bar.items() if k not in BACKBEAT}
        out = {k: r for k, r in bar.items() if k in HATS}
        if KICK in bar:
            out[KICK] = bar[KICK] if pulse else {s: v for s, v in bar[KICK].items() if s == 0} or {0: LEVELS["o"]}
        return out
    if section.name == "outro":
        out = {k: r for k, r in bar.items() if k not in BACKBEAT}
        return out if first_half else {k: {s: v for s, v in r.items() if s % 8 == 0} for k, r in out.items()}
    return bar


def add_ghost(bar: Bar, style: Style, energy: float, rng: random.Random) -> Bar:
    """Now and then a ghost note where the genre puts them (more often the more energy)."""
    if not style.ghosts or rng.random() >= GHOST_RATE * (0.3 + energy):
        return bar
    key, steps = rng.choice(style.ghosts)
    step = rng.choice(steps)
    if step in bar.get(key, {}):
        return bar
    out = {k: dict(r) for k, r in bar.items()}
    out.setdefault(key, {})[step] = LEVELS["g"]
    return out


def plan_bars(ctx: Context, style: Style, rng: random.Random) -> list[Bar]:
    """Every bar's hits: the section's groove, a variation on every second bar (and often the 3rd of a phrase),
    a fill at each phrase end (two beats every 8th bar and into a new section when there is energy for it),
    ghost notes."""
    tl = ctx.timeline
    pulse = ctx.genre.drum_style in PULSE_STYLES
    bars: list[Bar] = []
    for section in tl.sections:
        energy = section_energy(ctx, section)
        groove = base_bar(style.alt if section.intensity >= FULL else style.main, energy)
        variation: Overlay = ()
        second: Overlay = ()
        for bar in range(section.start_bar, section.end_bar):
            rel = bar - section.start_bar
            if rel % 4 == 0 and style.variations:
                variation = rng.choice(style.variations)
                second = rng.choice(style.variations) if rng.random() < 0.4 + 0.4 * energy else ()
            pattern = groove
            if rel % 2 == 1:
                pattern = overlay(pattern, variation)
            elif rel % 4 == 2 and second:
                pattern = overlay(pattern, second)
            pattern = add_ghost(edge_thinning(pattern, section, rel, pulse), style, energy, rng)
            if phrase_end(section, bar):
                big = bar == section.end_bar - 1 or rel % 8 == 7
                long = big and energy >= LONG_FILL_ENERGY and bool(style.long_fills)
                fills = style.long_fills if long else style.short_fills
                if fills:
                    pattern = with_fill(pattern, rng.choice(fills), style.keep_in_fill)
            bars.append(pattern)
    return bars


def drum_part(ctx: Context) -> list[Note]:
    """The drum track for the whole piece (empty for styles without drums)."""
    style = STYLES.get(ctx.genre.drum_style)
    if style is None:
        return []
    tl = ctx.timeline
    rng = ctx.rng("drums")
    feel = feel_for(ctx.genre.drum_style)
    per_ms = ticks_per_ms(tl.tempo_us, TICKS_PER_BEAT)
    sw = ctx.swing
    notes: list[Note] = []

    def hit(tick: int, key: int, level: float, humanise: bool = True, lead_in: bool = False) -> None:
        start = sw(tick)
        # A fill closing a section leads into the next one: it takes that section's dynamics if louder.
        velocity = ctx.velocity(level, max(tick, (tick // BAR + 1) * BAR, key=ctx.dynamics) if lead_in else tick, 0.2)
        if humanise:
            start += nudge(feel, key, rng, per_ms)
            velocity = spread_velocity(velocity, feel, rng)
        start = clamp_tick(start, HIT_LENGTH, tl.end_tick)
        notes.append((start, start + HIT_LENGTH, key, velocity))

    starts = {s.start_bar for s in tl.sections if s.start_bar > 0 and s.bars}
    for bar, pattern in enumerate(plan_bars(ctx, style, rng)):
        base = bar * BAR
        closing = bar + 1 in starts or bar + 1 == tl.bars
        for key in sorted(pattern):
            for step, level in sorted(pattern[key].items()):
                lead_in = closing and step >= LEAD_IN_STEP
                hit(base + shuffled(step, feel), key, level * accent(feel, key, step), lead_in=lead_in)
        if style.crash and bar in starts:
            energy = section_energy(ctx, tl.section_at(bar))
            hit(base, CRASH, LEVELS["x"] * (0.7 + 0.3 * energy))
    # The closing hit on the final chord, on the beat.
    if style.crash:
        hit(tl.final_tick, CRASH, LEVELS["x"], humanise=False)
        hit(tl.final_tick, KICK, LEVELS["x"], humanise=False)
    else:
        hit(tl.final_tick, KICK, LEVELS["g"], humanise=False)
    return notes
