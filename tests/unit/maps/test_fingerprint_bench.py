"""The fingerprint bench's identify-rule recipe (bench/maps/fingerprints.py `choose_rule`), on rows made here."""

from __future__ import annotations

import pytest

from bench.maps import fingerprints
from soundcanvas.maps.fpindex import snippet_max_ber

ITEMS = {5: 36, 10: 76, 30: 236}  # informative items of a snippet of each length


def row(seconds: int, song: str, candidates: list[tuple[str, float]], in_catalog: bool = True,
        where: str = "random") -> dict:
    bers = sorted(ber for _, ber in candidates)
    return {"seconds": seconds, "song": song, "inCatalog": in_catalog, "where": where, "refused": False,
            "nInformative": ITEMS[seconds], "candidates": sorted(candidates, key=lambda c: c[1]),
            "runnerUp": bers[1] if len(bers) > 1 else 0.5}


def corpus(five_second_other_music: float) -> list[dict]:
    rows = []
    for seconds, right_max, other_min in ((5, 0.10, 0.30), (10, 0.10, 0.35), (30, 0.09, 0.45)):
        for i, ber in enumerate((0.02, 0.05, right_max)):
            rows.append(row(seconds, f"s{i}", [(f"s{i}", ber), ("x", other_min + 0.05)]))
        rows.append(row(seconds, "u", [("s0", other_min), ("s1", other_min + 0.2)], in_catalog=False))
    # one catalog snippet whose best candidate is another song, two others just behind it
    rows.append(row(5, "s9", [("s7", five_second_other_music), ("s8", five_second_other_music + 0.002),
                              ("s9", five_second_other_music + 0.004)]))
    return rows


def threshold(rule: dict, seconds: int) -> float:
    return snippet_max_ber(ITEMS[seconds], a=rule["ber_a"], b=rule["ber_b"], cap=rule["ber_cap"])


def test_the_threshold_is_the_midpoint_where_right_answers_and_other_music_are_apart() -> None:
    rule = fingerprints.choose_rule(corpus(five_second_other_music=0.40))["rule"]
    assert threshold(rule, 5) == pytest.approx((0.10 + 0.30) / 2, abs=0.002)
    assert threshold(rule, 10) == pytest.approx((0.10 + 0.35) / 2, abs=0.002)
    assert rule["ber_cap"] == pytest.approx((0.09 + 0.45) / 2, abs=0.001)


def test_where_other_music_scores_as_low_as_right_answers_every_right_answer_passes_and_the_margin_refuses():
    rows = corpus(five_second_other_music=0.06)
    rule = fingerprints.choose_rule(rows)["rule"]
    assert threshold(rule, 5) >= 0.10 - 0.002  # not the midpoint 0.08, which would refuse a right answer
    confused = rows[-1]
    assert confused["runnerUp"] - confused["candidates"][0][1] < rule["min_margin"]  # refused by the margin


def searched(seconds: int, song: str, variants: list[tuple[float, list[tuple[str, float]]]],
             in_catalog: bool = True) -> dict:
    """A row identify found nothing for, with what the speed search's variants (speed, candidates) gave."""
    speeds = []
    for speed, candidates in variants:
        bers = sorted(ber for _, ber in candidates)
        speeds.append([speed, ITEMS[seconds], bers[1] if len(bers) > 1 else 0.5,
                       [[name, ber, 12.0] for name, ber in sorted(candidates, key=lambda c: c[1])]])
    return {**row(seconds, song, [("x", 0.45)], in_catalog), "candidates": [["x", 0.45, 3.0]], "start": 12.0,
            "speeds": speeds}


def test_the_speed_search_answers_with_the_passing_variant_of_lowest_ber_or_nothing() -> None:
    limit = snippet_max_ber(ITEMS[10])
    found = fingerprints.speed_answer(searched(10, "s1", [
        (0.995, [("s2", 0.40)]), (1.02, [("s1", limit - 0.05), ("x", 0.45)]), (1.025, [("s1", limit - 0.01)])]))
    assert (found.id, found.speed, found.bit_error_rate) == ("s1", 1.02, pytest.approx(limit - 0.05))
    assert fingerprints.speed_answer(searched(10, "s1", [(1.02, [("s1", limit + 0.01)])])) is None
    # a variant whose best is not clear of other music is refused by the margin, as a plain snippet is
    assert fingerprints.speed_answer(searched(10, "s1", [(1.02, [("s1", limit - 0.05), ("s2", limit - 0.04)])])) is None
    judged = fingerprints.judge([searched(10, "s1", [(0.97, [("s1", 0.1)])])], speed_search=True)[0]
    assert judged["right"] and judged["speedFound"] == 0.97
    assert not fingerprints.judge([searched(10, "s1", [(0.97, [("s1", 0.1)])])])[0]["answered"]


def test_the_speed_search_check_says_when_other_music_reaches_the_threshold() -> None:
    rows = [searched(seconds, "u", [(1.01, [("s0", 0.42)]), (0.99, [("s1", 0.41)])], in_catalog=False)
            for seconds in (5, 10, 30)]
    assert all(note.endswith("above it") and "NOT" not in note for note in fingerprints.speed_search_separation(rows))
    rows.append(searched(30, "s3", [(1.04, [("s3", 0.05), ("s4", 0.2)])]))  # the song itself is no rival; s4 is
    notes = fingerprints.speed_search_separation(rows)
    assert "NOT above it" in notes[2] and "0.200" in notes[2] and "NOT" not in notes[0] + notes[1]
