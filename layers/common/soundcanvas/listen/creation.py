"""A new transcription: what a request may ask for, and the one place a transcription is created (and removed).

Both faces of the API create transcriptions here: `POST /transcriptions` (REST, functions/listen/
transcriptions_api) and `createTranscription` (GraphQL, functions/core/graphql_api). The rules are the same for
both: the request model's bounds, the options a request leaves out taken from the user's Listen preferences,
the transcriptions quota and the plan's monthly allowance (spent only if the record is written), and one of two
starts: a presigned upload form whose arrival starts the workflow, or a READY library track copied to the
source key and the workflow started here. Reading that track is the face's (the seam between products: this
package never imports soundcanvas.library); it comes in as a record. The clients come in as arguments.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, Literal

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationInfo, field_validator

from soundcanvas.core import storage
from soundcanvas.core.entitlements import Allowances
from soundcanvas.core.inputs import FieldError
from soundcanvas.core.quotas import Quota, QuotaStore
from soundcanvas.listen import preferences as listen_preferences
from soundcanvas.listen import transcriptions
from soundcanvas.listen.preferences import TUNING_DESCRIPTION, TuningField, check_tuning, parse_tuning
from soundcanvas.listen.transcriptions import TranscriptionConflict, TranscriptionStore

Instrument = Literal["auto", "guitar", "bass", "piano", "voice"]
AudioType = Literal[tuple(storage.AUDIO_CONTENT_TYPES)]  # type: ignore[valid-type]
TrackIdField = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
TRACK_READY = "READY"  # the library's status of a track it has read and kept (soundcanvas.library.tracks.READY)


@cache
def transcription_request_model(max_bytes: int) -> type[BaseModel]:
    """The body of `POST /transcriptions` for an upload limit of `max_bytes` (TranscriptionUploadMaxBytes)."""

    class TranscriptionRequest(BaseModel):
        """Body of POST /transcriptions: an upload form (no trackId), or one of the caller's READY library tracks."""

        model_config = ConfigDict(extra="forbid")
        trackId: TrackIdField | None = Field(default=None, description="Transcribe this READY track of your library.")
        instrument: Instrument | None = None
        tuning: TuningField | None = Field(default=None, description=TUNING_DESCRIPTION)
        capo: int | None = Field(default=None, ge=0, le=12, strict=True, description="Capo fret, 0 (none) to 12.")
        contentType: AudioType = Field(default="audio/mpeg",  # type: ignore[valid-type]
                                       description="The upload's type (not with trackId).")
        sizeBytes: int | None = Field(default=None, ge=1, le=max_bytes, strict=True,
                                      description="The upload's size, checked before you send it (not with trackId).")

        _tuning = field_validator("tuning", mode="before")(check_tuning)

        @field_validator("contentType", "sizeBytes")
        @classmethod
        def _upload_only(cls, value: Any, info: ValidationInfo) -> Any:
            if info.data.get("trackId") is not None:
                raise ValueError("describes an upload; leave it out when you give trackId")
            return value

    return TranscriptionRequest


class TranscriptionNotFound(LookupError):
    """The transcription (or the library track named) does not exist for this caller."""


@dataclass(frozen=True)
class Limits:
    """Where uploads land and how large and long they may be; how long a transcription is kept."""

    bucket: str
    max_bytes: int
    expiry_seconds: int
    retention_days: int
    max_seconds: int


@dataclass(frozen=True)
class Spending:
    """What a new transcription spends: the per-window quota and the plan's monthly allowance."""

    quotas: QuotaStore
    quota: Quota
    allowances: Allowances


def tuning_option(value: Any) -> dict[str, Any]:
    """How a record's options keep a tuning: its name and its strings' note names, low to high."""
    return dict(parse_tuning(value).to_json())


def options(request: Any, base: dict[str, Any]) -> dict[str, Any]:
    """The record's options: what the request gives (instrument, tuning, capo), else `base`."""
    return {
        "instrument": getattr(request, "instrument", None) or base["instrument"],
        "tuning": tuning_option(request.tuning) if request.tuning is not None else base["tuning"],
        "capo": request.capo if request.capo is not None else base["capo"],
    }


def default_options(preferred_tuning: Any) -> tuple[dict[str, Any], bool]:
    """Options for what a new transcription's request leaves out: the preferred tuning, no capo; and whether the
    preference no longer parses (then standard tuning: a preference saved long ago is not the request's fault)."""
    try:
        return {"instrument": "auto", "tuning": tuning_option(preferred_tuning), "capo": 0}, False
    except ValueError:
        standard = tuning_option(listen_preferences.DEFAULTS["guitarTuning"])
        return {"instrument": "auto", "tuning": standard, "capo": 0}, True


