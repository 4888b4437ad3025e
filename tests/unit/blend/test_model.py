"""The songs' sequence models: suffix-automaton continuations, the mixture's copy limit and controller, harmony."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from soundcanvas.blend.gates import attribution, longest_copy
from soundcanvas.blend.model import (
    SongModel,
    Vocabulary,
    advance,
    build_automaton,
    chord_transitions,
    controller_weights,
    draw_melody,
    harmonise,
    mixture_settings,
)


def test_continuations_are_the_songs_next_token_counts() -> None:
    sequence = [0, 1, 2, 0, 1, 3, 0, 1, 2, 4]
    model = SongModel.of(sequence)
    state, length = 0, 0
    for token in (0, 1):
        state, length = advance(model.automaton, state, length, token)
    assert length == 2
    ids, probs = model.continuation(model.context(state, 2))
    assert dict(zip(ids.tolist(), probs.tolist(), strict=True)) == pytest.approx({2: 2 / 3, 3: 1 / 3})
    ids, probs = model.continuation(0)  # order 0: token frequencies
    counts = Counter(sequence)
    assert dict(zip(ids.tolist(), probs.tolist(), strict=True)) == pytest.approx({t: c / 10 for t, c in counts.items()})
    after_two = model.continuation(model.after(2))  # order 1 after "2": 0 once, 4 once
    assert dict(zip(after_two[0].tolist(), after_two[1].tolist(), strict=True)) == pytest.approx({0: 0.5, 4: 0.5})


def test_context_is_capped_at_the_max_order() -> None:
    sequence = [5, 0, 1, 2, 9, 0, 1, 2, 7]
    model = SongModel.of(sequence)
    state, length = 0, 0
    for token in (5, 0, 1, 2):
        state, length = advance(model.automaton, state, length, token)
    assert length == 4
    full = dict(zip(*[a.tolist() for a in model.continuation(model.context(state, 4))], strict=True))
    capped = dict(zip(*[a.tolist() for a in model.continuation(model.context(state, 3))], strict=True))
    assert full == {9: 1.0}  # after 5 0 1 2
    assert capped == {9: 0.5, 7: 0.5}  # after 0 1 2


def test_automaton_knows_every_substring() -> None:
    rng = np.random.default_rng(1)
    sequence = rng.integers(0, 3, size=60).tolist()
    automaton = build_automaton(sequence)
    text = "," + ",".join(map(str, sequence)) + ","
    for start in range(0, 50, 7):
        for stop in range(start + 1, start + 12):
            state, length = 0, 0
            for token in sequence[start:stop]:
                state, length = advance(automaton, state, length, token)
            assert length == stop - start
    absent = [3, 3]
    assert "," + ",".join(map(str, absent)) + "," not in text
    assert advance(automaton, 0, 0, 3) == (0, 0)


def test_controller_raises_the_song_behind_its_weight() -> None:
    settings = mixture_settings((0.5, 0.5), 0.8, 0.7, 48)
    assert controller_weights(settings, [0.0, 0.0]) == pytest.approx([0.5, 0.5])
    behind = controller_weights(settings, [30.0, 10.0])
    assert behind[1] > 0.9


def test_creativity_sets_order_and_copy_limit() -> None:
    strict, free = mixture_settings((1.0,), 0.8, 0.0, 48), mixture_settings((1.0,), 0.8, 1.0, 48)
    assert (strict.max_order, strict.copy_limit_twelfths) == (5, 4 * 48)
    assert (free.max_order, free.copy_limit_twelfths) == (1, 48)
    assert free.free_share > strict.free_share and free.low_order_share > strict.low_order_share


def _repetitive_song(offset: int) -> list[tuple[int, int, int]]:
    phrase = [(offset + s, 0, 6) for s in (0, 2, 4, 2, 0, 1, 2, 3)] + [(offset + 4, 0, 12), (offset, 0, 12)]
    return phrase * 6


@pytest.mark.parametrize("creativity", [0.0, 0.5, 1.0])
def test_draws_never_copy_beyond_the_limit(creativity: float) -> None:
    melodies = [_repetitive_song(0), _repetitive_song(3)]
    vocabulary = Vocabulary.of(melodies, (0, 2, 4, 5, 7, 9, 11))
    models = [SongModel.of([vocabulary.index[t] for t in m]) for m in melodies]
    settings = mixture_settings((0.5, 0.5), 0.8, creativity, 48)
    draw = draw_melody(
        models,
        vocabulary,
        settings,
        total_twelfths=48 * 40,
        onset_histogram=np.ones(48) / 48,
        cadence_from_twelfths=48 * 39,
        cadence_degrees=(1, 4, 6),
        pitch_class_target=np.full(12, 1 / 12),
        rng=np.random.default_rng(3),
    )
    tokens = [vocabulary.tokens[i] for i in draw.tokens]
    beats, _, _ = longest_copy(tokens, [t[2] / 12 for t in tokens], melodies)
    assert beats / 4 <= 4 - 3 * creativity + 1e-9
    shares, _ = attribution(tokens, melodies)
    assert shares == pytest.approx([0.5, 0.5], abs=0.1)
    assert draw.credits[0] + draw.credits[1] > 0


def test_harmony_fits_the_melody_and_ends_with_a_cadence() -> None:
    templates = np.zeros((7, 12))
    major = (0, 2, 4, 5, 7, 9, 11)
    for degree in range(7):
        templates[degree, [major[(degree + s) % 7] for s in (0, 2, 4)]] = 1 / np.sqrt(3)
    melody = np.zeros((6, 12))
    for slot, pcs in enumerate(([0, 4], [5, 9], [2, 7], [9, 0], [0], [0])):
        melody[slot, pcs] = 1.0
    transitions = chord_transitions([[0, 3, 4, 0, 5, 3, 4, 0]], [1.0])
    degrees = harmonise(melody, templates, transitions, fit_weight=4.0)
    assert degrees[:2] == (0, 3) and degrees[-2:] == (4, 0)
