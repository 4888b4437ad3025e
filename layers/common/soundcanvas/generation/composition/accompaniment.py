"""Bass and chord/pad parts: per-style rhythms over the chord plan, thinned in the intro and outro."""

from __future__ import annotations

from .context import Context, Note
from .form import BAR, STEP
from .theory import Chord, pitch_in_range, voice

Hit = tuple[int, int]  # (step in the bar, length in steps)
BassHit = tuple[int, int, str]  # plus the tone: r root, o octave, t third, f fifth, a approach to next root

BASS_PATTERNS: dict[str, tuple[tuple[BassHit, ...], tuple[BassHit, ...]]] = {
    "four_on_floor": (
        ((2, 2, "r"), (6, 2, "r"), (10, 2, "r"), (14, 2, "o")),
        ((2, 2, "r"), (6, 1, "o"), (7, 1, "r"), (10, 2, "r"), (14, 2, "f")),
    ),
    "techno": (
        ((2, 1, "r"), (3, 1, "r"), (6, 1, "r"), (7, 1, "r"), (10, 1, "r"), (11, 1, "r"), (14, 1, "r"), (15, 1, "o")),
        ((2, 2, "r"), (6, 2, "o"), (10, 2, "r"), (14, 2, "f")),
    ),
    "boom_bap": (
        ((0, 5, "r"), (7, 1, "r"), (10, 4, "f"), (14, 2, "a")),
        ((0, 3, "r"), (3, 3, "o"), (8, 4, "r"), (13, 3, "f")),
    ),
    "lofi": (
        ((0, 6, "r"), (7, 3, "f"), (10, 6, "r")),
        ((0, 4, "r"), (6, 2, "t"), (8, 6, "f"), (14, 2, "a")),
    ),
    "ambient": (((0, 16, "r"),), ((0, 8, "r"), (8, 8, "f"))),
    "rock": (
        tuple((i * 2, 2, "r") for i in range(8)),
        ((0, 2, "r"), (2, 2, "r"), (4, 2, "o"), (6, 2, "r"), (8, 2, "r"), (10, 2, "f"), (12, 2, "r"), (14, 2, "a")),
    ),
    "swing": (
        ((0, 4, "r"), (4, 4, "t"), (8, 4, "f"), (12, 4, "a")),
        ((0, 4, "r"), (4, 4, "o"), (8, 4, "f"), (12, 4, "a")),
    ),
    "pop": (
        ((0, 4, "r"), (6, 2, "r"), (8, 4, "f"), (14, 2, "a")),
        ((0, 2, "r"), (2, 2, "r"), (4, 2, "r"), (6, 2, "o"), (8, 2, "r"), (10, 2, "r"), (12, 2, "f"), (14, 2, "a")),
    ),
    "cinematic": (((0, 16, "r"),), ((0, 4, "r"), (4, 4, "r"), (8, 4, "f"), (12, 4, "o"))),
    "none": (((0, 8, "r"), (8, 8, "f")), ((0, 4, "r"), (4, 4, "t"), (8, 4, "f"), (12, 4, "o"))),
}

CHORD_PATTERNS: dict[str, tuple[tuple[Hit, ...], tuple[Hit, ...]]] = {
    "four_on_floor": (((0, 3), (6, 2), (10, 3)), ((2, 2), (6, 2), (10, 2), (14, 2))),
    "techno": (((0, 1), (3, 1), (6, 1), (10, 1)), ((2, 1), (5, 1), (8, 1), (11, 1), (14, 1))),
    "boom_bap": (((0, 6), (6, 2), (10, 6)), ((0, 3), (3, 5), (10, 2), (12, 4))),
    "lofi": (((0, 7), (7, 9)), ((0, 3), (3, 4), (8, 6), (14, 2))),
    "ambient": (((0, 16),), ((0, 8), (8, 8))),
    "rock": (tuple((i * 2, 2) for i in range(8)), ((0, 6), (6, 6), (12, 4))),
    "swing": (((0, 3), (6, 2)), ((4, 2), (10, 2), (12, 2))),
    "pop": (((0, 4), (4, 4), (8, 4), (12, 4)), ((0, 3), (3, 3), (6, 2), (8, 3), (11, 3), (14, 2))),
    "cinematic": (((0, 16),), ((0, 8), (8, 8))),
    "none": (((0, 8), (8, 8)), ((0, 4), (4, 4), (8, 4), (12, 4))),
}
SUSTAINED: tuple[tuple[Hit, ...], tuple[Hit, ...]] = (((0, 16),), ((0, 8), (8, 8)))

# Pads, strings, organs and choirs hold their chords instead of comping.
SUSTAINED_PROGRAMS = frozenset(range(16, 24)) | frozenset(range(48, 56)) | frozenset(range(88, 104))