def create_with_upload(*, user_id: str, content_type: str, options: dict[str, Any], s3: Any,
                       store: TranscriptionStore, spending: Spending, limits: Limits,
                       clock: Callable[[], float]) -> dict[str, Any]:
    """A PENDING transcription waiting for its audio, and the presigned POST form for it: `{transcriptionId,
    status, upload: {url, fields, maxBytes, expiresAt, contentTypes}}`. Spends the quota and the allowance."""
    with spending.quotas.spend(user_id, spending.quota), spending.allowances.spend(user_id, "transcriptions"):
        transcription_id = uuid.uuid4().hex
        key = transcriptions.input_key(user_id, transcription_id, storage.AUDIO_CONTENT_TYPES[content_type])
        form = s3.generate_presigned_post(
            Bucket=limits.bucket,
            Key=key,
            Fields={"Content-Type": content_type},
            Conditions=[{"Content-Type": content_type}, ["content-length-range", 1, limits.max_bytes]],
            ExpiresIn=limits.expiry_seconds,
        )
        upload_expires_at = int(clock()) + limits.expiry_seconds
        record = store.create(user_id, transcription_id, source={"kind": "upload", "contentType": content_type},
                              options=options, retention_days=limits.retention_days,
                              upload_expires_at=upload_expires_at)
    upload = {"url": form["url"], "fields": form["fields"], "maxBytes": limits.max_bytes,
              "expiresAt": upload_expires_at, "contentTypes": [content_type]}
    return {"transcriptionId": transcription_id, "status": record["status"], "upload": upload}


def create_from_track(*, user_id: str, track_id: str, track: dict[str, Any] | None, options: dict[str, Any],
                      s3: Any, store: TranscriptionStore, spending: Spending, limits: Limits, stepfunctions: Any,
                      state_machine_arn: str) -> dict[str, Any]:
    """Transcribe a READY library track (`track`, read by the face; None when it is not the caller's): copy its
    kept original to the source key, write a PENDING record and start the workflow. `{transcriptionId, status,
    source}`. `TranscriptionNotFound`, `TranscriptionConflict` (not READY) and `FieldError` (too long) cost
    nothing; a workflow that cannot start leaves no record and gives the quota back."""
    if track is None:
        raise TranscriptionNotFound(f"track {track_id} not found")
    if track["status"] != TRACK_READY or not track.get("originalKey"):
        raise TranscriptionConflict(f"track {track_id} is {track['status']}; wait until it is READY")
    duration = track.get("durationSeconds")
    if duration is not None and float(duration) > limits.max_seconds:
        raise FieldError("trackId", f"track {track_id} lasts {float(duration):.0f} s; Listen transcribes recordings "
                                    f"of up to {limits.max_seconds} s")
    transcription_id = uuid.uuid4().hex
    ext = track.get("format") or str(track["originalKey"]).rsplit(".", 1)[-1]
    key = transcriptions.source_key(user_id, transcription_id, ext)
    source = {"kind": "track", "trackId": track_id}
    with spending.quotas.spend(user_id, spending.quota), spending.allowances.spend(user_id, "transcriptions"):
        try:
            s3.copy_object(Bucket=limits.bucket, Key=key, CopySource={"Bucket": limits.bucket, "Key": track["originalKey"]})
        except ClientError as exc:
            if storage.error_code(exc) in storage.MISSING:  # re-uploaded or deleted since it was read
                raise TranscriptionConflict(f"track {track_id} changed while it was read; try again") from exc
            raise
        store.create(user_id, transcription_id, source=source, options=options,
                     retention_days=limits.retention_days, source_key=key)
        try:
            stepfunctions.start_execution(stateMachineArn=state_machine_arn, name=transcription_id,
                                          input=json.dumps({"userId": user_id, "transcriptionId": transcription_id}))
        except (ClientError, BotoCoreError):  # refused, or no answer
            if store.delete_unclaimed(user_id, transcription_id):  # nothing would ever run it: leave no PENDING record
                storage.delete_prefix(s3, limits.bucket, transcriptions.prefix(user_id, transcription_id))
            raise
    return {"transcriptionId": transcription_id, "status": transcriptions.PENDING, "source": source}


def owned_transcription(store: TranscriptionStore, user_id: str, transcription_id: str) -> dict[str, Any]:
    """The caller's transcription; `TranscriptionNotFound` for anything else (missing, or another user's)."""
    record = store.get(user_id, transcription_id)
    if record is None:
        raise TranscriptionNotFound(f"transcription {transcription_id} not found")
    return record


def delete_transcription(store: TranscriptionStore, s3: Any, bucket: str, user_id: str, transcription_id: str) -> int:
    """Remove the caller's transcription and its files; how many objects went."""
    record = owned_transcription(store, user_id, transcription_id)
    store.delete(record["userId"], transcription_id)
    return storage.delete_prefix(s3, bucket, transcriptions.prefix(record["userId"], transcription_id))
