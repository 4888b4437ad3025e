"""SM-2 against an independent implementation, FSRS through its library, and switching."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import supermemo2
from hypothesis import example, given, settings
from hypothesis import strategies as st

from soundcanvas.library.schedulers import FSRS, SM2, Review, for_user, replay

START = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
grades = st.lists(st.integers(min_value=0, max_value=5), min_size=1, max_size=25)


@settings(max_examples=500, deadline=None)
@given(grades)
@example([3, 3, 5, 1, 3, 3, 3])  # floating-point order once put ours a day later
def test_sm2_matches_the_supermemo2_reference(sequence: list[int]) -> None:
    ours, theirs = SM2().initial_state(), {"easiness": 2.5, "interval": 0, "repetitions": 0}
    now = START
    for grade in sequence:
        ours, due = SM2().grade(ours, grade, now)
        theirs = supermemo2.review(grade, theirs["easiness"], theirs["interval"], theirs["repetitions"],
                                   now.replace(tzinfo=None))
        assert ours["repetitions"] == theirs["repetitions"]
        assert ours["intervalDays"] == theirs["interval"]
        assert ours["easiness"] == theirs["easiness"]  # bit for bit
        assert due.replace(tzinfo=None) == datetime.fromisoformat(theirs["review_datetime"])
        now = due


def test_sm2_published_rules() -> None:
    sm2, state, now = SM2(), SM2().initial_state(), START
    intervals = []
    for _ in range(4):
        state, now = sm2.grade(state, 5, now)
        intervals.append(state["intervalDays"])
    # 1 day, 6 days, then the previous interval x easiness (2.7, then 2.8), rounded up
    assert intervals == [1, 6, 17, 48]
    assert state["easiness"] == pytest.approx(2.9)
    state, _ = sm2.grade(state, 2, now)
    assert (state["repetitions"], state["intervalDays"]) == (0, 1)
    for _ in range(10):
        state, now = sm2.grade(state, 0, now)
    assert state["easiness"] == SM2.MIN_EASINESS


@pytest.mark.parametrize("bad", [-1, 6, 2.5, "4", True])
def test_grades_outside_0_to_5_are_refused(bad: object) -> None:
    with pytest.raises(ValueError, match="grade must be a whole number from 0 to 5"):
        SM2().grade(SM2().initial_state(), bad, START)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="grade must be"):
        FSRS().grade(FSRS().initial_state(), bad, START)  # type: ignore[arg-type]


def _interval_after(scheduler: FSRS, sequence: list[int]) -> timedelta:
    now, state, due = START, scheduler.initial_state(), START
    for grade in sequence:
        state, due = scheduler.grade(state, grade, now)
        now = due
    return due - START


def test_fsrs_rewards_recall_and_punishes_lapses() -> None:
    fsrs = FSRS()
    easy = _interval_after(fsrs, [5, 5, 5, 5])
    good = _interval_after(fsrs, [4, 4, 4, 4])
    lapse = _interval_after(fsrs, [4, 4, 4, 0])
    assert easy > good > lapse


def test_fsrs_higher_retention_means_earlier_reviews() -> None:
    assert _interval_after(FSRS(0.95), [4, 4, 4, 4]) < _interval_after(FSRS(0.8), [4, 4, 4, 4])


def test_fsrs_is_deterministic() -> None:
    history = [Review(START + timedelta(days=d), g) for d, g in ((0, 4), (1, 3), (5, 5), (20, 1), (21, 4))]
    assert replay(FSRS(), history) == replay(FSRS(), history)


def test_switching_scheduler_keeps_the_history() -> None:
    history = [Review(START, 4), Review(START + timedelta(days=1), 5), Review(START + timedelta(days=7), 4)]
    sm2_state, sm2_due = replay(for_user("sm2"), history)
    fsrs_state, fsrs_due = replay(for_user("fsrs", desired_retention=0.9), history)
    assert sm2_state["repetitions"] == 3 and sm2_due == START + timedelta(days=7 + 16)
    assert fsrs_state["last_review"] == (START + timedelta(days=7)).isoformat()
    assert fsrs_due is not None and fsrs_due > START + timedelta(days=7)


def test_unknown_scheduler_and_bad_retention() -> None:
    with pytest.raises(ValueError, match="choose sm2 or fsrs"):
        for_user("leitner")
    with pytest.raises(ValueError, match="desired retention"):
        FSRS(0.5)
