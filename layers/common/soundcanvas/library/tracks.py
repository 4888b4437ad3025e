"""Track library records in DynamoDB (PynamoDB): one item per track, every status change conditional.

Table layout (TracksTable in template.yaml): partition key `userId`, sort key `trackId`, so a
caller only ever addresses their own tracks. Three indexes, all partitioned by user:

- `ByUserCreated` (userId, createdAt): the library, newest first;
- `ByUserFileName` (userId, fileName): which tracks came from a file name (lookup, re-uploads);
- `ByUserDue` (userId, dueAt): Guess the Track. Only READY tracks carry `dueAt` (a sparse
  index), so "due now" is a range query whose cost grows with the tracks due, not the library.

Status: UPLOADING (form issued, file not arrived; the record expires with the form) ->
PROCESSING (the upload event claimed this version of the file) -> READY | FAILED. A new upload
of the same track claims it again. Each upload form's id is kept in `openForms` until an upload
under it is claimed, which removes it in the same conditional write: a form is used once.
`version` names the original's content (from its ETag); the steps that follow a claim write
only while the record still holds their version, so a stale or duplicated event can never
overwrite a newer upload's result.

Review history and scheduler state are JSON strings on the record: the history is the source of
truth (see soundcanvas.library.schedulers), `reviewCount` guards concurrent grades.
"""

from __future__ import annotations

import builtins
import time
import uuid
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from pynamodb.attributes import ListAttribute, MapAttribute, NumberAttribute, UnicodeAttribute, UnicodeSetAttribute
from pynamodb.exceptions import DeleteError, PutError
from pynamodb.indexes import GlobalSecondaryIndex, IncludeProjection
from pynamodb.models import Model

from soundcanvas.core import cursors
from soundcanvas.core.records import (
    active_shard,
    activity_index,
    announce,
    bind,
    conditional_failed,
    delete_partition,
    now_iso,
    page_key_types,
    stalled_records,
    update_if,
    user_created_index,
)

UPLOADING, PROCESSING, READY, FAILED = "UPLOADING", "PROCESSING", "READY", "FAILED"
# A track's record keeps its status only; what live-progress subscribers are told of each step of the
# track workflow (soundcanvas.core.live): claimed by InspectTrack, read (then transcoded), READY.
LIVE_STAGES = {"inspect": 10, "transcode": 40, "done": 100}
EDITABLE = ("name", "artist", "album", "tags")
DUE_FIELDS = ["name", "artist", "album", "mp3Key", "originalKey", "durationSeconds", "reviewCount", "fileName"]
LOOKUP_FIELDS = ["status", "createdAt", "expiresAt"]


class TrackConflict(Exception):
    """The track is not in a state that allows the requested change."""


def public_fields(track: dict[str, Any]) -> dict[str, Any]:
    """What every answer about a track shows its owner first: id, state, file name and the editable fields."""
    return {
        "trackId": track["trackId"],
        "status": track["status"],
        "fileName": track["fileName"],
        "name": track.get("name"),
        "artist": track.get("artist"),
        "album": track.get("album"),
        "tags": list(track.get("tags") or []),
    }


def search_text(record: dict[str, Any]) -> str:
    """What `GET /tracks?q=` matches against: name, artist, album, tags and file name, lower-cased."""
    parts = [record.get("name"), record.get("artist"), record.get("album"), record.get("fileName")]
    parts += list(record.get("tags") or [])
    return " | ".join(str(p) for p in parts if p).lower()


