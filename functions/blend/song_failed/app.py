"""SongFailed: an uploaded song that could not be used is marked FAILED with a message a person can
act on (SongRejected's own words: not MIDI, no notes, too long), and its upload is removed. A song that
is no longer PENDING (READY through another event, or deleted) is left as it is."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from soundcanvas.blend import songs
from soundcanvas.blend.steps import BlendRuntime
from soundcanvas.core import failures, storage
from soundcanvas.core.steps import transient_aws_errors

logger = Logger()
metrics = Metrics()
runtime = BlendRuntime.from_env()
RETRY_HINT = "upload the song again with POST /songs/uploads"


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    error = event.get("error") or {}
    key = str(((event.get("detail") or {}).get("object") or {}).get("key") or "")
    song_id = songs.parse_upload_key(key)
    if song_id is None:
        logger.error("failure without a song to mark", extra={"error": error.get("Error")})
        return {"marked": False, "reason": "no song upload in the workflow state"}
    logger.append_keys(song_id=song_id)
    message = failures.describe(error, "validate", retry_hint=RETRY_HINT, reference=f"song {song_id}")
    etag = str(event["detail"]["object"].get("etag") or "")
    with transient_aws_errors():
        marked = runtime.songs.fail(song_id, message=message)
        if marked:
            storage.delete_if_unchanged(runtime.s3, runtime.settings.bucket_name, key, etag)
    metrics.add_metric(name="SongUploadsFailed", unit=MetricUnit.Count, value=1)
    logger.warning("song upload failed", extra={"error": error.get("Error"), "error_message": message,
                                                "marked": marked})
    return {"marked": marked, "songId": song_id, "message": message}
