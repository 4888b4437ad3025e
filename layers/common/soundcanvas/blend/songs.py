"""The song catalog: song records in DynamoDB (PynamoDB) and where a song's objects live.

Blend reads songs from it; Maps adds audio and fingerprints to the same records.

Table layout (SongsTable in template.yaml): partition key `songId`. Two sparse indexes:
`ByOwner` (ownerId, createdAt) lists a user's own songs, newest first (public seed songs have no
owner, so they are not in it); `ByTitle` (listed, titleSort) lists public songs by title (only
public songs carry `listed`). `expiresAt` is the TTL of an upload that never arrived or failed.

Status: a catalog song is READY; an upload is PENDING -(its MIDI arrives and is valid)-> READY, or
FAILED with a message. Visibility: "public" (the seed catalog) or "private" (an upload, seen by its
owner alone; another user's private song is a 404 everywhere).

Objects, under one prefix per song:

    catalog/{songId}/upload.mid    where an upload form puts a user's MIDI (its arrival starts the
                                   song workflow, which validates it and removes it)
    catalog/{songId}/song.mid      a catalog song's MIDI, what Blend reads
    catalog/{songId}/song-{v}.mid  an uploaded song's MIDI (v: the upload's version; a key no form
                                   can write, so a second post of a form never replaces it)
    catalog/{songId}/preview.mp3   a short rendered preview (the first PREVIEW_SECONDS), made on first
                                   request for a catalog song and right after validation for an upload
    catalog/_index/public-songs.idx
                                   the search index over public songs (soundcanvas.blend.search),
                                   rebuilt whenever the public catalog changes
"""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Iterable, Iterator
from functools import lru_cache
from typing import Any

from pynamodb.attributes import ListAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import DeleteError, PutError
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, IncludeProjection
from pynamodb.models import Model

from soundcanvas.core import cursors
from soundcanvas.core.records import as_dict, bind, conditional_failed, now_iso, page_key_types, update_if

PENDING, READY, FAILED = "PENDING", "READY", "FAILED"
PUBLIC, PRIVATE = "public", "private"
SEARCH_INDEX_KEY = "catalog/_index/public-songs.idx"
# A public song without its own date carries the day the seed catalog joined the product, so loading the
# catalog again changes no song's createdAt.
CATALOG_ADDED_AT = "2026-11-30T00:00:00.000Z"
PREVIEW_SECONDS = 20.0
UPLOAD_GRACE_SECONDS = 3600  # an upload record outlives its form by this much, then expires unclaimed
FAILED_RETENTION_SECONDS = 7 * 86400  # a FAILED upload's record (its message) is kept a week
SONG_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
UPLOAD_KEY_RE = re.compile(r"^catalog/(?P<songId>[A-Za-z0-9_-]{1,64})/upload\.mid$")
# What the catalog tells a client about a song (the record holds keys and bookkeeping besides).
PUBLIC_FIELDS = ("songId", "title", "artist", "collection", "source", "licence", "visibility", "status", "key",
                 "tempoBpm", "timeSignature", "durationSeconds", "tags", "errorMessage", "createdAt", "previewStatus",
                 "audioStatus", "audioError", "audioDurationSeconds", "bpm", "canonicalMapId")


class SongConflict(Exception):
    """The song is not in a state that allows the requested change."""


# --- object keys ---------------------------------------------------------------------------------
def prefix(song_id: str) -> str:
    return f"catalog/{song_id}/"


def midi_key(song_id: str) -> str:
    return f"{prefix(song_id)}song.mid"


def upload_key(song_id: str) -> str:
    return f"{prefix(song_id)}upload.mid"


def preview_request(song: dict[str, Any]) -> dict[str, Any]:
    """What the Render function needs for a song's preview: its MIDI, the length, where to write."""
    length = min(PREVIEW_SECONDS, float(song.get("durationSeconds") or PREVIEW_SECONDS))
    return {"songId": song["songId"], "midiKey": song["midiKey"], "durationSeconds": max(1.0, round(length, 3)),
            "audioKey": f"{prefix(song['songId'])}preview.wav", "previewKey": f"{prefix(song['songId'])}preview.mp3"}


