"""Loading songs into the public catalog: their MIDI into the bucket, their records into SongsTable,
and the search index rebuilt from the whole public catalog (the public catalog changes only here).

The local stack loads the committed seed catalog (soundcanvas.blend.seed) when it starts; a deployed
stack is loaded with `tools/load_catalog.py` (docs/blend.md, "The seed catalog"). Loading is
idempotent: the same songs overwrite themselves with the same values.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from soundcanvas.blend import songs
from soundcanvas.blend.search import SearchEntry, build_index
from soundcanvas.blend.seed import SeedSong
from soundcanvas.blend.songs import SongStore

UPLOAD_THREADS = 16  # S3 PUTs in flight (each a few ms of waiting)


@dataclass(frozen=True)
class LoadReport:
    songs: int
    index_bytes: int
    seconds: float


def song_record(song: SeedSong) -> dict[str, Any]:
    """The catalog record of a seed song (its MIDI lives at songs.midi_key)."""
    return {"songId": song.songId, "title": song.title, "artist": song.artist, "collection": song.collection,
            "source": song.source, "licence": song.licence, "key": song.key, "tempoBpm": song.tempoBpm,
            "timeSignature": song.timeSignature, "durationSeconds": song.durationSeconds, "tags": list(song.tags)}


def load_catalog(seed_songs: Iterable[SeedSong], store: SongStore, s3: Any, bucket: str) -> LoadReport:
    """Put every song's MIDI and record, then rebuild and publish the search index."""
    started = time.perf_counter()
    batch: Sequence[SeedSong] = list(seed_songs)

    def put_midi(song: SeedSong) -> None:
        s3.put_object(Bucket=bucket, Key=songs.midi_key(song.songId), Body=song.midi, ContentType="audio/midi")

    with ThreadPoolExecutor(max_workers=UPLOAD_THREADS) as pool:
        list(pool.map(put_midi, batch))
    store.put_public(song_record(song) for song in batch)
    size = publish_search_index(store, s3, bucket)
    return LoadReport(songs=len(batch), index_bytes=size, seconds=time.perf_counter() - started)


def publish_search_index(store: SongStore, s3: Any, bucket: str, *, public: Iterable[SeedSong] | None = None) -> int:
    """Rebuild the search index from every public song and put it where the Songs API loads it. The
    public songs are read from the table (ByTitle), unless the caller holds all of them already
    (`public`: the local stack, whose public catalog is the seed it has just loaded)."""
    entries = [SearchEntry(song_id=r["songId"], title=r["title"], artist=r.get("artist") or "")
               for r in store.all_public()] if public is None else \
        [SearchEntry(song_id=song.songId, title=song.title, artist=song.artist) for song in public]
    data = build_index(entries)
    s3.put_object(Bucket=bucket, Key=songs.SEARCH_INDEX_KEY, Body=data, ContentType="application/octet-stream")
    return len(data)
