"""The lead: a motif-first melody whose register follows the picture's height profile, whose note density
follows its energy and whose loudness follows its brightness, left to right over the whole piece.

Each material of the form (A, B, ...; a numbered return such as A2 plays its first statement's material)
gets a theme: a one- or two-bar motif and the variations its phrases draw on. A 4-bar phrase states the
motif, restates it over the chord that suits it best, varies it (inversion, rhythmic displacement,
sequence or a fresh bar) and ends on a cadence: a chord tone held from beat 3, the tonic (where the
chord has it) at the end of a section. Strong beats land on chord tones. A restatement near the register
where a bar was first played, over a chord that suits it, is played note for note, so the hook returns;
returns develop their later phrases, and so does any phrase once too many bars have been heard before.
A melody whose share of exactly repeated bars still ends outside the band real tunes show (a short piece
leaves that feedback too few phrases) is drafted again from fresh motifs. Where the accompaniment cannot
fill a beat's rest, the lead plays legato (shorter cadence rests, displacements by a 16th).
Two writers share that plan: a rule-based one whose motifs follow the picture's skyline and one that
draws the motif's steps and durations from the packaged Markov model.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Callable, Sequence

from .context import Context, Note
from .form import BAR, STEP, STEPS_PER_BAR, Section
from .markov import MarkovModel, load_model
from .motif import (
    CLOSE,
    DISPLACE,
    FREE,
    LEGATO_DISPLACE,
    OPEN,
    REST_FROM,
    Cell,
    changed_ending,
    displacement,
    inversion,
    material,
    phrase_roles,
    restatement_bar,
    sequence,
    widen,
)
from .motif import span as cell_span

LEAD_LOW, LEAD_HIGH = 60, 86
# A comfortable lead register per General MIDI program (concert pitch); other programs use LEAD_LOW..HIGH.
LEAD_RANGES: dict[int, tuple[int, int]] = {
    11: (57, 86),  # vibraphone
    29: (52, 84),  # overdriven guitar
    30: (52, 84),  # distortion guitar
    40: (62, 91),  # violin
    56: (55, 82),  # trumpet
    60: (50, 74),  # French horn
    65: (53, 80),  # alto sax
    73: (62, 91),  # flute
}
NOTES_PER_BAR = (2, 3, 4, 6, 8)  # by density level 0..4
# How likely each 16th of a bar is to carry an onset: downbeat, half bar, beats, 8ths, 16ths.
STEP_WEIGHTS = (10, 1, 3, 1, 5, 1, 3, 1, 7, 1, 3, 1, 5, 1, 3, 1)
GRID_WEIGHTS = (1.0, 0.3, 0.8, 0.3)  # where the next onset lands: beat, 16th, 8th, 16th
MOTIF_REACH = 4  # scale steps a motif strays from its first note before the model is pulled back
MOTIF_SPAN = 4  # scale steps a motif spans at least (its highest note above its lowest)
SKYLINE_STEPS = 4  # scale steps a motif bends by across the whole height of the picture over its section
VARIATIONS = ("inversion", "displacement", "sequence", "fresh")
ANCHOR_HOLD = 1.5  # scale steps the picture's line must move before a material's phrases move with it
WIDE_HOLD = 2.0  # ... while the melody so far has repeated too little to be remembered
# Share of bars that repeat another exactly: below the floor, hold on; above the ceiling, develop and sequence.
REPEAT_FLOOR, REPEAT_CEILING = 0.3, 0.35
PHRASE_BARS = 4
# A short piece has too few phrases for that feedback to settle: a draft whose share of exactly repeated bars
# falls outside this band is drafted again with fresh motifs (at most DRAFTS times; the nearest draft wins).
REPEAT_BAND = (0.22, 0.58)
DRAFTS = 8
LATE_CEILING = 0.5  # the later half of the drafts develop only above this share (and quote the hook)
LIFTS = (0, 3, 0, 1)  # scale steps each material in order of appearance sits above the picture's line
FRAME_SECTIONS = ("intro", "outro")  # they play developments of the hook rather than material of their own
INSTRUMENTAL = "intro"  # the lead enters after it, with the body's layers ...
LEAD_FROM_THE_START = frozenset({"ambient", "cinematic", "classical"})  # ... except where the melody is the arc
# Where the accompaniment is too soft or swells in too slowly to fill a lead's rest, the lead plays legato: its
# cadences hold into the last beat (until this 16th) and its displacements shift by a 16th, so it never stops
# for long.
LEGATO: dict[str, int] = {"ambient": 14, "cinematic": 14, "classical": 14, "lofi": 13}
LIGHT = 0.5  # a section below this intensity (a breakdown, a quiet verse) plays the lead a density level sparser
LEVEL_HOLD = 1  # a section keeps its density level until the picture's energy moves it further

Event = tuple[int, int, int, int]  # (start step, length in steps, scale index, velocity)
CellSource = Callable[[str, int, int | None], Cell]  # (role, density level, start offset or None) -> cell


class LeadShape:
    """The lead's register and its mapping from the profile to a target scale index."""

    def __init__(self, ctx: Context, program: int | None = None) -> None:
        h = ctx.harmony
        low, high = LEAD_RANGES.get(program if program is not None else -1, (LEAD_LOW, LEAD_HIGH))
        self.ctx = ctx
        self.low = h.index_of(min(p for p in h.pitches if p >= low))
        self.high = h.index_of(max(p for p in h.pitches if p <= high))

    def target(self, step: int) -> float:
        """Target scale index at a 16th-note step: high bright mass in the picture -> higher notes."""
        height = self.ctx.profile.height_at(self.ctx.position(step * STEP))
        return self.low + height * (self.high - self.low)

    def level(self, step: int, section: Section) -> int:
        """Density level 0..4 from the picture's local energy and the piece's density."""
        d = self.ctx.profile.density_at(self.ctx.position(step * STEP), self.ctx.density)
        level = min(4, int(d * 5))
        if section.intensity < LIGHT and level > 1:
            level -= 1
        return min(level, 1) if section.frame else level

    def velocity(self, step: int, accent: float) -> int:
        return self.ctx.velocity(94 * accent, step * STEP, brightness_weight=0.6)

    def clamp(self, index: int) -> int:
        return max(self.low, min(self.high, index))

    def chord_tone_near(self, index: int, step: int, desired: float, prefer: frozenset[int] = frozenset()) -> int:
        """The chord tone within one scale step of `index` (two at the register's edge) closest to `desired`;
        tones in `prefer` (those common to every chord a restated bar will sound over) first."""
        pcs = self.ctx.chord_at_tick(step * STEP).pcs
        pitches = self.ctx.harmony.pitches
        near = [i for i in (index, index - 1, index + 1) if self.low <= i <= self.high]
        options = [i for i in near if pitches[i] % 12 in prefer and pitches[i] % 12 in pcs] or [
            i for i in near if pitches[i] % 12 in pcs
        ]
        if not options:  # at the edge of the register: look one step further inward
            options = [i for i in (index - 2, index + 2) if self.low <= i <= self.high and pitches[i] % 12 in pcs]
        return min(options, key=lambda i: (abs(i - desired), i)) if options else index

    def cadence_tone(self, index: int, step: int, close: bool) -> int:
        """A cadence's note near `index`: a chord tone, the tonic first when closing and the chord has it."""
        pcs = self.ctx.chord_at_tick(step * STEP).pcs
        pitches = self.ctx.harmony.pitches
        tonic = self.ctx.harmony.tonic
        options = [i for i in range(index - 3, index + 4) if self.low <= i <= self.high and pitches[i] % 12 in pcs]
        if not options:
            return index
        return min(options, key=lambda i: (close and pitches[i] % 12 != tonic, abs(i - index), i))

    def final_index(self, current: int) -> int:
        """The tonic nearest the melody's last pitch, for the closing note."""
        pitches = self.ctx.harmony.pitches
        tonics = [i for i in range(self.low, self.high + 1) if pitches[i] % 12 == self.ctx.harmony.tonic]
        return min(tonics, key=lambda i: (abs(i - current), i)) if tonics else self.clamp(current)