def parse_upload_key(key: str) -> str | None:
    """The songId of an upload key, or None for any other key."""
    match = UPLOAD_KEY_RE.match(key)
    return match["songId"] if match else None


def title_sort_key(title: str, song_id: str) -> str:
    """How ByTitle orders songs: the title folded (case, accents, punctuation), then the id for ties."""
    folded = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode().lower()
    folded = re.sub(r"[^a-z0-9]+", " ", folded).strip()
    folded = re.sub(r"^(the|a|an) ", "", folded)
    return f"{folded[:200]}#{song_id}"


# --- records -------------------------------------------------------------------------------------
@lru_cache(maxsize=8)
def _record_class(table_name: str, region: str, host: str | None) -> Any:
    class ByOwner(GlobalSecondaryIndex["SongRecord"]):
        class Meta:
            index_name = "ByOwner"
            projection = AllProjection()

        ownerId = UnicodeAttribute(hash_key=True)
        createdAt = UnicodeAttribute(range_key=True)

    class ByTitle(GlobalSecondaryIndex["SongRecord"]):
        class Meta:
            index_name = "ByTitle"
            projection = IncludeProjection(["title", "artist", "collection", "key", "tempoBpm", "timeSignature",
                                            "durationSeconds", "tags", "status", "visibility", "licence"])

        listed = UnicodeAttribute(hash_key=True)
        titleSort = UnicodeAttribute(range_key=True)

    class SongRecord(Model):
        class Meta:
            pass

        songId = UnicodeAttribute(hash_key=True)
        title = UnicodeAttribute()
        artist = UnicodeAttribute(null=True)
        collection = UnicodeAttribute(null=True)
        source = UnicodeAttribute(null=True)
        licence = UnicodeAttribute(null=True)
        visibility = UnicodeAttribute()
        ownerId = UnicodeAttribute(null=True)  # private songs only (ByOwner is sparse)
        listed = UnicodeAttribute(null=True)  # "public" on public songs only (ByTitle is sparse)
        titleSort = UnicodeAttribute(null=True)
        status = UnicodeAttribute()
        key = UnicodeAttribute(null=True)
        tempoBpm = NumberAttribute(null=True)
        timeSignature = UnicodeAttribute(null=True)
        durationSeconds = NumberAttribute(null=True)
        tags = ListAttribute(of=UnicodeAttribute, null=True)
        midiKey = UnicodeAttribute(null=True)
        errorMessage = UnicodeAttribute(null=True)
        previewStatus = UnicodeAttribute(null=True)  # RENDERING | READY | FAILED; absent until first asked for
        previewKey = UnicodeAttribute(null=True)
        previewError = UnicodeAttribute(null=True)
        # Maps' attributes (soundcanvas.maps.song_audio writes them; Blend only shows them)
        audioStatus = UnicodeAttribute(null=True)
        audioError = UnicodeAttribute(null=True)
        audioKey = UnicodeAttribute(null=True)
        audioFormExpiresAt = NumberAttribute(null=True)
        audioDurationSeconds = NumberAttribute(null=True)
        bpm = NumberAttribute(null=True)
        canonicalMapId = UnicodeAttribute(null=True)
        createdAt = UnicodeAttribute()
        updatedAt = UnicodeAttribute()
        expiresAt = NumberAttribute(null=True)  # TTL: uploads that never arrived, failed uploads
        by_owner = ByOwner()
        by_title = ByTitle()

    return bind(SongRecord, table_name, region, host)


