"""soundcanvas.listen.tab and tab_files: tunings, the fingering search checked against brute force,
the hard rules as properties, the reasons for left-out notes, the ASCII tab and the Guitar Pro file."""

from __future__ import annotations

import io
import itertools
import math
import random
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from soundcanvas.listen import tab as T
from soundcanvas.listen.notes import Note
from soundcanvas.listen.tab_files import guitar_pro_bytes

STANDARD, DROP_D = T.TUNINGS["standard"], T.TUNINGS["drop-d"]


def run(pitches: Sequence[int], step_seconds: float = 0.125, length_seconds: float = 0.12) -> list[Note]:
    """Single notes one after another."""
    return [Note(i * step_seconds, i * step_seconds + length_seconds, pitch, 80) for i, pitch in enumerate(pitches)]


def chord(time_seconds: float, pitches: Sequence[int], length_seconds: float = 0.5) -> list[Note]:
    return [Note(time_seconds, time_seconds + length_seconds, pitch, 80) for pitch in pitches]


def placed(tab: T.Tab) -> list[tuple[float, T.TabNote]]:
    return [(event.time_seconds, note) for event in tab.events for note in event.notes]


# --------------------------------------------------------------------------- the search vs brute force


def brute_force(slots: Sequence[T.Slot], opens: tuple[int, ...], top_fret: int) -> float:
    """The cheapest cost over every sequence of fingerings and hand positions, enumerated directly:
    itertools.product over strings (or left out) per note, the hard rules checked here, ringing
    tracked per string with each note's own free_from and pitch (a string still ringing takes only
    its own pitch again), and the rule that an event places as many notes as the free strings allow.
    Shares only the cost terms with the module."""

    def options(slot: T.Slot, busy: dict[int, int]) -> list[tuple[tuple[int, ...], list[tuple[int, int]]]]:
        choices = [[s for s in range(6) if busy.get(s, pitch) == pitch and 0 <= pitch - opens[s] <= top_fret] + [-1]
                   for pitch in slot.pitches]
        valid = []
        for strings in itertools.product(*choices):
            used = [s for s in strings if s >= 0]
            if len(used) != len(set(used)):
                continue
            shape = [(s, pitch - opens[s]) for s, pitch in zip(strings, slot.pitches, strict=True) if s >= 0]
            fretted = [fret for _, fret in shape if fret > 0]
            if fretted and max(fretted) - min(fretted) > 3:
                continue
            if T.fingers_needed(shape)[0] > 4:
                continue
            valid.append((strings, shape))
        most = max(len(shape) for _, shape in valid)
        return [item for item in valid if len(item[1]) == most]

    best = math.inf

    def walk(index: int, position: int, ringing: dict[int, tuple[int, int]], cost: float) -> None:
        nonlocal best
        if cost >= best:
            return
        if index == len(slots):
            best = cost
            return
        slot = slots[index]
        gap = slot.time_seconds - slots[index - 1].time_seconds if index else math.inf
        busy = {string: pitch for string, (free, pitch) in ringing.items() if free > index}
        for strings, shape in options(slot, busy):
            step = cost + T.shape_cost(shape) + sum(T.drop_cost(i, len(strings)) for i, s in enumerate(strings) if s < 0)
            after = {**ringing, **{s: (slot.free_from[i], slot.pitches[i]) for i, s in enumerate(strings) if s >= 0}}
            positions = T.hand_positions(fret for _, fret in shape)
            if not positions:
                walk(index + 1, position, after, step)
            for target in positions:
                walk(index + 1, target, after, step + T.height_cost(target) + T.shift_cost(position, target, gap))

    walk(0, 0, {}, 0.0)
    return best


