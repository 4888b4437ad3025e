"""The lead: a melody whose pitch follows the picture's height profile, whose note density follows its
energy and whose loudness follows its brightness, left to right over the whole piece.

Two writers share that mapping: a rule-based one (contour-following motifs with passing and neighbour
tones) and one that draws steps and durations from the packaged Markov model.
"""

from __future__ import annotations

import math
import random

from .context import Context, Note
from .form import STEP, STEPS_PER_BAR, Section
from .markov import MarkovModel, load_model

LEAD_LOW, LEAD_HIGH = 60, 86
NOTES_PER_BAR = (2, 3, 4, 6, 8)  # by density level 0..4
# How likely each 16th of a bar is to carry an onset: downbeat, half bar, beats, 8ths, 16ths.
STEP_WEIGHTS = (10, 1, 3, 1, 5, 1, 3, 1, 7, 1, 3, 1, 5, 1, 3, 1)
GRID_WEIGHTS = (1.0, 0.3, 0.8, 0.3)  # where the next onset lands: beat, 16th, 8th, 16th
PHRASE_ROLES = ("a", "b", "a", "answer")  # a 4-bar phrase: motif, continuation, motif again, answer

Event = tuple[int, int, int, int]  # (start step, length in steps, scale index, velocity)


class LeadShape:
    """The lead's register and its mapping from the profile to a target scale index."""

    def __init__(self, ctx: Context) -> None:
        h = ctx.harmony
        self.ctx = ctx
        self.low = h.index_of(min(p for p in h.pitches if p >= LEAD_LOW))
        self.high = h.index_of(max(p for p in h.pitches if p <= LEAD_HIGH))

    def target(self, step: int) -> float:
        """Target scale index at a 16th-note step: high bright mass in the picture -> higher notes."""
        height = self.ctx.profile.height_at(self.ctx.position(step * STEP))
        return self.low + height * (self.high - self.low)

    def level(self, step: int, section: Section) -> int:
        """Density level 0..4 from the picture's local energy and the piece's density."""
        d = self.ctx.profile.density_at(self.ctx.position(step * STEP), self.ctx.density)
        level = min(4, int(d * 5))
        return min(level, 1) if section.name in ("intro", "outro") else level

    def velocity(self, step: int, accent: float) -> int:
        return self.ctx.velocity(94 * accent, step * STEP, brightness_weight=0.6)

    def clamp(self, index: int) -> int:
        return max(self.low, min(self.high, index))

    def chord_tone_near(self, index: int, step: int, desired: float) -> int:
        """The chord tone within one scale step of `index` closest to `desired` (or `index` itself)."""
        pcs = self.ctx.chord_at_tick(step * STEP).pcs
        pitches = self.ctx.harmony.pitches
        options = [i for i in (index, index - 1, index + 1) if self.low <= i <= self.high and pitches[i] % 12 in pcs]
        return min(options, key=lambda i: (abs(i - desired), i)) if options else index

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


def _contour_offsets(rng: random.Random) -> tuple[int, ...]:
    """A motif's melodic shape: small steps around the contour, at most a fourth away from it."""
    offsets = [0]
    for _ in range(max(NOTES_PER_BAR) - 1):
        offsets.append(max(-3, min(3, offsets[-1] + rng.choice((-2, -1, -1, 0, 1, 1, 2)))))
    return tuple(offsets)


class _Motifs:
    """The rhythms and shapes a section family reuses, so phrases repeat recognisably."""

    def __init__(self, rng: random.Random, shapes: dict[str, tuple[int, ...]] | None = None) -> None:
        self.rng = rng
        self.shapes = shapes or {role: _contour_offsets(rng) for role in ("a", "b", "answer")}
        self.rhythms: dict[tuple[str, int], tuple[tuple[int, int], ...]] = {}

    def rhythm(self, role: str, level: int) -> tuple[tuple[int, int], ...]:
        key = (role, level)
        if key not in self.rhythms:
            self.rhythms[key] = _rhythm(self.rng, NOTES_PER_BAR[level])
        return self.rhythms[key]

    def varied(self) -> _Motifs:
        """The same motif with a new answer phrase (for A2)."""
        other = _Motifs(self.rng, {**self.shapes, "answer": _contour_offsets(self.rng)})
        other.rhythms = {k: v for k, v in self.rhythms.items() if k[0] != "answer"}
        return other