def public_view(record: dict[str, Any], now: float | None = None) -> dict[str, Any]:
    """A song's public fields (no object keys, no owner). Read at `now`, a recording form whose hold ended with
    no upload processed (Maps' `audioFormExpiresAt`) no longer shows PENDING: the earlier recording READY if
    there is one, FAILED with what to do otherwise."""
    view = {name: record.get(name) for name in PUBLIC_FIELDS}
    form_ended_at = record.get("audioFormExpiresAt")
    if now is not None and view["audioStatus"] == PENDING and form_ended_at is not None and now >= float(form_ended_at):
        if record.get("audioKey"):
            view["audioStatus"] = READY
        else:
            view["audioStatus"] = FAILED
            view["audioError"] = (f"no recording arrived before the upload form expired; ask POST /songs/"
                                  f"{record['songId']}/audio for a new form")
    return view


class SongStore:
    """Reads and writes song records; takes its table and endpoint as arguments."""

    def __init__(self, table_name: str, region: str, *, host: str | None = None, clock: Any = time.time) -> None:
        self.model: Any = _record_class(table_name, region, host)
        self.clock = clock

    def get(self, song_id: str) -> dict[str, Any] | None:
        """The song whatever its visibility, or None when missing or expired (callers check access)."""
        if not SONG_ID_RE.match(song_id):
            return None
        try:
            record = self.model.get(song_id, consistent_read=True)
        except self.model.DoesNotExist:
            return None
        if record.expiresAt is not None and record.expiresAt <= self.clock():
            return None
        return as_dict(record)

    def get_many(self, song_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Songs by id (a batch read; missing and expired ones left out); callers check access."""
        now = self.clock()
        wanted = sorted({song_id for song_id in song_ids if SONG_ID_RE.match(song_id)})
        found = {}
        for record in self.model.batch_get(wanted):
            if record.expiresAt is None or record.expiresAt > now:
                found[record.songId] = as_dict(record)
        return found

    def visible(self, song_id: str, viewer_id: str) -> dict[str, Any] | None:
        """The song if `viewer_id` may see it: a public song, or one of their own; None otherwise."""
        song = self.get(song_id)
        if song is None or (song["visibility"] != PUBLIC and song.get("ownerId") != viewer_id):
            return None
        return song

    def put_public(self, songs: Iterable[dict[str, Any]]) -> int:
        """Write READY public songs (the seed catalog) in batches. A song already in the table is left as it
        is (a batch write puts whole items, and a song may carry Maps' attributes: its recording, tempo and
        map), so loading twice changes nothing. Returns how many were written."""
        wanted = list(songs)
        present = set(self.get_many(song["songId"] for song in wanted))
        written = 0
        with self.model.batch_write() as batch:
            for record in self.public_records(song for song in wanted if song["songId"] not in present):
                batch.save(record)
                written += 1
        return written

    def public_records(self, songs: Iterable[dict[str, Any]]) -> Iterator[Any]:
        """The records `put_public` writes (the local stack puts their `serialize()` straight into its tables)."""
        now = now_iso(self.clock())
        for song in songs:
            yield self.model(
                song["songId"], title=song["title"], artist=song.get("artist"), collection=song.get("collection"),
                source=song.get("source"), licence=song.get("licence"), visibility=PUBLIC, listed=PUBLIC,
                titleSort=title_sort_key(song["title"], song["songId"]), status=READY, key=song.get("key"),
                tempoBpm=song.get("tempoBpm"), timeSignature=song.get("timeSignature"),
                durationSeconds=song.get("durationSeconds"), tags=list(song.get("tags") or []),
                midiKey=midi_key(song["songId"]), createdAt=song.get("createdAt") or CATALOG_ADDED_AT, updatedAt=now,
            )

    def create_upload(self, owner_id: str, song_id: str, *, title: str, artist: str | None,
                      upload_expires_at: int, source: str = "upload") -> dict[str, Any]:
        """A PENDING private song waiting for its MIDI; it expires unclaimed an hour past its form."""
        now = self.clock()
        record = self.model(
            song_id, title=title, artist=artist, source=source, licence="its owner's",
            visibility=PRIVATE, ownerId=owner_id, status=PENDING, createdAt=now_iso(now), updatedAt=now_iso(now),
            expiresAt=upload_expires_at + UPLOAD_GRACE_SECONDS, tags=[],
        )
        try:
            record.save(condition=self.model.songId.does_not_exist())
        except PutError as exc:
            if conditional_failed(exc):
                raise SongConflict(f"song {song_id} already exists") from exc
            raise
        return as_dict(record)

    def mark_ready(self, song_id: str, *, midi_key: str, summary: dict[str, Any]) -> bool:
        """PENDING -> READY with its MIDI's key and what validation learned (key, tempoBpm, timeSignature,
        durationSeconds); False when the song is no longer PENDING (a second post of the form, or deleted)."""
        m = self.model
        actions = [m.status.set(READY), m.midiKey.set(midi_key), m.expiresAt.remove(),
                   m.previewStatus.set("RENDERING"), m.updatedAt.set(now_iso(self.clock()))]
        actions += [getattr(m, name).set(value) for name, value in summary.items()]
        return update_if(m(song_id), actions, (m.status == PENDING) & (m.expiresAt > int(self.clock())))

    def start_preview(self, song_id: str) -> bool:
        """Mark a READY song's preview RENDERING, once: False when it has one, or one is on its way or failed."""
        m = self.model
        return update_if(
            m(song_id),
            [m.previewStatus.set("RENDERING")],
            (m.status == READY) & m.previewStatus.does_not_exist(),
        )

    def set_preview(self, song_id: str, *, status: str, preview_key: str | None = None,
                    error: str | None = None) -> bool:
        """The preview READY (with its key) or FAILED (with why); False when the song is gone."""
        m = self.model
        actions = [m.previewStatus.set(status)]
        actions.append(m.previewKey.set(preview_key) if preview_key else m.previewKey.remove())
        actions.append(m.previewError.set(error) if error else m.previewError.remove())
        return update_if(m(song_id), actions, m.songId.exists())

    def fail(self, song_id: str, *, message: str) -> bool:
        """PENDING -> FAILED with a message a person can act on; kept a week, then it expires."""
        m = self.model
        now = self.clock()
        return update_if(
            m(song_id),
            [m.status.set(FAILED), m.errorMessage.set(message), m.updatedAt.set(now_iso(now)),
             m.expiresAt.set(int(now + FAILED_RETENTION_SECONDS))],
            m.status == PENDING,
        )

    def list_public(self, *, limit: int, cursor: str | None, viewer_id: str) -> tuple[list[dict[str, Any]], str | None]:
        """A page of public songs by title (a query on ByTitle)."""
        types = page_key_types(self.model, self.model.by_title)
        start_key = _decode_shared(viewer_id, cursor, types) if cursor else None
        results = self.model.by_title.query(PUBLIC, limit=limit, last_evaluated_key=start_key)
        items = [as_dict(r) for r in results]
        last = results.last_evaluated_key
        return items, (_encode_shared(viewer_id, last) if last else None)

    def all_public(self) -> Iterator[dict[str, Any]]:
        """Every public song, by title (the whole ByTitle index, page by page)."""
        for record in self.model.by_title.query(PUBLIC):
            yield as_dict(record)

    def owned(self, owner_id: str) -> Iterator[dict[str, Any]]:
        """Every song of the owner's that has not expired, newest first (a query on ByOwner)."""
        now = int(self.clock())
        for record in self.model.by_owner.query(owner_id, scan_index_forward=False):
            if record.expiresAt is None or record.expiresAt > now:
                yield as_dict(record)

    def delete(self, song_id: str) -> bool:
        try:
            self.model(song_id).delete(condition=self.model.songId.exists())
        except DeleteError as exc:
            if conditional_failed(exc):
                return False
            raise
        return True


def _encode_shared(viewer_id: str, key: dict[str, Any]) -> str:
    """A cursor over a shared index, bound to the caller like every cursor (cursors.decode checks it)."""
    return cursors.encode({**key, "userId": {"S": viewer_id}})


def _decode_shared(viewer_id: str, cursor: str, types: dict[str, str]) -> dict[str, Any]:
    key = cursors.decode(viewer_id, cursor, {**types, "userId": "S"})
    key.pop("userId")
    return key
