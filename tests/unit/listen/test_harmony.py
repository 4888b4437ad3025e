"""soundcanvas.listen.harmony on note lists built here: keys of clear cadences, chord labels and
boundaries of a known progression, what the HMM smoothing buys, and the degenerate inputs."""

from __future__ import annotations

import itertools

import mir_eval
import numpy as np
import pytest

from soundcanvas.listen import harmony
from soundcanvas.listen.harmony import Chord, Key, estimate_chords, estimate_key
from soundcanvas.listen.notes import Note

BEAT_SECONDS = 0.5  # 120 BPM
PITCH_CLASS = {"C": 0, "Db": 1, "D": 2, "Eb": 3, "E": 4, "F": 5, "F#": 6, "G": 7, "Ab": 8, "A": 9, "Bb": 10, "B": 11}


def triad(root: int, quality: str) -> list[int]:
    steps = {"maj": (0, 4, 7), "min": (0, 3, 7), "7": (0, 4, 7, 10)}[quality]
    return [root + step for step in steps]


def progression(chords: list[tuple[int, str]], beats_per_chord: int = 4, *, melody: bool = True) -> list[Note]:
    """Each chord a bar: the root in the bass held for the bar, the chord struck on every beat in
    the middle register and, optionally, a melody of chord tones on the beats."""
    notes = []
    for bar, (root_pc, quality) in enumerate(chords):
        start = bar * beats_per_chord * BEAT_SECONDS
        end = start + beats_per_chord * BEAT_SECONDS
        notes.append(Note(start, end - 0.02, 36 + root_pc, 90))
        tones = triad(60 + root_pc, quality)
        for beat in range(beats_per_chord):
            onset = start + beat * BEAT_SECONDS
            notes.extend(Note(onset, onset + BEAT_SECONDS - 0.05, pitch, 70) for pitch in tones[1:])
            if melody:
                notes.append(Note(onset, onset + BEAT_SECONDS - 0.05, tones[beat % len(tones)] + 12, 85))
    return sorted(notes)


def beats_for(notes: list[Note]) -> np.ndarray:
    return np.arange(0.0, max(n.end_seconds for n in notes) - 1e-6, BEAT_SECONDS)


@pytest.mark.parametrize("tonic", ["C", "G", "Eb", "A", "F#"])
def test_the_key_of_a_major_cadence(tonic: str) -> None:
    t = PITCH_CLASS[tonic]
    # I-IV-V-I twice: the tonic, subdominant and dominant, ending on the tonic
    notes = progression([(t, "maj"), ((t + 5) % 12, "maj"), ((t + 7) % 12, "7"), (t, "maj")] * 2)
    key = estimate_key(notes)
    assert key.label == f"{tonic} major"
    mir_eval.key.validate_key(key.label)
    assert key.confidence > 0


@pytest.mark.parametrize("tonic", ["A", "C", "F#"])
def test_the_key_of_a_minor_cadence(tonic: str) -> None:
    t = PITCH_CLASS[tonic]
    # i-iv-V-i with the raised leading tone in V
    notes = progression([(t, "min"), ((t + 5) % 12, "min"), ((t + 7) % 12, "maj"), (t, "min")] * 2)
    key = estimate_key(notes)
    assert (key.tonic, key.mode) == (tonic if tonic != "C" else "C", "minor")
    assert key.label == f"{harmony.MINOR_TONIC_NAMES[t]} minor"


def test_flat_keys_are_spelled_as_mir_eval_reads_them() -> None:
    notes = progression([(10, "maj"), (3, "maj"), (5, "7"), (10, "maj")] * 2)
    key = estimate_key(notes)
    assert key.label == "Bb major"
    assert mir_eval.key.weighted_score("Bb major", key.label) == 1.0


def test_alternatives_are_the_next_three_distinct_keys_best_first() -> None:
    key = estimate_key(progression([(0, "maj"), (5, "maj"), (7, "7"), (0, "maj")] * 2))
    assert len(key.alternatives) == 3
    scores = [score for _, _, score in key.alternatives]
    assert scores == sorted(scores, reverse=True)
    labels = [f"{tonic} {mode}" for tonic, mode, _ in key.alternatives]
    assert key.label not in labels and len(set(labels)) == 3
    for label in labels:
        mir_eval.key.validate_key(label)


def test_a_clearer_cadence_is_more_confident() -> None:
    clear = estimate_key(progression([(0, "maj"), (5, "maj"), (7, "7"), (0, "maj")] * 2))
    vague = estimate_key(progression([(9, "min"), (0, "maj")] * 2))  # A minor or C major?
    assert clear.confidence > vague.confidence


def test_a_dorian_vamp_is_named_by_its_tonic() -> None:
    # D dorian: i-IV (D minor, G major) ending on D minor; its notes are all C major's
    notes = progression([(2, "min"), (7, "maj")] * 3 + [(2, "min")])
    key = estimate_key(notes)
    assert key.label == "D minor"
    assert key.scale == "D dorian"
    # ... and its IV is diatonic to it, though not to D minor
    assert harmony.diatonic_chords(key)[harmony.chord_vocabulary()[0].index("G")] == 1.0


