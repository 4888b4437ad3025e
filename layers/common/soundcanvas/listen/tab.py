"""Guitar tablature from transcribed notes: tunings, the fingering solver, JSON and ASCII tab.

Strings. The tab numbers strings as guitarists do: 1 is the highest (thin) string, 6 the lowest;
`TabNote.string` and the JSON hold that number. A `Tuning` lists its open strings the other way,
low to high ("E2 A2 D3 G3 B3 E4"), as tunings are written and spoken; inside this module strings
are indexed 0 (lowest) to 5 (highest) in that order.

Capo. A capo on fret c raises every open string by c semitones. Fret numbers in the tab count from
the capo, as guitarists read a capo'd tab: "0" is the capo'd open string, "2" is two frets above
the capo. The highest usable fret is the instrument's `max_fret` counted from the nut, so with a
capo the tab reaches at most `max_fret - capo`.

The solver (`solve_tab`): notes that start within `onset_tolerance_seconds` of an event's first
note form one event (same-pitch duplicates in an event count once); each event's notes get
distinct strings by a Viterbi search over the whole piece. Hard rules, never traded for comfort:

- every placed note is on a string that reaches it (fret 0 .. max_fret - capo);
- two notes that sound at once never share a string, including a note still ringing from an earlier
  event. A note rings until its `end_seconds`; an overlap of up to `release_tolerance_seconds`
  (RELEASE_TOLERANCE_SECONDS, 150 ms) does not count, because transcribed offsets overrun the next
  onset: a strum's notes, transcribed, often ring 100 ms into the next strum (at 50 ms, 18 % of such
  notes went unplaced; at 150 ms none). Striking the same pitch again ON THE SAME STRING cuts the earlier
  note (a re-attack); struck on another string, or left out, it cuts nothing, and the earlier note
  keeps its string until it ends. A string is never reused by cutting off a different note;
- a shape's fretted notes lie within SPAN_FRETS consecutive frets (open strings do not count) and
  need at most four fingers (notes on the same fret share a finger as a barre when no open string,
  and no string fretted lower, lies between them);
- a note that no fingering can hold is listed in `Tab.unplaced` with the reason, never guessed.

Which notes are left out: an event places as many of its notes as the strings left free by ringing
notes allow (a note is never left out now to make room for a later one), and when some must go the
interior ones go first: the highest and lowest (melody and bass) cost OUTER_DROP_COST more to drop.
Every drop costs DROP_COST, more than any comfort cost a piece can add up to, so among the ways to
finger earlier notes the search prefers those that leave later notes room, whatever they cost.
Then comfort: the stretch of each shape, barres, the height of the hand's position (more past the
12th fret), and moving the hand between events (a fixed cost per move plus a cost per fret,
weighted less when the gap between the events is longer, since the hand has time to move). Open
strings are free and leave the hand where it is.

The hand is modelled by its position: the fret of the index finger, which covers that fret and the
three above it. A shape with fretted notes allows every position from which all of them are in
reach; the search picks one. The search state is (position, which strings are still ringing, with
which pitch, until which event), so the ringing rule is exact, not a heuristic; a ringing note only
counts until the last event that could have used its string. Every fingering the rules allow is a
candidate: the span and finger rules leave few (tens for a full chord), so pruning them to the
cheapest few saved no time in our measurements and would have made the answer depend on the cut.
The search is exact: states are merged only when their futures are identical, and dropped only
when another provably does at least as well (`_margin`). A safety cap
(MAX_STATES) bounds pathological input, such as a sustain pedal transcribed as dozens of overlapping
notes; `Tab.exact` is False when it was reached, and after CUTS_BEFORE_NARROWING such events the
search goes on as a beam of NARROW_STATES, so that such input costs seconds, not minutes.
"""

from __future__ import annotations

import bisect
import itertools
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from soundcanvas.listen.notes import Note

STRING_COUNT = 6
MAX_FRET = 22  # highest fret counted from the nut: most electric guitars have 21-24, classical 19
MAX_CAPO = 12
SPAN_FRETS = 4  # a shape's fretted notes fit in four consecutive frets: one finger per fret
MAX_FINGERS = 4  # the thumb is not used
LOWEST_OPEN_PITCH = 23  # B0: the low string of a seven-string or a baritone tuned down
HIGHEST_OPEN_PITCH = 76  # E5: a high-strung (Nashville) tuning's top
ONSET_TOLERANCE_SECONDS = 0.03  # a strum spreads a chord's onsets over about 10-30 ms
RELEASE_TOLERANCE_SECONDS = 0.15  # a transcribed offset may overrun the next onset by this much
MAX_NOTES_CONSIDERED = 8  # an event with more notes keeps its lowest, highest and loudest 8
SIXTEENTHS_PER_WHOLE = 16
MAX_STATES = 768  # search states kept per event; our realistic 2,000-note pieces peak near 600
CUTS_BEFORE_NARROWING = 8  # after the cap has cut this many events the input is not guitar music
NARROW_STATES = 64  # ... and the search goes on as a beam of this many states
DOMINANCE_FROM = 128  # states are checked for dominance only when an event leaves more than this many

# Comfort costs: a unit is about "one small position shift".
HEIGHT_COST_PER_FRET = 0.05  # per fret of the hand's position, per event: prefer lower positions a little
HIGH_POSITION_FRET = 12  # above this, frets are narrow and the body is in the way:
HIGH_POSITION_COST_PER_FRET = 0.1  # each fret higher costs this much more
STRETCH_COST = (0.0, 0.0, 0.4, 1.2)  # by frets between the lowest and highest fretted note (0-3)
BARRE_COST = 0.3  # one finger across several strings
SHIFT_COST = 1.5  # moving the hand at all
SHIFT_COST_PER_FRET = 0.3  # and per fret moved
SHIFT_GAP_SECONDS = 0.5  # a shift after a gap of this length costs half as much as an immediate one
DROP_COST = 1e6  # a dropped note: more than the comfort costs of any realistic piece add up to
OUTER_DROP_COST = 1e3  # extra for dropping an event's highest or lowest note