def sequence_cost(slots: Sequence[T.Slot], tab: T.Tab, opens: tuple[int, ...]) -> float:
    """The cost of the tab's own fingerings, with the best hand positions for them (brute force)."""
    chosen = []
    for slot in slots:
        strings_of = {note.pitch: 6 - note.string for time, note in placed(tab) if time == slot.time_seconds}
        chosen.append(tuple(strings_of.get(pitch, -1) for pitch in slot.pitches))
    shapes = [[(s, pitch - opens[s]) for s, pitch in zip(strings, slot.pitches, strict=True) if s >= 0]
              for strings, slot in zip(chosen, slots, strict=True)]
    fixed = sum(T.shape_cost(shape) + sum(T.drop_cost(i, len(strings)) for i, s in enumerate(strings) if s < 0)
                for shape, strings in zip(shapes, chosen, strict=True))
    reaches = [T.hand_positions(fret for _, fret in shape) or (None,) for shape in shapes]
    best = math.inf
    for targets in itertools.product(*reaches):
        position, total = 0, fixed
        for index, target in enumerate(targets):
            if target is None:
                continue
            gap = slots[index].time_seconds - slots[index - 1].time_seconds if index else math.inf
            total += T.height_cost(target) + T.shift_cost(position, target, gap)
            position = target
        best = min(best, total)
    return best


small_pieces = st.lists(  # (start step, length in steps, pitch): few pitches on a short neck, so that notes
    st.tuples(st.integers(0, 4), st.integers(1, 4), st.integers(40, 57)),  # often ring into each other,
    min_size=1, max_size=5,                                                # share strings and repeat
)


@settings(max_examples=120, deadline=None)
@given(pieces=small_pieces, tuning=st.sampled_from(sorted(T.TUNINGS)), capo=st.integers(0, 2))
def test_the_search_finds_the_cheapest_sequence_that_brute_force_finds(
    pieces: list[tuple[int, int, int]], tuning: str, capo: int,
) -> None:
    notes = [Note(0.2 * start, 0.2 * (start + length) - 0.01, pitch, 80) for start, length, pitch in pieces]
    max_fret = 7  # a short neck keeps the brute force small; long notes make ringing clashes likely
    opens, top_fret = T.sounding_open_pitches(T.TUNINGS[tuning], capo), max_fret - capo
    slots, _ = T.prepare(notes, opens, top_fret)
    exact = T.solve_tab(notes, T.TUNINGS[tuning], capo, max_fret=max_fret)
    if not slots:
        assert exact.events == () and len(exact.unplaced) == len({(n.start_seconds, n.pitch) for n in notes})
        return
    expected = brute_force(slots, opens, top_fret)
    assert exact.exact
    assert exact.cost == pytest.approx(expected, rel=1e-12, abs=1e-9)
    assert sequence_cost(slots, exact, opens) == pytest.approx(exact.cost, rel=1e-12, abs=1e-9)  # the path is the optimum
    with pytest.MonkeyPatch.context() as patch:  # prune states at every event, as hard as the rules allow
        patch.setattr(T, "DOMINANCE_FROM", 0)
        pruned_states = T.solve_tab(notes, T.TUNINGS[tuning], capo, max_fret=max_fret)
    assert pruned_states.exact and pruned_states.cost == pytest.approx(expected, rel=1e-12, abs=1e-9)


# ------------------------------------------------------------------------------- the hard rules


def string_clashes(result: T.Tab, notes: list[Note]) -> list[tuple[int, float, float]]:
    """(string, earlier onset, later onset) of notes that sound on one string at once: the later one
    starts more than the release tolerance before the earlier one ends, and is not the same pitch
    struck again (which cuts the earlier note). A note lasts as long as its longest duplicate."""
    ends: dict[tuple[float, int], float] = {}
    for event in T.group_events(notes):
        for note in event.notes:
            key = (event.time_seconds, note.pitch)
            ends[key] = max(ends.get(key, note.end_seconds), note.end_seconds)
    by_string: dict[int, list[tuple[float, float, int]]] = {}
    for time, tab_note in placed(result):
        by_string.setdefault(tab_note.string, []).append((time, ends[time, tab_note.pitch], tab_note.pitch))
    found = []
    for string, items in by_string.items():
        items.sort()
        for i, (start, end, pitch) in enumerate(items):
            for later_start, _, later_pitch in items[i + 1:]:
                if later_start >= end - T.RELEASE_TOLERANCE_SECONDS or later_pitch == pitch:
                    break
                found.append((string, start, later_start))
    return found


