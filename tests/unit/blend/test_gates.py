"""The four quality gates on crafted inputs that violate them and that pass them, and the gates' n-gram
and run counting checked against the model's suffix automata (evaluation against estimation)."""

from __future__ import annotations

import numpy as np
import pytest

from soundcanvas.blend.gates import (
    attribution,
    attribution_gate,
    blend_gate,
    copy_gate,
    copy_limit_bars,
    evaluate_gates,
    in_key_gate,
    in_key_share,
    jensen_shannon,
    longest_copy,
    pitch_class_histogram,
)
from soundcanvas.blend.model import build_automaton, matching_lengths

SONG_A = list("abcdefgh")
SONG_B = list("stuvwxyz")
IDS = ("a", "b")


# --- 1. attribution -------------------------------------------------------------------------------


def test_attribution_counts_each_songs_4grams() -> None:
    output = list("abcde") + list("stuv")  # 4-grams: abcd bcde (A), cdes dest estu (new), stuv (B)
    shares, new = attribution(output, [SONG_A, SONG_B])
    assert shares == pytest.approx((2 / 3, 1 / 3))
    assert new == pytest.approx(3 / 6)


def test_a_4gram_in_several_songs_is_split_equally() -> None:
    shared = [*SONG_A[:4], "q"]
    shares, new = attribution(list("abcd"), [SONG_A, shared, SONG_B])
    assert shares == pytest.approx((0.5, 0.5, 0.0)) and new == 0.0
    shares, _ = attribution(list("abcde"), [SONG_A, shared])  # abcd: half each; bcde: A's alone
    assert shares == pytest.approx((0.75, 0.25))


def test_nothing_traced_means_no_shares() -> None:
    shares, new = attribution(list("qrqrqr"), [SONG_A, SONG_B])
    assert shares == (0.0, 0.0) and new == 1.0
    assert not attribution_gate(shares, (0.5, 0.5), IDS).passed


def test_attribution_gate_passes_within_a_tenth() -> None:
    gate = attribution_gate((0.58, 0.42), (0.5, 0.5), IDS)
    assert gate.passed and gate.value == pytest.approx(0.08)
    assert gate.to_json()["shares"] == {"a": 0.58, "b": 0.42}


def test_attribution_gate_fails_beyond_a_tenth() -> None:
    gate = attribution_gate((0.62, 0.38), (0.5, 0.5), IDS)
    assert not gate.passed and gate.value == pytest.approx(0.12) and gate.detail["worstSong"] == "a"


# --- 2. verbatim copies ---------------------------------------------------------------------------


def test_longest_copy_in_beats_and_bars() -> None:
    output = list("xxabcdefxstuv")
    durations = [1.0] * len(output)
    durations[2:8] = [0.5] * 6  # the copy of A ("abcdef") lasts 3 beats; "stuv" of B 4 beats
    beats, song, tokens = longest_copy(output, durations, [SONG_A, SONG_B])
    assert (beats, song, tokens) == (4.0, 1, 4)
    beats_a, song_a, tokens_a = longest_copy(output, durations, [SONG_A])
    assert (beats_a, song_a, tokens_a) == (3.0, 0, 6)


def test_copy_limit_is_linear_from_four_bars_to_one() -> None:
    assert [copy_limit_bars(c) for c in (0.0, 0.5, 1.0)] == [4.0, 2.5, 1.0]


def test_copy_gate() -> None:
    assert copy_gate(4.0, 0.0, "a").passed
    assert not copy_gate(4.25, 0.0, "a").passed
    assert copy_gate(1.0, 1.0, "a").passed
    gate = copy_gate(1.5, 1.0, "b")
    assert not gate.passed and gate.threshold == 1.0 and gate.detail["song"] == "b"


@pytest.mark.parametrize("seed", range(5))
def test_runs_agree_with_the_models_suffix_automaton(seed: int) -> None:
    rng = np.random.default_rng(seed)
    source = rng.integers(0, 4, size=120).tolist()
    output = rng.integers(0, 4, size=200).tolist()
    runs = matching_lengths(build_automaton(source), output)
    text = ",".join(map(str, source)) + ","
    for i, run in enumerate(runs):  # brute force: the longest run ending at i that occurs in the source
        longest = max(
            (n for n in range(1, i + 2) if ",".join(map(str, output[i + 1 - n : i + 1])) + "," in "," + text), default=0
        )
        assert run == longest
    beats, _, tokens = longest_copy(output, [1.0] * len(output), [source])
    assert tokens == max(runs) and beats == max(runs)


