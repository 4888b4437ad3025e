"""Drum patterns per `Genre.drum_style`, played on General MIDI channel 10 with section-aware thinning."""

from __future__ import annotations

from .context import Context, Note
from .form import BAR, STEP

# General MIDI percussion keys.
KICK, SIDE_STICK, SNARE, CLAP = 36, 37, 38, 39
CLOSED_HAT, PEDAL_HAT, OPEN_HAT = 42, 44, 46
LOW_FLOOR_TOM, LOW_TOM, MID_TOM, HIGH_TOM = 41, 45, 47, 50
CRASH, RIDE, RIDE_BELL, TAMBOURINE, MARACAS = 49, 51, 53, 54, 70

HATS = frozenset({CLOSED_HAT, PEDAL_HAT, OPEN_HAT, RIDE, RIDE_BELL, TAMBOURINE, MARACAS})
BACKBEAT = frozenset({SNARE, CLAP, SIDE_STICK})
HIT_LENGTH = STEP // 3  # drum notes are short; 40 ticks stays shorter than any swung 16th

# One bar of 16 steps per line: X accent, x strong, o normal, g ghost, . rest.
LEVELS = {"X": 118, "x": 100, "o": 78, "g": 48}

Line = tuple[int, str, float]  # (drum key, 16-step pattern, minimum energy to play it)

PATTERNS: dict[str, dict[str, tuple[Line, ...]]] = {
    "four_on_floor": {
        "main": (
            (KICK, "x...x...x...x...", 0),
            (CLAP, "....x.......x...", 0.2),
            (CLOSED_HAT, "..o...o...o...o.", 0),
            (CLOSED_HAT, "g.g.g.g.g.g.g.g.", 0.6),
        ),
        "alt": (
            (KICK, "x...x...x...x...", 0),
            (CLAP, "....x.......x...", 0),
            (OPEN_HAT, "..o...o...o...o.", 0),
            (CLOSED_HAT, "gggggggggggggggg", 0.45),
            (TAMBOURINE, "....o.......o...", 0.3),
        ),
        "fill": ((SNARE, "oooo", 0), (KICK, "x...", 0)),
    },
    "techno": {
        "main": (
            (KICK, "X...X...X...X...", 0),
            (CLOSED_HAT, "..x...x...x...x.", 0),
            (CLOSED_HAT, "gg.ggg.ggg.ggg.g", 0.5),
            (CLAP, "....o.......o...", 0.4),
        ),
        "alt": (
            (KICK, "X...X...X...X..g", 0),
            (OPEN_HAT, "..x...x...x...x.", 0),
            (RIDE, "o.o.o.o.o.o.o.o.", 0.3),
            (CLAP, "....x.......x...", 0),
        ),
        "fill": ((CLAP, "oxox", 0), (KICK, "X...", 0)),
    },
    "boom_bap": {
        "main": (
            (KICK, "x.........x.....", 0),
            (SNARE, "....x.......x...", 0),
            (CLOSED_HAT, "o.o.o.o.o.o.o.o.", 0),
            (KICK, ".......g.....g..", 0.55),
        ),
        "alt": (
            (KICK, "x......x..x.....", 0),
            (SNARE, "....x.......x..g", 0),
            (CLOSED_HAT, "o.oo.oo.o.oo.oo.", 0),
            (OPEN_HAT, "..............o.", 0.4),
        ),
        "fill": ((SNARE, "x.oo", 0),),
    },
    "lofi": {
        "main": ((KICK, "o......o..o.....", 0), (SIDE_STICK, "....o.......o...", 0), (CLOSED_HAT, "g.g.g.g.g.g.g.g.", 0)),
        "alt": (
            (KICK, "o.....o...o..o..", 0),
            (SNARE, "....o.......o...", 0),
            (CLOSED_HAT, "g.ggg.ggg.ggg.gg", 0),
            (MARACAS, "..g...g...g...g.", 0.3),
        ),
        "fill": ((SIDE_STICK, "o.gg", 0),),
    },
    "ambient": {
        "main": ((MARACAS, "g.......g.......", 0.35),),
        "alt": ((KICK, "g...............", 0.15), (MARACAS, "g...g...g...g...", 0.2), (RIDE_BELL, "........g.......", 0.5)),
        "fill": (),
    },
    "rock": {
        "main": ((KICK, "x.....x.x.......", 0), (SNARE, "....x.......x...", 0), (CLOSED_HAT, "o.o.o.o.o.o.o.o.", 0)),
        "alt": (
            (KICK, "x.x...x.x.x.....", 0),
            (SNARE, "....X.......X...", 0),
            (RIDE, "x.o.x.o.x.o.x.o.", 0),
            (CRASH, "x...............", 0.7),
        ),
        "fill": ((SNARE, "oo", 0), (HIGH_TOM, "..o.", 0), (LOW_TOM, "...o", 0)),
    },
    "swing": {
        "main": ((RIDE, "x...o.o.x...o.o.", 0), (PEDAL_HAT, "....o.......o...", 0), (KICK, "g...g...g...g...", 0.5)),
        "alt": (
            (RIDE, "x...o.o.x...o.o.", 0),
            (PEDAL_HAT, "....o.......o...", 0),
            (SNARE, "......g.......g.", 0.3),
            (KICK, "g.........g.....", 0),
        ),
        "fill": ((SNARE, "o.go", 0),),
    },
    "pop": {
        "main": ((KICK, "x.......x.x.....", 0), (SNARE, "....x.......x...", 0), (CLOSED_HAT, "o.o.o.o.o.o.o.o.", 0)),
        "alt": (
            (KICK, "x.....x.x.x.....", 0),
            (SNARE, "....x.......x...", 0),
            (CLAP, "....o.......o...", 0),
            (CLOSED_HAT, "ogogogogogogogog", 0.3),
            (TAMBOURINE, "..o...o...o...o.", 0.5),
        ),
        "fill": ((SNARE, "oooo", 0),),
    },
    "cinematic": {
        "main": ((KICK, "x.......x.......", 0), (LOW_TOM, "..........o..o..", 0.4)),
        "alt": (
            (KICK, "x..x..x.x.......", 0),
            (LOW_FLOOR_TOM, "o.o.o.o.o.o.o.o.", 0.3),
            (SNARE, "....x.......x...", 0.5),
            (MID_TOM, "..............oo", 0.2),
        ),
        "fill": ((LOW_TOM, "oooo", 0), (LOW_FLOOR_TOM, "x...", 0)),
    },
    "none": {"main": (), "alt": (), "fill": ()},
}

