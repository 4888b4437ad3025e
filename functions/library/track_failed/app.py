"""TrackFailed: every Catch in the track workflow lands here. Marks the track FAILED with a
message a person can act on and removes its objects (the rejected original included), so a
failed track is a record with a reason and nothing half-written.

Only the version this execution was processing is marked; if a newer upload has claimed the
track since, the record and that upload's objects are left alone. Idempotent.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from soundcanvas.core import failures, storage
from soundcanvas.core.steps import transient_aws_errors
from soundcanvas.library import tracks
from soundcanvas.library.steps import TrackRuntime

logger = Logger()
metrics = Metrics()
runtime = TrackRuntime.from_env()
RETRY_HINT = "upload the file again"


def _target(state: dict[str, Any]) -> tuple[str, str, str | None, str | None] | None:
    """(userId, trackId, key, version) from the workflow state: the step result, or the raw input."""
    track = state.get("track") or {}
    if track.get("trackId") and track.get("version"):
        return str(track["userId"]), str(track["trackId"]), track.get("originalKey"), str(track["version"])
    key = ((state.get("detail") or {}).get("object") or {}).get("key") or state.get("key")
    ids = storage.parse_original_key(str(key)) if key else None
    return (ids[0], ids[1], str(key), None) if ids else None


def _claimed_version(record: dict[str, Any] | None, key: str | None, event_etag: str | None) -> str | None:
    """The version InspectTrack claimed from this upload before it failed (it had no chance to return it).

    The claim keeps the upload at `source.{version}.<ext>`: the record must be PROCESSING such a key
    with the upload's extension and, when the event names the upload's ETag, that version.
    """
    if not record or record.get("status") != tracks.PROCESSING or not key:
        return None
    if record.get("originalKey") == key:  # claimed before uploads were kept under their version
        return str(record.get("version"))
    kept, upload = storage.parse_source_key(str(record.get("originalKey"))), storage.parse_original_key(key)
    if kept is None or upload is None or kept[3] != upload[2]:
        return None
    if event_etag and storage.object_version(event_etag) != kept[2]:
        return None
    return kept[2]


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    target = _target(event)
    error = event.get("error") or {}
    if target is None:
        logger.error("failure without a track to mark", extra={"error": error.get("Error")})
        return {"marked": False, "reason": "no track in the workflow state"}
    user_id, track_id, key, version = target
    logger.append_keys(track_id=track_id)
    stage = "transcode" if (event.get("track") or {}).get("version") else "inspect"
    message = failures.describe(error, stage, retry_hint=RETRY_HINT, reference=f"track {track_id}")
    bucket = runtime.settings.bucket_name
    with transient_aws_errors():
        record = runtime.store.get(user_id, track_id)
        claimed = version is not None
        if not claimed:  # the step may have failed after claiming, before it could return
            etag = ((event.get("detail") or {}).get("object") or {}).get("etag")
            version = _claimed_version(record, key, etag)
        marked = bool(record) and runtime.store.mark_failed(user_id, track_id, version, message=message)
        prefix = storage.track_prefix(user_id, track_id)
        if marked:  # an upload key left after a claim is a newer upload, waiting for its own event
            removed = storage.delete_prefix(runtime.s3, bucket, prefix, keep_uploads=version is not None)
        else:  # a newer upload owns the track now: remove only what this version made
            removed = storage.delete_prefix(runtime.s3, bucket, prefix, only_version=version) if version else 0
    metrics.add_metric(name="TracksFailed", unit=MetricUnit.Count, value=1)
    logger.warning("track failed", extra={"stage": stage, "error": error.get("Error"), "error_message": message,
                                          "marked": marked, "objects_removed": removed})
    return {"marked": marked, "trackId": track_id, "message": message}