random_pieces = st.lists(
    st.tuples(st.integers(0, 200), st.integers(1, 60), st.integers(28, 96)),  # start and length in 50 ms, pitch
    min_size=1, max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(pieces=random_pieces, tuning=st.sampled_from(sorted(T.TUNINGS)), capo=st.integers(0, 7))
def test_every_placed_note_obeys_the_hard_rules(pieces: list[tuple[int, int, int]], tuning: str, capo: int) -> None:
    notes = [Note(0.05 * start, 0.05 * (start + length), pitch, 80) for start, length, pitch in pieces]
    result = T.solve_tab(notes, T.TUNINGS[tuning], capo)
    opens = T.sounding_open_pitches(T.TUNINGS[tuning], capo)
    for event in result.events:
        strings = [note.string for note in event.notes]
        assert len(strings) == len(set(strings)) and 1 <= len(strings) <= 6
        for note in event.notes:
            assert 1 <= note.string <= 6 and 0 <= note.fret <= T.MAX_FRET - capo
            assert opens[6 - note.string] + note.fret == note.pitch
        fretted = [note.fret for note in event.notes if note.fret > 0]
        assert not fretted or max(fretted) - min(fretted) <= 3  # four frets
        assert T.fingers_needed([(6 - note.string, note.fret) for note in event.notes])[0] <= 4
    assert string_clashes(result, notes) == []
    notes_placed = placed(result)
    distinct = {(event.time_seconds, note.pitch) for event in T.group_events(notes) for note in event.notes}
    accounted = [(time, note.pitch) for time, note in notes_placed] + [(u.time_seconds, u.pitch) for u in result.unplaced]
    assert sorted(accounted) == sorted(distinct)  # every note is placed or listed, once
    assert all(item.reason for item in result.unplaced)


def test_a_note_still_ringing_keeps_its_string_and_the_next_note_takes_another() -> None:
    released = T.solve_tab([Note(0.0, 0.45, 45, 80), Note(0.5, 0.6, 47, 80)])  # A2, then B2
    assert [(n.string, n.fret) for _, n in placed(released)] == [(5, 0), (5, 2)]  # both on the A string
    legato = T.solve_tab([Note(0.0, 0.54, 45, 80), Note(0.5, 0.6, 47, 80)])  # 40 ms overlap: a release, not a clash
    assert [(n.string, n.fret) for _, n in placed(legato)] == [(5, 0), (5, 2)]
    ringing = T.solve_tab([Note(0.0, 2.0, 45, 80), Note(0.5, 0.6, 47, 80)])  # A2 still sounds under B2
    strings = [n.string for _, n in placed(ringing)]
    assert len(strings) == 2 and strings[0] != strings[1] and ringing.unplaced == ()


def test_striking_the_same_pitch_again_on_its_string_cuts_the_earlier_note_and_nothing_else_does() -> None:
    repeated = T.solve_tab([Note(0.0, 2.0, 40, 80), Note(0.5, 2.5, 40, 80), Note(1.0, 3.0, 40, 80)])
    assert [(n.string, n.fret) for _, n in placed(repeated)] == [(6, 0)] * 3 and repeated.unplaced == ()
    # A2 held from 0 s; struck again at 0.5 s (with D3), both held to 2 s: the re-struck A2 takes its own
    # string back, and B2 at 1 s must avoid the strings of the A2 and D3 still ringing
    held = T.solve_tab([Note(0.0, 2.0, 45, 80), *chord(0.5, [45, 50], 1.5), Note(1.0, 1.2, 47, 80)])
    by_time = {e.time_seconds: {n.pitch: n.string for n in e.notes} for e in held.events}
    assert by_time[0.5][45] == by_time[0.0][45] and held.unplaced == ()
    assert by_time[1.0][47] not in (by_time[0.5][45], by_time[0.5][50])
    # the long A2 is cut by its short re-strike at 0.5 s, which ends at 0.6 s: B2 at 1 s has the A string
    cut = T.solve_tab([Note(0.0, 2.0, 45, 80), Note(0.5, 0.6, 45, 80), Note(1.0, 1.2, 47, 80)])
    assert [(n.string, n.fret) for _, n in placed(cut)] == [(5, 0), (5, 0), (5, 2)]


def test_a_ringing_string_still_takes_its_own_pitch_when_the_event_cannot_be_placed_whole() -> None:
    result = T.solve_tab([Note(0.0, 2.0, 40, 80), *chord(0.5, [40, 41], 0.2)])  # E2 rings; E2 + F2 need the low E
    assert [(time, n.pitch, n.string) for time, n in placed(result)] == [(0.0, 40, 6), (0.5, 40, 6)]
    assert [(u.pitch, u.reason) for u in result.unplaced] == [
        (41, "no fingering holds it with the other notes at this time (one note a string, 4 frets, 4 fingers)")]


def test_notes_a_guitar_cannot_play_are_listed_with_the_reason() -> None:
    result = T.solve_tab([Note(0.0, 0.5, 38, 80), Note(1.0, 1.5, 90, 80), Note(2.0, 2.5, 64, 80)])
    assert [(u.pitch, u.reason) for u in result.unplaced] == [
        (38, "below the lowest open string (E2)"), (90, "above the highest fret (D6)")]
    assert [n.pitch for _, n in placed(result)] == [64]
    capo = T.solve_tab([Note(0.0, 0.5, 40, 80)], STANDARD, capo=2)
    assert [u.reason for u in capo.unplaced] == ["below the lowest open string (F#2)"]


def test_seven_notes_at_once_keep_six_and_the_outer_notes() -> None:
    result = T.solve_tab(chord(0.0, [40, 45, 50, 55, 59, 64, 67]))
    assert sorted(n.pitch for _, n in placed(result)) == [40, 45, 50, 55, 59, 67]  # highest and lowest kept
    assert [(u.pitch, u.reason) for u in result.unplaced] == [(64, "more than six notes at once")]


def test_a_clash_no_fingering_avoids_leaves_the_later_note_out_with_the_reason() -> None:
    held = T.solve_tab([Note(0.0, 2.0, 40, 80), Note(0.5, 0.6, 41, 80)])  # E2 rings; F2 has only the low E string
    assert [n.pitch for _, n in placed(held)] == [40]
    assert [(u.pitch, u.reason) for u in held.unplaced] == [
        (41, "every string that can play it is still ringing from an earlier note")]
    together = T.solve_tab(chord(0.0, [40, 41]))  # both need the low E string at once
    assert [n.pitch for _, n in placed(together)] == [40]
    assert together.unplaced[0].reason.startswith("no fingering holds it with the other notes")


def test_a_scale_of_single_notes_stays_in_one_position() -> None:
    g_major = [67, 69, 71, 72, 74, 76, 78, 79, 78, 76, 74, 72, 71, 69, 67]  # G4 to G5 and back, sixteenths

    def windows(frets: list[int]) -> int:
        """Four-fret hand windows needed to play the fretted notes in order (greedy: optimal for this)."""
        count, low, high = 0, 0, -99
        for fret in (f for f in frets if f > 0):
            if max(high, fret) - min(low, fret) > 3:
                count, low, high = count + 1, fret, fret
            else:
                low, high = min(low, fret), max(high, fret)
        return count

    lowest_frets = [min(p - o for o in STANDARD.open_pitches if 0 <= p - o <= T.MAX_FRET) for p in g_major]
    assert windows(lowest_frets) >= 4  # choosing each note's lowest fret would jump about
    result = T.solve_tab(run(g_major))
    assert windows([n.fret for _, n in placed(result)]) == 1


# ----------------------------------------------------------------------------- tunings and capo


def test_tunings_and_the_capo_change_the_open_strings() -> None:
    assert [(n.string, n.fret) for _, n in placed(T.solve_tab(chord(0.0, [38]), DROP_D))] == [(6, 0)]
    assert [(n.string, n.fret) for _, n in placed(T.solve_tab(chord(0.0, [47]), STANDARD, capo=2))] == [(5, 0)]
    assert T.sounding_open_pitches(STANDARD, 2) == (42, 47, 52, 57, 61, 66)
    capo_five = T.solve_tab(chord(0.0, [50, 55]), STANDARD, capo=5)  # D3 and G3: the capo'd open A and D strings
    assert [(n.string, n.fret) for _, n in placed(capo_five)] == [(4, 0), (5, 0)]
    high = T.solve_tab(chord(0.0, [64 + 22]), STANDARD, capo=2)  # fret 22 from the nut is fret 20 from the capo
    assert [(n.string, n.fret) for _, n in placed(high)] == [(1, 20)]


@pytest.mark.parametrize(("value", "name", "strings"), [
    ("standard", "standard", "E2 A2 D3 G3 B3 E4"),
    ("Drop D", "drop-d", "D2 A2 D3 G3 B3 E4"),
    ("open_g", "open-g", "D2 G2 D3 G3 B3 D4"),
    ("DADGAD", "dadgad", "D2 A2 D3 G3 A3 D4"),
    ("EADGbe", "standard", "E2 A2 D3 G3 B3 E4"),  # the way it is often written: a name, not six notes
    (["D2", "A2", "D3", "G3", "A3", "D4"], "dadgad", "D2 A2 D3 G3 A3 D4"),
    ("EbAbDbGbBbEb", "half-step-down", "Eb2 Ab2 Db3 Gb3 Bb3 Eb4"),
    ("D# G# C# F# A# D#", "half-step-down", "Eb2 Ab2 Db3 Gb3 Bb3 Eb4"),
    ("D A D G B E", "drop-d", "D2 A2 D3 G3 B3 E4"),  # no octaves: the nearest to standard's strings
    ("C G C G C E", "custom", "C2 G2 C3 G3 C4 E4"),
    (["B1", "E2", "A2", "D3", "F#3", "B3"], "custom", "B1 E2 A2 D3 F#3 B3"),
])
def test_parse_tuning_reads_names_and_note_lists(value: Any, name: str, strings: str) -> None:
    tuning = T.parse_tuning(value)
    assert (tuning.name, " ".join(tuning.strings)) == (name, strings)
    assert tuning.to_json() == {"name": name, "strings": strings.split()}
    assert T.parse_tuning(tuning.to_json()["strings"]) == tuning  # what the API stores reads back


@pytest.mark.parametrize(("value", "message"), [
    (["D2", "A2", "D3", "G3", "A3"], "tuning: expected 6 note names low to high, got 5"),
    ("DADGbe", "tuning: expected 6 note names low to high, got 5 (read 'DADGbe' as D A D Gb e)"),
    ("EADGB", "tuning: expected 6 note names low to high, got 5 (read 'EADGB' as E A D G B)"),
    (["E2", "A2", "D3", "G3", "B3", "H4"], "tuning: 'H4' is not a note name"),
    (["E2", "A2", "D3", "G3", "B3", "E6"], "tuning: E6 (string 1) is outside B0..E5"),
    (["A0", "A2", "D3", "G3", "B3", "E4"], "tuning: A0 (string 6) is outside B0..E5"),
    ("nashville-high-strung", "tuning: unknown tuning 'nashville-high-strung'; use one of standard, drop-d"),
    ("", "tuning: unknown tuning ''"),
])
def test_parse_tuning_says_what_is_wrong(value: Any, message: str) -> None:
    with pytest.raises(T.TuningProblem) as raised:
        T.parse_tuning(value)
    assert str(raised.value).startswith(message)
    assert isinstance(raised.value, ValueError)


@pytest.mark.parametrize("capo", [-1, 13, True, 2.0])
def test_a_capo_outside_0_to_12_is_refused(capo: object) -> None:
    with pytest.raises(T.TuningProblem, match="capo: expected a whole number of frets from 0 to 12"):
        T.solve_tab(run([60]), STANDARD, capo)  # type: ignore[arg-type]


# ------------------------------------------------------------------------- events, JSON, ASCII tab


def test_notes_group_by_the_first_onset_of_an_event() -> None:
    events = T.group_events([Note(t, t + 0.1, 60 + i, 80) for i, t in enumerate([0.0, 0.02, 0.04, 0.06, 0.2])])
    assert [(e.time_seconds, len(e.notes)) for e in events] == [(0.0, 2), (0.04, 2), (0.2, 1)]


def test_tab_to_json_numbers_strings_from_the_highest() -> None:
    result = T.solve_tab([*chord(0.0, [40, 64]), Note(1.0, 1.5, 30, 80)], STANDARD, capo=0)
    assert T.tab_to_json(result) == {
        "tuning": {"name": "standard", "strings": ["E2", "A2", "D3", "G3", "B3", "E4"]},
        "capo": 0,
        "events": [{"time": 0.0, "notes": [{"string": 1, "fret": 0, "pitch": 64}, {"string": 6, "fret": 0, "pitch": 40}]}],
        "unplaced": [{"time": 1.0, "pitch": 30, "reason": "below the lowest open string (E2)"}],
    }


def tab_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if "|" in line]


