"""InspectTrack: the track workflow's first step. Claims this version of an uploaded original and
reads what it is (mutagen): tags, stream facts and embedded cover art.

Input is either the bucket's EventBridge "Object Created" event for `library/{userId}/{trackId}/
original.<ext>` (the upload key), or `{"userId", "trackId", "key"}` from POST /tracks (registering an
object that is already in the bucket). The step always works on the object as it is now (its
current ETag), so a late or duplicated event finds that content already claimed, or the upload
key already empty, and the workflow ends at once (`claimed: false`, AlreadyHandled). A track
with no record yet is registered here: the upload alone is enough.

An upload form is single-use: it signs an `x-amz-meta-form-id`, and the claim succeeds only while
that form id is open on the track (the claim removes it in the same conditional write). What was
claimed is copied (only if it is still the claimed content: CopySourceIfMatch) to
`source.{version}.<ext>`, a key no form can write, and the upload key is removed; a later post of
a used form is deleted without any work. Objects without a form id (direct uploads, POST /tracks,
saved generations) are claimed by their content, as before.

Cover art is re-encoded by soundcanvas.library.covers (JPEG, or PNG when transparent; longest
side 1200 px) and stored with the content type of what was encoded; a picture that does not
decode is dropped. Files with more than 16 MB of tags and pictures are refused before mutagen
reads them (audio_meta.check_metadata_size).

The workflow passes `{"event": <its input>, "executionId": $$.Execution.Id}`; the claim records the
execution, so when Step Functions retries this step after a transient error, the same execution
finds its own claim and carries on (a duplicate event's execution is another one and stops). The
bare input shapes are accepted too (`make invoke`), without that resumption.

Returns only its own result: `{claimed, userId, trackId, bucket, originalKey, version, format,
needsTranscode, coverKey}`; `originalKey` is the kept source key.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import ValidationError, parse
from aws_lambda_powertools.utilities.parser.models import S3EventNotificationEventBridgeModel
from botocore.exceptions import ClientError

from soundcanvas.core import storage
from soundcanvas.core.errors import AudioRejected, TrackNotFound
from soundcanvas.core.steps import transient_aws_errors
from soundcanvas.library import audio_meta, covers, tracks
from soundcanvas.library.steps import TrackRuntime

logger = Logger()
metrics = Metrics()
runtime = TrackRuntime.from_env()
REPLACED = "the uploaded file was replaced or removed while it was being claimed; upload it again"


def _target(event: dict[str, Any]) -> tuple[str, str, str] | str:
    """(userId, trackId, key) from either input shape, or why the event is not for us."""
    if "detail-type" in event:
        try:
            parsed = parse(event=event, model=S3EventNotificationEventBridgeModel)
        except ValidationError as exc:
            return f"not an S3 Object Created event: {exc.errors()[0]['msg']}"
        if parsed.detail.bucket.name != runtime.settings.bucket_name:
            return f"event for another bucket ({parsed.detail.bucket.name})"
        key = parsed.detail.object.key
    else:
        key = str(event.get("key", ""))
    ids = storage.parse_original_key(key)
    if ids is None:
        return f"not a track upload key: {key}"
    if "detail-type" not in event and (ids[0], ids[1]) != (event.get("userId"), event.get("trackId")):
        return f"key {key} does not belong to track {event.get('trackId')}"
    return ids[0], ids[1], key


def _unwrap(payload: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """(the workflow's input, the execution's id): the state machine passes both; a bare input has no id."""
    if isinstance(payload.get("event"), dict) and payload.get("executionId"):
        return payload["event"], str(payload["executionId"])
    return payload, None


def _metadata_fields(track: dict[str, Any], info: audio_meta.AudioInfo, cover_key: str | None) -> dict[str, Any]:
    """What the file says, except the fields its owner edited (or that were set when it was saved)."""
    edited = set(track.get("edited") or [])
    fields: dict[str, Any] = {
        "format": info.format,
        "durationSeconds": round(info.duration_seconds, 3),
        "bitrateKbps": info.bitrate_kbps,
        "sampleRate": info.sample_rate,
        "channels": info.channels,
        "coverKey": cover_key,
    }
    for name, value in (("name", info.title), ("artist", info.artist), ("album", info.album)):
        if name not in edited:
            fields[name] = value
    merged = {**track, **{k: v for k, v in fields.items() if v is not None}}
    fields["searchText"] = tracks.search_text(merged)
    fields["artistKey"] = merged["artist"].lower() if merged.get("artist") else None
    return fields


def _head(bucket: str, key: str) -> dict[str, Any] | None:
    """The upload's HEAD, or None when the key is empty (claimed and moved already, or removed)."""
    try:
        head: dict[str, Any] = runtime.s3.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if storage.error_code(exc) in storage.MISSING:
            return None
        raise
    return head


