"""Bass and chord/pad parts: per-style rhythms over the chord plan, busier or thinner with each section's
intensity (held in the intro and a breakdown), answering where the lead rests."""

from __future__ import annotations

from collections.abc import Sequence

from .context import Context, Note
from .form import BAR, STEP, STEPS_PER_BAR, TICKS_PER_BEAT
from .groove import phrase_end
from .theory import Chord, pitch_in_range, power_voicing, voice

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

# Overdriven and distortion guitars play power chords (root, fifth, octave) instead of full voicings.
POWER_CHORD_PROGRAMS = frozenset({29, 30})

BASS_LOW, BASS_HIGH = 36, 47
HALF = BAR // 2
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


FULL = 0.75  # from this section intensity the parts play their second, busier pattern
LIGHT = 0.5  # below it the pattern is thinned (every other hit)
SPARSE = 0.35  # below it a body section (a breakdown) holds its chords and bass


def _hold(ctx: Context, bar: int) -> bool:
    """Intro bars, outro bars (second half) and sparse sections hold long notes instead of the pattern."""
    section = ctx.timeline.section_at(bar)
    rel = bar - section.start_bar
    if section.name == "intro" or (section.intensity < SPARSE and not section.frame):
        return True
    return section.name == "outro" and rel >= section.bars / 2


def _layer(ctx: Context, bar: int, main: tuple[tuple, ...], alt: tuple[tuple, ...]) -> tuple[tuple, ...]:
    """The section's rhythm by its intensity: the busier pattern where it is high, a thinned one where low."""
    intensity = ctx.timeline.section_at(bar).intensity
    if intensity >= FULL:
        return alt
    return _thin(main, 0.0) if intensity < LIGHT else main


ANSWER_STEP = 12  # the lead breathes on the last beat of a phrase; the bass answers there
REST_SECONDS = 0.3  # a lead rest this long (or a beat) is answered by the chords
ANSWER_ACCENT = 1.0  # how much harder the chords strike where they answer the lead
BASS_ANSWER_ACCENT = 1.15  # ... and the bass


def _answers(ctx: Context, bar: int) -> bool:
    """A phrase-end bar where the lead plays: its cadence leaves the last beat to the accompaniment."""
    section = ctx.timeline.section_at(bar)
    return section.name != "intro" and phrase_end(section, bar)


def _answer(hits: tuple[tuple, ...], step: int, *tone: str) -> tuple[tuple, ...]:
    """The bar's hits with a fresh attack at `step` (unless one already falls within an 8th of it): a hit
    sounding there is cut short, the new one lasts until the next hit."""
    if any(step <= hit[0] < step + 2 for hit in hits):
        return hits
    nxt = min((h[0] for h in hits if h[0] > step), default=16)
    cut = tuple((h[0], min(h[1], step - h[0]), *h[2:]) if h[0] < step else h for h in hits)
    return tuple(sorted((*cut, (step, nxt - step, *tone))))