def test_ascii_tab_puts_each_fret_on_its_string_in_time_order() -> None:
    result = T.solve_tab(run([40, 47, 55, 67], step_seconds=0.5, length_seconds=0.4))  # E2 B2 G3 G4, quarters
    text = T.ascii_tab(result, tempo_bpm=120)
    assert text.startswith("Tuning: standard (E2 A2 D3 G3 B3 E4)\nCapo: none\nTempo: 120 bpm in 4/4")
    e, b, g, d, a, low_e = tab_lines(text)
    assert [line[:2] for line in (e, b, g, d, a, low_e)] == ["e|", "B|", "G|", "D|", "A|", "E|"]
    # a quarter note is four sixteenths of two columns each; one bar of 4/4 is 32 columns and a bar line
    assert (low_e.index("0"), a.index("2"), g.index("0"), e.index("3")) == (2, 10, 18, 26)
    assert b == "B|" + "-" * 32 + "|" and d == "D|" + "-" * 32 + "|"
    assert all(len(line) == 2 + 32 + 1 for line in (e, b, g, d, a, low_e))
    assert [line[:2] for line in tab_lines(T.ascii_tab(T.solve_tab(run([38]), DROP_D)))] == [
        "e|", "B|", "G|", "D|", "A|", "D|"]
    untimed = tab_lines(T.ascii_tab(result, tempo_bpm=0))  # rhythm's "no pulse": no bar lines
    assert untimed[5].index("0") < untimed[4].index("2") < untimed[2].index("0") < untimed[0].index("3")
    assert "Tempo" not in T.ascii_tab(result)


