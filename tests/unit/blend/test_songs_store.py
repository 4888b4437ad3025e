"""SongStore against moto: uploads PENDING -> READY once or FAILED, expiry, who may see a song, the
public catalog by title with cursors bound to the caller, a user's own songs, batch reads, and
idempotent catalog writes."""

from __future__ import annotations

from typing import Any

import pytest

from soundcanvas.blend import songs
from soundcanvas.blend.songs import SongConflict, SongStore
from soundcanvas.core.cursors import InvalidCursor
from tests.conftest import ManualClock

SUMMARY = {"key": "D major", "tempoBpm": 112.0, "timeSignature": "6/8", "durationSeconds": 31.5}
CATALOG = [
    {"songId": "s-alhambra", "title": "The Alhambra Reel", "artist": "Traditional", "licence": "public domain"},
    {"songId": "s-acacia", "title": "Acacia Reel", "artist": "Traditional", "licence": "public domain"},
    {"songId": "s-zephyr", "title": "Zéphyr Waltz", "artist": "J. Hand", "licence": "public domain"},
    {"songId": "s-banks", "title": "Banks of the Dee", "artist": "Traditional", "licence": "public domain"},
    {
        "songId": "s-ariel",
        "title": "Ariel Hornpipe",
        "artist": "Traditional",
        "licence": "public domain",
        "key": "A major",
        "tempoBpm": 80,
        "timeSignature": "2/4",
        "durationSeconds": 48.0,
        "tags": ["hornpipe"],
    },
]
BY_TITLE = ["s-acacia", "s-alhambra", "s-ariel", "s-banks", "s-zephyr"]  # "The" is not sorted on


def upload(store: SongStore, clock: ManualClock, song_id: str, owner: str = "alice", **kwargs: Any) -> dict[str, Any]:
    return store.create_upload(
        owner,
        song_id,
        title=kwargs.pop("title", f"Song {song_id}"),
        artist=kwargs.pop("artist", None),
        upload_expires_at=int(clock()) + 900,
    )


# --- uploads -------------------------------------------------------------------------------------
def test_an_upload_becomes_ready_once(song_store: SongStore, clock: ManualClock) -> None:
    created = upload(song_store, clock, "u1", title="My Tune", artist="Me")
    assert (created["status"], created["visibility"], created["ownerId"]) == ("PENDING", "private", "alice")
    assert created["expiresAt"] == int(clock()) + 900 + songs.UPLOAD_GRACE_SECONDS
    assert created.get("listed") is None  # private songs stay out of the public ByTitle index
    with pytest.raises(SongConflict):
        upload(song_store, clock, "u1")
    clock.now += 5
    assert song_store.mark_ready("u1", midi_key="catalog/u1/song-v1.mid", summary=SUMMARY)
    ready = song_store.get("u1")
    assert ready is not None and ready["status"] == "READY" and ready["midiKey"] == "catalog/u1/song-v1.mid"
    assert {name: ready[name] for name in SUMMARY} == SUMMARY
    assert ready["expiresAt"] is None  # a READY song is kept
    assert ready["title"] == "My Tune" and ready["artist"] == "Me"
    assert not song_store.mark_ready("u1", midi_key="catalog/u1/song-v2.mid", summary={"key": "C major"})
    again = song_store.get("u1")
    assert again == ready
    assert not song_store.mark_ready("missing", midi_key="catalog/missing/song-v1.mid", summary=SUMMARY)
    assert song_store.get("missing") is None


def test_only_a_pending_upload_can_fail(song_store: SongStore, clock: ManualClock) -> None:
    upload(song_store, clock, "u1")
    assert song_store.fail("u1", message="not a MIDI file")
    failed = song_store.get("u1")
    assert failed is not None and failed["status"] == "FAILED" and failed["errorMessage"] == "not a MIDI file"
    assert failed["expiresAt"] == int(clock() + songs.FAILED_RETENTION_SECONDS)
    assert not song_store.fail("u1", message="another message")
    assert not song_store.mark_ready("u1", midi_key="catalog/u1/song-v1.mid", summary=SUMMARY)
    assert song_store.get("u1")["errorMessage"] == "not a MIDI file"  # type: ignore[index]

    upload(song_store, clock, "u2")
    assert song_store.mark_ready("u2", midi_key="catalog/u2/song-v1.mid", summary=SUMMARY)
    assert not song_store.fail("u2", message="too late")
    assert song_store.get("u2")["status"] == "READY"  # type: ignore[index]
    song_store.put_public(CATALOG[:1])
    assert not song_store.fail("s-alhambra", message="no")
    assert not song_store.fail("missing", message="no")