_SPELLING = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
_FLATS = ("C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B")
_LETTERS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_ACCIDENTALS = {"": 0, "#": 1, "\u266f": 1, "b": -1, "\u266d": -1}
_NOTE_RE = re.compile(r"([A-Ga-g])([#b\u266f\u266d]?)(\d)?")
_SEPARATORS_RE = re.compile(r"[\s,;/]+")
_NO_OCC = (0,) * STRING_COUNT


class TuningProblem(ValueError):
    """A tuning or capo a person asked for that the tab cannot use; the message says what is wrong."""


def note_name(pitch: int) -> str:
    """Scientific pitch name of a MIDI pitch (40 -> "E2"), spelled as tuners label strings: C# F# and
    Eb Ab Bb (so half-step-down reads "Eb2 Ab2 Db3 ..." rather than "D#2 G#2 ...")."""
    return f"{_SPELLING[pitch % 12]}{pitch // 12 - 1}"


@dataclass(frozen=True)
class Tuning:
    """Six open strings, low to high, as MIDI pitches without a capo."""

    name: str
    open_pitches: tuple[int, ...]

    @property
    def strings(self) -> tuple[str, ...]:
        """Note names low to high. A tuning with three or more altered strings is spelled in flats
        throughout, as a lowered tuning is said ("Eb Ab Db Gb Bb Eb"); otherwise as `note_name` does."""
        altered = sum(1 for pitch in self.open_pitches if _SPELLING[pitch % 12][1:])
        if altered >= 3:
            return tuple(f"{_FLATS[pitch % 12]}{pitch // 12 - 1}" for pitch in self.open_pitches)
        return tuple(note_name(pitch) for pitch in self.open_pitches)

    def to_json(self) -> dict[str, str | list[str]]:
        """{name, strings}: the open strings low to high, without the capo (the tab carries the capo)."""
        return {"name": self.name, "strings": list(self.strings)}


TUNINGS: dict[str, Tuning] = {
    tuning.name: tuning
    for tuning in (
        Tuning("standard", (40, 45, 50, 55, 59, 64)),
        Tuning("drop-d", (38, 45, 50, 55, 59, 64)),
        Tuning("half-step-down", (39, 44, 49, 54, 58, 63)),
        Tuning("open-g", (38, 43, 50, 55, 59, 62)),
        Tuning("dadgad", (38, 45, 50, 55, 57, 62)),
    )
}
_ALIASES = {"e-standard": "standard", "eadgbe": "standard", "drop-d-tuning": "drop-d", "dropd": "drop-d",
            "eb-standard": "half-step-down", "e-flat": "half-step-down", "eb": "half-step-down",
            "half-step": "half-step-down", "dgdgbd": "open-g", "d-a-d-g-a-d": "dadgad"}
STANDARD = TUNINGS["standard"]


def parse_tuning(value: str | Sequence[str]) -> Tuning:
    """A tuning from a name in TUNINGS (case, spaces and underscores ignored) or six note names low to
    high: a list (["D2", "A2", "D3", "G3", "A3", "D4"]), one string separated by spaces or commas,
    or written together ("DADGAD", "EbAbDbGbBbEb"; there a lower-case b after a letter is a flat).

    A name without an octave ("D") takes the octave closest to the standard-tuning string in the same
    place, the lower one on a tie (slackening a string is safer than over-tightening it): "D A D G A D"
    reads as D2 A2 D3 G3 A3 D4, "C G C G C E" as C2 G2 C3 G3 C4 E4. Open strings must lie within
    B0..E5. The result is named after the preset it equals, otherwise "custom".
    Raises TuningProblem (a ValueError) saying what is wrong."""
    if isinstance(value, str):
        text = value.strip()
        preset = _preset(text)
        if preset is not None:
            return preset
        names = _split_names(text)
    elif isinstance(value, Sequence) and all(isinstance(item, str) for item in value):
        names = [item.strip() for item in value]
    else:
        raise TuningProblem("tuning: expected a tuning name or 6 note names low to high")
    if len(names) != STRING_COUNT:
        raise TuningProblem(f"tuning: expected {STRING_COUNT} note names low to high, got {len(names)}"
                            + _reading(value, names))
    pitches = tuple(_open_pitch(name, STANDARD.open_pitches[index]) for index, name in enumerate(names))
    for index, (name, pitch) in enumerate(zip(names, pitches, strict=True)):
        if not LOWEST_OPEN_PITCH <= pitch <= HIGHEST_OPEN_PITCH:
            raise TuningProblem(
                f"tuning: {name} (string {STRING_COUNT - index}) is outside {note_name(LOWEST_OPEN_PITCH)}"
                f"..{note_name(HIGHEST_OPEN_PITCH)}, the range a guitar string can be tuned to")
    for tuning in TUNINGS.values():
        if tuning.open_pitches == pitches:
            return tuning
    return Tuning("custom", pitches)


def _preset(text: str) -> Tuning | None:
    key = re.sub(r"[\s_]+", "-", text.lower())
    return TUNINGS.get(_ALIASES.get(key, key))


def _split_names(text: str) -> list[str]:
    if _SEPARATORS_RE.search(text):
        return [name for name in _SEPARATORS_RE.split(text) if name]
    names = [match.group(0) for match in _NOTE_RE.finditer(text)]
    if not text or "".join(names) != text:
        presets = ", ".join(TUNINGS)
        raise TuningProblem(f"tuning: unknown tuning {text!r}; use one of {presets}, or {STRING_COUNT} note names "
                            "low to high (e.g. D2 A2 D3 G3 A3 D4)")
    return names