def heuristic_lead(ctx: Context) -> list[Note]:
    """Rule-based melody: contour-following motifs with passing and neighbour tones."""
    rng = ctx.rng("lead")
    shape = LeadShape(ctx)
    families: dict[str, _Motifs] = {}
    events: list[Event] = []
    index = shape.chord_tone_near(shape.clamp(round(shape.target(0))), 0, shape.target(0))
    for section in ctx.timeline.sections:
        family = section.name
        if family not in families:
            families[family] = families["A"].varied() if family == "A2" and "A" in families else _Motifs(rng)
        motifs = families[family]
        for bar in range(section.start_bar, section.end_bar):
            role = PHRASE_ROLES[(bar - section.start_bar) % 4]
            bar_step = bar * STEPS_PER_BAR
            offsets = motifs.shapes[role]
            rhythm = motifs.rhythm(role, shape.level(bar_step, section))
            if role == "answer" and len(rhythm) > 1:
                # Breathe at the end of the phrase: nothing in the last beat.
                rhythm = tuple((s, min(n, 12 - s)) for s, n in rhythm if s < 12) or rhythm
            for j, (s, n) in enumerate(rhythm):
                step = bar_step + s
                target = shape.target(step)
                desired = target + offsets[j % len(offsets)]
                limit = 4 if j == 0 else 2
                index = shape.clamp(index + max(-limit, min(limit, round(desired - index))))
                if s % 8 == 0 or (role == "answer" and j == len(rhythm) - 1):
                    index = shape.chord_tone_near(index, step, desired)
                accent = 1.0 if s % 4 == 0 else 0.88
                events.append((step, n, index, shape.velocity(step, accent)))
    events = _ornament(events, rng, shape)
    return _to_notes(ctx, shape, events, events[-1][2] if events else index)


def _ornament(events: list[Event], rng: random.Random, shape: LeadShape) -> list[Event]:
    """Fill thirds with passing tones and decorate repeated notes with neighbour tones."""
    out: list[Event] = []
    for k, (s, n, i, v) in enumerate(events):
        nxt = events[k + 1] if k + 1 < len(events) else None
        if nxt is not None and nxt[0] == s + n and n >= 4:
            gap = nxt[2] - i
            if abs(gap) == 2 and rng.random() < 0.5:
                out += [(s, n - 2, i, v), (s + n - 2, 2, i + (1 if gap > 0 else -1), max(1, v - 8))]
                continue
            if gap == 0 and rng.random() < 0.35:
                neighbour = shape.clamp(i + rng.choice((-1, 1)))
                out += [(s, n - 2, i, v), (s + n - 2, 2, neighbour, max(1, v - 10))]
                continue
        out.append((s, n, i, v))
    return out


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


def model_lead(ctx: Context, model: MarkovModel | None = None) -> list[Note]:
    """Steps and durations sampled from the Markov model, weighted toward the picture's contour."""
    model = model or load_model()
    rng = ctx.rng("lead-model")
    shape = LeadShape(ctx)
    tl = ctx.timeline
    pitches = ctx.harmony.pitches
    events: list[Event] = []
    index = shape.chord_tone_near(shape.clamp(round(shape.target(0))), 0, shape.target(0))
    prev2: int | None = None
    prev1: int | None = None
    step = 0
    end = tl.bars * STEPS_PER_BAR
    candidates: dict[tuple[int | None, int | None, int], tuple[tuple[int, int, int, float], ...]] = {}
    while step < end:
        bar = step // STEPS_PER_BAR
        section = tl.section_at(bar)
        rel = bar - section.start_bar
        # Notes never cross a phrase end; a 4-bar phrase ends with a beat of rest.
        phrase_start = bar - rel % 4
        phrase_end = min(section.end_bar, phrase_start + 4)
        boundary = phrase_end * STEPS_PER_BAR
        rest_from = boundary - 4 if phrase_end - phrase_start >= 2 else boundary
        if step >= rest_from:
            step = boundary
            continue
        level = shape.level(step, section)
        key = (prev2, prev1, level)
        if key not in candidates:
            candidates[key] = _candidates(model, prev2, prev1, level)
        target = shape.target(step)
        strong = step % 8 == 0
        pcs = ctx.chord_at_tick(step * STEP).pcs
        choices: list[tuple[int, int, int]] = []
        weights: list[float] = []
        for tok, move, length, base in candidates[key]:
            new = index + move
            if new < shape.low or new > shape.high:
                continue
            # Toward the picture's contour, on the beat, and onto chord tones on strong beats.
            w = base * math.exp(-0.55 * abs(new - target)) * GRID_WEIGHTS[(step + length) % 4]
            if strong and pitches[new] % 12 in pcs:
                w *= 2.0
            choices.append((tok, new, length))
            weights.append(w)
        if choices:
            tok, index, length = rng.choices(choices, weights)[0]
            prev2, prev1 = prev1, tok
        else:  # nothing in range: step toward the contour
            index = shape.clamp(index + (1 if target > index else -1))
            length = max(1, round(STEPS_PER_BAR / NOTES_PER_BAR[level]))
            prev2 = prev1 = None
        length = min(length, rest_from - step)
        accent = 1.0 if step % 4 == 0 else 0.88
        events.append((step, length, index, shape.velocity(step, accent)))
        step += length
    return _to_notes(ctx, shape, events, index)