def _keep(bucket: str, key: str, source_key: str, etag: str) -> None:
    """Copy the claimed content from the upload key to its source key, then remove the upload key.

    S3 copies only while the upload key still holds `etag` (CopySourceIfMatch; 412 otherwise).
    """
    try:
        runtime.s3.copy_object(
            Bucket=bucket, Key=source_key, CopySource={"Bucket": bucket, "Key": key}, CopySourceIfMatch=etag,
            MetadataDirective="COPY",
        )
    except ClientError as exc:
        if storage.error_code(exc) in storage.GONE:
            raise TrackNotFound(REPLACED) from exc
        raise
    storage.delete_if_unchanged(runtime.s3, bucket, key, etag)


def _resumed(user_id: str, track_id: str, execution_id: str | None) -> dict[str, Any] | None:
    """The track this very execution claimed on an earlier attempt of this step (a Retry), if any."""
    if not execution_id:
        return None
    record = runtime.store.get(user_id, track_id)
    if record and record.get("claimedBy") == execution_id and record.get("status") == tracks.PROCESSING:
        return record
    return None


def _claim(
    bucket: str, user_id: str, track_id: str, key: str, execution_id: str | None
) -> dict[str, Any] | str:
    """Claim the upload and keep it under its source key: the track record, or why it was not claimed."""
    head = _head(bucket, key)
    if head is not None:
        etag, meta = str(head["ETag"]), head.get("Metadata") or {}
        version, form_id = storage.object_version(etag), meta.get("form-id") or None
        source_key = storage.source_key(user_id, track_id, version, key.rsplit(".", 1)[-1])
        track = runtime.store.claim(
            user_id, track_id, key=source_key, etag=etag, version=version, size=int(head["ContentLength"]),
            file_name=unquote(meta.get("file-name", "")) or key.rsplit("/", 1)[-1],
            source=meta.get("source", "upload"), form_id=form_id, claimed_by=execution_id,
        )
        if track is not None:
            _keep(bucket, key, source_key, etag)
            return track
    track = _resumed(user_id, track_id, execution_id)
    if track is None:
        if head is None:
            return f"the uploaded file {key.rsplit('/', 1)[-1]} is no longer there (already handled)"
        form_id = (head.get("Metadata") or {}).get("form-id") or None
        return _refused(bucket, key, str(head["ETag"]), user_id, track_id, form_id)
    logger.info("resuming this execution's own claim (the step was retried)")
    if head is not None and str(head["ETag"]) == track.get("sourceETag"):
        _keep(bucket, key, str(track["originalKey"]), str(head["ETag"]))  # the last attempt stopped before it
    return track


def _download(bucket: str, source_key: str, local: Path) -> None:
    try:
        body = runtime.s3.get_object(Bucket=bucket, Key=source_key)["Body"]
    except ClientError as exc:
        if storage.error_code(exc) in storage.MISSING:
            raise TrackNotFound(REPLACED) from exc
        raise
    with local.open("wb") as out:
        shutil.copyfileobj(body, out, 1024 * 1024)