def _reading(value: str | Sequence[str], names: list[str]) -> str:
    """How a compact string was split, so that a miscount can be understood ("EADGbe" has a Gb)."""
    if isinstance(value, str) and not _SEPARATORS_RE.search(value.strip()) and names:
        return f" (read {value.strip()!r} as {' '.join(names)})"
    return ""


def _open_pitch(name: str, standard_pitch: int) -> int:
    match = _NOTE_RE.fullmatch(name)
    if match is None:
        raise TuningProblem(f"tuning: {name!r} is not a note name (a letter A-G, an optional # or b, "
                            "and an octave, e.g. Eb2)")
    letter, accidental, octave = match.groups()
    pitch_class = _LETTERS[letter.upper()] + _ACCIDENTALS[accidental]
    if octave is not None:
        return 12 * (int(octave) + 1) + pitch_class
    below = standard_pitch - (standard_pitch - pitch_class) % 12
    return below if standard_pitch - below <= below + 12 - standard_pitch else below + 12


def check_capo(capo: int) -> int:
    """The capo fret, or TuningProblem when it is not a whole number of frets in 0..MAX_CAPO."""
    if isinstance(capo, bool) or not isinstance(capo, int) or not 0 <= capo <= MAX_CAPO:
        raise TuningProblem(f"capo: expected a whole number of frets from 0 to {MAX_CAPO}, got {capo!r}")
    return capo


def sounding_open_pitches(tuning: Tuning, capo: int = 0) -> tuple[int, ...]:
    """What each open string sounds with the capo on, low to high."""
    return tuple(pitch + check_capo(capo) for pitch in tuning.open_pitches)


# ---------------------------------------------------------------------------------------- events


@dataclass(frozen=True)
class Event:
    """Notes struck together: `time_seconds` is the earliest onset among them."""

    time_seconds: float
    notes: tuple[Note, ...]


def group_events(notes: Iterable[Note], onset_tolerance_seconds: float = ONSET_TOLERANCE_SECONDS) -> list[Event]:
    """Notes in onset order, grouped: a note joins the current event when it starts within the
    tolerance of the event's FIRST onset. Anchoring on the first onset (not the previous note) keeps a
    fast run of notes from chaining into one long "chord"."""
    events: list[Event] = []
    current: list[Note] = []
    for note in sorted(notes, key=lambda item: (item.start_seconds, item.pitch)):
        if current and note.start_seconds - current[0].start_seconds > onset_tolerance_seconds:
            events.append(Event(current[0].start_seconds, tuple(current)))
            current = []
        current.append(note)
    if current:
        events.append(Event(current[0].start_seconds, tuple(current)))
    return events


# ------------------------------------------------------------------------------------------- tab


@dataclass(frozen=True)
class TabNote:
    """A placed note: `string` 1 (highest) .. 6 (lowest), `fret` counted from the capo, MIDI pitch."""

    string: int
    fret: int
    pitch: int


@dataclass(frozen=True)
class TabEvent:
    """Notes struck together. `end_seconds` is when the last of them stops sounding (None: unknown)."""

    time_seconds: float
    notes: tuple[TabNote, ...]
    end_seconds: float | None = None


@dataclass(frozen=True)
class Unplaced:
    """A note the tab leaves out, and why, in words for the person reading the tab."""

    time_seconds: float
    pitch: int
    reason: str


@dataclass(frozen=True)
class Tab:
    """A solved tab. `cost` is the search's objective (drops and comfort, see the module docstring);
    `exact` is False when the state cap cut the search (never on ordinary music)."""

    tuning: Tuning
    capo: int
    events: tuple[TabEvent, ...]
    unplaced: tuple[Unplaced, ...]
    cost: float = 0.0
    exact: bool = True


@dataclass(frozen=True)
class Slot:
    """An event as the solver sees it: distinct placeable pitches, ascending, and for each the index of
    the first later event at which it no longer sounds (`free_from`; the next event's index when it
    ends before that event; `release_tolerance_seconds` of overlap does not count)."""

    time_seconds: float
    pitches: tuple[int, ...]
    free_from: tuple[int, ...]
    end_seconds: tuple[float, ...]


@dataclass(frozen=True)
class Fingering:
    """One candidate for a slot: per pitch its string index (0 = lowest, -1 = dropped) and fret.

    `positions` are the index-finger frets from which every fretted note is in reach (empty when
    nothing is fretted: the hand stays where it was); `lingering` the (string, ringing code) of placed
    notes still sounding at the next event (see `ring_code`); `cost` the shape's stretch, barre and
    drop costs; `placed` the (string, pitch) pairs."""

    strings: tuple[int, ...]
    frets: tuple[int, ...]
    mask: int
    cost: float
    positions: tuple[int, ...]
    lingering: tuple[tuple[int, int], ...]
    placed: tuple[tuple[int, int], ...]

    @property
    def dropped(self) -> int:
        return self.strings.count(-1)


def fingers_needed(placed: Sequence[tuple[int, int]]) -> tuple[int, bool]:
    """(fingers, barre) for (string index, fret) pairs: one finger per fretted note, except that notes
    on the same fret share a finger (a barre) when every string between them is unused or fretted
    higher; an open string or a lower fret in between would be silenced by the barre."""
    fret_of = dict(placed)
    fingers, barre = 0, False
    for fret in sorted({fret for _, fret in placed if fret > 0}):
        on_fret = sorted(string for string, at in placed if at == fret)
        fingers += 1
        for low, high in itertools.pairwise(on_fret):
            between = (fret_of.get(string) for string in range(low + 1, high))
            if all(at is None or at > fret for at in between):
                barre = True
            else:
                fingers += 1
    return fingers, barre


def shape_cost(placed: Sequence[tuple[int, int]]) -> float:
    """Stretch plus barre cost of a shape; open strings are free. Raises ValueError when the shape
    breaks a hard rule (span over SPAN_FRETS, more than MAX_FINGERS fingers)."""
    fretted = [fret for _, fret in placed if fret > 0]
    if not fretted:
        return 0.0
    span = max(fretted) - min(fretted)
    fingers, barre = fingers_needed(placed)
    if span >= SPAN_FRETS or fingers > MAX_FINGERS:
        raise ValueError("not a playable shape")
    return STRETCH_COST[span] + (BARRE_COST if barre else 0.0)


