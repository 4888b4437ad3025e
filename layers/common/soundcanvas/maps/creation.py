"""A new drum map: what a request may ask for, and the one place a map is created (and removed).

Both faces of the API create maps here: `POST /maps` (REST, functions/maps/maps_api) and `createMap` (GraphQL,
functions/core/graphql_api). The rules are the same for both: the request model (a songId or a trackId, and a
difficulty), a source the caller may use (a public song with a recording or one of their own songs, or one of
their READY library tracks, whose original is copied to the map's work prefix; anything else is `MapNotFound`),
the map quota and the plan's monthly allowance (spent only if the map is written and its workflow started), and
no PENDING record left behind when the workflow cannot start. Reading the track is the face's (the seam between
products: this package never imports soundcanvas.library); it comes in as a record.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from soundcanvas.core import storage
from soundcanvas.core.entitlements import Allowances
from soundcanvas.core.inputs import FieldError
from soundcanvas.core.quotas import Quota, QuotaStore
from soundcanvas.maps import drum_maps, song_audio
from soundcanvas.maps.drum_maps import MapConflict, MapStore
from soundcanvas.maps.song_audio import SongAudioStore

DIFFICULTIES = ("easy", "medium", "hard", "expert")
IdField = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
TRACK_READY = "READY"  # the library's status of a track it has read and kept (soundcanvas.library.tracks.READY)


class MapRequest(BaseModel):
    """Body of POST /maps: a catalog song with a recording, or one of your READY library tracks."""

    model_config = ConfigDict(extra="forbid")
    songId: IdField | None = Field(default=None, description="A catalog song that has a recording "
                                   "(POST /songs/{songId}/audio), or one of your own songs.")
    trackId: IdField | None = Field(default=None, description="One of your READY library tracks.")
    difficulty: Literal[DIFFICULTIES] | None = Field(  # type: ignore[valid-type]
        default=None, description="The level GET /maps/{mapId} leads with; all four are always made.")

    @model_validator(mode="after")
    def _exactly_one(self) -> MapRequest:
        if (self.songId is None) == (self.trackId is None):
            raise ValueError("send either songId or trackId")
        return self


class MapNotFound(LookupError):
    """No such map (or source) for this caller."""


@dataclass(frozen=True)
class Spending:
    """What a new map spends: the per-window quota and the plan's monthly allowance."""

    quotas: QuotaStore
    quota: Quota
    allowances: Allowances


def song_source(songs: SongAudioStore, user_id: str, song_id: str) -> dict[str, Any]:
    """A song the caller may see that has a recording, as a map's source."""
    song = songs.visible(song_id, user_id)
    if song is None:
        raise MapNotFound(f"song {song_id} not found")
    if not song.get("audioKey"):
        raise FieldError("songId", f"song {song_id} has no recording yet; attach one with POST /songs/{song_id}/audio")
    return {"kind": "song", "id": song_id, "title": song.get("title"), "artist": song.get("artist"),
            "audioKey": song["audioKey"], "public": song.get("visibility") == song_audio.PUBLIC}


def track_source(*, user_id: str, track_id: str, track: dict[str, Any] | None, map_id: str, s3: Any, bucket: str,
                 max_seconds: int) -> dict[str, Any]:
    """A READY library track (`track`, read by the face; None when it is not the caller's) as a map's source: its
    kept original is copied to the map's work prefix."""
    if track is None:
        raise MapNotFound(f"track {track_id} not found")
    if track["status"] != TRACK_READY or not track.get("originalKey"):
        raise MapConflict(f"track {track_id} is {track['status']}; wait until it is READY")
    duration = track.get("durationSeconds")
    if duration is not None and float(duration) > max_seconds:
        raise FieldError("trackId", f"track {track_id} lasts {float(duration):.0f} s; drum maps are made of "
                                    f"recordings of up to {max_seconds} s")
    ext = track.get("format") or str(track["originalKey"]).rsplit(".", 1)[-1]
    key = drum_maps.work_key(user_id, map_id, f"source.{ext}")
    try:
        s3.copy_object(Bucket=bucket, Key=key, CopySource={"Bucket": bucket, "Key": track["originalKey"]})
    except ClientError as exc:
        if storage.error_code(exc) in storage.MISSING:  # re-uploaded or deleted since it was read
            raise MapConflict(f"track {track_id} changed while it was read; try again") from exc
        raise
    return {"kind": "track", "id": track_id, "title": track.get("name"), "artist": track.get("artist"),
            "audioKey": key}


def new_map_id() -> str:
    return uuid.uuid4().hex


def create_map(*, user_id: str, map_id: str, source: dict[str, Any], difficulty: str | None, s3: Any, bucket: str,
               store: MapStore, spending: Spending, stepfunctions: Any, state_machine_arn: str) -> dict[str, Any]:
    """Spend the quota and the allowance, write a PENDING map of `source` and start its workflow (an execution
    named after the map). `{mapId, status, source: {kind, id}}`. A workflow that cannot start (refused, or no
    answer) leaves no record, no work files, and gives the units back; should this function itself die between
    the two calls, the record is on the sweeper's index and becomes FAILED, never PENDING for good."""
    with spending.quotas.spend(user_id, spending.quota), spending.allowances.spend(user_id, "maps"):
        store.create(user_id, map_id, source=source, difficulty=difficulty)
        try:
            stepfunctions.start_execution(stateMachineArn=state_machine_arn, name=map_id,
                                          input=json.dumps({"userId": user_id, "mapId": map_id}))
        except (ClientError, BotoCoreError):  # refused, or no answer
            if store.delete_unclaimed(user_id, map_id):  # nothing would ever run it: leave no PENDING record
                storage.delete_prefix(s3, bucket, drum_maps.work_prefix(user_id, map_id))
            raise
    return {"mapId": map_id, "status": drum_maps.PENDING, "source": {"kind": source["kind"], "id": source["id"]}}


def owned_map(store: MapStore, user_id: str, map_id: str) -> dict[str, Any]:
    """The caller's own map; `MapNotFound` for anything else (missing, or another user's)."""
    record = store.get(user_id, map_id)
    if record is None:
        raise MapNotFound(f"map {map_id} not found")
    return record


def delete_map(store: MapStore, s3: Any, bucket: str, user_id: str, map_id: str) -> int:
    """Remove the caller's map and its files; how many objects went. `MapConflict` when the community has it
    (versions, or a verified or archived state): its history is kept."""
    record = owned_map(store, user_id, map_id)
    if store.has_history(record) or not store.delete_unshared(record["userId"], map_id):
        raise MapConflict(f"map {map_id} has community versions or is {record.get('state')}; it stays for the "
                          "community (its history is kept)")
    removed = storage.delete_prefix(s3, bucket, drum_maps.work_prefix(record["userId"], map_id))
    map_key = (record.get("outputs") or {}).get("mapKey")
    if map_key:
        s3.delete_object(Bucket=bucket, Key=map_key)
        removed += 1
    return removed