def test_ascii_tab_wraps_between_events_and_lists_the_notes_left_out() -> None:
    pitches = [52 + (i * 7) % 24 for i in range(60)]
    result = T.solve_tab([*run(pitches), Note(1.0, 1.2, 20, 80)])
    whole = tab_lines(T.ascii_tab(result, 120, columns_per_line=10_000))
    text = T.ascii_tab(result, 120, columns_per_line=40)
    wrapped = tab_lines(text)
    assert len(wrapped) % 6 == 0 and len(wrapped) > 6 and all(len(line) <= 40 for line in wrapped)
    for row in range(6):  # the lines of each block, put back together, are the unwrapped line
        assert "".join(line[2:] for line in wrapped[row::6]) == whole[row][2:]
    assert "Not placed (1):\n  0:01.00 Ab0: below the lowest open string (E2)" in text
    six_eight = tab_lines(T.ascii_tab(result, 40, time_signature="6/8"))  # 40 dotted quarters: 1.5 s a beat
    assert six_eight[0].index("|", 2) == 2 + 12 * 2  # a bar of 6/8 is 12 sixteenths


# ---------------------------------------------------------------------------------- Guitar Pro


def gp_notes(data: bytes) -> tuple[Any, list[tuple[int, int, int, bool]]]:
    import guitarpro

    song = guitarpro.parse(io.BytesIO(data))
    found = [(beat.start, note.string, note.value, note.type == guitarpro.NoteType.tie)
             for measure in song.tracks[0].measures for beat in measure.voices[0].beats for note in beat.notes]
    return song, found