def test_no_notes_gives_c_major_at_zero_confidence() -> None:
    assert estimate_key([]) == Key("C", "major", 0.0, [], "C major")


# -------------------------------------------------------------------------------------------- chords


def test_chords_of_a_known_progression() -> None:
    notes = progression([(0, "maj"), (9, "min"), (5, "maj"), (7, "7"), (0, "maj")])
    chords = estimate_chords(notes, beats_for(notes))
    assert [c.label for c in chords] == ["C", "A:min", "F", "G:7", "C"]
    bar_seconds = 4 * BEAT_SECONDS
    for index, chord in enumerate(chords[:-1]):
        assert abs(chord.start_seconds - index * bar_seconds) <= BEAT_SECONDS
        assert abs(chord.end_seconds - (index + 1) * bar_seconds) <= BEAT_SECONDS
    for label in (c.label for c in chords):
        mir_eval.chord.validate_chord_label(label)


def test_chord_labels_score_well_with_mir_eval() -> None:
    chords_in = [(2, "min"), (7, "7"), (0, "maj"), (9, "min")]
    notes = progression(chords_in)
    chords = estimate_chords(notes, beats_for(notes))
    reference = [(i * 2.0, (i + 1) * 2.0, lab) for i, lab in enumerate(["D:min", "G:7", "C", "A:min"])]
    intervals = np.array([[c.start_seconds, c.end_seconds] for c in chords])
    scores = mir_eval.chord.evaluate(np.array([r[:2] for r in reference]), [r[2] for r in reference], intervals,
                                     [c.label for c in chords])
    assert scores["majmin"] >= 0.9


def test_smoothing_removes_a_one_beat_glitch_the_bare_templates_keep() -> None:
    notes = progression([(0, "maj"), (0, "maj"), (5, "maj"), (7, "maj")], melody=False)
    # beat 3 of bar 2: the middle voices play E-G-B (E minor) instead of E-G ...
    glitch_start = (4 + 2) * BEAT_SECONDS
    glitch_end = glitch_start + BEAT_SECONDS
    bar_two = 4 * BEAT_SECONDS
    notes = [n for n in notes if not (n.start_seconds == glitch_start and 48 < n.pitch < 84)
             and not (n.start_seconds == bar_two and n.pitch < 48)]
    # ... and the bass steps to E under it
    notes += [Note(bar_two, glitch_start - 0.02, 36, 90), Note(glitch_start, glitch_end - 0.02, 40, 90),
              Note(glitch_end, bar_two + 4 * BEAT_SECONDS - 0.02, 36, 90)]
    notes += [Note(glitch_start, glitch_end - 0.05, pitch, 90) for pitch in (64, 67, 71, 76, 79)]
    notes.sort()
    beats = beats_for(notes)
    bare = estimate_chords(notes, beats, smooth=False, key_weight=0.0)
    smoothed = estimate_chords(notes, beats, key_weight=0.0)
    assert "E:min" in [c.label for c in bare]  # the glitch is there to remove
    assert [c.label for c in smoothed] == ["C", "F", "G"]


def test_silence_in_the_middle_is_no_chord() -> None:
    first = progression([(0, "maj")])
    second = [Note(n.start_seconds + 4.0, n.end_seconds + 4.0, n.pitch, n.velocity)
              for n in progression([(7, "maj")])]
    notes = first + second  # a bar of C, a bar of silence, a bar of G
    chords = estimate_chords(notes, np.arange(0.0, 6.0, BEAT_SECONDS))
    assert [c.label for c in chords] == ["C", "N", "G"]
    assert chords[1].start_seconds == pytest.approx(2.0, abs=BEAT_SECONDS)


def test_no_notes_gives_no_chords() -> None:
    assert estimate_chords([], np.arange(0.0, 4.0, 0.5)) == []


def test_downbeats_when_given_place_the_changes() -> None:
    notes = progression([(0, "maj"), (5, "maj"), (7, "maj"), (0, "maj")], beats_per_chord=3)
    chords = estimate_chords(notes, beats_for(notes), downbeats_seconds=np.arange(0.0, 6.0, 1.5))
    assert [c.label for c in chords] == ["C", "F", "G", "C"]
    assert [round(c.start_seconds, 3) for c in chords] == [0.0, 1.5, 3.0, 4.5]


def test_chord_spans_tile_the_piece() -> None:
    notes = progression([(0, "maj"), (9, "min"), (5, "maj"), (7, "7")])
    chords = estimate_chords(notes, beats_for(notes))
    assert chords[0].start_seconds == 0.0
    assert chords[-1].end_seconds == pytest.approx(max(n.end_seconds for n in notes))
    for before, after in itertools.pairwise(chords):
        assert before.end_seconds == after.start_seconds and before.label != after.label
    assert all(isinstance(c, Chord) and c.end_seconds > c.start_seconds for c in chords)