def hand_positions(frets: Iterable[int]) -> tuple[int, ...]:
    """Index-finger frets from which every fretted note is reachable (the finger's fret and three above)."""
    fretted = [fret for fret in frets if fret > 0]
    if not fretted:
        return ()
    return tuple(range(max(1, max(fretted) - SPAN_FRETS + 1), min(fretted) + 1))


def height_cost(position: int) -> float:
    """Cost of holding the hand at `position` for one event: a little per fret, more past HIGH_POSITION_FRET."""
    return HEIGHT_COST_PER_FRET * position + HIGH_POSITION_COST_PER_FRET * max(0, position - HIGH_POSITION_FRET)


def shift_cost(from_position: int, to_position: int, gap_seconds: float) -> float:
    """Cost of moving the hand between events `gap_seconds` apart; 0 from a free hand (position 0)."""
    if from_position == 0 or from_position == to_position:
        return 0.0
    return (SHIFT_COST + SHIFT_COST_PER_FRET * abs(to_position - from_position)) / (1 + gap_seconds / SHIFT_GAP_SECONDS)


def drop_cost(index: int, count: int) -> float:
    """Cost of leaving out the `index`-th lowest of `count` notes: the outer two cost more."""
    return DROP_COST + (OUTER_DROP_COST if index in (0, count - 1) else 0.0)


def playable_strings(pitch: int, opens: Sequence[int], top_fret: int) -> tuple[int, ...]:
    """Indexes of the strings that reach `pitch` (fret 0 .. top_fret above the open or capo'd string)."""
    return tuple(string for string, open_pitch in enumerate(opens) if 0 <= pitch - open_pitch <= top_fret)


Ringing = tuple[tuple[int, int], ...]  # (string index, pitch) of every string still sounding, by string


def ring_code(free_from: int, pitch: int) -> int:
    """A ringing string in one int, for compact search states: the slot it is free from, and its pitch."""
    return free_from << 7 | pitch


@lru_cache(maxsize=8192)
def assignments(pitches: tuple[int, ...], opens: tuple[int, ...], top_fret: int,
                ringing: Ringing | None = None) -> tuple[tuple[int, ...], ...]:
    """Assignments of `pitches` to distinct strings that obey the range, span and finger rules.

    With `ringing` None: those that place every note. Otherwise (strings still sounding, with their
    pitches): those that leave the ringing strings alone, except to strike a string's own pitch
    again, and that place as many notes as any such assignment can, -1 marking a left-out note (the
    empty assignment when nothing fits). Branch and bound: a branch that cannot reach the best count
    so far is cut. Memoised: a piece repeats its chords."""
    count = len(pitches)
    sounding = dict(ringing or ())
    options = [tuple(string for string in playable_strings(pitch, opens, top_fret)
                     if sounding.get(string, pitch) == pitch) + ((-1,) if ringing is not None else ())
               for pitch in pitches]
    found: list[tuple[int, ...]] = []
    best = [0]

    def walk(index: int, used: int, low: int, high: int, chosen: tuple[int, ...], placed: int) -> None:
        if placed + count - index < best[0]:
            return
        if index == count:
            notes = [(string, pitches[i] - opens[string]) for i, string in enumerate(chosen) if string >= 0]
            if fingers_needed(notes)[0] <= MAX_FINGERS:
                best[0] = max(best[0], placed)
                found.append(chosen)
            return
        for string in options[index]:
            if string < 0:
                walk(index + 1, used, low, high, (*chosen, -1), placed)
                continue
            if used >> string & 1:
                continue
            fret = pitches[index] - opens[string]
            new_low, new_high = (min(low, fret), max(high, fret)) if fret > 0 else (low, high)
            if new_high - new_low < SPAN_FRETS:
                walk(index + 1, used | 1 << string, new_low, new_high, (*chosen, string), placed + 1)

    walk(0, 0, top_fret + 1, -1, (), 0)
    return tuple(chosen for chosen in found if count - chosen.count(-1) == best[0])


def fingering(slot: Slot, index: int, strings: tuple[int, ...], opens: tuple[int, ...],
              last_use: Sequence[Sequence[int]] | None = None) -> Fingering:
    """The candidate `strings` for slot number `index`, with its costs and what it leaves ringing.

    `last_use[string][k]` is the last slot at or before k whose pitches that string can play; with it
    a ringing note only counts until the last slot that could have wanted its string (a string no later
    note can use constrains nothing), which lets the search merge states that differ only there."""
    frets, mask, cost, positions = _shape(slot.pitches, strings, opens)
    lingering: list[tuple[int, int]] = []
    for i, string in enumerate(strings):
        free = slot.free_from[i]
        if string < 0 or free <= index + 1:
            continue
        if last_use is not None:
            free = last_use[string][free - 1] + 1
        if free > index + 1:
            lingering.append((string, ring_code(free, slot.pitches[i])))
    placed = tuple((string, pitch) for string, pitch in zip(strings, slot.pitches, strict=True) if string >= 0)
    return Fingering(strings, frets, mask, cost, positions, tuple(sorted(lingering)), placed)


@lru_cache(maxsize=65536)
def _shape(pitches: tuple[int, ...], strings: tuple[int, ...],
           opens: tuple[int, ...]) -> tuple[tuple[int, ...], int, float, tuple[int, ...]]:
    """What a fingering is regardless of when it is played: frets, string mask, cost, hand positions."""
    count = len(pitches)
    frets = tuple(pitches[i] - opens[string] if string >= 0 else -1 for i, string in enumerate(strings))
    placed = [(string, fret) for string, fret in zip(strings, frets, strict=True) if string >= 0]
    cost = shape_cost(placed) + sum(drop_cost(i, count) for i, string in enumerate(strings) if string < 0)
    mask = 0
    for string, _ in placed:
        mask |= 1 << string
    return frets, mask, cost, hand_positions(fret for _, fret in placed)