def test_an_upload_that_never_arrives_expires(song_store: SongStore, clock: ManualClock) -> None:
    created = upload(song_store, clock, "u1")
    upload(song_store, clock, "u2")
    clock.now = created["expiresAt"] - 1
    assert song_store.get("u1") is not None
    clock.now = created["expiresAt"]
    assert song_store.get("u1") is None and song_store.visible("u1", "alice") is None
    assert song_store.get_many(["u1", "u2"]) == {}
    assert list(song_store.owned("alice")) == []
    assert not song_store.mark_ready("u1", midi_key="catalog/u1/song-v1.mid", summary=SUMMARY)  # the form is dead


def test_a_failed_upload_is_kept_a_week(song_store: SongStore, clock: ManualClock) -> None:
    upload(song_store, clock, "u1")
    song_store.fail("u1", message="empty")
    clock.now += songs.FAILED_RETENTION_SECONDS - 10
    assert [s["songId"] for s in song_store.owned("alice")] == ["u1"]
    clock.now += 10
    assert song_store.get("u1") is None and list(song_store.owned("alice")) == []


# --- visibility ----------------------------------------------------------------------------------
def test_public_songs_are_anyones_private_songs_their_owners(song_store: SongStore, clock: ManualClock) -> None:
    song_store.put_public(CATALOG[:1])
    upload(song_store, clock, "u1", owner="alice")
    song_store.mark_ready("u1", midi_key="catalog/u1/song-v1.mid", summary=SUMMARY)
    upload(song_store, clock, "u2", owner="alice")  # still PENDING: its owner sees it too
    for viewer in ("alice", "bob"):
        public = song_store.visible("s-alhambra", viewer)
        assert public is not None and public["visibility"] == "public" and public["ownerId"] is None
    assert song_store.visible("u1", "alice")["status"] == "READY"  # type: ignore[index]
    assert song_store.visible("u2", "alice")["status"] == "PENDING"  # type: ignore[index]
    assert song_store.visible("u1", "bob") is None and song_store.visible("u2", "bob") is None
    assert song_store.visible("nope", "alice") is None
    assert song_store.visible("../u1", "alice") is None and song_store.get("") is None  # not a song id


def test_get_many_leaves_out_missing_and_expired_songs(song_store: SongStore, clock: ManualClock) -> None:
    song_store.put_public(CATALOG)
    upload(song_store, clock, "u1")
    clock.now += 900 + songs.UPLOAD_GRACE_SECONDS  # u1 has expired
    found = song_store.get_many(["s-acacia", "missing", "s-zephyr", "u1", "s-acacia", "bad/id"])
    assert sorted(found) == ["s-acacia", "s-zephyr"]
    assert found["s-zephyr"]["title"] == "Zéphyr Waltz" and found["s-zephyr"]["midiKey"] == "catalog/s-zephyr/song.mid"
    assert song_store.get_many([]) == {}


# --- the public catalog --------------------------------------------------------------------------
def test_put_public_writes_ready_public_records_and_twice_changes_nothing(
    aws: dict[str, Any],
    song_store: SongStore,
) -> None:
    assert song_store.put_public(CATALOG) == len(CATALOG)
    # Maps' attributes on a song survive a second load (it writes only songs not there yet)
    aws["dynamodb"].update_item(TableName=aws["songs_table"], Key={"songId": {"S": "s-ariel"}},
                                UpdateExpression="SET bpm = :bpm", ExpressionAttributeValues={":bpm": {"N": "98"}})
    first = aws["dynamodb"].scan(TableName=aws["songs_table"], ConsistentRead=True)["Items"]
    assert song_store.put_public(CATALOG) == 0
    second = aws["dynamodb"].scan(TableName=aws["songs_table"], ConsistentRead=True)["Items"]
    assert len(first) == len(CATALOG)
    assert sorted(second, key=lambda i: i["songId"]["S"]) == sorted(first, key=lambda i: i["songId"]["S"])
    ariel = song_store.get("s-ariel")
    assert ariel is not None
    assert (ariel["status"], ariel["visibility"], ariel["listed"], ariel["licence"]) == (
        "READY",
        "public",
        "public",
        "public domain",
    )
    assert (ariel["key"], ariel["tempoBpm"], ariel["timeSignature"], ariel["tags"]) == ("A major", 80, "2/4", ["hornpipe"])
    assert ariel["ownerId"] is None and ariel["expiresAt"] is None and ariel["midiKey"] == songs.midi_key("s-ariel")