BASS_LOW, BASS_HIGH = 36, 47
RELEASE = STEP // 6  # a short gap before the next attack on repeated, detached notes


def _thin(hits: tuple[tuple, ...], density: float) -> tuple[tuple, ...]:
    """At low density keep every other hit, each lasting until the next kept one."""
    if density >= 0.3 or len(hits) <= 2:
        return hits
    kept = list(hits[::2])
    out = []
    for i, hit in enumerate(kept):
        end = kept[i + 1][0] if i + 1 < len(kept) else 16
        out.append((hit[0], end - hit[0], *hit[2:]))
    return tuple(out)


def _hold(ctx: Context, bar: int) -> bool:
    """Intro bars (first half) and outro bars (second half) hold long notes instead of the pattern."""
    section = ctx.timeline.section_at(bar)
    rel = bar - section.start_bar
    if section.name == "intro":
        return True
    return section.name == "outro" and rel >= section.bars / 2


def _bass_pitch(ctx: Context, tone: str, chord: Chord, bar: int) -> int:
    root = pitch_in_range(chord.root, BASS_LOW, BASS_HIGH)
    if tone == "o":
        return root + 12
    if tone in ("t", "f"):
        i = 1 if tone == "t" else 2
        if len(chord.pcs) <= i:
            return root
        return root + (chord.pcs[i] - chord.root) % 12
    if tone == "a":
        nxt = pitch_in_range(ctx.chords[min(bar + 1, len(ctx.chords) - 1)].root, BASS_LOW, BASS_HIGH)
        i = ctx.harmony.index_of(nxt)
        return ctx.harmony.pitches[i - 1] if nxt > root else ctx.harmony.pitches[i + 1]
    return root


def bass_part(ctx: Context) -> list[Note]:
    """Bass line: the style's pattern on chord tones; B uses the alternate pattern."""
    main, alt = BASS_PATTERNS.get(ctx.genre.drum_style, BASS_PATTERNS["none"])
    main, alt = _thin(main, ctx.density), _thin(alt, ctx.density)
    sw = ctx.swing
    tl = ctx.timeline
    notes: list[Note] = []
    for bar in range(tl.bars):
        section = tl.section_at(bar)
        chord = ctx.chords[bar]
        base = bar * BAR
        if section.name == "intro" and bar - section.start_bar < section.bars / 2 and section.bars > 1:
            continue  # the bass enters halfway through the intro
        hits = ((0, 16, "r"),) if _hold(ctx, bar) else alt if section.name == "B" else main
        for step, length, tone in hits:
            start = base + step * STEP
            end = start + length * STEP - (RELEASE if length < 8 else 0)
            pitch = _bass_pitch(ctx, tone, chord, bar)
            accent = 1.0 if step % 4 == 0 else 0.9
            notes.append((sw(start), sw(end), pitch, ctx.velocity(96 * accent, start, 0.2)))
    final = pitch_in_range(ctx.chords[-1].root, BASS_LOW, BASS_HIGH)
    notes.append((tl.final_tick, tl.end_tick, final, ctx.velocity(90, tl.final_tick, 0.2)))
    return notes


def chord_part(ctx: Context, program: int) -> list[Note]:
    """Chords or pad: voice-led diatonic chords with the style's comping rhythm."""
    patterns = SUSTAINED if program in SUSTAINED_PROGRAMS else CHORD_PATTERNS.get(ctx.genre.drum_style, SUSTAINED)
    main, alt = _thin(patterns[0], ctx.density), _thin(patterns[1], ctx.density)
    sustained = program in SUSTAINED_PROGRAMS
    level = 64 if sustained else 74
    sw = ctx.swing
    tl = ctx.timeline
    notes: list[Note] = []
    previous: tuple[int, ...] | None = None
    for bar in range(tl.bars):
        section = tl.section_at(bar)
        voicing = voice(ctx.chords[bar], previous)
        previous = voicing
        base = bar * BAR
        hits = ((0, 16),) if _hold(ctx, bar) else alt if section.name == "B" else main
        for step, length in hits:
            start = base + step * STEP
            end = start + length * STEP - (0 if length >= 8 else RELEASE)
            vel = ctx.velocity(level * (1.0 if step % 4 == 0 else 0.9), start, 0.3)
            s, e = sw(start), sw(end)
            notes.extend((s, e, p, vel) for p in voicing)
    voicing = voice(ctx.chords[-1], previous)
    vel = ctx.velocity(level, tl.final_tick, 0.3)
    notes.extend((tl.final_tick, tl.end_tick, p, vel) for p in voicing)
    return notes