def lead_rests(ctx: Context, lead: Sequence[Note]) -> dict[int, tuple[int, ...]]:
    """Per bar: the 16th steps where the lead rests a beat or REST_SECONDS or more (inside its span, each rest's
    start and the beats inside it), so the chords answer there instead of leaving a hole in the mix."""
    tl = ctx.timeline
    shortest = min(TICKS_PER_BEAT, round(REST_SECONDS * TICKS_PER_BEAT * 1_000_000 / tl.tempo_us))
    out: dict[int, list[int]] = {}
    sounding = None
    for start, end, _, _ in sorted(lead):
        if sounding is not None and start - sounding >= shortest:
            first = -(-sounding // STEP)
            for step in range(first, start // STEP, 4):
                bar, pos = divmod(step, STEPS_PER_BAR)
                if bar < tl.bars and start - step * STEP >= STEP:
                    out.setdefault(bar, []).append(pos)
        sounding = end if sounding is None else max(sounding, end)
    return {bar: tuple(steps) for bar, steps in out.items()}


def _lead_in(ctx: Context, bar: int, tick: int) -> int:
    """Where an attack takes its dynamics from: the answer closing a section leads into the next one (when
    that one is louder)."""
    answer = tick - bar * BAR >= ANSWER_STEP * STEP and ctx.timeline.section_at(bar).end_bar == bar + 1
    if not (answer and _answers(ctx, bar)):
        return tick
    return max(tick, (bar + 1) * BAR, key=ctx.dynamics)


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
        return _approach(ctx, nxt, root)
    return root


def _approach(ctx: Context, target: int, root: int) -> int:
    """The note leading into `target`: a scale step toward it from the side `root` lies on, or a half step
    when the target lies outside the scale (a chromatic chord's root)."""
    if target not in ctx.harmony.pitches:
        return target - 1 if target > root else target + 1
    i = ctx.harmony.index_of(target)
    return ctx.harmony.pitches[i - 1] if target > root else ctx.harmony.pitches[i + 1]


def _segments(ctx: Context, start: int, end: int) -> list[tuple[int, int, Chord]]:
    """A note's span cut where the chord changes in the middle of its bar, with the chord of each piece."""
    bar_start = start - start % BAR
    middle = bar_start + HALF
    chord = ctx.chords[min(start // BAR, len(ctx.chords) - 1)]
    if chord.second is None:
        return [(start, end, chord)]
    first, second = chord.halves()
    if end <= middle:
        return [(start, end, first)]
    if start >= middle:
        return [(start, end, second)]
    return [(start, middle, first), (middle, end, second)]


def _cadence_tone(ctx: Context, bar: int, tone: str) -> str:
    """In the bar before the final chord the bass plays roots (or octaves), so the cadence is heard."""
    return tone if bar < ctx.timeline.bars - 1 or tone in ("r", "o") else "r"


def bass_part(ctx: Context, lead: Sequence[Note] = ()) -> list[Note]:
    """Bass line: the style's pattern on chord tones, busier or thinner with the section's intensity,
    answering the last beat of each phrase and where the lead rests."""
    rests = lead_rests(ctx, lead)
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
        hits = ((0, 16, "r"),) if _hold(ctx, bar) else _layer(ctx, bar, main, alt)
        answering = set(rests.get(bar, ())) | ({ANSWER_STEP} if _answers(ctx, bar) else set())
        for answer in sorted(answering):
            hits = _answer(hits, answer, "f")
        for step, length, tone in hits:
            start = base + step * STEP
            end = start + length * STEP - (RELEASE if length < 8 else 0)
            accent = BASS_ANSWER_ACCENT if step in answering else 1.0 if step % 4 == 0 else 0.9
            for a, b, chord in _segments(ctx, start, end):
                pitch = _bass_pitch(ctx, _cadence_tone(ctx, bar, tone), chord, bar)
                notes.append((sw(a), sw(b), pitch, ctx.velocity(96 * accent, _lead_in(ctx, bar, a), 0.2)))
    final = pitch_in_range(ctx.chords[-1].root, BASS_LOW, BASS_HIGH)
    notes.append((tl.final_tick, tl.end_tick, final, ctx.velocity(90, tl.final_tick, 0.2)))
    return notes


def _voicing(chord: Chord, previous: tuple[int, ...] | None, program: int) -> tuple[int, ...]:
    """A power chord on overdriven and distortion guitars, else a close voicing led from the previous one."""
    return power_voicing(chord) if program in POWER_CHORD_PROGRAMS else voice(chord, previous)


def chord_part(ctx: Context, program: int, lead: Sequence[Note] = ()) -> list[Note]:
    """Chords or pad: voice-led chords (power chords on overdriven and distortion guitars) with the style's
    comping rhythm, answering the lead's rests; a chord that changes mid-bar cuts the notes held across it."""
    sustained = program in SUSTAINED_PROGRAMS
    # Pads and strings swell in slowly: a fresh attack in a rest would dip there, so they hold through it.
    rests = {} if sustained else lead_rests(ctx, lead)
    patterns = SUSTAINED if sustained else CHORD_PATTERNS.get(ctx.genre.drum_style, SUSTAINED)
    main, alt = _thin(patterns[0], ctx.density), _thin(patterns[1], ctx.density)
    level = 64 if sustained else 74
    sw = ctx.swing
    tl = ctx.timeline
    notes: list[Note] = []
    previous: tuple[int, ...] | None = None
    for bar in range(tl.bars):
        first, second = ctx.chords[bar].halves()
        voicing = _voicing(first, previous, program)
        voicings = {first: voicing, second: _voicing(second, voicing, program) if second != first else voicing}
        previous = voicings[second]
        base = bar * BAR
        hits = ((0, 16),) if _hold(ctx, bar) else _layer(ctx, bar, main, alt)
        for step in rests.get(bar, ()):
            hits = _answer(hits, step)
        for step, length in hits:
            start = base + step * STEP
            end = start + length * STEP - (0 if length >= 8 else RELEASE)
            accent = ANSWER_ACCENT if step in rests.get(bar, ()) else 1.0 if step % 4 == 0 else 0.9
            vel = ctx.velocity(level * accent, _lead_in(ctx, bar, start), 0.3)
            for a, b, chord in _segments(ctx, start, end):
                s, e = sw(a), sw(b)
                notes.extend((s, e, p, vel) for p in voicings.get(chord, voicing))
    voicing = _voicing(ctx.chords[-1], previous, program)
    vel = ctx.velocity(level, tl.final_tick, 0.3)
    notes.extend((tl.final_tick, tl.end_tick, p, vel) for p in voicing)
    return notes
