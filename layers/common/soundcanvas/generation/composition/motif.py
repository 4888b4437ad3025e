"""Motifs and how a phrase develops them: one bar of melody as a cell of notes relative to the phrase's
register, the classic variations of a cell (sequence, inversion, rhythmic displacement, changed ending)
and the plan of a phrase (statement, repetition or sequence, variation, cadence).

Everything here is pure: cells are tuples, and the same inputs always give the same cells.
"""

from __future__ import annotations

import re

from .form import STEPS_PER_BAR

# A note of a cell: (onset step in the bar, length in 16ths, scale steps above the phrase's anchor, tag).
CellNote = tuple[int, int, int, int]
Cell = tuple[CellNote, ...]

FREE, OPEN, CLOSE = 0, 1, 2  # tags: any scale tone; a cadence on a chord tone; a cadence on the tonic
HOLD_FROM = 8  # a cadence bar holds its last note from beat 3 ...
REST_FROM = 12  # ... and breathes in the last beat
DISPLACE = 2  # rhythmic displacement: an 8th later
LEGATO_DISPLACE = 1  # ... or a 16th, so a legato line never stops for long


def material(section_name: str) -> str:
    """The material a section plays: a numbered return ("A2", "chorus3") plays its first statement's."""
    return re.sub(r"\d+$", "", section_name) or section_name


def sequence(cell: Cell, steps: int) -> Cell:
    """The cell moved up (or down) by scale steps."""
    return tuple((s, n, o + steps, t) for s, n, o, t in cell)


def inversion(cell: Cell) -> Cell:
    """The cell's intervals turned upside down around its first note."""
    if not cell:
        return cell
    pivot = cell[0][2]
    return tuple((s, n, 2 * pivot - o, t) for s, n, o, t in cell)


def displacement(cell: Cell, shift: int = DISPLACE) -> Cell:
    """The cell an 8th later: the same pitches off the beat, the last notes trimmed to the bar."""
    out = [(s + shift, n, o, t) for s, n, o, t in cell if s + shift < STEPS_PER_BAR]
    return tuple((s, min(n, STEPS_PER_BAR - s), o, t) for s, n, o, t in out)


def changed_ending(cell: Cell, offset: int, tag: int, rest_from: int = REST_FROM) -> Cell:
    """The cell's first half, then a cadence note held from beat 3 until `rest_from` (beat 4: a beat of
    rest; a legato lead holds on longer and only breathes before the next phrase)."""
    head = tuple((s, min(n, HOLD_FROM - s), o, t) for s, n, o, t in cell if s < HOLD_FROM)
    return (*head, (HOLD_FROM, rest_from - HOLD_FROM, offset, tag))


def widen(cell: Cell, reach: int) -> Cell:
    """The cell opened to span at least `reach` scale steps: the note furthest from the first (the last
    such) leaps further the way it already goes (up when it stays level)."""
    if len(cell) < 2:
        return cell
    low, high = span([cell])
    if high - low >= reach:
        return cell
    first = cell[0][2]
    k = max(range(1, len(cell)), key=lambda j: (abs(cell[j][2] - first), j))
    s, n, o, t = cell[k]
    moved = (s, n, low + reach if o >= first else high - reach, t)
    return (*cell[:k], moved, *cell[k + 1 :])


def span(cells: list[Cell]) -> tuple[int, int]:
    """The lowest and highest offsets the cells reach ((0, 0) when they are empty)."""
    offsets = [o for cell in cells for _, _, o, _ in cell]
    return (min(offsets), max(offsets)) if offsets else (0, 0)


def restatement_bar(chords: list[tuple[int, ...]]) -> int:
    """Where a phrase restates its first bar (1 or 2): over the chord sharing most tones with the first's,
    so the restatement can be note for note with its strong beats still on chord tones."""
    options = [j for j in (1, 2) if j < len(chords)]
    if not options:
        return 1
    first = set(chords[0])
    return max(options, key=lambda j: (len(first & set(chords[j])), -j))


def phrase_roles(length: int, motif_bars: int, again_at: int = 1) -> tuple[str, ...]:
    """What each bar of a phrase of `length` bars (1..4) plays.

    "m1"/"m2": the motif's bars; "again": the first bar restated at bar `again_at` (1 or 2); "vary": a
    variation of the first bar; "cadence": the changed ending (of the motif's last bar).
    """
    if motif_bars == 2:
        full = ("m1", "m2", "again", "cadence") if again_at == 2 else ("m1", "again", "m2", "cadence")
    elif again_at == 2:
        full = ("m1", "vary", "again", "cadence")
    else:
        full = ("m1", "again", "vary", "cadence")
    if length >= 4:
        return full
    return {1: ("cadence",), 2: ("m1", "cadence"), 3: (full[0], full[1], "cadence")}[length]