def last_uses(slots: Sequence[Slot], opens: Sequence[int], top_fret: int) -> list[list[int]]:
    """Per string, per slot k: the last slot at or before k with a pitch the string can play (-1: none)."""
    table = [[-1] * len(slots) for _ in range(STRING_COUNT)]
    last = [-1] * STRING_COUNT
    for index, slot in enumerate(slots):
        for pitch in slot.pitches:
            for string in playable_strings(pitch, opens, top_fret):
                last[string] = index
        for string in range(STRING_COUNT):
            table[string][index] = last[string]
    return table


# ------------------------------------------------------------------------------------ the search

Key = tuple[int, tuple[int, ...]]  # (hand position, per string its `ring_code`, 0 when free)


def prepare(notes: Iterable[Note], opens: Sequence[int], top_fret: int,
            onset_tolerance_seconds: float = ONSET_TOLERANCE_SECONDS,
            release_tolerance_seconds: float = RELEASE_TOLERANCE_SECONDS) -> tuple[list[Slot], list[Unplaced]]:
    """Events as slots, and the notes left out before the search: out of range, or beyond the
    MAX_NOTES_CONSIDERED of a crowded event. Same-pitch duplicates within an event (a transcriber
    doubling a note) count once: placed as one note that lasts as long as the longest, or listed once."""
    events = group_events(notes, onset_tolerance_seconds)
    unplaced: list[Unplaced] = []
    rows: list[tuple[float, list[int], list[float]]] = []
    for event in events:
        ends: dict[int, float] = {}
        refused: set[int] = set()
        for note in event.notes:
            reason = range_problem(note.pitch, opens, top_fret)
            if reason and note.pitch not in refused:
                refused.add(note.pitch)
                unplaced.append(Unplaced(event.time_seconds, note.pitch, reason))
            elif not reason:
                ends[note.pitch] = max(ends.get(note.pitch, note.end_seconds), note.end_seconds)
        pitches = sorted(ends)
        if len(pitches) > MAX_NOTES_CONSIDERED:
            loudness = {note.pitch: note.velocity for note in event.notes}
            middle = sorted(pitches[1:-1], key=lambda pitch: (-loudness[pitch], pitch))
            keep = {pitches[0], pitches[-1], *middle[:MAX_NOTES_CONSIDERED - 2]}
            unplaced += [Unplaced(event.time_seconds, pitch, "more than six notes at once")
                         for pitch in pitches if pitch not in keep]
            pitches = sorted(keep)
        if pitches:
            rows.append((event.time_seconds, pitches, [ends[pitch] for pitch in pitches]))
    times = [time for time, _, _ in rows]
    slots = []
    for index, (time, pitches, ends_list) in enumerate(rows):
        free = tuple(max(index + 1, bisect.bisect_left(times, end - release_tolerance_seconds, lo=index + 1))
                     for end in ends_list)
        slots.append(Slot(time, tuple(pitches), free, tuple(ends_list)))
    return slots, unplaced


def range_problem(pitch: int, opens: Sequence[int], top_fret: int) -> str | None:
    """Why no string can play `pitch`, or None."""
    if playable_strings(pitch, opens, top_fret):
        return None
    lowest, highest = min(opens), max(open_pitch + top_fret for open_pitch in opens)
    if pitch < lowest:
        return f"below the lowest open string ({note_name(lowest)})"
    if pitch > highest:
        return f"above the highest fret ({note_name(highest)})"
    return "between the strings' ranges: no string of this tuning reaches it"


def _margin(a_position: int, b_position: int, top_fret: int) -> float:
    """The most a hand at `a_position` can pay over one at `b_position` to copy its moves, with the same
    strings ringing: at B's next fretted event both end on the same fret, and by the triangle
    inequality A pays at most one move of |A - B| more (nothing from a free hand, position 0; from
    anywhere to where B's free hand goes, a move across the whole neck)."""
    if a_position == b_position or a_position == 0:
        return 0.0
    distance = top_fret if b_position == 0 else abs(a_position - b_position)
    return SHIFT_COST + SHIFT_COST_PER_FRET * distance


def _prune_states(states: States, top_fret: int, cap: int = MAX_STATES) -> tuple[States, bool]:
    """The states worth keeping, and whether the cap cut any.

    Up to DOMINANCE_FROM states are all kept (checking costs more than it saves). Past that, a state
    is dropped when another with the same ringing strings costs at least `_margin` less: both have
    the same candidates from here on, so the cheaper one can copy every later choice. (States with
    different ringing strings are not compared: a state with fewer strings ringing may have to place
    a note the other leaves out, so it cannot always copy it.) Past `cap` the cheapest are kept and
    the search is no longer exact. The tests set DOMINANCE_FROM to 0 to check that this pruning never
    changes the answer."""
    count = sum(len(group) for group in states.values())
    if count <= min(DOMINANCE_FROM, cap):
        return states, False
    kept: list[tuple[float, int, tuple[int, ...]]] = []
    for occ, group in states.items():
        survivors: list[tuple[int, float]] = []
        for position, cost in sorted(group.items(), key=lambda item: item[1]):
            if not any(c + _margin(p, position, top_fret) <= cost for p, c in survivors):
                survivors.append((position, cost))
        kept += [(cost, position, occ) for position, cost in survivors]
    cut = len(kept) > cap
    if cut:
        kept.sort()
        del kept[cap:]
    pruned: States = {}
    for cost, position, occ in kept:
        pruned.setdefault(occ, {})[position] = cost
    return pruned, cut