def test_a_guitar_pro_file_reads_back_with_the_same_strings_frets_and_tuning() -> None:
    import guitarpro

    notes = chord(0.0, [40, 47, 52, 59, 64], 0.6)  # an E chord (drop D, capo 2), then a run off the grid
    notes += [Note(0.6 + 0.25 * i, 0.8 + 0.25 * i, pitch, 80) for i, pitch in enumerate([62, 64, 66, 67, 69, 71])]
    notes.append(Note(3.01, 3.6, 50, 80))
    result = T.solve_tab(notes, DROP_D, capo=2)
    assert result.unplaced == ()
    song, found = gp_notes(guitar_pro_bytes(result, 100.0, "3/4", title="Round trip"))
    track = song.tracks[0]
    assert [s.value for s in track.strings] == [64, 59, 55, 50, 45, 38] and track.offset == 2
    assert song.title == "Round trip" and song.tempo == 100
    sixteenth = 60 / 100 / 4
    expected = sorted((960 + round(time / sixteenth) * 240, note.string, note.fret) for time, note in placed(result))
    assert sorted((start, string, fret) for start, string, fret, tie in found if not tie) == expected
    for measure in track.measures:  # every bar is filled exactly, rests included
        assert measure.timeSignature.numerator == 3 and measure.timeSignature.denominator.value == 4
        assert sum(beat.duration.time for beat in measure.voices[0].beats) == 3 * 960
        starts = [beat.start for beat in measure.voices[0].beats]
        assert starts == sorted(starts) and starts[0] == measure.start
    assert any(beat.status == guitarpro.BeatStatus.rest for m in track.measures for beat in m.voices[0].beats)


