"""load_catalog over real seed songs in moto: the MIDI objects, the records, the published search index,
and loading twice."""

from __future__ import annotations

from typing import Any

import pytest

from soundcanvas.blend import songs
from soundcanvas.blend.catalog import load_catalog, publish_search_index, song_record
from soundcanvas.blend.search import SearchIndex
from soundcanvas.blend.seed import SeedSong
from soundcanvas.blend.songs import SongStore
from tests.unit.blend.conftest import keys


def index_bytes(aws: dict[str, Any]) -> bytes:
    return bytes(aws["s3"].get_object(Bucket=aws["bucket"], Key=songs.SEARCH_INDEX_KEY)["Body"].read())


def test_load_catalog_puts_every_midi_record_and_the_search_index(
    aws: dict[str, Any],
    song_store: SongStore,
    seed_songs: list[SeedSong],
) -> None:
    batch = seed_songs[:20]
    report = load_catalog(batch, song_store, aws["s3"], aws["bucket"])
    assert report.songs == 20 and report.index_bytes == len(index_bytes(aws)) > 0
    expected = sorted([songs.midi_key(s.songId) for s in batch] + [songs.SEARCH_INDEX_KEY])
    assert keys(aws, "catalog/") == expected
    for song in batch:
        stored = aws["s3"].get_object(Bucket=aws["bucket"], Key=songs.midi_key(song.songId))
        assert stored["Body"].read() == song.midi and stored["ContentType"] == "audio/midi"
    records = song_store.get_many(s.songId for s in batch)
    assert sorted(records) == sorted(s.songId for s in batch)
    for song in batch:
        record = records[song.songId]
        assert (record["status"], record["visibility"], record["listed"]) == ("READY", "public", "public")
        assert record["licence"] == song.licence and record["licence"]
        assert record["midiKey"] == songs.midi_key(song.songId) and record["ownerId"] is None
        assert (record["title"], record["artist"], record["key"], record["tempoBpm"], record["timeSignature"]) == (
            song.title,
            song.artist,
            song.key,
            song.tempoBpm,
            song.timeSignature,
        )
        assert record["durationSeconds"] == pytest.approx(song.durationSeconds) and record["tags"] == list(song.tags)


def test_the_published_index_finds_a_loaded_title_despite_a_typo(
    aws: dict[str, Any],
    song_store: SongStore,
    seed_songs: list[SeedSong],
) -> None:
    batch = seed_songs[:20]
    load_catalog(batch, song_store, aws["s3"], aws["bucket"])
    index = SearchIndex.from_bytes(index_bytes(aws))
    assert len(index) == 20
    acacia = next(s for s in batch if s.title == "Acacia Reel")
    page = index.search("acaica reel", limit=5)  # a transposition
    assert page.hits and page.hits[0].song_id == acacia.songId
    hornpipe = next(s for s in batch if s.title == "Admiral's Hornpipe")
    assert index.search("admirals hornpipe", limit=3).hits[0].song_id == hornpipe.songId
    assert not index.search("qqqq zzzz", limit=5).hits


def test_loading_twice_changes_nothing(
    aws: dict[str, Any],
    song_store: SongStore,
    seed_songs: list[SeedSong],
) -> None:
    batch = seed_songs[:20]
    load_catalog(batch, song_store, aws["s3"], aws["bucket"])
    first_index = index_bytes(aws)
    first_items = aws["dynamodb"].scan(TableName=aws["songs_table"], ConsistentRead=True)["Items"]
    report = load_catalog(batch, song_store, aws["s3"], aws["bucket"])
    assert report.songs == 20
    assert index_bytes(aws) == first_index
    again = aws["dynamodb"].scan(TableName=aws["songs_table"], ConsistentRead=True)["Items"]
    assert len(again) == len(first_items) == 20
    assert sorted(again, key=lambda i: i["songId"]["S"]) == sorted(first_items, key=lambda i: i["songId"]["S"])
    assert len(keys(aws, "catalog/")) == 21


def test_the_index_covers_the_whole_public_catalog_not_just_the_last_load(
    aws: dict[str, Any],
    song_store: SongStore,
    seed_songs: list[SeedSong],
) -> None:
    load_catalog(seed_songs[:10], song_store, aws["s3"], aws["bucket"])
    load_catalog(seed_songs[10:15], song_store, aws["s3"], aws["bucket"])
    index = SearchIndex.from_bytes(index_bytes(aws))
    assert len(index) == 15
    first = seed_songs[0]
    assert first.songId in {hit.song_id for hit in index.search(first.title, limit=3).hits}
    # Handing the songs over (the local stack) indexes exactly those, byte for byte the same.
    size = publish_search_index(song_store, aws["s3"], aws["bucket"], public=seed_songs[:15])
    assert size == len(index_bytes(aws))
    assert len(SearchIndex.from_bytes(index_bytes(aws))) == 15


def test_song_record_is_the_seed_songs_metadata(seed_songs: list[SeedSong]) -> None:
    song = seed_songs[0]
    record = song_record(song)
    assert record["songId"] == song.songId and record["tags"] == list(song.tags)
    assert "midi" not in record and set(record) <= set(songs.PUBLIC_FIELDS) | {"songId"}
