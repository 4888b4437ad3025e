"""Spaced-repetition schedulers for Guess the Track: SM-2 and FSRS behind one small interface.

A track's review history (timestamps and grades 0-5) is the source of truth; each scheduler's
state is derived from it, so a user can switch scheduler and keep their history (`replay`).

- SM-2, as SuperMemo published it: easiness starts at 2.5 and every grade updates it
  (floor 1.3); grades below 3 reset the repetitions; intervals are 1 day, 6 days, then the
  previous interval times the easiness, rounded up.
- FSRS through the `fsrs` library, with the user's desired retention and no interval fuzzing
  (the same history always gives the same schedule).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

MIN_GRADE, MAX_GRADE = 0, 5


@dataclass(frozen=True)
class Review:
    at: datetime  # timezone-aware
    grade: int  # 0 (blackout) .. 5 (perfect recall)


class Scheduler(Protocol):
    name: str

    def initial_state(self) -> dict[str, Any]: ...

    def grade(self, state: dict[str, Any], grade: int, now: datetime) -> tuple[dict[str, Any], datetime]:
        """The state after a review with this grade at `now`, and when the track is due next."""
        ...


def _check_grade(grade: int) -> None:
    if isinstance(grade, bool) or not isinstance(grade, int) or not MIN_GRADE <= grade <= MAX_GRADE:
        raise ValueError(f"grade must be a whole number from {MIN_GRADE} to {MAX_GRADE}, got {grade!r}")


class SM2:
    """SuperMemo's SM-2."""

    name = "sm2"
    INITIAL_EASINESS = 2.5
    MIN_EASINESS = 1.3

    def initial_state(self) -> dict[str, Any]:
        return {"repetitions": 0, "intervalDays": 0, "easiness": self.INITIAL_EASINESS}

    def grade(self, state: dict[str, Any], grade: int, now: datetime) -> tuple[dict[str, Any], datetime]:
        _check_grade(grade)
        repetitions, interval = int(state["repetitions"]), int(state["intervalDays"])
        easiness = float(state["easiness"])
        if grade < 3:
            repetitions, interval = 0, 1
        else:
            interval = 1 if repetitions == 0 else 6 if repetitions == 1 else math.ceil(interval * easiness)
            repetitions += 1
        # Evaluated exactly as the reference does: the adjustment first, then added. With
        # (easiness + 0.1) - ... the float can land a hair above, and ceil() then adds a day.
        easiness += 0.1 - (5 - grade) * (0.08 + (5 - grade) * 0.02)
        easiness = max(self.MIN_EASINESS, easiness)
        new_state = {"repetitions": repetitions, "intervalDays": interval, "easiness": easiness}
        return new_state, now + timedelta(days=interval)


class FSRS:
    """FSRS (Free Spaced Repetition Scheduler) with a desired retention between 0.7 and 0.99."""

    name = "fsrs"

    def __init__(self, desired_retention: float = 0.9) -> None:
        if not 0.7 <= desired_retention <= 0.99:
            raise ValueError(f"desired retention must be between 0.7 and 0.99, got {desired_retention}")
        import fsrs  # only the functions that schedule reviews load it

        self._fsrs = fsrs
        self.desired_retention = desired_retention
        self._scheduler = fsrs.Scheduler(desired_retention=desired_retention, enable_fuzzing=False)

    @staticmethod
    def rating(grade: int) -> int:
        """Grades 0-2 are a lapse (Again); 3 Hard, 4 Good, 5 Easy."""
        return 1 if grade < 3 else grade - 1

    def initial_state(self) -> dict[str, Any]:
        return dict(self._fsrs.Card(card_id=1).to_dict())

    def grade(self, state: dict[str, Any], grade: int, now: datetime) -> tuple[dict[str, Any], datetime]:
        _check_grade(grade)
        card = self._fsrs.Card.from_dict(state)  # type: ignore[arg-type]
        card, _ = self._scheduler.review_card(card, self._fsrs.Rating(self.rating(grade)), now)
        return dict(card.to_dict()), card.due


def replay(scheduler: Scheduler, history: Iterable[Review]) -> tuple[dict[str, Any], datetime | None]:
    """A scheduler's state and next due time from a review history (oldest first)."""
    state, due = scheduler.initial_state(), None
    for review in history:
        state, due = scheduler.grade(state, review.grade, review.at)
    return state, due


def for_user(name: str, *, desired_retention: float = 0.9) -> Scheduler:
    """The scheduler a user chose ("sm2" or "fsrs")."""
    if name == "sm2":
        return SM2()
    if name == "fsrs":
        return FSRS(desired_retention)
    raise ValueError(f"unknown scheduler {name!r}; choose sm2 or fsrs")