def _refused(bucket: str, key: str, etag: str, user_id: str, track_id: str, form_id: str | None) -> str:
    """Why an upload was not claimed; a used form's upload is deleted (no work is done for it)."""
    record = runtime.store.get(user_id, track_id) or {}
    if record.get("sourceETag") == etag and record.get("status") == tracks.PROCESSING:
        return "this content is being processed by another execution: duplicate event ignored"
    storage.delete_if_unchanged(runtime.s3, bucket, key, etag)
    if form_id is not None and form_id not in (record.get("openForms") or ()):
        metrics.add_metric(name="UsedUploadFormsRefused", unit=MetricUnit.Count, value=1)
        return "the upload form was already used (or is not this track's): the upload was removed unprocessed"
    return "this content is already processed: duplicate upload removed"


def _store_cover(bucket: str, user_id: str, track_id: str, version: str, picture: tuple[bytes, str] | None) -> str | None:
    """Re-encode the embedded picture and store it as what we encoded; None when there is none we can decode."""
    cover = covers.normalize(picture[0]) if picture is not None else None
    if cover is None:
        if picture is not None:
            logger.info("embedded picture dropped: not a raster image within the limits", extra={"claimed_type": picture[1]})
        return None
    key = storage.cover_key(user_id, track_id, version, cover.extension)
    runtime.s3.put_object(Bucket=bucket, Key=key, Body=cover.data, ContentType=cover.content_type)
    return key


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    event, execution_id = _unwrap(event)
    target = _target(event)
    if isinstance(target, str):
        logger.warning("event ignored", extra={"reason": target})
        return {"claimed": False, "reason": target}
    user_id, track_id, key = target
    logger.append_keys(track_id=track_id)
    bucket, started = runtime.settings.bucket_name, time.perf_counter()
    with transient_aws_errors():
        track = _claim(bucket, user_id, track_id, key, execution_id)
    if isinstance(track, str):
        logger.info("upload not claimed", extra={"reason": track})
        metrics.add_metric(name="DuplicateTrackEventsIgnored", unit=MetricUnit.Count, value=1)
        return {"claimed": False, "userId": user_id, "trackId": track_id, "reason": track}
    version, source_key, size = str(track["version"]), str(track["originalKey"]), int(track["sizeBytes"])
    if size > runtime.settings.track_upload_max_bytes:
        limit_mb = runtime.settings.track_upload_max_bytes // (1024 * 1024)
        raise AudioRejected(f"the file is {size / 1048576:.0f} MB; the limit is {limit_mb} MB")

    with tempfile.TemporaryDirectory(prefix="track-") as tmp:
        local = Path(tmp) / "original"
        with transient_aws_errors():
            _download(bucket, source_key, local)
        info = audio_meta.read_audio_info(local, track["fileName"])
        picture = audio_meta.read_cover(local)
    with transient_aws_errors():
        cover_key = _store_cover(bucket, user_id, track_id, version, picture)
        if not runtime.store.set_metadata(user_id, track_id, version, _metadata_fields(track, info, cover_key)):
            storage.delete_prefix(runtime.s3, bucket, storage.track_prefix(user_id, track_id), only_version=version)
            raise TrackNotFound(f"track {track_id} was deleted or replaced by a newer upload while it was read")
    elapsed_ms = round((time.perf_counter() - started) * 1000)
    metrics.add_metric(name="TrackInspectMilliseconds", unit=MetricUnit.Milliseconds, value=elapsed_ms)
    logger.info("track inspected", extra={"format": info.format, "seconds": info.duration_seconds, "elapsed_ms": elapsed_ms})
    return {
        "claimed": True,
        "userId": user_id,
        "trackId": track_id,
        "bucket": bucket,
        "originalKey": source_key,
        "version": version,
        "claimedAt": track.get("claimedAt") or "",  # orders this version's fingerprint against a newer one's
        "format": info.format,
        "needsTranscode": info.needs_transcode,
        "coverKey": cover_key,
        # what Maps' fingerprint index shows for this track when it matches (the seam in docs/architecture.md)
        "title": (track.get("edited") and "name" in track["edited"] and track.get("name")) or info.title
        or track["fileName"],
        "artist": (track.get("edited") and "artist" in track["edited"] and track.get("artist")) or info.artist or "",
    }