def test_reloading_the_catalog_later_keeps_the_songs_creation_time(song_store: SongStore, clock: ManualClock) -> None:
    ids = ("s-alhambra", "s-acacia")
    song_store.put_public(CATALOG[:2])
    before = {song_id: songs.public_view(song_store.get(song_id) or {}) for song_id in ids}
    clock.now += 86400
    song_store.put_public(CATALOG[:2])
    after = {song_id: songs.public_view(song_store.get(song_id) or {}) for song_id in ids}
    assert after == before  # what a client sees, createdAt included, is unchanged
    assert all(view["createdAt"] for view in after.values())


def test_list_public_pages_by_title_with_a_cursor_only_its_caller_can_use(
    song_store: SongStore,
    clock: ManualClock,
) -> None:
    song_store.put_public(CATALOG)
    upload(song_store, clock, "u1")  # private songs are not in the public catalog
    song_store.mark_ready("u1", midi_key="catalog/u1/song-v1.mid", summary=SUMMARY)
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        items, cursor = song_store.list_public(limit=2, cursor=cursor, viewer_id="alice")
        assert len(items) <= 2
        seen += [item["songId"] for item in items]
        pages += 1
        if cursor is None:
            break
        with pytest.raises(InvalidCursor):
            song_store.list_public(limit=2, cursor=cursor, viewer_id="bob")
    assert seen == BY_TITLE and pages >= 3
    assert [s["songId"] for s in song_store.all_public()] == BY_TITLE
    first, cursor = song_store.list_public(limit=2, cursor=None, viewer_id="bob")
    assert [s["songId"] for s in first] == BY_TITLE[:2] and cursor is not None
    with pytest.raises(InvalidCursor):
        song_store.list_public(limit=2, cursor=cursor[:-4], viewer_id="bob")  # an edited cursor


def test_title_sort_key_folds_case_accents_punctuation_and_articles() -> None:
    assert songs.title_sort_key("The Alhambra Reel", "x") == "alhambra reel#x"
    assert songs.title_sort_key("Zéphyr  Waltz!", "y") == "zephyr waltz#y"
    assert songs.title_sort_key("A Day's Work", "z") == "day s work#z"
    assert songs.title_sort_key("Theme", "t") == "theme#t"  # "The" only as a word


# --- a user's own songs --------------------------------------------------------------------------
def test_owned_lists_the_owners_songs_newest_first(song_store: SongStore, clock: ManualClock) -> None:
    song_store.put_public(CATALOG[:2])
    for song_id in ("first", "second", "third"):
        upload(song_store, clock, song_id)
        clock.now += 1
    upload(song_store, clock, "bobs", owner="bob")
    song_store.mark_ready("second", midi_key="catalog/second/song-v1.mid", summary=SUMMARY)
    song_store.fail("third", message="bad")
    owned = list(song_store.owned("alice"))
    assert [s["songId"] for s in owned] == ["third", "second", "first"]
    assert [s["status"] for s in owned] == ["FAILED", "READY", "PENDING"]
    assert [s["songId"] for s in song_store.owned("bob")] == ["bobs"]
    assert song_store.delete("second") and not song_store.delete("second")
    assert [s["songId"] for s in song_store.owned("alice")] == ["third", "first"]


def test_upload_keys_are_recognised_and_nothing_else() -> None:
    assert songs.parse_upload_key("catalog/abc_D-9/upload.mid") == "abc_D-9"
    assert songs.upload_key("abc") == "catalog/abc/upload.mid" and songs.midi_key("abc") == "catalog/abc/song.mid"
    for key in (
        "catalog/abc/song.mid",
        "catalog/abc/upload.midi",
        "catalog/a/b/upload.mid",
        "x/catalog/abc/upload.mid",
        "catalog//upload.mid",
        songs.SEARCH_INDEX_KEY,
    ):
        assert songs.parse_upload_key(key) is None, key