def _to_notes(ctx: Context, shape: LeadShape, events: list[Event], last_index: int) -> list[Note]:
    """Events on the 16th grid -> swung ticks, plus the closing tonic held to the end."""
    pitches = ctx.harmony.pitches
    sw = ctx.swing
    notes = [(sw(s * STEP), sw((s + n) * STEP), pitches[i], v) for s, n, i, v in events]
    tl = ctx.timeline
    final = shape.final_index(last_index)
    notes.append((tl.final_tick, tl.end_tick, pitches[final], shape.velocity(tl.final_tick // STEP, 0.95)))
    return notes


# --- themes and phrases -----------------------------------------------------------------------------


class _Placements:
    """Where each cell has been played and as which scale indices, so a restatement near the same register
    over a chord that suits it is played exactly as before (the hook comes back note for note)."""

    def __init__(self, shape: LeadShape) -> None:
        self.shape = shape
        self.played: dict[Cell, list[tuple[int, tuple[int, ...]]]] = {}

    def fits(self, cell: Cell, indices: tuple[int, ...], bar_step: int) -> bool:
        """Whether notes already written for `cell` suit this bar's chords (strong beats and cadences)."""
        ctx = self.shape.ctx
        pitches = ctx.harmony.pitches
        tonic = ctx.harmony.tonic
        for (s, _, _, tag), i in zip(cell, indices, strict=True):
            pcs = ctx.chord_at_tick((bar_step + s) * STEP).pcs  # the harmony may move in the middle of the bar
            pc = pitches[i] % 12
            if (tag != FREE or s % 8 == 0) and pc not in pcs:
                return False
            if tag == CLOSE and tonic in pcs and pc != tonic:
                return False
        return True

    def place(self, cell: Cell, bar_step: int, anchor: int, prefer: frozenset[int], hold: float) -> list[Event]:
        """The cell at a bar: as played before if a placement within `hold` steps fits, else fitted afresh."""
        earlier = [
            (abs(a - anchor), k, indices)
            for k, (a, indices) in enumerate(self.played.get(cell, ()))
            if abs(a - anchor) <= hold and self.fits(cell, indices, bar_step)
        ]
        if earlier:
            indices = min(earlier)[2]
        else:
            indices = _fit(self.shape, cell, bar_step, anchor, prefer)
            self.played.setdefault(cell, []).append((anchor, indices))
        shape = self.shape
        return [
            (bar_step + s, n, i, shape.velocity(bar_step + s, 1.0 if s % 4 == 0 else 0.88))
            for (s, n, _, _), i in zip(cell, indices, strict=True)
        ]


def _fit(shape: LeadShape, cell: Cell, bar_step: int, anchor: int, prefer: frozenset[int]) -> tuple[int, ...]:
    """Scale indices of a cell placed at a bar and a register: strong beats and cadences on chord tones
    (on tones in `prefer` where one is as near)."""
    out = []
    for s, _, offset, tag in cell:
        step = bar_step + s
        index = shape.clamp(anchor + offset)
        if tag != FREE:
            index = shape.cadence_tone(index, step, tag == CLOSE)
        elif s % 8 == 0:
            index = shape.chord_tone_near(index, step, index, prefer)
        out.append(index)
    return tuple(out)


class Theme:
    """A material's motif (one or two bars) and the cells its phrases draw on, per density level."""

    def __init__(self, source: CellSource, rng: random.Random, lift: int, rest_from: int | None = None) -> None:
        self.source = source
        self.rest_from = rest_from or REST_FROM  # where a cadence bar's rest begins
        self.shift = LEGATO_DISPLACE if rest_from else DISPLACE
        self.lift = lift  # scale steps above the picture's line (a contrasting section sits higher)
        self.motif_bars = 2 if rng.random() < 0.4 else 1
        self.variations = tuple(rng.sample(VARIATIONS, len(VARIATIONS)))
        self.sequence_step = rng.choice((-2, -1, 1, 2))
        self.developments = 0
        self.cells: dict[tuple[str, int], Cell] = {}

    def cell(self, role: str, level: int) -> Cell:
        """A cell of the source's, made once per density level; "<name>+" carries on where <name> ended."""
        key = (role, level)
        if key not in self.cells:
            start = None
            if role.endswith("+"):
                before = self.cell(role[:-1], level)
                start = before[-1][2] if before else 0
            self.cells[key] = widen(self.source(role, level, start), MOTIF_SPAN)
        return self.cells[key]

    def varied(self, variant: int, level: int) -> Cell:
        """The motif's first bar varied: inversion, displacement, sequence or a fresh bar, by `variant`."""
        kind = self.variations[variant % len(self.variations)]
        m1 = self.cell("m1", level)
        if kind == "inversion":
            return inversion(m1)
        if kind == "displacement":
            return displacement(m1, self.shift)
        if kind == "sequence":
            return sequence(m1, self.sequence_step)
        return self.cell("fresh", level)

    def developed(self, level: int) -> tuple[Cell, Cell]:
        """The next development of the motif's two bars: inverted, displaced, both, then new bars."""
        n = self.developments
        self.developments += 1
        if n >= 3:
            return self.cell(f"dev{n}", level), self.cell(f"dev{n}+", level)
        pair = (self.cell("m1", level), self.cell("m1+", level))
        if n != 1:
            pair = (inversion(pair[0]), inversion(pair[1]))
        if n != 0:
            pair = (displacement(pair[0], self.shift), displacement(pair[1], self.shift))
        return pair

    def phrase(
        self, chords: list[tuple[int, ...]], level: int, variant: int, closing: bool, developed: bool, sequenced: bool
    ) -> list[Cell]:
        """A cell per bar of a phrase over `chords` (pitch classes per bar). `variant` picks the variation,
        `closing` the cadence's goal; a `developed` phrase states a development of the motif instead, and a
        `sequenced` one restates its first bar a scale step higher or lower rather than note for note and
        displaces its cadence's rhythm."""
        first, second = self.developed(level) if developed else (self.cell("m1", level), self.cell("m1+", level))
        out = []
        for role in phrase_roles(len(chords), self.motif_bars, restatement_bar(chords)):
            if role == "m1":
                cell = first
            elif role == "again":
                cell = sequence(first, 1 if self.sequence_step > 0 else -1) if sequenced else first
            elif role == "m2":
                cell = second
            elif role == "vary":
                cell = self.varied(variant + developed, level)
            else:
                base = second if self.motif_bars == 2 else first
                base = displacement(base, self.shift) if sequenced else base
                low, high = cell_span([base])
                goal = low - 1 if closing else high  # close below the motif, open at its top
                cell = changed_ending(base, goal, CLOSE if closing else OPEN, self.rest_from)
            out.append(cell)
        return out


def _phrases(section: Section) -> list[tuple[int, int]]:
    """(start bar, length) of a section's phrases: 4 bars each, a shorter one at the end if need be."""
    return [(b, min(PHRASE_BARS, section.end_bar - b)) for b in range(section.start_bar, section.end_bar, PHRASE_BARS)]


def _materials(ctx: Context) -> tuple[str, ...]:
    """The body's materials in order of appearance; the first is the hook that intro and outro quote."""
    out: list[str] = []
    for s in ctx.timeline.sections:
        if s.bars and s.name not in FRAME_SECTIONS and material(s.name) not in out:
            out.append(material(s.name))
    return tuple(out) or ("intro",)


def _commons(bars: list[Cell], chords: list[tuple[int, ...]]) -> list[frozenset[int]]:
    """Per bar: the pitch classes common to every chord under which the phrase plays that bar's cell."""
    return [
        frozenset.intersection(*(frozenset(chords[j]) for j, other in enumerate(bars) if other == cell)) for cell in bars
    ]


def _fitting(shape: LeadShape, bars: list[Cell], commons: list[frozenset[int]], anchor: int) -> int:
    """How many strong-beat notes of a phrase at `anchor` already sit on tones common to their chords."""
    pitches = shape.ctx.harmony.pitches
    return sum(
        pitches[shape.clamp(anchor + o)] % 12 in common
        for cell, common in zip(bars, commons, strict=True)
        for s, _, o, tag in cell
        if tag == FREE and s % 8 == 0
    )


def _anchor(
    shape: LeadShape, bars: list[Cell], commons: list[frozenset[int]], target: float, held: int | None, hold: float
) -> int:
    """The phrase's register (centred on its opening bar): the one `held` while the picture's line stays
    near it, else the register near the line whose strong beats fit the chords best (so restatements
    stay note for note)."""
    low, high = cell_span(bars[:1])
    target -= (low + high) / 2
    low, high = cell_span(bars)
    if held is not None and abs(target - held) < hold:
        anchor = held
    else:
        base = round(target)
        anchor = max((base, base - 1, base + 1), key=lambda a: (_fitting(shape, bars, commons, a), -abs(a - target)))
    return max(shape.low - low, min(shape.high - high, anchor))


class _Heard:
    """The bars played so far, and the share of them whose exact content (rhythm and pitch) occurs in
    another bar too: the figure a listener notices as repetition, counted as the music report counts it."""

    def __init__(self) -> None:
        self.counts: dict[tuple[tuple[int, int, int], ...], int] = {}
        self.repeating = self.played = 0

    @property
    def share(self) -> float:
        return self.repeating / self.played if self.played else REPEAT_FLOOR

    def add(self, bar: list[Event], bar_step: int) -> None:
        content = tuple((s - bar_step, n, i) for s, n, i, _ in bar)
        count = self.counts.get(content, 0)
        self.counts[content] = count + 1
        self.repeating += 2 if count == 1 else 1 if count > 1 else 0
        self.played += 1


def _held_level(level: int, held: int | None) -> int:
    """A phrase's density level: the one before unless the picture's energy has moved it further."""
    return held if held is not None and abs(level - held) <= LEVEL_HOLD else level


def _instrumental(ctx: Context, section: Section) -> bool:
    """Whether the lead sits a section out: the intro of a piece that has a body after it."""
    if ctx.genre.name in LEAD_FROM_THE_START or section.name != INSTRUMENTAL or not section.bars:
        return False
    return any(s.bars and s.name not in FRAME_SECTIONS for s in ctx.timeline.sections)


def _write(
    ctx: Context, shape: LeadShape, new_theme: Callable[[Section, int], Theme], restating: bool = False
) -> list[Event]:
    """Every section's phrases from its material's theme, anchored to the picture's line. A `restating` draft
    develops and sequences only above a higher share of repeated bars, and its outro quotes the hook's opening
    phrase instead of developing it (for short pieces whose every section brings new material)."""
    ceiling = LATE_CEILING if restating else REPEAT_CEILING
    materials = _materials(ctx)
    themes: dict[str, Theme] = {}
    anchors: dict[tuple[str, bool], int] = {}  # per material: its first phrase's register, its last one's
    levels: dict[str, int] = {}
    seen: dict[str, int] = {}
    openings: dict[str, bool] = {}  # per material: whether its opening phrase was sequenced
    placements = _Placements(shape)
    heard = _Heard()
    events: list[Event] = []
    for section in ctx.timeline.sections:
        if not section.bars or _instrumental(ctx, section):
            continue
        key = materials[0] if section.name in FRAME_SECTIONS else material(section.name)
        if key not in themes:
            themes[key] = new_theme(section, LIFTS[materials.index(key) % len(LIFTS)] if key in materials else 0)
        theme = themes[key]
        count = key if section.name not in FRAME_SECTIONS else section.name
        occurrence = seen.get(count, 0)
        seen[count] = occurrence + 1
        phrases = _phrases(section)
        for q, (start_bar, length) in enumerate(phrases):
            level = levels[count] = _held_level(shape.level(start_bar * STEPS_PER_BAR, section), levels.get(count))
            steps = [(start_bar + i) * STEPS_PER_BAR for i in range(length)]
            chords = [ctx.chord_at_tick(s * STEP).pcs for s in steps]
            closing = q == len(phrases) - 1 or q % 2 == 1
            share = heard.share
            # A section's opening phrase states its material as it stands (restating its first bar a step away
            # once the melody has repeated enough); the first return opens exactly as its material first did,
            # so the hook comes back (later returns too, unless the melody has repeated enough). Later phrases
            # develop on returns and once the melody has repeated enough. Intro and outro play developments
            # of the hook. While the melody has repeated too little, restatements hold their register longer.
            frame = section.name in FRAME_SECTIONS
            quoting = restating and section.name == "outro" and q == 0
            developed = (frame and not quoting) or (q > 0 and (occurrence > 0 or share > ceiling))
            sequenced = share > ceiling
            if q == 0 and not frame and occurrence < 2:
                sequenced = openings.setdefault(count, sequenced)
            hold = WIDE_HOLD if share < REPEAT_FLOOR else ANCHOR_HOLD
            bars = theme.phrase(chords, level, q + occurrence, closing, developed, sequenced)
            commons = _commons(bars, chords)
            target = sum(shape.target(s) for s in steps) / length + theme.lift
            # A return opens in the register its material first opened in; later phrases follow the last one.
            held = anchors.get((count, q == 0), anchors.get((count, False)))
            anchor = _anchor(shape, bars, commons, target, held, hold)
            anchors[(count, False)] = anchor
            anchors.setdefault((count, True), anchor)
            mean = target - theme.lift
            for cell, step, common in zip(bars, steps, commons, strict=True):
                # Bars other than the opening one and its restatements follow the picture's line within the phrase.
                drift = 0 if cell == bars[0] else round(shape.target(step) - mean)
                bar = placements.place(cell, step, anchor + drift, common, hold)
                heard.add(bar, step)
                events += bar
    return events


# --- rule-based lead --------------------------------------------------------------------------------


def _rhythm(rng: random.Random, count: int) -> tuple[tuple[int, int], ...]:
    """`count` onsets in a bar, favouring strong positions; each note lasts until the next onset."""
    steps = {0} if rng.random() < 0.8 else set()
    positions = range(STEPS_PER_BAR)
    while len(steps) < count:
        weights = [0 if s in steps else STEP_WEIGHTS[s] for s in positions]
        steps.add(rng.choices(positions, weights)[0])
    onsets = sorted(steps)
    ends = [*onsets[1:], STEPS_PER_BAR]
    return tuple((s, e - s) for s, e in zip(onsets, ends, strict=True))


def _skyline(ctx: Context, section: Section, points: int) -> tuple[float, ...]:
    """The picture's height over a section, relative to its mean, in scale steps (a motif's outline)."""
    first, last = section.start_bar * STEPS_PER_BAR, section.end_bar * STEPS_PER_BAR
    heights = [ctx.profile.height_at(ctx.position((first + (last - first) * k // points) * STEP)) for k in range(points)]
    mean = sum(heights) / points
    return tuple(SKYLINE_STEPS * (h - mean) for h in heights)


class RuleCells:
    """Rule-based cells: weighted rhythms and a stepwise line with leaps, bent by the picture's skyline."""

    def __init__(self, rng: random.Random, skyline: tuple[float, ...]) -> None:
        self.rng = rng
        self.skyline = skyline

    def __call__(self, role: str, level: int, start: int | None) -> Cell:
        rng = self.rng
        rhythm = _rhythm(rng, NOTES_PER_BAR[level])
        walk = [start if start is not None else 0]
        for _ in rhythm[1:]:
            walk.append(max(-3, min(MOTIF_REACH, walk[-1] + rng.choice((-3, -2, -1, -1, 0, 1, 1, 2, 3)))))
        points = len(self.skyline)
        offsets = [w + round(self.skyline[j * points // len(rhythm)] - self.skyline[0]) for j, w in enumerate(walk)]
        cell = tuple((s, n, o, FREE) for (s, n), o in zip(rhythm, offsets, strict=True))
        return _passing_tones(cell, rng)


def _passing_tones(cell: Cell, rng: random.Random) -> Cell:
    """Fill a third between two long-enough notes with a passing tone, or decorate a repeat with a neighbour."""
    out: list[tuple[int, int, int, int]] = []
    for k, (s, n, o, t) in enumerate(cell):
        nxt = cell[k + 1] if k + 1 < len(cell) else None
        if nxt is not None and nxt[0] == s + n and n >= 4:
            gap = nxt[2] - o
            if abs(gap) == 2 and rng.random() < 0.5:
                out += [(s, n - 2, o, t), (s + n - 2, 2, o + (1 if gap > 0 else -1), t)]
                continue
            if gap == 0 and rng.random() < 0.35:
                out += [(s, n - 2, o, t), (s + n - 2, 2, o + rng.choice((-1, 1)), t)]
                continue
        out.append((s, n, o, t))
    return tuple(out)


def repeat_share(notes: Sequence[Note]) -> float:
    """Share of a melody's bars whose content (onsets within the bar, pitches, lengths) occurs in another bar."""
    bars: dict[int, set[tuple[int, int, int]]] = {}
    for start, end, pitch, _ in notes:
        bar, offset = divmod(start, BAR)
        bars.setdefault(bar, set()).add((offset, pitch, end - start))
    contents = Counter(frozenset(content) for content in bars.values())
    return sum(n for n in contents.values() if n > 1) / len(bars) if bars else 0.0


def _drafted(draft: Callable[[int], list[Note]]) -> list[Note]:
    """The first draft whose repeat share lies in REPEAT_BAND, else the one nearest to it."""
    best: tuple[float, list[Note]] | None = None
    for attempt in range(DRAFTS):
        notes = draft(attempt)
        share = repeat_share(notes)
        miss = max(REPEAT_BAND[0] - share, share - REPEAT_BAND[1], 0.0)
        if miss == 0:
            return notes
        if best is None or miss < best[0]:
            best = (miss, notes)
    assert best is not None
    return best[1]


def _stream(name: str, attempt: int) -> str:
    return name if attempt == 0 else f"{name}-draft{attempt}"


def _restating(attempt: int) -> bool:
    """Whether a draft is one of the later ones, which restate more (see `_write`)."""
    return attempt >= DRAFTS // 2


def heuristic_lead(ctx: Context, program: int | None = None) -> list[Note]:
    """Rule-based motif-first melody: motifs shaped by the picture's skyline, developed phrase by phrase."""
    shape = LeadShape(ctx, program)

    def draft(attempt: int) -> list[Note]:
        rng = ctx.rng(_stream("lead", attempt))

        def theme(section: Section, lift: int) -> Theme:
            return Theme(RuleCells(rng, _skyline(ctx, section, 8)), rng, lift, LEGATO.get(ctx.genre.name))

        events = _write(ctx, shape, theme, _restating(attempt))
        return _to_notes(ctx, shape, events, events[-1][2] if events else shape.clamp(round(shape.target(0))))

    return _drafted(draft)


# --- model-driven lead ------------------------------------------------------------------------------


def _candidates(
    model: MarkovModel, prev2: int | None, prev1: int | None, level: int
) -> tuple[tuple[int, int, int, float], ...]:
    """(token, step, length in 16ths, weight) for the next note: the model's probability times a preference
    for lengths near this density level's. Chorale durations are halved or doubled to suit the density."""
    wanted = STEPS_PER_BAR / NOTES_PER_BAR[level]
    stretch = 2.0 ** max(-1, min(1, round(math.log2(wanted / 4))))
    out = []
    for tok, prob in model.next_tokens(prev2, prev1):
        move, quarters = model.tokens[tok]
        length = max(1, round(quarters * 4 * stretch))
        out.append((tok, move, length, prob * math.exp(-0.8 * abs(math.log2(length / wanted)))))
    return tuple(out)


class ModelCells:
    """Cells sampled from the Markov model: its steps and durations, kept within a motif's reach and on
    the beat grid; each cell carries on from the tokens of the one before."""

    def __init__(self, model: MarkovModel, rng: random.Random) -> None:
        self.model = model
        self.rng = rng
        self.context: tuple[int | None, int | None] = (None, None)
        self.rows: dict[tuple[int | None, int | None, int], tuple[tuple[int, int, int, float], ...]] = {}

    def __call__(self, role: str, level: int, start: int | None) -> Cell:
        prev2, prev1 = self.context
        offset = start if start is not None else 0
        notes: list[tuple[int, int, int, int]] = []
        step = 0
        while step < STEPS_PER_BAR:
            key = (prev2, prev1, level)
            if key not in self.rows:
                self.rows[key] = _candidates(self.model, prev2, prev1, level)
            choices: list[tuple[int, int, int]] = []
            weights: list[float] = []
            for tok, move, length, base in self.rows[key]:
                new = offset + move if notes or start is not None else 0
                w = base * math.exp(-0.7 * max(0, abs(new) - MOTIF_REACH)) * GRID_WEIGHTS[(step + length) % 4]
                choices.append((tok, new, length))
                weights.append(w)
            if choices:
                tok, offset, length = self.rng.choices(choices, weights)[0]
                prev2, prev1 = prev1, tok
            else:
                length = max(1, STEPS_PER_BAR // NOTES_PER_BAR[level])
            # A bar holds at least two notes: the first leaves a beat or more for the next.
            length = min(length, STEPS_PER_BAR - step - (4 if not notes else 0))
            notes.append((step, length, offset, FREE))
            step += length
        self.context = (prev2, prev1)
        return tuple(notes)


def model_lead(ctx: Context, model: MarkovModel | None = None, program: int | None = None) -> list[Note]:
    """Motif-first melody whose motifs and variations are drawn from the Markov model."""
    source = model or load_model()
    shape = LeadShape(ctx, program)

    def draft(attempt: int) -> list[Note]:
        rng = ctx.rng(_stream("lead-model", attempt))

        def theme(section: Section, lift: int) -> Theme:
            return Theme(ModelCells(source, rng), rng, lift, LEGATO.get(ctx.genre.name))

        events = _write(ctx, shape, theme, _restating(attempt))
        return _to_notes(ctx, shape, events, events[-1][2] if events else shape.clamp(round(shape.target(0))))

    return _drafted(draft)
