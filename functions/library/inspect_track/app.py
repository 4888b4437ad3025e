"""InspectTrack: the track workflow's first step. Claims this version of an uploaded original and
reads what it is (mutagen): tags, stream facts and embedded cover art.

Input is either the bucket's EventBridge "Object Created" event for `library/{userId}/{trackId}/
original.<ext>`, or `{"userId", "trackId", "key"}` from POST /tracks (registering an object that is
already in the bucket). The step always works on the object as it is now (its current ETag), so a
late or duplicated event finds that content already claimed and the workflow ends at once
(`claimed: false`). A track with no record yet is registered here: the upload alone is enough.

Returns only its own result: `{claimed, userId, trackId, bucket, originalKey, version, format,
needsTranscode, coverKey}`.
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
from soundcanvas.library import audio_meta, tracks
from soundcanvas.library.steps import TrackRuntime

logger = Logger()
metrics = Metrics()
runtime = TrackRuntime.from_env()
COVER_EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/gif": "gif", "image/webp": "webp"}


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


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    target = _target(event)
    if isinstance(target, str):
        logger.warning("event ignored", extra={"reason": target})
        return {"claimed": False, "reason": target}
    user_id, track_id, key = target
    logger.append_keys(track_id=track_id)
    bucket, started = runtime.settings.bucket_name, time.perf_counter()
    with transient_aws_errors():
        try:
            head = runtime.s3.head_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                raise TrackNotFound(f"the uploaded file {key.rsplit('/', 1)[-1]} is no longer in the library") from exc
            raise
        etag, size = str(head["ETag"]), int(head["ContentLength"])
        meta = head.get("Metadata") or {}
        version = storage.object_version(etag)
        file_name = unquote(meta.get("file-name", "")) or key.rsplit("/", 1)[-1]
        track = runtime.store.claim(
            user_id, track_id, key=key, etag=etag, version=version, size=size,
            file_name=file_name, source=meta.get("source", "upload"),
        )
    if track is None:
        logger.info("this content is already processed or processing: duplicate event ignored")
        metrics.add_metric(name="DuplicateTrackEventsIgnored", unit=MetricUnit.Count, value=1)
        return {"claimed": False, "userId": user_id, "trackId": track_id, "reason": "already processed"}
    if size > runtime.settings.track_upload_max_bytes:
        limit_mb = runtime.settings.track_upload_max_bytes // (1024 * 1024)
        raise AudioRejected(f"the file is {size / 1048576:.0f} MB; the limit is {limit_mb} MB")

    with tempfile.TemporaryDirectory(prefix="track-") as tmp:
        local = Path(tmp) / "original"
        with transient_aws_errors():
            body = runtime.s3.get_object(Bucket=bucket, Key=key, IfMatch=etag)["Body"]
            with local.open("wb") as out:
                shutil.copyfileobj(body, out, 1024 * 1024)
        info = audio_meta.read_audio_info(local, track["fileName"])
        cover = audio_meta.read_cover(local)
    cover_key = None
    with transient_aws_errors():
        if cover is not None:
            data, mime = cover
            cover_key = storage.cover_key(user_id, track_id, version, COVER_EXTENSIONS.get(mime, "jpg"))
            runtime.s3.put_object(Bucket=bucket, Key=cover_key, Body=data, ContentType=mime)
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
        "originalKey": key,
        "version": version,
        "format": info.format,
        "needsTranscode": info.needs_transcode,
        "coverKey": cover_key,
    }
