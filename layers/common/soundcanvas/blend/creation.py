"""A new blend: what a request may ask for, and the one place a blend is created (and removed) for it.

Both faces of the API create blends here: `POST /blends` (REST, functions/blend/blends_api) and `createBlend`
(GraphQL, functions/core/graphql_api). The rules are the same for both: the request model's bounds, every song
one the caller may use (a public catalog song or one of their own READY songs; anything else is `SongNotFound`
naming it, as if it did not exist), weights normalised, a random seed when none is given, one unit of the blends
quota (spent only if the blend is written and its workflow started), and no PENDING record left behind when the
workflow cannot start. The clients (Step Functions, S3, the stores) come in as arguments.
"""

from __future__ import annotations

import json
import secrets
import uuid
from typing import Annotated, Any, Literal

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationInfo, field_validator

from soundcanvas.blend import blends
from soundcanvas.blend.blends import BlendStore
from soundcanvas.blend.songs import READY, SongStore
from soundcanvas.core import storage
from soundcanvas.core.inputs import FieldError
from soundcanvas.core.quotas import Quota, QuotaStore

GENRES = ("folk", "classical", "pop", "rock", "jazz", "electronic")
SongIdField = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


class BlendRequest(BaseModel):
    """Body of POST /blends."""

    model_config = ConfigDict(extra="forbid")
    songs: list[SongIdField] = Field(min_length=2, max_length=4, description="Two to four songIds (three is the "
                                     "classic blend): public catalog songs or your own READY songs.")
    weights: list[Annotated[float, Field(gt=0, le=100)]] | None = Field(
        default=None, description="How much of each song, in the songs' order (normalised; default equal).")
    temperature: float = Field(default=0.8, ge=0.1, le=2.0, description="Below 1 sharpens each next-note choice "
                               "toward the songs' likeliest moves; above 1 flattens it toward surprises.")
    creativity: float = Field(default=0.7, ge=0.0, le=1.0, description="0 stays close to the songs (longer "
                              "memories, copies of up to 4 bars); 1 wanders (short memories, copies of at most 1 bar).")
    lengthSeconds: int = Field(default=120, ge=15, le=300, strict=True, description="The blend's length.")
    genre: Literal[GENRES] | None = Field(default=None,  # type: ignore[valid-type]
                                          description="Instruments and groove; default: from the songs.")
    seed: int | None = Field(default=None, ge=0, le=2**31 - 1, strict=True,
                             description="The same songs, options and seed give the same MIDI, byte for byte.")

    @field_validator("songs")
    @classmethod
    def _each_once(cls, songs: list[str]) -> list[str]:
        if len(set(songs)) != len(songs):
            raise ValueError("name each song once")
        return songs

    @field_validator("weights")
    @classmethod
    def _one_per_song(cls, weights: list[float] | None, info: ValidationInfo) -> list[float] | None:
        songs = info.data.get("songs")
        if weights is not None and songs is not None and len(weights) != len(songs):
            raise ValueError(f"give one weight per song ({len(songs)}), or none for equal weights")
        return weights


class BlendNotFound(LookupError):
    """No such blend (or song) for this caller."""


class SongNotReady(FieldError):
    """A song the caller may use but that cannot blend yet; `field` names it in the request (`songs[1]`)."""


def chosen_songs(request: BlendRequest, found: dict[str, dict[str, Any]], user_id: str) -> list[dict[str, Any]]:
    """The request's songs as the blend keeps them (id, title, artist, normalised weight), in its order.
    `BlendNotFound` for a song that is missing or another user's private one, `SongNotReady` for one not READY."""
    weights = request.weights or [1.0] * len(request.songs)
    total = sum(weights)
    chosen = []
    for position, (song_id, weight) in enumerate(zip(request.songs, weights, strict=True)):
        song = found.get(song_id)
        if song is None or (song["visibility"] != "public" and song.get("ownerId") != user_id):
            raise BlendNotFound(f"song {song_id} (songs[{position}]) not found")
        if song["status"] != READY:
            raise SongNotReady(f"songs[{position}]", f"song {song_id} is {song['status']}; only READY songs blend")
        chosen.append({"songId": song_id, "title": song["title"], "artist": song.get("artist"),
                       "weight": round(weight / total, 6)})
    return chosen


def blend_options(request: BlendRequest) -> dict[str, Any]:
    """The knobs a blend is made with; the request's seed, else a random one."""
    return {"temperature": request.temperature, "creativity": request.creativity,
            "lengthSeconds": request.lengthSeconds, "genre": request.genre,
            "seed": request.seed if request.seed is not None else secrets.randbelow(2**31)}


def create_blend(
    *,
    user_id: str,
    request: BlendRequest,
    catalog: SongStore,
    store: BlendStore,
    quotas: QuotaStore,
    quota: Quota,
    stepfunctions: Any,
    state_machine_arn: str,
) -> dict[str, Any]:
    """Check the songs, spend one blend of the quota, write a PENDING blend and start its workflow (an execution
    named after the blend). Returns `{blendId, status, options, songs}` (the songs as chosen). Raises
    `BlendNotFound`/`SongNotReady` (nothing spent), `QuotaExceeded`, or the Step Functions `ClientError` (the
    record removed and the unit given back)."""
    chosen = chosen_songs(request, catalog.get_many(request.songs), user_id)
    options = blend_options(request)
    blend_id = uuid.uuid4().hex
    with quotas.spend(user_id, quota):
        store.create(user_id, blend_id, songs=chosen, options=options)
        try:
            stepfunctions.start_execution(stateMachineArn=state_machine_arn, name=blend_id,
                                          input=json.dumps({"userId": user_id, "blendId": blend_id}))
        except (ClientError, BotoCoreError):  # refused, or no answer
            store.delete_unclaimed(user_id, blend_id)  # nothing would ever run it: leave no PENDING record behind
            raise
    return {"blendId": blend_id, "status": blends.PENDING, "options": options, "songs": chosen}


def owned_blend(store: BlendStore, user_id: str, blend_id: str) -> dict[str, Any]:
    """The caller's blend; `BlendNotFound` for anything else (missing, expired, or another user's)."""
    record = store.get(user_id, blend_id)
    if record is None:
        raise BlendNotFound(f"blend {blend_id} not found")
    return record


def delete_blend(store: BlendStore, s3: Any, bucket: str, user_id: str, blend_id: str) -> int:
    """Remove the caller's blend and its files; how many objects went. `BlendNotFound` if it is not theirs."""
    record = owned_blend(store, user_id, blend_id)
    store.delete(record["userId"], blend_id)
    return storage.delete_prefix(s3, bucket, blends.prefix(record["userId"], blend_id))