def test_guitar_pro_ties_long_notes_counts_6_8_in_dotted_quarters_and_moves_colliding_events() -> None:
    held = T.Tab(STANDARD, 0, (T.TabEvent(0.0, (T.TabNote(6, 0, 40),), 1.25),), ())  # five sixteenths at 60 bpm
    _, found = gp_notes(guitar_pro_bytes(held, 60.0))
    assert found == [(960, 6, 0, False), (960 + 4 * 240, 6, 0, True)]  # a quarter tied to a sixteenth

    song, _ = gp_notes(guitar_pro_bytes(held, 40.0, "6/8"))  # 40 dotted quarters a minute: 60 quarters
    assert song.tempo == 60 and song.tracks[0].measures[0].length == 6 * 480

    same_cell = T.Tab(STANDARD, 0, (T.TabEvent(0.0, (T.TabNote(1, 0, 64),), 0.1),
                                    T.TabEvent(0.05, (T.TabNote(2, 0, 59),), 0.1),   # other string: same beat
                                    T.TabEvent(0.06, (T.TabNote(2, 1, 60),), 0.2)), ())  # same string: next beat
    _, found = gp_notes(guitar_pro_bytes(same_cell, 120.0))
    assert found == [(960, 1, 0, False), (960, 2, 0, False), (1200, 2, 1, False)]
    assert len(gp_notes(guitar_pro_bytes(T.Tab(STANDARD, 0, (), ()), 0.0))[0].tracks[0].measures) == 1  # tempo 0: unknown


@pytest.mark.parametrize(("tempo", "meter", "message"), [
    (500.0, "4/4", "tempo: expected 20-400"), (-5.0, "4/4", "tempo: expected a positive"),
    (120.0, "4/5", "time signature: expected 1-32 beats"), (120.0, "four", "time signature: expected beats/unit"),
])
def test_guitar_pro_refuses_a_tempo_or_meter_it_cannot_write(tempo: float, meter: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        guitar_pro_bytes(T.Tab(STANDARD, 0, (), ()), tempo, meter)


# ----------------------------------------------------------------------------- a realistic piece


def realistic_piece(note_count: int, seed: int) -> list[Note]:
    """Strummed open chords, let-ring arpeggios and melody runs with a transcriber's jitter, octave
    errors and out-of-range notes."""
    shapes = [[48, 52, 55, 60, 64], [43, 47, 50, 55, 59, 67], [45, 52, 57, 60, 64], [41, 48, 53, 57, 60, 65],
              [50, 57, 62, 66], [40, 47, 52, 55, 59, 64]]
    rng, time = random.Random(seed), 0.5
    notes: list[Note] = []
    while len(notes) < note_count:
        shape, kind = rng.choice(shapes), rng.choice(["strum", "arpeggio", "melody", "melody"])
        if kind == "strum":
            for _ in range(8):
                notes += [Note(time + k * 0.005, time + rng.uniform(0.4, 0.52), p, 80) for k, p in enumerate(shape)]
                time += 0.5
        elif kind == "arpeggio":
            for pitch in shape + shape[-2:0:-1]:
                notes.append(Note(time, time + rng.uniform(0.3, 1.2), pitch, 70))
                time += 0.25
        else:
            pitch = rng.randint(57, 72)
            for _ in range(16):
                pitch = max(50, min(84, pitch + rng.choice([-3, -2, -1, 1, 2, 3])))
                notes.append(Note(time, time + 0.22, pitch, 80))
                if rng.random() < 0.05:
                    notes.append(Note(time, time + 0.22, rng.choice([pitch + 12, 30, 95]), 30))
                time += 0.25
    return notes[:note_count]


def test_a_realistic_piece_of_2000_notes_is_solved_exactly() -> None:
    notes = realistic_piece(2000, seed=7)
    result = T.solve_tab(notes)
    assert result.exact  # the state cap was never reached
    assert len(placed(result)) + len(result.unplaced) == len({(e.time_seconds, n.pitch)
                                                              for e in T.group_events(notes) for n in e.notes})
    assert len(result.unplaced) < 0.05 * len(notes)
