"""The recording of a catalog song, on the song's own record in SongsTable (the table Blend created).

Maps declares only what it reads (the song's visibility, owner, status, title and artist) and
what it writes (audio and map attributes), and writes with UpdateItem actions, never a whole-item
put, so Blend's attributes are never touched (the same arrangement as Listen's and the library's
attributes on the shared user item; written in docs/architecture.md).

    audioStatus     PENDING (a form was handed out) -> READY | FAILED (audioError says why)
    audioFormExpiresAt  while PENDING: when the form's hold ends (FORM_HOLD_SECONDS); a song read after it with
                    no upload processed shows its earlier recording READY, or FAILED (soundcanvas.blend.songs)
    audioKey        catalog/{songId}/audio.{ext}, the recording (kept as uploaded)
    fingerprintKey  catalog/{songId}/audio.fp, its Chromaprint fingerprint (soundcanvas.maps.fingerprints)
    audioBy         who attached it (only they may replace it), or holds a form for the first recording (until
                    FORM_HOLD_SECONDS pass without a recording attached)
    bpm             the tempo of the song's newest drum map
    canonicalMapId  the verified map (Maps, part 2)

Objects: a form puts the recording at catalog/{songId}/audio-upload.{ext}; its arrival starts the
song-audio workflow, which checks and fingerprints it and moves it to audioKey.
"""

from __future__ import annotations

import re
import time
from functools import lru_cache
from typing import Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.indexes import GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from soundcanvas.core.records import as_dict, bind, now_iso, update_if

PENDING, READY, FAILED = "PENDING", "READY", "FAILED"
PUBLIC = "public"
SONG_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# how long a form handed out for a song's first recording keeps it for its holder: the form's 15 minutes and time
# to process the upload. After that, with no recording attached, anyone may give the first recording. Not sooner,
# even once the upload failed: the holder's form can be posted again until it expires, and a recording is
# attached to the song whoever's form carried it.
FORM_HOLD_SECONDS = 3600
AUDIO_UPLOAD_KEY_RE = re.compile(r"^catalog/(?P<songId>[A-Za-z0-9_-]{1,64})/audio-upload\.(?P<ext>[a-z0-9]{2,4})$")


def audio_upload_key(song_id: str, ext: str) -> str:
    return f"catalog/{song_id}/audio-upload.{ext}"


def audio_key(song_id: str, ext: str) -> str:
    return f"catalog/{song_id}/audio.{ext}"


def fingerprint_key(song_id: str) -> str:
    return f"catalog/{song_id}/audio.fp"


def parse_audio_upload_key(key: str) -> tuple[str, str] | None:
    match = AUDIO_UPLOAD_KEY_RE.match(key)
    return (match["songId"], match["ext"]) if match else None


@lru_cache(maxsize=8)
def _record_class(table_name: str, region: str, host: str | None) -> Any:
    class ByAudioGiver(GlobalSecondaryIndex["SongAudioRecord"]):
        """Sparse: only songs given a recording carry audioBy. What a user gave (an account's erase)."""

        class Meta:
            index_name = "ByAudioGiver"
            projection = KeysOnlyProjection()

        audioBy = UnicodeAttribute(hash_key=True)

    class SongAudioRecord(Model):
        class Meta:
            pass

        songId = UnicodeAttribute(hash_key=True)
        title = UnicodeAttribute(null=True)
        artist = UnicodeAttribute(null=True)
        visibility = UnicodeAttribute(null=True)
        ownerId = UnicodeAttribute(null=True)
        status = UnicodeAttribute(null=True)
        expiresAt = NumberAttribute(null=True)
        audioStatus = UnicodeAttribute(null=True)
        audioKey = UnicodeAttribute(null=True)
        audioExt = UnicodeAttribute(null=True)
        audioError = UnicodeAttribute(null=True)
        audioFormExpiresAt = NumberAttribute(null=True)
        audioBy = UnicodeAttribute(null=True)
        audioAt = UnicodeAttribute(null=True)
        fingerprintKey = UnicodeAttribute(null=True)
        audioDurationSeconds = NumberAttribute(null=True)
        bpm = NumberAttribute(null=True)
        canonicalMapId = UnicodeAttribute(null=True)
        by_giver = ByAudioGiver()

    return bind(SongAudioRecord, table_name, region, host)