@lru_cache(maxsize=8)
def _record_class(table_name: str, region: str, host: str | None) -> Any:
    """A PynamoDB model bound to one table (tests and the local stack use their own tables)."""

    class ByUserFileName(GlobalSecondaryIndex["TrackRecord"]):
        class Meta:
            index_name = "ByUserFileName"
            projection = IncludeProjection(LOOKUP_FIELDS)

        userId = UnicodeAttribute(hash_key=True)
        fileName = UnicodeAttribute(range_key=True)

    class ByUserDue(GlobalSecondaryIndex["TrackRecord"]):
        class Meta:
            index_name = "ByUserDue"
            projection = IncludeProjection(DUE_FIELDS)

        userId = UnicodeAttribute(hash_key=True)
        dueAt = NumberAttribute(range_key=True)

    class TrackRecord(Model):
        class Meta:
            pass

        userId = UnicodeAttribute(hash_key=True)
        trackId = UnicodeAttribute(range_key=True)
        createdAt = UnicodeAttribute()
        updatedAt = UnicodeAttribute()
        status = UnicodeAttribute()
        source = UnicodeAttribute()  # upload | direct | registered | generation
        fileName = UnicodeAttribute()
        contentType = UnicodeAttribute(null=True)
        generationId = UnicodeAttribute(null=True)
        # the current original and what was read from it
        originalKey = UnicodeAttribute(null=True)
        format = UnicodeAttribute(null=True)
        sizeBytes = NumberAttribute(null=True)
        sourceETag = UnicodeAttribute(null=True)
        version = UnicodeAttribute(null=True)
        name = UnicodeAttribute(null=True)
        artist = UnicodeAttribute(null=True)
        album = UnicodeAttribute(null=True)
        tags = ListAttribute(of=UnicodeAttribute, null=True)
        edited = ListAttribute(of=UnicodeAttribute, null=True)  # fields set by PATCH: re-uploads keep them
        searchText = UnicodeAttribute(null=True)
        artistKey = UnicodeAttribute(null=True)
        durationSeconds = NumberAttribute(null=True)
        bitrateKbps = NumberAttribute(null=True)
        sampleRate = NumberAttribute(null=True)
        channels = NumberAttribute(null=True)
        mp3Key = UnicodeAttribute(null=True)
        coverKey = UnicodeAttribute(null=True)
        fingerprintKey = UnicodeAttribute(null=True)  # Chromaprint fingerprint of this version (Maps' Fingerprint)
        claimedAt = UnicodeAttribute(null=True)  # when this version was claimed: orders versions (Maps' index)
        duplicateOf = MapAttribute[str, Any](null=True)  # {trackId, similarity, kind}: same recording as that track
        errorMessage = UnicodeAttribute(null=True)
        # Guess the Track
        dueAt = NumberAttribute(null=True)
        reviewCount = NumberAttribute(default=0)
        reviews = UnicodeAttribute(null=True)  # JSON [[epochSeconds, grade], ...], oldest first
        schedule = UnicodeAttribute(null=True)  # JSON {"scheduler", "state", "dueAt"}
        expiresAt = NumberAttribute(null=True)  # only while UPLOADING
        activeShard = UnicodeAttribute(null=True)  # only while PROCESSING (ByActivity, for the sweeper)
        openForms = UnicodeSetAttribute(null=True)  # ids of upload forms issued and not yet used
        claimedBy = UnicodeAttribute(null=True)  # the workflow execution that claimed this version
        by_user_created = user_created_index()
        by_activity = activity_index(["status", "version"])
        by_user_file_name = ByUserFileName()
        by_user_due = ByUserDue()

    return bind(TrackRecord, table_name, region, host)


def _form_lapsed(form_id: str, now: float) -> bool:
    """Whether an upload form id (`{claimable until}-{random}`) can no longer be claimed."""
    until = form_id.partition("-")[0]
    return until.isdigit() and int(until) < now


def _as_dict(record: Any) -> dict[str, Any]:
    values = {name: getattr(record, name) for name in record.get_attributes()}
    return {name: value.as_dict() if isinstance(value, MapAttribute) else value
            for name, value in values.items() if value is not None}