# --- 3. in key ------------------------------------------------------------------------------------


def test_in_key_share() -> None:
    c_major = [60, 62, 64, 65, 67, 69, 71, 72]
    assert in_key_share(c_major, 0, "major") == 1.0
    assert in_key_share([*c_major, 61, 63], 0, "major") == pytest.approx(0.8)
    assert in_key_share([57, 59, 60, 62, 64, 65, 67, 68], 9, "minor") == pytest.approx(7 / 8)  # G# is not natural minor


def test_in_key_gate() -> None:
    assert in_key_gate(0.9).passed and in_key_gate(1.0).passed
    gate = in_key_gate(0.8)
    assert not gate.passed and gate.threshold == 0.9


# --- 4. closer to the mix than to any one song ----------------------------------------------------


def test_jensen_shannon() -> None:
    p = pitch_class_histogram([0, 4, 7], [1, 1, 2])
    q = pitch_class_histogram([1, 5, 8], [1, 1, 1])
    assert jensen_shannon(p, p) == pytest.approx(0.0)
    assert jensen_shannon(p, q) == pytest.approx(1.0)
    r = pitch_class_histogram([0, 2, 4], [1, 1, 1])
    assert 0 < jensen_shannon(p, r) < 1
    assert jensen_shannon(p, r) == pytest.approx(jensen_shannon(r, p))


def test_blend_gate_passes_for_the_mix_and_fails_for_one_song() -> None:
    a = pitch_class_histogram([0, 2, 4, 5, 7], [4, 1, 2, 1, 3])
    b = pitch_class_histogram([0, 4, 7, 9, 11], [2, 1, 1, 3, 2])
    mix = 0.5 * a + 0.5 * b
    passed = blend_gate(mix, [a, b], (0.5, 0.5), IDS)
    assert passed.passed and passed.value == pytest.approx(0.0)
    failed = blend_gate(0.9 * a + 0.1 * b, [a, b], (0.5, 0.5), IDS)
    assert not failed.passed and failed.detail["nearestSong"] == "a" and failed.value > failed.threshold


# --- all four -------------------------------------------------------------------------------------


def test_evaluate_gates_on_a_crafted_blend() -> None:
    a, b = SONG_A * 2, SONG_B * 2
    output = list("abcdstuvefghwxyz")
    hist_a = pitch_class_histogram([0, 4], [1, 1])
    hist_b = pitch_class_histogram([7, 9], [1, 1])
    report = evaluate_gates(
        output_melody=output,
        output_durations_beats=[1.0] * len(output),
        output_melody_histogram=pitch_class_histogram([0, 4, 7, 9], [1, 1, 1, 1]),
        output_pitches=[60, 64, 67, 69],
        sources=[a, b],
        source_histograms=[hist_a, hist_b],
        weights=(0.5, 0.5),
        song_ids=IDS,
        tonic_pc=0,
        mode="major",
        beats_per_bar=4,
        creativity=1.0,
    )
    assert report.passed, report.to_json()
    assert report.shares == pytest.approx((0.5, 0.5))
    assert report.new_share == pytest.approx(9 / 13)
    assert report.longest_copy_bars == 1.0
    assert set(report.to_json()) == {"attribution", "copy", "inKey", "blend"}

    worse = evaluate_gates(
        output_melody=list("abcdefghstuv"),
        output_durations_beats=[1.0] * 12,
        output_melody_histogram=hist_a,
        output_pitches=[60, 61, 63],
        sources=[a, b],
        source_histograms=[hist_a, hist_b],
        weights=(0.5, 0.5),
        song_ids=IDS,
        tonic_pc=0,
        mode="major",
        beats_per_bar=4,
        creativity=1.0,
    )
    assert {gate.name for gate in worse.failed} == {"attribution", "copy", "inKey", "blend"}
