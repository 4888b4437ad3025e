"""Guess the Track: which snippet to play, grading a recall, and switching scheduler.

The review history on the track is the source of truth; the stored scheduler state is a cache
of `replay(history)` under the user's current scheduler and settings, rebuilt whenever those
differ from what produced it. So a switch from SM-2 to FSRS (or a new desired retention)
keeps every review, and the next due dates follow the new scheduler.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from soundcanvas.library import schedulers
from soundcanvas.library.tracks import READY, TrackConflict, TrackStore

SNIPPET_SECONDS = 15.0


def snippet(track_id: str, review_count: int, duration_seconds: float | None) -> dict[str, float]:
    """Where the snippet starts and how long it plays: a different stretch at each review, never
    the very beginning (an intro is too easy) nor past the end, and the same for the same review."""
    duration = float(duration_seconds or 0.0)
    length = min(SNIPPET_SECONDS, duration)
    room = max(0.0, duration - length)
    digest = hashlib.sha256(f"{track_id}:{review_count}".encode()).digest()
    fraction = 0.15 + 0.6 * (int.from_bytes(digest[:4], "big") / 2**32)
    return {"startSeconds": round(room * fraction, 2), "durationSeconds": round(length, 2)}


def _history(track: dict[str, Any]) -> list[schedulers.Review]:
    pairs = json.loads(track.get("reviews") or "[]")
    return [schedulers.Review(datetime.fromtimestamp(at, UTC), int(grade)) for at, grade in pairs]


def _signature(settings: dict[str, Any]) -> dict[str, Any]:
    if settings["scheduler"] == "fsrs":
        return {"scheduler": "fsrs", "desiredRetention": float(settings["desiredRetention"])}
    return {"scheduler": "sm2"}


def current_state(track: dict[str, Any], settings: dict[str, Any]) -> dict[str, Any]:
    """The scheduler state for this track under the user's settings (replayed if they changed)."""
    cached = json.loads(track.get("schedule") or "null")
    signature = _signature(settings)
    if cached and all(cached.get(k) == v for k, v in signature.items()):
        return dict(cached["state"])
    scheduler = schedulers.for_user(settings["scheduler"], desired_retention=float(settings["desiredRetention"]))
    state, _ = schedulers.replay(scheduler, _history(track))
    return state


def public_schedule(scheduler_name: str, state: dict[str, Any], due_at: int, now: float) -> dict[str, Any]:
    """What POST /grade returns: SM-2's numbers, or FSRS's memory state, and the due time."""
    due = datetime.fromtimestamp(due_at, UTC).isoformat().replace("+00:00", "Z")
    if scheduler_name == "sm2":
        return {
            "scheduler": "sm2",
            "repetitions": int(state["repetitions"]),
            "intervalDays": int(state["intervalDays"]),
            "easiness": round(float(state["easiness"]), 4),
            "dueAt": due,
        }
    names = {1: "learning", 2: "review", 3: "relearning"}
    return {
        "scheduler": "fsrs",
        "state": names.get(int(state.get("state", 1)), "learning"),
        "stability": round(float(state["stability"]), 4) if state.get("stability") is not None else None,
        "difficulty": round(float(state["difficulty"]), 4) if state.get("difficulty") is not None else None,
        "intervalDays": round((due_at - now) / 86400, 3),
        "dueAt": due,
    }


class GradeConflict(TrackConflict):
    """Another grade for the same track landed at the same time, or the track is not READY."""


def grade(
    store: TrackStore, track: dict[str, Any], settings: dict[str, Any], grade_value: int, now: float
) -> dict[str, Any]:
    """Record one review of a READY track and return its new schedule."""
    if track["status"] != READY:
        raise GradeConflict(f"track {track['trackId']} is {track['status']}; only READY tracks can be graded")
    scheduler = schedulers.for_user(settings["scheduler"], desired_retention=float(settings["desiredRetention"]))
    state, due = scheduler.grade(current_state(track, settings), grade_value, datetime.fromtimestamp(now, UTC))
    history = [*json.loads(track.get("reviews") or "[]"), [int(now), grade_value]]
    due_at = int(due.timestamp())
    stored = store.record_review(
        track["userId"],
        track["trackId"],
        expected_count=int(track.get("reviewCount", 0)),
        reviews=json.dumps(history),
        schedule=json.dumps({**_signature(settings), "state": state}),
        due_at=due_at,
    )
    if not stored:
        raise GradeConflict(f"track {track['trackId']} changed while grading; fetch /due and try again")
    return public_schedule(scheduler.name, state, due_at, now)


def reschedule_all(store: TrackStore, user_id: str, settings: dict[str, Any]) -> int:
    """After a scheduler switch: replay every reviewed track's history under the new settings."""
    scheduler = schedulers.for_user(settings["scheduler"], desired_retention=float(settings["desiredRetention"]))
    changed = 0
    for track in store.all_tracks(user_id):
        if not int(track.get("reviewCount", 0)):
            continue  # never reviewed: due as soon as READY under any scheduler
        state, due = schedulers.replay(scheduler, _history(track))
        store.reschedule(
            user_id,
            track["trackId"],
            expected_count=int(track["reviewCount"]),
            schedule=json.dumps({**_signature(settings), "state": state}),
            due_at=int(due.timestamp()) if due and track["status"] == READY else None,
        )
        changed += 1
    return changed


def due_at_when_ready(track: dict[str, Any], now: float) -> int:
    """When a track that just became READY is due: its schedule's due time if it has been reviewed
    (a re-upload keeps its place), otherwise now (a new track is due at once)."""
    if int(track.get("reviewCount", 0)) and track.get("reviews"):
        cached = json.loads(track.get("schedule") or "null")
        if cached and cached.get("state"):
            history = _history(track)
            retention = float(cached.get("desiredRetention", 0.9))
            scheduler = schedulers.for_user(cached["scheduler"], desired_retention=retention)
            _, due = schedulers.replay(scheduler, history)
            if due is not None:
                return int(due.timestamp())
    return int(now)