class TrackStore:
    """Reads and writes track records. Takes its table and endpoint as arguments, so tests need no patching."""

    def __init__(self, table_name: str, region: str, *, host: str | None = None, clock=time.time) -> None:
        self.model: Any = _record_class(table_name, region, host)
        self.clock = clock

    def _announce(self, user_id: str, track_id: str, status: str, stage: str) -> None:
        """Tell the track's live subscribers (soundcanvas.core.records.announce) of a workflow step."""
        announce("track", user_id, track_id, {"status": status, "stage": stage,
                                              "progress": LIVE_STAGES.get(stage, 0),
                                              "updatedAt": now_iso(self.clock())})

    def _alive(self, record: Any) -> bool:
        return record.expiresAt is None or record.expiresAt > self.clock()

    # --- reads -------------------------------------------------------------------------------
    def get(self, user_id: str, track_id: str) -> dict[str, Any] | None:
        """The caller's track, or None when it does not exist, is someone else's or its upload form expired."""
        try:
            record = self.model.get(user_id, track_id, consistent_read=True)
        except self.model.DoesNotExist:
            return None
        return _as_dict(record) if self._alive(record) else None

    def by_file_name(self, user_id: str, file_name: str) -> list[dict[str, Any]]:
        """Tracks whose original had this file name, newest first."""
        results = self.model.by_user_file_name.query(
            user_id, range_key_condition=self.model.fileName == file_name
        )
        found = [_as_dict(r) for r in results if self._alive(r)]
        return sorted(found, key=lambda r: r["createdAt"], reverse=True)

    def list(
        self, user_id: str, *, limit: int, cursor: str | None, artist: str | None = None, q: str | None = None,
        duplicates: bool = False,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """A page of the user's tracks, newest first (ByUserCreated), optionally filtered by artist or text,
        or to the tracks marked as duplicates of another."""
        condition = self.model.expiresAt.does_not_exist() | (self.model.expiresAt > int(self.clock()))
        if duplicates:
            condition &= self.model.duplicateOf.exists()
        if artist:
            condition &= self.model.artistKey == artist.strip().lower()
        if q:
            condition &= self.model.searchText.contains(q.strip().lower())
        page_key = page_key_types(self.model, self.model.by_user_created)
        start_key = cursors.decode(user_id, cursor, page_key) if cursor else None
        items: list[dict[str, Any]] = []
        # A filter can leave a page short: keep reading until the page is full or the index ends.
        for _ in range(20):
            results = self.model.by_user_created.query(
                user_id,
                scan_index_forward=False,
                limit=limit - len(items),
                last_evaluated_key=start_key,
                filter_condition=condition,
            )
            items += [_as_dict(r) for r in results]
            start_key = results.last_evaluated_key
            if not start_key or len(items) >= limit:
                break
        return items, (cursors.encode(start_key) if start_key else None)

    def due(self, user_id: str, *, now: float, limit: int) -> builtins.list[dict[str, Any]]:
        """READY tracks due at or before `now`, most overdue first: one range query on ByUserDue."""
        results = self.model.by_user_due.query(
            user_id, range_key_condition=self.model.dueAt <= int(now), scan_index_forward=True, limit=limit
        )
        return [_as_dict(r) for r in results]

    def next_due_at(self, user_id: str, *, now: float) -> int | None:
        """When the caller's next track falls due after `now` (epoch seconds), or None: one item of ByUserDue."""
        results = self.model.by_user_due.query(
            user_id, range_key_condition=self.model.dueAt > int(now), scan_index_forward=True, limit=1
        )
        return next((int(r.dueAt) for r in results if r.dueAt is not None), None)

    def stalled(self, *, older_than: float) -> Iterator[dict[str, Any]]:
        """PROCESSING tracks whose record has not changed since `older_than` (epoch seconds)."""
        return (_as_dict(record) for record in stalled_records(self.model, older_than))

    def all_tracks(self, user_id: str) -> Iterator[dict[str, Any]]:
        """Every track of a user (rescheduling after a scheduler switch, exports)."""
        for record in self.model.query(user_id):
            if self._alive(record):
                yield _as_dict(record)

    def delete_all(self, user_id: str) -> int:
        """Delete every track record of a user; returns how many."""
        return delete_partition(self.model, user_id)

    # --- writes: registration and processing --------------------------------------------------
    def create(
        self,
        user_id: str,
        track_id: str,
        *,
        file_name: str,
        source: str,
        content_type: str | None = None,
        expires_at: int | None = None,
        name: str | None = None,
        artist: str | None = None,
        edited: builtins.list[str] | None = None,
        generation_id: str | None = None,
    ) -> dict[str, Any]:
        """A new track awaiting its file (UPLOADING); `expires_at` drops it if the file never comes."""
        now = self.clock()
        record = self.model(
            user_id,
            track_id,
            createdAt=now_iso(now),
            updatedAt=now_iso(now),
            status=UPLOADING,
            source=source,
            fileName=file_name,
            contentType=content_type,
            name=name,
            artist=artist,
            edited=edited or None,
            generationId=generation_id,
            expiresAt=expires_at,
            reviewCount=0,
        )
        record.searchText = search_text(_as_dict(record))
        record.artistKey = artist.lower() if artist else None
        try:
            record.save(condition=self.model.trackId.does_not_exist())
        except PutError as exc:
            if conditional_failed(exc):
                raise TrackConflict(f"track {track_id} already exists") from exc
            raise
        return _as_dict(record)

    def extend_upload(self, user_id: str, track_id: str, *, expires_at: int) -> None:
        """A new upload form for a track still UPLOADING: keep the record as long as the new form."""
        update_if(
            self.model(user_id, track_id),
            [self.model.expiresAt.set(expires_at), self.model.updatedAt.set(now_iso(self.clock()))],
            self.model.status == UPLOADING,
        )

    def open_form(self, user_id: str, track_id: str, *, claimable_until: int) -> str:
        """A new upload form id for the track, recorded as open: an upload under it may be claimed once.

        The id names when it stops being claimable (epoch seconds); forms past that are forgotten
        here, so the set holds only the forms that can still be used, whatever the user asks for.
        """
        m, form_id = self.model, f"{claimable_until}-{uuid.uuid4().hex}"
        lapsed = {f for f in self.open_forms(user_id, track_id) if _form_lapsed(f, self.clock())}
        if lapsed:
            m(user_id, track_id).update(actions=[m.openForms.delete(lapsed)], condition=m.trackId.exists())
        m(user_id, track_id).update(actions=[m.openForms.add({form_id})], condition=m.trackId.exists())
        return form_id

    def open_forms(self, user_id: str, track_id: str) -> set[str]:
        """Ids of the track's upload forms not used yet."""
        track = self.get(user_id, track_id)
        return set(track.get("openForms") or ()) if track else set()

    def claim(
        self,
        user_id: str,
        track_id: str,
        *,
        key: str,
        etag: str,
        version: str,
        size: int,
        file_name: str,
        source: str,
        form_id: str | None = None,
        claimed_by: str | None = None,
    ) -> dict[str, Any] | None:
        """Start processing this version of the original (registering the track if it has no record).

        None when this very content is already being processed or is READY (a duplicated or
        replayed upload event), or when `form_id` names a form that is not open (never issued for
        this track, or already used). A new file (another ETag) always claims, even over a READY
        track. `key` is where the claimed content is kept (storage.source_key); `claimed_by` names
        the workflow execution, so that a retry of the same step can recognise its own claim.
        """
        m, now = self.model, self.clock()
        condition = ~((m.sourceETag == etag) & m.status.is_in(PROCESSING, READY))
        form_actions = []
        if form_id is not None:
            condition &= m.openForms.contains(form_id)
            form_actions = [m.openForms.delete({form_id})]
        record = m(user_id, track_id)
        if not update_if(
            record,
            [
                *form_actions,
                m.claimedBy.set(claimed_by) if claimed_by else m.claimedBy.remove(),
                m.status.set(PROCESSING),
                m.activeShard.set(active_shard(track_id)),
                m.originalKey.set(key),
                m.format.set(key.rsplit(".", 1)[-1]),
                m.sizeBytes.set(size),
                m.sourceETag.set(etag),
                m.version.set(version),
                m.createdAt.set(m.createdAt | now_iso(now)),
                m.updatedAt.set(now_iso(now)),
                m.claimedAt.set(now_iso(now)),
                m.fileName.set(m.fileName | file_name),
                m.source.set(m.source | source),
                m.reviewCount.set(m.reviewCount | 0),
                m.expiresAt.remove(),
                m.errorMessage.remove(),
                m.dueAt.remove(),  # out of Guess the Track until this version is READY
            ],
            condition,
        ):
            return None
        self._announce(user_id, track_id, PROCESSING, "inspect")
        return _as_dict(record)

    def _update_version(self, user_id: str, track_id: str, version: str, actions: builtins.list[Any]) -> bool:
        """Apply actions only while the record is PROCESSING this version; False otherwise."""
        m = self.model
        actions = [*actions, m.updatedAt.set(now_iso(self.clock()))]
        return update_if(m(user_id, track_id), actions, (m.version == version) & (m.status == PROCESSING))

    def set_metadata(self, user_id: str, track_id: str, version: str, fields: dict[str, Any]) -> bool:
        """Store what was read from the file (tags, stream facts, cover); fields set to None are removed."""
        m = self.model
        actions = [getattr(m, k).set(v) if v is not None else getattr(m, k).remove() for k, v in fields.items()]
        if not self._update_version(user_id, track_id, version, actions):
            return False
        self._announce(user_id, track_id, PROCESSING, "transcode")
        return True

    def mark_ready(self, user_id: str, track_id: str, version: str, *, mp3_key: str, due_at: int,
                   fingerprint_key: str | None = None, duplicate_of: dict[str, Any] | None = None) -> bool:
        """READY with its MP3; `duplicate_of` marks (never deletes) a track holding the same recording as
        another of the user's tracks, and is cleared when this version is no duplicate."""
        m = self.model
        actions = [m.status.set(READY), m.mp3Key.set(mp3_key), m.dueAt.set(due_at), m.activeShard.remove(),
                   m.fingerprintKey.set(fingerprint_key) if fingerprint_key else m.fingerprintKey.remove(),
                   m.duplicateOf.set(duplicate_of) if duplicate_of else m.duplicateOf.remove()]
        if not self._update_version(user_id, track_id, version, actions):
            return False
        self._announce(user_id, track_id, READY, "done")
        return True

    def mark_failed(self, user_id: str, track_id: str, version: str | None, *, message: str) -> bool:
        """FAILED with a message; with no version (the claim never happened) only an UPLOADING record.

        The stream facts read from the file go too: a file that failed may have declared a
        duration (or rate) it does not hold, and the record must not repeat it."""
        m = self.model
        actions = [
            m.status.set(FAILED),
            m.activeShard.remove(),
            m.errorMessage.set(message),
            m.mp3Key.remove(),
            m.coverKey.remove(),
            m.durationSeconds.remove(),
            m.bitrateKbps.remove(),
            m.sampleRate.remove(),
            m.channels.remove(),
            m.dueAt.remove(),
            m.expiresAt.remove(),
        ]
        if version is not None:
            if not self._update_version(user_id, track_id, version, actions):
                return False
            self._announce(user_id, track_id, FAILED, "failed")
            return True
        if not update_if(m(user_id, track_id), [*actions, m.updatedAt.set(now_iso(self.clock()))], m.status == UPLOADING):
            return False
        self._announce(user_id, track_id, FAILED, "failed")
        return True

    # --- writes: the owner's edits --------------------------------------------------------------
    def edit(self, user_id: str, track_id: str, changes: dict[str, Any]) -> dict[str, Any] | None:
        """PATCH: set name/artist/album/tags, remember them as edited; None when the track is gone."""
        current = self.get(user_id, track_id)
        if current is None:
            return None
        merged = {**current, **changes}
        m = self.model
        edited = sorted(set(current.get("edited") or []) | set(changes))
        actions = [getattr(m, k).set(v) if v not in (None, []) else getattr(m, k).remove() for k, v in changes.items()]
        actions += [
            m.edited.set(edited),
            m.searchText.set(search_text(merged)),
            m.updatedAt.set(now_iso(self.clock())),
        ]
        if "artist" in changes:
            actions.append(m.artistKey.set(changes["artist"].lower()) if changes["artist"] else m.artistKey.remove())
        record = m(user_id, track_id)
        if not update_if(record, actions, m.trackId.exists()):
            return None
        return _as_dict(record)

    def record_review(
        self, user_id: str, track_id: str, *, expected_count: int, reviews: str, schedule: str, due_at: int
    ) -> bool:
        """Store a graded review; False if another grade landed first or the track is no longer READY."""
        m = self.model
        return update_if(
            m(user_id, track_id),
            [
                m.reviews.set(reviews),
                m.schedule.set(schedule),
                m.reviewCount.set(expected_count + 1),
                m.dueAt.set(due_at),
                m.updatedAt.set(now_iso(self.clock())),
            ],
            (m.reviewCount == expected_count) & (m.status == READY),
        )

    def reschedule(self, user_id: str, track_id: str, *, expected_count: int, schedule: str, due_at: int | None) -> bool:
        """Replace the scheduler state (after a scheduler switch); False if a grade landed meanwhile."""
        m = self.model
        actions = [m.schedule.set(schedule), m.updatedAt.set(now_iso(self.clock()))]
        condition = m.reviewCount == expected_count
        if due_at is not None:
            actions.append(m.dueAt.set(due_at))
            condition &= m.status == READY
        return update_if(m(user_id, track_id), actions, condition)

    def delete(self, user_id: str, track_id: str) -> bool:
        """Delete the record; False when there was none."""
        try:
            self.model(user_id, track_id).delete(condition=self.model.trackId.exists())
        except DeleteError as exc:
            if conditional_failed(exc):
                return False
            raise
        return True


class UserSettingsStore:
    """Per-user preferences (UsersTable): the Guess the Track scheduler and its desired retention."""

    DEFAULTS: dict[str, Any] = {"scheduler": "sm2", "desiredRetention": 0.9}

    def __init__(self, table_name: str, region: str, *, host: str | None = None) -> None:
        self.model: Any = _settings_class(table_name, region, host)

    def training(self, user_id: str) -> dict[str, Any]:
        try:
            record = self.model.get(user_id, consistent_read=True)
        except self.model.DoesNotExist:
            return dict(self.DEFAULTS)
        return {"scheduler": record.scheduler, "desiredRetention": float(record.desiredRetention)}

    def delete(self, user_id: str) -> int:
        """Forget the user's preferences; 1 if there were any, else 0."""
        try:
            self.model(user_id).delete(condition=self.model.userId.exists())
        except DeleteError as exc:
            if conditional_failed(exc):
                return 0
            raise
        return 1

    def set_training(self, user_id: str, *, scheduler: str, desired_retention: float, now: float) -> dict[str, Any]:
        """Set the scheduler and retention only: an update, not a put, so that the other attributes other
        products keep on the same item (Listen's preferences, soundcanvas.listen.preferences) survive."""
        m = self.model
        m(user_id).update(actions=[m.scheduler.set(scheduler), m.desiredRetention.set(desired_retention),
                                   m.updatedAt.set(now_iso(now))])
        return {"scheduler": scheduler, "desiredRetention": desired_retention}


@lru_cache(maxsize=8)
def _settings_class(table_name: str, region: str, host: str | None) -> Any:
    class UserRecord(Model):
        class Meta:
            pass

        userId = UnicodeAttribute(hash_key=True)
        scheduler = UnicodeAttribute(default="sm2")
        desiredRetention = NumberAttribute(default=0.9)
        updatedAt = UnicodeAttribute(null=True)

    return bind(UserRecord, table_name, region, host)