class SlotCandidates:
    """The fingerings the search considers for one slot, by which strings are still ringing into it.

    A slot places as many of its notes as the strings left free allow: with strings ringing, the
    candidates are the fingerings that leave them alone (or strike a ringing string's own pitch
    again, which cuts the earlier note) and hold the most notes any such fingering can hold. A note
    is thus left out only when it has to be (never now to make room for a later note), and the
    fewest are left out, the outer ones last. Which strings ringing notes use is still searched
    over, so earlier choices that would force a later drop are avoided when they can be."""

    def __init__(self, slot: Slot, index: int, opens: tuple[int, ...], top_fret: int,
                 last_use: Sequence[Sequence[int]] | None = None) -> None:
        self.slot, self.index, self.opens, self.top_fret, self.last_use = slot, index, opens, top_fret, last_use
        full = assignments(slot.pitches, opens, top_fret) if len(slot.pitches) <= STRING_COUNT else ()
        self.full = [fingering(slot, index, strings, opens, last_use) for strings in full]
        self.by_ringing: dict[Ringing, list[Fingering]] = {}
        self.pitches = frozenset(slot.pitches)

    def for_ringing(self, ringing: Ringing) -> list[Fingering]:
        """The candidates while `ringing` strings sound. A ringing pitch this slot does not have only
        blocks its string, so it is keyed as -1: states that differ there share one answer."""
        ringing = tuple((string, pitch if pitch in self.pitches else -1) for string, pitch in ringing)
        found = self.by_ringing.get(ringing)
        if found is None:
            sounding = dict(ringing)
            found = [item for item in self.full
                     if all(sounding.get(string, pitch) == pitch for string, pitch in item.placed)]
            if not found:
                found = [fingering(self.slot, self.index, strings, self.opens, self.last_use)
                         for strings in assignments(self.slot.pitches, self.opens, self.top_fret, ringing)]
            self.by_ringing[ringing] = found
        return found


Back = tuple[Key, Fingering]
States = dict[tuple[int, ...], dict[int, float]]  # ring codes per string -> hand position -> cost


def search(slots: Sequence[Slot], opens: tuple[int, ...], top_fret: int) -> tuple[list[Fingering], float, bool]:
    """Viterbi over slots: the chosen fingering of every slot, the total cost, and whether it is exact.

    States are grouped by their ringing strings, so that what a candidate leaves ringing is worked out
    once per group; `moves[p][q]` is the undamped cost of moving the hand from p to q."""
    states: States = {_NO_OCC: {0: 0.0}}
    history: list[dict[Key, Back]] = []
    exact, cuts = True, 0
    last_use = last_uses(slots, opens, top_fret)
    moves = _move_costs(top_fret)
    heights = [height_cost(position) for position in range(top_fret + 1)]
    for index, slot in enumerate(slots):
        gap = slot.time_seconds - slots[index - 1].time_seconds if index else math.inf
        damping = 1.0 / (1.0 + gap / SHIFT_GAP_SECONDS)
        candidates = SlotCandidates(slot, index, opens, top_fret, last_use)
        new_states: States = {}
        back: dict[Key, Back] = {}
        for occ, group in states.items():
            busy, base = 0, _NO_OCC
            ringing: Ringing = ()
            if occ is not _NO_OCC:
                ringing = tuple((string, code & 127) for string, code in enumerate(occ) if code)
                for string, _ in ringing:
                    busy |= 1 << string
                base = tuple(code if code >> 7 > index + 1 else 0 for code in occ)
                if not any(base):
                    base = _NO_OCC
            members = list(group.items())
            for candidate in candidates.for_ringing(ringing):
                new_occ = base
                if candidate.lingering or candidate.mask & busy:
                    occ_list = list(base)
                    for string, _ in candidate.placed:  # a string struck again: its earlier note is cut
                        occ_list[string] = 0
                    for string, code in candidate.lingering:
                        occ_list[string] = code
                    new_occ = tuple(occ_list) if any(occ_list) else _NO_OCC
                target = new_states.get(new_occ)
                if target is None:
                    target = new_states[new_occ] = {}
                extra = candidate.cost
                if not candidate.positions:  # nothing fretted: the hand stays, free of cost
                    for position, cost in members:
                        total = cost + extra
                        if total < target.get(position, math.inf):
                            target[position] = total
                            back[position, new_occ] = ((position, occ), candidate)
                    continue
                for reach in candidate.positions:
                    here = extra + heights[reach]
                    row = moves[reach]
                    best, best_from = math.inf, 0
                    for position, cost in members:
                        total = cost + damping * row[position]
                        if total < best:
                            best, best_from = total, position
                    best += here
                    if best < target.get(reach, math.inf):
                        target[reach] = best
                        back[reach, new_occ] = ((best_from, occ), candidate)
        cap = MAX_STATES if cuts < CUTS_BEFORE_NARROWING else NARROW_STATES
        states, cut = _prune_states(new_states, top_fret, cap)
        cuts += cut
        exact = exact and not cut
        history.append(back)
    best_cost, best_key = min((cost, (position, occ)) for occ, group in states.items()
                              for position, cost in group.items())
    chosen: list[Fingering] = []
    key = best_key
    for back in reversed(history):
        key, candidate = back[key]
        chosen.append(candidate)
    chosen.reverse()
    return chosen, best_cost, exact


@lru_cache(maxsize=64)
def _move_costs(top_fret: int) -> tuple[tuple[float, ...], ...]:
    """moves[to][from]: SHIFT_COST + SHIFT_COST_PER_FRET x distance, 0 when staying or from a free hand."""
    return tuple(tuple(0.0 if start in (0, to) else SHIFT_COST + SHIFT_COST_PER_FRET * abs(to - start)
                       for start in range(top_fret + 1)) for to in range(top_fret + 1))