CYMBAL_STYLES = frozenset({"four_on_floor", "techno", "boom_bap", "rock", "swing", "pop", "cinematic"})


def _hits(pattern: str, offset: int = 0) -> list[tuple[int, int]]:
    return [(offset + i, LEVELS[c]) for i, c in enumerate(pattern) if c != "."]


def drum_part(ctx: Context) -> list[Note]:
    """The drum track for the whole piece (empty for styles without drums)."""
    style = PATTERNS.get(ctx.genre.drum_style, PATTERNS["none"])
    if not style["main"] and not style["alt"]:
        return []
    tl = ctx.timeline
    energy = ctx.energy
    lines = {name: [(key, _hits(p)) for key, p, need in style[name] if energy >= need] for name in ("main", "alt")}
    fill = [(key, _hits(p, 16 - len(p))) for key, p, _ in style["fill"]]
    fill_start = 16 - max((len(p) for _, p, _ in style["fill"]), default=0)
    cymbals = ctx.genre.drum_style in CYMBAL_STYLES
    sw = ctx.swing
    notes: list[Note] = []

    def hit(tick: int, key: int, level: float) -> None:
        start = sw(tick)
        notes.append((start, start + HIT_LENGTH, key, ctx.velocity(level, tick, 0.2)))

    for section in tl.sections:
        for bar in range(section.start_bar, section.end_bar):
            rel = bar - section.start_bar
            first_half = rel < section.bars / 2
            base = bar * BAR
            bar_lines = lines["alt" if section.name == "B" else "main"]
            phrase_end = rel % 4 == 3 or bar == section.end_bar - 1
            if section.name == "intro":
                # Thin intro: hats only, then everything but the backbeat.
                keep = HATS if first_half else HATS | {KICK}
                bar_lines = [(k, h) for k, h in bar_lines if k in keep]
            elif section.name == "outro":
                # Thin outro: drop the backbeat, then keep only the downbeat kick and sparse hats.
                bar_lines = [(k, h) for k, h in bar_lines if k not in BACKBEAT]
                if not first_half:
                    bar_lines = [(k, [(s, v) for s, v in h if s % 8 == 0]) for k, h in bar_lines]
            use_fill = phrase_end and section.name in ("A", "B", "A2") and bar != tl.bars - 1 and fill
            for key, hits in bar_lines:
                for step, level in hits:
                    if use_fill and step >= fill_start:
                        continue
                    hit(base + step * STEP, key, level)
            if use_fill:
                for key, hits in fill:
                    for step, level in hits:
                        hit(base + step * STEP, key, level)
            if cymbals and rel == 0 and section.name in ("B", "A2"):
                hit(base, CRASH, LEVELS["x"])
    # The closing hit on the final chord.
    if cymbals:
        hit(tl.final_tick, CRASH, LEVELS["x"])
        hit(tl.final_tick, KICK, LEVELS["x"])
    elif lines["main"] or lines["alt"]:
        hit(tl.final_tick, KICK, LEVELS["g"])
    return notes
