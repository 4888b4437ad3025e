"""soundcanvas.blend.creation's pure rules: which songs a caller may blend, their weights, the knobs."""

from __future__ import annotations

from typing import Any

import pytest

from soundcanvas.blend.creation import BlendNotFound, BlendRequest, SongNotReady, blend_options, chosen_songs


def song(song_id: str, *, owner: str | None = None, status: str = "READY") -> dict[str, Any]:
    return {"songId": song_id, "title": song_id.title(), "artist": None, "status": status,
            "visibility": "private" if owner else "public", "ownerId": owner}


def test_weights_are_normalised_in_the_songs_order() -> None:
    found = {"a": song("a"), "b": song("b"), "c": song("c", owner="alice")}
    chosen = chosen_songs(BlendRequest(songs=["c", "a", "b"], weights=[2, 1, 1]), found, "alice")
    assert [(s["songId"], s["weight"]) for s in chosen] == [("c", 0.5), ("a", 0.25), ("b", 0.25)]
    equal = chosen_songs(BlendRequest(songs=["a", "b", "c"]), found, "alice")
    assert sum(s["weight"] for s in equal) == pytest.approx(1.0, abs=1e-5) and len({s["weight"] for s in equal}) == 1


def test_another_users_private_song_is_not_found_and_one_not_ready_names_its_place() -> None:
    found = {"a": song("a"), "b": song("b", owner="bob"), "c": song("c", owner="alice", status="PENDING")}
    with pytest.raises(BlendNotFound, match=r"songs\[1\]"):
        chosen_songs(BlendRequest(songs=["a", "b"]), found, "alice")
    with pytest.raises(BlendNotFound, match=r"song missing \(songs\[0\]\)"):
        chosen_songs(BlendRequest(songs=["missing", "a"]), found, "alice")
    with pytest.raises(SongNotReady) as raised:
        chosen_songs(BlendRequest(songs=["a", "c"]), found, "alice")
    assert raised.value.field == "songs[1]"


def test_a_given_seed_is_kept_and_a_missing_one_drawn() -> None:
    kept = blend_options(BlendRequest(songs=["a", "b"], seed=42, genre="jazz"))
    assert kept == {"temperature": 0.8, "creativity": 0.7, "lengthSeconds": 120, "genre": "jazz", "seed": 42}
    drawn = {blend_options(BlendRequest(songs=["a", "b"]))["seed"] for _ in range(5)}
    assert all(0 <= seed < 2**31 for seed in drawn) and len(drawn) > 1