def solve_tab(notes: Iterable[Note], tuning: Tuning = STANDARD, capo: int = 0, *, max_fret: int = MAX_FRET,
              onset_tolerance_seconds: float = ONSET_TOLERANCE_SECONDS,
              release_tolerance_seconds: float = RELEASE_TOLERANCE_SECONDS) -> Tab:
    """The tab of `notes` on `tuning` with a capo (see the module docstring for the rules and costs).
    `max_fret` is the highest fret counted from the nut (the tab reaches `max_fret - capo`); the
    tolerances are those of `group_events` and of the ringing rule. Raises TuningProblem for a bad
    capo or a max_fret the capo leaves no room under."""
    check_capo(capo)
    if isinstance(max_fret, bool) or not isinstance(max_fret, int) or not capo < max_fret <= 36:
        raise TuningProblem(f"max_fret: expected a whole number of frets above the capo, at most 36, got {max_fret!r}")
    opens = sounding_open_pitches(tuning, capo)
    top_fret = max_fret - capo
    slots, unplaced = prepare(notes, opens, top_fret, onset_tolerance_seconds, release_tolerance_seconds)
    if not slots:
        return Tab(tuning, capo, (), tuple(sorted(unplaced, key=_unplaced_order)))
    chosen, cost, exact = search(slots, opens, top_fret)
    events: list[TabEvent] = []
    sounding: dict[int, tuple[int, int]] = {}  # along the chosen path: string -> (free from slot, pitch)
    for index, (slot, choice) in enumerate(zip(slots, chosen, strict=True)):
        placed = [TabNote(STRING_COUNT - string, fret, pitch)
                  for string, fret, pitch in zip(choice.strings, choice.frets, slot.pitches, strict=True) if string >= 0]
        if placed:
            ends = [end for string, end in zip(choice.strings, slot.end_seconds, strict=True) if string >= 0]
            events.append(TabEvent(slot.time_seconds, tuple(sorted(placed, key=lambda note: note.string)), max(ends)))
        if choice.dropped:
            ringing = tuple((string, pitch) for string, (free, pitch) in sorted(sounding.items()) if free > index)
            unplaced += [Unplaced(slot.time_seconds, pitch, drop_reason(slot, pitch, ringing, opens, top_fret))
                         for pitch, string in zip(slot.pitches, choice.strings, strict=True) if string < 0]
        for string, free, pitch in zip(choice.strings, slot.free_from, slot.pitches, strict=True):
            if string >= 0:
                sounding[string] = (free, pitch)
    return Tab(tuning, capo, tuple(events), tuple(sorted(unplaced, key=_unplaced_order)), cost, exact)


def _unplaced_order(item: Unplaced) -> tuple[float, int]:
    return item.time_seconds, item.pitch


def drop_reason(slot: Slot, pitch: int, ringing: Ringing, opens: Sequence[int], top_fret: int) -> str:
    """Why the search left `pitch` out of `slot`, given the strings still ringing into it, in words."""
    if len(slot.pitches) > STRING_COUNT:
        return "more than six notes at once"
    if not assignments(slot.pitches, tuple(opens), top_fret):
        return "no fingering holds it with the other notes at this time (one note a string, 4 frets, 4 fingers)"
    sounding = dict(ringing)
    if all(sounding.get(string, pitch) != pitch for string in playable_strings(pitch, opens, top_fret)):
        return "every string that can play it is still ringing from an earlier note"
    return "the strings not still ringing cannot hold it together with the other notes"


# ------------------------------------------------------------------------------------ JSON, ASCII


def tab_to_json(tab: Tab) -> dict[str, object]:
    """The API's shape: {tuning: {name, strings (open, low to high, no capo)}, capo, events: [{time,
    notes: [{string (1 = highest), fret (from the capo), pitch}]}], unplaced: [{time, pitch, reason}]}."""
    return {
        "tuning": tab.tuning.to_json(),
        "capo": tab.capo,
        "events": [{"time": round(event.time_seconds, 4),
                    "notes": [{"string": note.string, "fret": note.fret, "pitch": note.pitch} for note in event.notes]}
                   for event in tab.events],
        "unplaced": [{"time": round(item.time_seconds, 4), "pitch": item.pitch, "reason": item.reason}
                     for item in tab.unplaced],
    }


MAX_UNPLACED_LISTED = 20  # the ASCII tab lists this many left-out notes, then counts the rest


def string_labels(tuning: Tuning) -> list[str]:
    """Line labels high to low: note names without octave, the top one in lower case as tabs print it
    (e|B|G|D|A|E| in standard, d|A|G|D|A|D| in DADGAD), padded to one width."""
    names = [_SPELLING[pitch % 12] for pitch in reversed(tuning.open_pitches)]
    names[0] = names[0][0].lower() + names[0][1:]
    width = max(len(name) for name in names)
    return [name.ljust(width) for name in names]


_TIME_SIGNATURE_RE = re.compile(r"\s*(\d{1,2})\s*/\s*(\d{1,2})\s*")


def parse_time_signature(value: str) -> tuple[int, int]:
    """(beats, beat unit) from "3/4", "4/4", "6/8" ...: 1-32 beats of a 1, 2, 4, 8 or 16 note.
    Raises ValueError naming what is wrong."""
    match = _TIME_SIGNATURE_RE.fullmatch(value)
    if match is None:
        raise ValueError(f"time signature: expected beats/unit such as 4/4, 3/4 or 6/8, got {value!r}")
    beats, unit = int(match.group(1)), int(match.group(2))
    if not 1 <= beats <= 32 or unit not in (1, 2, 4, 8, 16):
        raise ValueError(f"time signature: expected 1-32 beats of a 1, 2, 4, 8 or 16 note, got {value!r}")
    return beats, unit


def beat_sixteenths(time_signature: str) -> int:
    """Sixteenths in the beat a tempo counts, as soundcanvas.listen.rhythm counts it: the signature's
    unit (a quarter in 4/4 and 3/4), except in compound meters (6/8, 9/8, 12/8), whose beat is the
    dotted quarter: a 6/8 piece at 120 eighths a minute is 40 bpm."""
    beats, unit = parse_time_signature(time_signature)
    if unit == 8 and beats % 3 == 0 and beats > 3:
        return 6
    return SIXTEENTHS_PER_WHOLE // unit