class SongAudioStore:
    """The audio attributes of songs; takes its table and endpoint as arguments."""

    def __init__(self, table_name: str, region: str, *, host: str | None = None, clock: Any = time.time) -> None:
        self.model: Any = _record_class(table_name, region, host)
        self.clock = clock

    def visible(self, song_id: str, viewer_id: str) -> dict[str, Any] | None:
        """The READY song if `viewer_id` may see it (public, or theirs); None otherwise (a 404 to them)."""
        if not SONG_ID_RE.match(song_id):
            return None
        try:
            record = self.model.get(song_id, consistent_read=True)
        except self.model.DoesNotExist:
            return None
        if record.expiresAt is not None and record.expiresAt <= self.clock():
            return None
        if record.visibility != PUBLIC and record.ownerId != viewer_id:
            return None
        return as_dict(record)

    def get(self, song_id: str) -> dict[str, Any] | None:
        try:
            return as_dict(self.model.get(song_id, consistent_read=True))
        except self.model.DoesNotExist:
            return None

    def start_upload(self, song_id: str, user_id: str, ext: str) -> bool:
        """Hand out a form: audioStatus PENDING, by this user. False when someone else attached the
        song's recording (only they may replace it), holds a form for its first recording that may still be
        used (FORM_HOLD_SECONDS), or the song is gone or not READY. After that hour with no recording attached
        (the form never used, or its upload failed), the song is free: an abandoned form does not lock a public
        song's recording."""
        m = self.model
        free = m.audioKey.does_not_exist() & (m.audioAt < now_iso(self.clock() - FORM_HOLD_SECONDS))
        return update_if(
            m(song_id),
            [m.audioStatus.set(PENDING), m.audioBy.set(user_id), m.audioExt.set(ext),
             m.audioError.remove(), m.audioAt.set(now_iso(self.clock())),
             m.audioFormExpiresAt.set(int(self.clock() + FORM_HOLD_SECONDS))],
            (m.status == "READY") & (m.audioBy.does_not_exist() | (m.audioBy == user_id) | free),
        )

    def forget_giver(self, user_id: str, anonymous_id: str) -> int:
        """Erasing an account: the recordings it gave to songs stay with the catalog, given by `anonymous_id`.
        A Query of the sparse ByAudioGiver index; returns how many songs changed."""
        m = self.model
        changed = 0
        for record in m.by_giver.query(user_id):
            changed += update_if(m(record.songId), [m.audioBy.set(anonymous_id)], m.audioBy == user_id)
        return changed

    def mark_ready(self, song_id: str, *, audio_key: str, fingerprint_key: str, duration_seconds: float) -> bool:
        m = self.model
        return update_if(
            m(song_id),
            [m.audioStatus.set(READY), m.audioKey.set(audio_key), m.fingerprintKey.set(fingerprint_key),
             m.audioDurationSeconds.set(round(duration_seconds, 2)), m.audioError.remove(),
             m.audioAt.set(now_iso(self.clock())), m.audioFormExpiresAt.remove()],
            m.songId.exists(),
        )

    def mark_failed(self, song_id: str, *, message: str) -> bool:
        """FAILED with why, if an upload is in flight (PENDING); a recording attached before stays (audioKey is
        kept). False otherwise: a replayed or late event never turns a READY recording FAILED."""
        m = self.model
        return update_if(m(song_id), [m.audioStatus.set(FAILED), m.audioError.set(message), m.audioFormExpiresAt.remove()],
                         m.audioStatus == PENDING)

    def set_bpm(self, song_id: str, bpm: float) -> None:
        m = self.model
        update_if(m(song_id), [m.bpm.set(round(bpm, 1))], m.songId.exists())

    def set_canonical_map(self, song_id: str, map_id: str) -> str | None:
        """Make `map_id` the song's verified map; returns the map it replaces (None if none or the same).
        Conditional on the value read, so of two curators verifying at once neither loses the other's archive."""
        m = self.model
        for _ in range(5):
            song = self.get(song_id)
            if song is None:
                return None
            previous = song.get("canonicalMapId")
            condition = m.canonicalMapId.does_not_exist() if previous is None else m.canonicalMapId == previous
            if not update_if(m(song_id), [m.canonicalMapId.set(map_id)], condition & m.songId.exists()):
                continue
            return previous if previous != map_id else None
        raise RuntimeError(f"song {song_id}: its verified map kept changing")