def bar_sixteenths(time_signature: str) -> int:
    beats, unit = parse_time_signature(time_signature)
    return beats * SIXTEENTHS_PER_WHOLE // unit


def known_tempo(tempo_bpm: float | None) -> float | None:
    """The tempo, or None when it is unknown: None, or 0 (soundcanvas.listen.rhythm's "no pulse found").
    Raises ValueError for a negative or non-finite tempo."""
    if tempo_bpm is None or tempo_bpm == 0:
        return None
    if not (math.isfinite(tempo_bpm) and tempo_bpm > 0):
        raise ValueError(f"tempo: expected a positive number of beats per minute, got {tempo_bpm!r}")
    return float(tempo_bpm)


def ascii_tab(tab: Tab, tempo_bpm: float | None = None, columns_per_line: int = 80,
              time_signature: str = "4/4") -> str:
    """A six-line ASCII tab, high e on top, events in time order, wrapped to `columns_per_line`.

    With a tempo (beats a minute, counted as `beat_sixteenths` says: dotted quarters in 6/8) each
    sixteenth note takes two columns and a bar line closes every bar of `time_signature`, counted
    from 0 s; an event that rounds to a sixteenth already taken moves to the next free one, so none
    is lost. Without a tempo (None or 0), events follow each other with one to four dashes by their
    gap relative to the piece's median gap, and there are no bar lines. A header names the tuning
    and capo; the notes left out are listed last."""
    tempo = known_tempo(tempo_bpm)
    sixteenths_per_bar = bar_sixteenths(time_signature)
    labels = string_labels(tab.tuning)
    lines = [f"Tuning: {tab.tuning.name} ({' '.join(tab.tuning.strings)})"]
    lines.append(f"Capo: {tab.capo} (fret numbers count from the capo)" if tab.capo else "Capo: none")
    if tempo:
        lines.append(f"Tempo: {tempo:g} bpm in {time_signature.strip()}, two columns a sixteenth")
    lines.append("")
    if not tab.events:
        lines.append("(no notes placed)")
    else:
        if tempo:
            sixteenth_seconds = 60.0 / tempo / beat_sixteenths(time_signature)
            bars = _bars_by_tempo(tab, sixteenth_seconds, sixteenths_per_bar)
        else:
            bars = [_untimed_columns(tab)]
        width = max(8, columns_per_line - len(labels[0]) - 1)
        for block in _wrap(bars, width, bar_lines=bool(tempo)):
            lines += [f"{label}|{''.join(column[row] for column in block)}" for row, label in enumerate(labels)]
            lines.append("")
    if tab.unplaced:
        lines.append(f"Not placed ({len(tab.unplaced)}):")
        lines += [f"  {_clock(item.time_seconds)} {note_name(item.pitch)}: {item.reason}"
                  for item in tab.unplaced[:MAX_UNPLACED_LISTED]]
        if len(tab.unplaced) > MAX_UNPLACED_LISTED:
            lines.append(f"  ... and {len(tab.unplaced) - MAX_UNPLACED_LISTED} more")
    return "\n".join(lines).rstrip("\n") + "\n"


Column = tuple[str, ...]  # one text column: a character per line, high string first


def _event_cells(event: TabEvent, width: int) -> list[Column]:
    cells = ["-" * width] * STRING_COUNT
    for note in event.notes:
        cells[note.string - 1] = str(note.fret).ljust(width, "-")
    return [tuple(cell[i] for cell in cells) for i in range(width)]


def _untimed_columns(tab: Tab) -> list[Column]:
    dash: Column = ("-",) * STRING_COUNT
    gaps = [b.time_seconds - a.time_seconds for a, b in itertools.pairwise(tab.events)]
    median = sorted(gaps)[len(gaps) // 2] if gaps else 1.0
    columns: list[Column] = [dash]
    for number, event in enumerate(tab.events):
        width = max(len(str(note.fret)) for note in event.notes)
        columns += _event_cells(event, width)
        steps = round(gaps[number] / median) if number < len(gaps) and median > 0 else 1
        columns += [dash] * min(4, max(1, steps))
    return columns


def _bars_by_tempo(tab: Tab, sixteenth_seconds: float, sixteenths_per_bar: int) -> list[list[Column]]:
    cells: dict[int, TabEvent] = {}
    last = -1
    for event in tab.events:
        cell = max(round(event.time_seconds / sixteenth_seconds), last + 1)
        cells[cell] = event
        last = cell
    bars: list[list[Column]] = []
    for bar in range(last // sixteenths_per_bar + 1):
        columns: list[Column] = []
        for cell in range(bar * sixteenths_per_bar, (bar + 1) * sixteenths_per_bar):
            found = cells.get(cell)
            columns += _event_cells(found, 2) if found else [("-",) * STRING_COUNT] * 2
        columns.append(("|",) * STRING_COUNT)
        bars.append(columns)
    return bars


def _wrap(bars: list[list[Column]], width: int, *, bar_lines: bool) -> list[list[Column]]:
    """Lines of at most `width` columns: whole bars when they fit (with bar lines), otherwise cut
    before the last column that is all dashes or bars, so that a fret number is never split."""
    lines: list[list[Column]] = []
    current: list[Column] = []
    for bar in bars:
        if bar_lines and current and len(current) + len(bar) > width:
            lines.append(current)
            current = []
        for column in bar:
            if len(current) >= width:
                cut = max((i for i, kept in enumerate(current) if i and set(kept) <= {"-", "|"}), default=len(current))
                lines.append(current[:cut])
                current = current[cut:]
            current.append(column)
    if current:
        lines.append(current)
    return lines


def _clock(seconds: float) -> str:
    minutes, rest = divmod(max(0.0, seconds), 60)
    return f"{int(minutes)}:{rest:05.2f}"
